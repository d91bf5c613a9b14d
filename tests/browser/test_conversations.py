"""Conversations in the browser: replies and threads, reactions, edits and deletes, mentions."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .harness import RECONNECT_MS, People, Person, Server

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


async def test_a_reply_quotes_its_message_and_the_thread_opens_with_it(
    people: People, server: Server
) -> None:
    ann, bob = await two_in_a_room(people, server, "Studio")
    await bob.say("Who has the slides from Tuesday?")
    await ann.reply("Who has the slides from Tuesday?", "I do, sending them now")
    await expect(ann.tid("thread-panel")).to_be_visible()

    # The reply is in the room for everybody, quoting the message it answers.
    reply = bob.messages("I do, sending them now")
    await expect(reply.get_by_test_id("quote-author")).to_have_text("Bob")
    await expect(reply.get_by_test_id("quote-text")).to_have_text(
        "Who has the slides from Tuesday?"
    )
    first = bob.messages("Who has the slides from Tuesday?")
    await expect(first.get_by_test_id("thread-count")).to_have_text("1 reply")

    await first.get_by_test_id("thread-summary").click()
    thread = bob.messages(within="thread-panel")
    await expect(thread.get_by_test_id("message-text")).to_have_text(
        ["Who has the slides from Tuesday?", "I do, sending them now"]
    )
    await expect(bob.tid("thread-reply-count")).to_have_text("1 reply")
    await expect(ann.messages("I do, sending them now", within="thread-panel")).to_be_visible()


async def test_a_reaction_shows_on_the_other_page_and_goes_when_toggled_off(
    people: People, server: Server
) -> None:
    ann, bob = await two_in_a_room(people, server, "Lunch club")
    await bob.say("Lunch at noon?")
    await ann.react("Lunch at noon?", "👍")

    chip = bob.messages("Lunch at noon?").get_by_test_id("reaction")
    await expect(chip).to_have_attribute("data-emoji", "👍")
    await expect(chip.get_by_test_id("reaction-count")).to_have_text("1")
    await expect(chip).to_have_attribute("aria-pressed", "false")
    await expect(chip).to_have_attribute("title", re.compile("Ann"))
    mine = ann.messages("Lunch at noon?").get_by_test_id("reaction")
    await expect(mine).to_have_attribute("aria-pressed", "true")

    await mine.click()
    await expect(chip).to_have_count(0)
    await expect(mine).to_have_count(0)


async def test_an_edit_and_a_delete_show_on_the_other_page(people: People, server: Server) -> None:
    ann, bob = await two_in_a_room(people, server, "Planning")
    await ann.say("See you at 10")
    await ann.act("See you at 10", "message-edit")
    editor = ann.tid("edit-input")
    await editor.fill("See you at 11")
    await editor.press("Enter")

    edited = bob.messages("See you at 11")
    await expect(edited.get_by_test_id("message-edited")).to_have_text("(edited)")
    await expect(bob.messages("See you at 10")).to_have_count(0)
    seq = await edited.get_attribute("data-seq")

    await ann.act("See you at 11", "message-delete")
    await ann.tid("confirm-ok").click()
    tombstone = bob.messages().and_(bob.page.locator(f'[data-seq="{seq}"]'))
    await expect(tombstone.get_by_test_id("message-deleted")).to_have_text(
        "This message was deleted"
    )
    await expect(bob.messages("See you at 11")).to_have_count(0)
    await expect(bob.messages()).to_have_count(1)  # it keeps its place


async def test_a_mention_reaches_the_mentions_list_with_a_badge(
    people: People, server: Server
) -> None:
    ann, bob = await two_in_a_room(people, server, "Proofreading")
    bob_id = await ann.id_of("Bob")
    box = ann.tid("chat-input")
    await box.press_sequentially("@Bo")
    option = ann.tid("mention-suggestions").get_by_test_id("mention-option")
    await expect(option).to_have_attribute("data-user-id", bob_id)
    await option.click()
    await expect(box).to_have_value("@Bob ")
    await box.press_sequentially("can you review the draft?")
    await box.press("Enter")

    message = bob.messages("@Bob can you review the draft?")
    await expect(message.get_by_test_id("mention")).to_have_text("@Bob")
    await expect(message.get_by_test_id("mention")).to_have_class(re.compile(r"\bmention-me\b"))
    await expect(bob.tid("mentions-badge")).to_have_text("1")
    await expect(bob.tid("unread-count")).to_have_count(0)  # counted apart: the room is open

    await bob.tid("mentions-link").click()
    item = bob.tid("mentions-list").get_by_test_id("mention-item")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("mention-room")).to_have_text("Proofreading")
    await expect(item.get_by_test_id("mention-author")).to_have_text("Ann")
    await expect(item.get_by_test_id("message-text")).to_have_text("@Bob can you review the draft?")
    await expect(bob.tid("mentions-badge")).to_be_hidden()

    await item.get_by_test_id("mention-open").click()
    await expect(bob.room()).to_have_attribute("data-room-id", await ann.room_id())


@pytest.mark.parametrize("server_flags", [("--join-history", "1")])
async def test_changes_made_while_away_are_caught_up_on_reconnecting(
    people: People, server: Server
) -> None:
    # A join brings only the latest message: the older one's changes come from chat:changes.
    ann, bob = await two_in_a_room(people, server, "Night shift")
    await bob.say("Handover notes are in the drive")
    await bob.say("Good night")
    await expect(ann.messages("Good night")).to_be_visible()
    await expect(ann.messages("Handover notes are in the drive")).to_be_visible()

    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await bob.react("Handover notes are in the drive", "👀")
    await bob.act("Handover notes are in the drive", "message-edit")
    editor = bob.tid("edit-input")
    await editor.fill("Handover notes are in the shared drive")
    await editor.press("Enter")
    edited = bob.messages("Handover notes are in the shared drive")
    await expect(edited.get_by_test_id("message-edited")).to_be_visible()

    await ann.context.set_offline(False)
    await expect(ann.tid("connection-banner")).to_be_hidden(timeout=RECONNECT_MS)
    caught_up = ann.messages("Handover notes are in the shared drive")
    await expect(caught_up.get_by_test_id("message-edited")).to_be_visible(timeout=RECONNECT_MS)
    await expect(caught_up.get_by_test_id("reaction")).to_have_attribute("data-emoji", "👀")
    await expect(ann.messages().get_by_test_id("message-text")).to_have_text(
        ["Handover notes are in the shared drive", "Good night"]
    )
