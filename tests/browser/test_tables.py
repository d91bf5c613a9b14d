"""Tables in the browser: speed-networking rounds in a coffee room, breakout tables in a workshop.

Rounds are short here (20 s, breaks of 20 s: within the server's default bounds), and every
wait is for something on the page: the table's view, the countdown's phase, a video playing.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from .harness import WAIT_MS, People, Person, Server

pytestmark = pytest.mark.browser

ROUND_SECONDS = 20
BREAK_SECONDS = 20  # also the time to say yes before round 1
# A round, the break before it and a margin: how long a person may wait for their next table.
NEXT_TABLE_MS = (ROUND_SECONDS + BREAK_SECONDS) * 1000 + WAIT_MS


async def at_table(person: Person, round_number: int) -> None:
    """The person's page shows their table in round ``round_number``."""
    await expect(person.room()).to_have_attribute("data-kind", "table", timeout=NEXT_TABLE_MS)
    await expect(person.tid("room-title")).to_have_text(re.compile(r"^Table \d+$"))
    countdown = person.tid("tables-countdown")
    await expect(countdown).to_have_attribute("data-phase", "round")
    await expect(countdown).to_contain_text(f"Round {round_number} of 2")
    await expect(countdown).to_contain_text(re.compile(r"\d:\d\d"))


async def partner_of(person: Person, me: str) -> str:
    """Whose video the person's table shows: exactly one other tile, playing."""
    others = person.tid("video-grid").locator(
        f'[data-testid="video-tile"]:not([data-user-id="{me}"])'
    )
    await expect(others).to_have_count(1)
    partner = await others.get_attribute("data-user-id")
    assert partner
    await person.sees_video_of(partner)
    await expect(others).to_have_count(1)
    return partner


async def play_round(
    people: list[Person], ids: dict[str, str], round_number: int
) -> set[frozenset[str]]:
    async def one(person: Person) -> str:
        await at_table(person, round_number)
        # The camera comes along: from the room to the first table, from table to table.
        await expect(person.tid("toggle-camera")).to_have_attribute("aria-pressed", "true")
        return await partner_of(person, ids[person.name])

    partners = await asyncio.gather(*(one(p) for p in people))
    seen = {ids[p.name]: partner for p, partner in zip(people, partners, strict=True)}
    # Pairs: each one's partner sees them in turn, and the four make two pairs.
    for me, partner in seen.items():
        assert seen[partner] == me
    return {frozenset(pair) for pair in seen.items()}


