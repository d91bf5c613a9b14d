"""Chat in the browser: messages, history after a reload, search, direct messages, hostile text."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser


async def two_in_a_room(people: People, server: Server, title: str) -> tuple[Person, Person]:
    """Ann creates an open room and Bob follows its link; both see each other listed."""
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room(title, "open")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await expect(ann.member(await bob.user_id())).to_be_visible()
    return ann, bob


async def test_two_people_chat_and_the_history_survives_a_reload(
    people: People, server: Server
) -> None:
    ann, bob = await two_in_a_room(people, server, "Networking")
    room = await ann.room_id()
    ann_id = await ann.user_id()

    await ann.say("Good morning, everyone")
    await expect(bob.messages("Good morning, everyone")).to_be_visible()
    await bob.say("Morning Ann! Coffee later?")
    await expect(ann.messages("Morning Ann! Coffee later?")).to_be_visible()
    for page in (ann, bob):
        await expect(page.messages().get_by_test_id("message-author")).to_have_text(["Ann", "Bob"])

    await ann.page.reload()
    # The name and the identity are remembered: no name prompt, the same user, the same room.
    await expect(ann.room()).to_have_attribute("data-room-id", room)
    await expect(ann.tid("name-input")).to_have_count(0)
    assert await ann.user_id() == ann_id
    texts = ann.messages().get_by_test_id("message-text")
    await expect(texts).to_have_text(["Good morning, everyone", "Morning Ann! Coffee later?"])
    await expect(ann.messages().get_by_test_id("message-author")).to_have_text(["Ann", "Bob"])
    # Bob saw no second Ann arrive, and the reloaded page still talks.
    await expect(bob.tid("member-list").locator('[data-name="Ann"]')).to_have_count(1)
    await ann.say("Back after a reload")
    await expect(bob.messages("Back after a reload")).to_be_visible()


async def test_search_finds_a_message(people: People, server: Server) -> None:
    ann, bob = await two_in_a_room(people, server, "Freelancers")
    await ann.say("The invoice template is in the shared folder")
    await bob.say("Café at ten tomorrow?")
    await ann.say("Thanks")
    await expect(ann.messages("Thanks")).to_be_visible()

    search = ann.tid("search-input")
    await search.fill("invoice")
    await search.press("Enter")
    results = ann.tid("search-results").get_by_test_id("message")
    await expect(results.get_by_test_id("message-text")).to_have_text(
        ["The invoice template is in the shared folder"]
    )

    # Case and accents do not matter, and the last word counts as a prefix.
    await search.fill("cafe TOM")
    await search.press("Enter")
    await expect(results.get_by_test_id("message-text")).to_have_text(["Café at ten tomorrow?"])
    await expect(results.get_by_test_id("message-author")).to_have_text(["Bob"])


async def test_a_direct_message_reaches_the_person_clicked(people: People, server: Server) -> None:
    ann, bob = await two_in_a_room(people, server, "Chamber of commerce")
    room = await ann.room_id()
    bob_id = await bob.user_id()

    await ann.member(bob_id).click()
    await expect(ann.room()).to_have_attribute("data-kind", "dm")
    dm = await ann.room_id()
    assert dm != room
    await ann.say("Are you free for a call at three?")
    await expect(ann.messages("Are you free for a call at three?")).to_be_visible()

    # Bob is still in the public room: the conversation shows up in his sidebar, unread.
    await expect(bob.room()).to_have_attribute("data-room-id", room)
    tab = bob.tid("room-tab").and_(bob.page.locator(f'[data-room-id="{dm}"]'))
    await expect(tab.get_by_test_id("unread-count")).to_be_visible()
    await tab.click()
    await expect(bob.room()).to_have_attribute("data-room-id", dm)
    message = bob.messages("Are you free for a call at three?")
    await expect(message.get_by_test_id("message-author")).to_have_text("Ann")
    await expect(tab.get_by_test_id("unread-count")).to_have_count(0)

    await bob.say("Yes, call me")
    await expect(ann.messages("Yes, call me")).to_be_visible()


IMG = '<img src=x onerror="window.__pwned=1">'
BOLD = "<b>bold</b>"
SCRIPT_LINK = "javascript:window.__pwned=2"


async def test_hostile_text_is_shown_as_text(people: People, server: Server) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Open floor", "open")
    mallory = await people.new("<i>Mallory</i>")
    await mallory.open_room(server.url, room)

    await mallory.say(IMG)
    await mallory.say(BOLD)
    await mallory.say(SCRIPT_LINK)
    await expect(ann.messages()).to_have_count(3)

    for page in (ann, mallory):
        texts = await page.tid("message-list").get_by_test_id("message-text").all_text_contents()
        assert texts == [IMG, BOLD, SCRIPT_LINK]
        authors = (
            await page.tid("message-list").get_by_test_id("message-author").all_text_contents()
        )
        assert [a.strip() for a in authors] == ["<i>Mallory</i>"] * 3
        mallory_listed = page.tid("member-list").locator('[data-name="<i>Mallory</i>"]')
        await expect(mallory_listed).to_have_count(1)
        await expect(page.tid("message-list").locator("img, b")).to_have_count(0)
        await expect(page.page.locator("i").filter(has_text="Mallory")).to_have_count(0)
        await expect(page.page.locator("[onerror]")).to_have_count(0)
        await expect(page.tid("message-list").locator('a[href^="javascript:"]')).to_have_count(0)
        assert await page.page.evaluate("typeof window.__pwned") == "undefined"
