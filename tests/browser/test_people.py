"""Staying in touch as people do it: Bob asks Ann from her card, Ann is told and says yes on
the People page, both find each other there and one parts; a request Ann declines leaves the
asker none the wiser."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser


async def ask_from_card(asker: Person, text: str) -> None:
    """Open the author's card on one of their messages and say "Stay in touch"."""
    await asker.messages(text).get_by_test_id("message-author").hover()
    stay = asker.tid("profile-card").get_by_test_id("profile-card-stay")
    await expect(stay).to_have_text("Stay in touch")
    await stay.click()
    await expect(stay).to_have_text("Asked")


async def test_asked_from_a_card_said_yes_on_the_people_page_and_parted(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Founders' breakfast", "open")
    await ann.tid("invite-dismiss").click()
    await ann.say("I run a bakery and look for a web designer")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await bob.say("Happy to help with your site")
    cleo = await people.new("Cleo")
    await cleo.open_room(server.url, room)

    await ask_from_card(bob, "I run a bakery and look for a web designer")
    await ask_from_card(cleo, "I run a bakery and look for a web designer")
    # Ann is told at once, and the People link counts who asked.
    await expect(ann.tid("toast").filter(has_text="would like to stay in touch")).to_have_count(2)
    await expect(ann.tid("asked-badge")).to_have_text("2")

    await ann.tid("people-link").click()
    asked = ann.tid("asked-list").get_by_test_id("asked-person")
    await expect(asked).to_have_count(2)
    await asked.filter(has_text="Cleo").get_by_test_id("asked-decline").click()
    await asked.filter(has_text="Bob").get_by_test_id("asked-accept").click()
    await expect(ann.tid("asked-card")).to_be_hidden()
    await expect(ann.tid("asked-badge")).to_be_hidden()
    met = ann.tid("people-list").get_by_test_id("met-person")
    await expect(met).to_have_count(1)
    await expect(met).to_contain_text("Bob")
    await expect(met).to_contain_text("Met in Founders' breakfast")  # where Bob asked from

    # Bob finds Ann under People; Cleo still sees her request waiting, nothing more.
    await bob.tid("people-link").click()
    await expect(bob.tid("people-list").get_by_test_id("met-person")).to_contain_text("Ann")
    await cleo.tid("people-link").click()
    await expect(cleo.tid("asking-list").get_by_test_id("asking-person")).to_contain_text("Ann")
    await expect(cleo.tid("people-list").get_by_test_id("met-person")).to_have_count(0)

    # Bob parts: both lists empty at once.
    await bob.tid("people-list").get_by_test_id("met-remove").click()
    await expect(bob.tid("people-list").get_by_test_id("met-person")).to_have_count(0)
    await expect(ann.tid("people-list").get_by_test_id("met-person")).to_have_count(0)


async def test_a_contact_card_filled_in_shared_per_contact_and_seen_live(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Founders' breakfast", "open")
    await ann.tid("invite-dismiss").click()
    await ann.say("I run a bakery")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await ask_from_card(bob, "I run a bakery")
    await ann.tid("people-link").click()
    await ann.tid("asked-list").get_by_test_id("asked-accept").click()
    await expect(ann.tid("people-list").get_by_test_id("met-person")).to_have_count(1)

    # Ann fills in her card; a javascript: link is refused before anything is sent.
    editor = ann.tid("card-editor")
    await editor.get_by_test_id("card-email").fill("ann@bakery.example")
    await editor.get_by_test_id("card-phone").fill("+44 20 7946 0958")
    await editor.get_by_test_id("card-link").fill("javascript:alert(1)")
    await editor.get_by_test_id("card-save").click()
    await expect(editor.get_by_role("alert")).to_have_text(
        "The link must start with https:// or http://."
    )
    await editor.get_by_test_id("card-link").fill("https://bakery.example")
    await editor.get_by_test_id("card-save").click()
    await expect(editor.get_by_test_id("card-status")).to_have_text("Saved")

    # Bob, in touch since before, sees all three (Ann's default), as links, at once.
    await bob.tid("people-link").click()
    ann_row = bob.tid("people-list").get_by_test_id("met-person")
    await expect(ann_row.get_by_test_id("contact-email")).to_have_attribute(
        "href", "mailto:ann@bakery.example"
    )
    await expect(ann_row.get_by_test_id("contact-phone")).to_have_attribute(
        "href", "tel:+442079460958"
    )
    await expect(ann_row.get_by_test_id("contact-link")).to_have_text("bakery.example")

    # Ann stops sharing her phone with Bob: it leaves his page without a reload.
    bob_row = ann.tid("people-list").get_by_test_id("met-person")
    phone = bob_row.locator('[data-testid="share-toggle"][data-field="phone"]')
    await expect(phone).to_have_attribute("aria-pressed", "true")
    await phone.click()
    await expect(phone).to_have_attribute("aria-pressed", "false")
    await expect(ann_row.get_by_test_id("contact-phone")).to_have_count(0)
    await expect(ann_row.get_by_test_id("contact-email")).to_be_visible()
    # And it stays so: Ann's page after a reload says the same.
    await ann.page.reload()
    await expect(ann.tid("people-page")).to_be_visible()
    await expect(
        ann.tid("people-list").locator('[data-testid="share-toggle"][data-field="phone"]')
    ).to_have_attribute("aria-pressed", "false")
    await expect(ann.tid("card-editor").get_by_test_id("card-email")).to_have_value(
        "ann@bakery.example"
    )