@pytest.mark.timeout(240)  # two rounds and two breaks run on the server's clock
async def test_four_people_run_two_rounds_of_pairs_and_stay_in_touch(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Networking breakfast", "coffee")
    crowd = [ann]
    for name in ("Bob", "Cleo", "Dan"):
        person = await people.new(name)
        await person.open_room(server.url, room)
        crowd.append(person)
    for person in crowd:
        await person.camera_on()
    ids = {p.name: await p.user_id() for p in crowd}

    # Ann starts a series of 2 rounds of pairs from the button any first-timer sees.
    await ann.tid("rounds-start-open").click()
    dialog = ann.tid("rounds-dialog")
    await expect(dialog).to_be_visible()
    await expect(ann.tid("rounds-size")).to_have_value("2")
    await expect(ann.tid("rounds-minutes")).to_have_value("5")
    await expect(ann.tid("rounds-count")).to_have_value("3")
    await expect(ann.tid("rounds-break")).to_have_value("30")
    await ann.tid("rounds-minutes").fill(str(ROUND_SECONDS / 60))
    await ann.tid("rounds-count").fill("2")
    await ann.tid("rounds-break").fill(str(BREAK_SECONDS))
    await ann.tid("rounds-submit").click()
    await expect(dialog).to_have_count(0)
    await expect(ann.tid("tables-countdown")).to_have_attribute("data-phase", "gathering")
    await expect(ann.tid("rounds-invite")).to_be_hidden()  # who starts it takes part

    # Everybody else is invited, and says yes.
    async def says_yes(person: Person) -> None:
        invite = person.tid("rounds-invite")
        await expect(invite).to_contain_text("Ann started speed networking")
        await expect(person.tid("tables-countdown")).to_have_attribute("data-phase", "gathering")
        await person.tid("rounds-join").click()
        await expect(invite).to_be_hidden()
        await expect(person.tid("rounds-leave")).to_be_visible()

    await asyncio.gather(*(says_yes(p) for p in crowd[1:]))

    first = await play_round(crowd, ids, 1)
    # "30 seconds left" (half a round this short) comes to every table.
    for person in crowd:
        await expect(person.tid("tables-warning")).to_contain_text("seconds left")

    # The break: back in the room, with the countdown to the next round.
    for person in crowd:
        await expect(person.room()).to_have_attribute(
            "data-kind", "coffee", timeout=ROUND_SECONDS * 1000 + WAIT_MS
        )
        await expect(person.tid("tables-countdown")).to_have_attribute("data-phase", "break")

    second = await play_round(crowd, ids, 2)
    assert not first & second, "nobody meets the same person twice"

    # After the last round everybody is back in the coffee room, the series done.
    for person in crowd:
        await expect(person.room()).to_have_attribute(
            "data-kind", "coffee", timeout=ROUND_SECONDS * 1000 + WAIT_MS
        )
        await expect(person.room()).to_have_attribute("data-room-id", room)
        await expect(person.tid("tables-countdown")).to_have_attribute("data-phase", "done")

    # Ann and her last partner both ask to stay in touch; Cleo or Dan asks alone.
    by_id = {ids[p.name]: p for p in crowd}
    ann_partner = next(iter(next(pair for pair in second if ids["Ann"] in pair) - {ids["Ann"]}))
    partner = by_id[ann_partner]
    rest = [p for p in crowd if p is not ann and p is not partner]
    lonely, silent = rest
    for asker, other in ((ann, partner), (partner, ann), (lonely, silent)):
        stay = asker.tid("stay-in-touch").and_(
            asker.page.locator(f'[data-user-id="{ids[other.name]}"]')
        )
        await expect(stay).to_have_text("Stay in touch")
        await stay.click()
        await expect(stay).to_have_text(re.compile(r"Asked|In touch"))

    for person, other in ((ann, partner), (partner, ann)):
        await person.tid("people-link").click()
        met = person.tid("people-list").get_by_test_id("met-person")
        await expect(met).to_have_count(1)
        await expect(met).to_have_attribute("data-user-id", ids[other.name])
        await expect(met).to_contain_text(other.name)
        await expect(met).to_contain_text("Networking breakfast")
    # Nobody learns that the other did not ask.
    await lonely.tid("people-link").click()
    await expect(lonely.tid("people-page")).to_be_visible()
    await expect(lonely.tid("people-list").get_by_test_id("met-person")).to_have_count(0)

    # One click from the list opens the direct message.
    await ann.tid("people-list").get_by_test_id("met-message").click()
    await expect(ann.room()).to_have_attribute("data-kind", "dm")
    await expect(ann.tid("room-title")).to_have_text(partner.name)


async def test_a_host_opens_breakout_tables_visits_one_and_recalls_everybody(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Pricing your work", "workshop")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    bob_id = await ann.id_of("Bob")
    await expect(bob.tid("tables-open-panel")).to_be_hidden()  # hosts only

    await ann.tid("tables-open-panel").click()
    await ann.tid("tables-number").fill("1")
    await ann.tid("tables-submit").click()
    card = ann.tid("table-card")
    await expect(card).to_have_count(1)
    await expect(card.get_by_test_id("table-seat")).to_have_attribute("data-user-id", bob_id)

    # Bob is at his table: its own room, where a guest may use the camera.
    await expect(bob.room()).to_have_attribute("data-kind", "table")
    await expect(bob.tid("room-title")).to_have_text("Table 1")
    await expect(bob.tid("tables-countdown")).to_have_attribute("data-phase", "breakout")
    await bob.camera_on()

    # A late joiner lands in the main room; the host places her at the table.
    cleo = await people.new("Cleo")
    await cleo.open_room(server.url, room)
    await expect(cleo.room()).to_have_attribute("data-kind", "workshop")
    cleo_id = await ann.id_of("Cleo")
    table_id = await card.get_attribute("data-table-id")
    assert table_id
    mover = ann.tid("tables-person").and_(ann.page.locator(f'[data-user-id="{cleo_id}"]'))
    await mover.get_by_test_id("tables-move").select_option(table_id)
    await expect(cleo.room()).to_have_attribute("data-kind", "table")
    await expect(cleo.room()).to_have_attribute("data-room-id", table_id)
    await expect(card.get_by_test_id("table-seat")).to_have_count(2)

    # Bob's page reloads: he comes back to his table, not to the main room.
    await bob.page.reload()
    await expect(bob.room()).to_have_attribute("data-kind", "table")
    await expect(bob.room()).to_have_attribute("data-room-id", table_id)
    await bob.camera_on()

    # Ann visits, sees Bob, and writes to every table.
    await card.get_by_test_id("table-visit").click()
    await expect(ann.room()).to_have_attribute("data-kind", "table")
    await ann.sees_video_of(bob_id)
    await ann.say("How is it going here?")
    await expect(bob.messages("How is it going here?")).to_be_visible()
    await ann.tid("table-back").click()
    await expect(ann.room()).to_have_attribute("data-kind", "workshop")
    await ann.tid("tables-notice-input").fill("Five more minutes, please wrap up")
    await ann.tid("tables-notice-send").click()
    await expect(bob.tid("tables-notice")).to_contain_text("Five more minutes, please wrap up")

    # Recall: Bob is back in the workshop.
    await ann.tid("tables-close").click()
    for guest in (bob, cleo):
        await expect(guest.room()).to_have_attribute("data-kind", "workshop")
        await expect(guest.room()).to_have_attribute("data-room-id", room)
    await expect(bob.tid("tables-countdown")).to_be_hidden()
    await expect(ann.tid("table-card")).to_have_count(0)
