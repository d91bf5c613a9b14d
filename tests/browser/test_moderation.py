"""Looking after rooms in the browser: reports, slow mode and blocking (issue 16)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser


async def owned_room(people: People, server: Server, *names: str) -> tuple[Person, list[Person]]:
    """Mo creates an open room (Mo is its owner); the others follow its link."""
    owner = await people.new("Mo")
    await owner.enter(server.url)
    room = await owner.create_room("Neighbourhood", "open")
    joined = []
    for name in names:
        person = await people.new(name)
        await person.open_room(server.url, room)
        await expect(owner.member(await person.user_id())).to_be_visible()
        joined.append(person)
    return owner, joined


async def test_a_moderator_deletes_a_reported_message(people: People, server: Server) -> None:
    mo, (ann, bob, cat) = await owned_room(people, server, "Ann", "Bob", "Cat")
    # The owner appoints Ann moderator: her badge says so, and she gets the Reports button.
    await mo.moderate(await mo.id_of("Ann"), "control-moderator")
    ann_badge = bob.member(await bob.id_of("Ann")).get_by_test_id("role-badge")
    await expect(ann_badge).to_have_attribute("data-role", "moderator")
    await expect(ann.tid("reports-open")).to_be_visible()
    await expect(bob.tid("reports-open")).to_be_hidden()

    spam = "Buy cheap watches at spam.example"
    await cat.say(spam)
    # Nobody reports their own message.
    await cat.messages(spam).hover()
    await expect(cat.messages(spam).get_by_test_id("message-report")).to_have_count(0)
    await bob.act(spam, "message-report")
    await bob.tid("prompt-input").fill("Spam")
    await bob.tid("prompt-ok").click()
    await expect(bob.tid("toast").filter(has_text="Reported to the moderators")).to_be_visible()

    # The moderator sees the count, opens the panel, and deletes the message from it.
    await expect(ann.tid("reports-badge")).to_have_text("1")
    await expect(mo.tid("reports-badge")).to_have_text("1")
    await ann.tid("reports-open").click()
    report = ann.tid("reports-panel").get_by_test_id("report-item")
    await expect(report).to_have_count(1)
    await expect(report.get_by_test_id("message-text")).to_have_text(spam)
    await expect(report.get_by_test_id("report-author")).to_have_text("Cat")
    await expect(report.get_by_test_id("report-by")).to_contain_text("Reported by Bob")
    await expect(report.get_by_test_id("report-reason")).to_have_text("Spam")
    await report.get_by_test_id("report-delete").click()

    # The report is answered, the message is a tombstone for everybody, the reporter is told.
    await expect(report).to_have_count(0)
    await expect(ann.tid("reports-badge")).to_be_hidden()
    await expect(mo.tid("reports-badge")).to_be_hidden()
    for person in (mo, ann, bob, cat):
        await expect(person.tid("message-deleted")).to_have_count(1)
        await expect(person.messages(spam)).to_have_count(0)
    told = bob.tid("toast").filter(has_text="A moderator deleted the message you reported")
    await expect(told).to_be_visible()

    # The owner's moderation log says who did what, in plain words.
    await mo.tid("room-menu").click()
    await mo.tid("audit-open").click()
    entries = mo.tid("audit-list").get_by_test_id("audit-entry")
    await expect(entries.first).to_contain_text("Ann deleted a reported message by Cat")
    await expect(entries.last).to_contain_text("Mo made Ann a moderator")


async def test_slow_mode_set_by_the_owner_holds_back_a_second_message(
    people: People, server: Server
) -> None:
    mo, (ann,) = await owned_room(people, server, "Ann")
    await mo.tid("room-menu").click()
    await mo.tid("room-menu-items").get_by_test_id("slow-10").click()
    for person in (mo, ann):
        await expect(person.tid("slow-notice")).to_contain_text("one message every 10 s")

    await ann.say("First question")
    await expect(mo.messages("First question")).to_be_visible()
    await ann.say("Second question, straight away")
    # The server refuses it for now: it waits in the chat, saying when it goes.
    pending = ann.tid("pending-message").filter(has_text="Second question, straight away")
    await expect(pending.get_by_test_id("pending-status")).to_have_text(
        re.compile(r"Slow mode: this goes out by itself in \d+ s")
    )
    await expect(mo.messages("Second question, straight away")).to_have_count(0)
    # The owner is not slowed.
    await mo.say("Welcome, one at a time please")
    await mo.say("Thank you")
    await expect(ann.messages("Thank you")).to_be_visible()
    # Once the interval is over, the message held back goes out by itself.
    await expect(mo.messages("Second question, straight away")).to_be_visible(timeout=20_000)
    await expect(pending).to_have_count(0)

    # A thread's box says so too.
    await ann.act("First question", "message-reply")
    await expect(ann.tid("thread-slow-notice")).to_contain_text("one message every 10 s")

    # Off again: the notice goes for everybody.
    await mo.tid("room-menu").click()
    await mo.tid("room-menu-items").get_by_test_id("slow-0").click()
    await expect(ann.tid("slow-notice")).to_be_hidden()
    await expect(ann.tid("thread-slow-notice")).to_be_hidden()


async def test_the_owner_removes_somebody_and_lets_them_back_from_the_log(
    people: People, server: Server
) -> None:
    mo, (ann,) = await owned_room(people, server, "Ann")
    room = await ann.room_id()
    ann_id = await mo.id_of("Ann")
    await mo.moderate(ann_id, "control-remove")
    await mo.tid("confirm-ok").click()
    removed = ann.tid("removed-screen")
    await expect(removed).to_have_attribute("data-reason", "removed")
    await expect(removed).to_contain_text("A moderator removed you from this room")
    await expect(mo.member(ann_id)).to_have_count(0)
    # Coming back by the link does not let her in.
    await ann.page.goto(f"{server.url}r/{room}")
    await expect(ann.tid("join-error")).to_contain_text("removed you")

    await mo.tid("room-menu").click()
    await mo.tid("audit-open").click()
    removal = mo.tid("audit-list").get_by_test_id("audit-entry").filter(has_text="Mo removed Ann")
    await removal.get_by_test_id("audit-allow").click()
    await expect(mo.tid("toast").filter(has_text="Ann can join again")).to_be_visible()
    await mo.tid("audit-close").click()
    await ann.page.reload()
    await expect(ann.room()).to_have_attribute("data-room-id", room)
    await expect(mo.member(ann_id)).to_be_visible()


async def test_a_blocked_persons_messages_are_hidden_and_their_dm_goes(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.open_room(server.url, "lobby")
    bob = await people.new("Bob")
    await bob.open_room(server.url, "lobby")
    cat = await people.new("Cat")
    await cat.open_room(server.url, "lobby")
    bob_id = await ann.id_of("Bob")
    await bob.say("Hello from Bob")
    await expect(ann.messages("Hello from Bob")).to_be_visible()

    # A direct message with him, in her sidebar until she blocks him.
    await ann.member(bob_id).locator(".member-main").click()
    await expect(ann.room()).to_have_attribute("data-kind", "dm")
    dm = ann.tid("room-tab").and_(ann.page.locator(f'[data-room-id="{await ann.room_id()}"]'))
    await expect(dm).to_be_visible()
    await ann.tid("room-tab").and_(ann.page.locator('[data-room-id="lobby"]')).click()
    await expect(ann.room()).to_have_attribute("data-room-id", "lobby")

    await ann.moderate(bob_id, "control-block")
    await expect(ann.tid("toast").filter(has_text="You blocked Bob")).to_be_visible()
    await expect(dm).to_have_count(0)
    # Ann no longer sees him typing: Cat sees it, then Cat types, and Ann sees only Cat.
    await bob.tid("chat-input").fill("Can")
    await expect(cat.tid("typing-indicator")).to_have_text("Bob is typing…")
    await cat.tid("chat-input").fill("Hi")
    await expect(bob.tid("typing-indicator")).to_have_text("Cat is typing…")
    await expect(ann.tid("typing-indicator")).to_have_text("Cat is typing…")
    await bob.say("Can you hear me?")
    await expect(bob.messages("Can you hear me?")).to_be_visible()
    # On Ann's page both of Bob's messages are collapsed lines; one can be shown once.
    hidden = ann.tid("message-list").get_by_test_id("blocked-message")
    await expect(hidden).to_have_count(2)
    await expect(ann.messages("Can you hear me?")).to_have_count(0)
    await expect(hidden.last).to_contain_text("Message from someone you blocked")
    await hidden.last.get_by_test_id("blocked-show").click()
    await expect(ann.messages("Can you hear me?")).to_be_visible()

    # Unblocked, his messages show again.
    await ann.moderate(bob_id, "control-block")
    await expect(ann.messages("Hello from Bob")).to_be_visible()
    await expect(ann.tid("message-list").get_by_test_id("blocked-message")).to_have_count(0)


async def test_the_owner_edits_a_coffee_mornings_title_and_description(
    people: People, server: Server
) -> None:
    mo = await people.new("Mo")
    await mo.enter(server.url)
    room = await mo.create_room("Friday coffee", "coffee")
    ann = await people.new("Ann")
    await ann.open_room(server.url, room)
    await expect(ann.tid("room-description")).to_be_hidden()
    # A member has no room settings.
    await expect(ann.tid("room-menu")).to_be_hidden()

    await mo.tid("room-menu").click()
    await mo.tid("room-menu-items").get_by_test_id("room-edit-open").click()
    dialog = mo.tid("room-edit-dialog")
    await expect(dialog.get_by_test_id("room-edit-title")).to_have_value("Friday coffee")
    await dialog.get_by_test_id("room-edit-title").fill("")
    await expect(dialog.get_by_test_id("room-edit-save")).to_be_disabled()
    # More than 500 characters: the counter says so and Save waits.
    await dialog.get_by_test_id("room-edit-description").fill("x" * 501)
    await expect(dialog.get_by_test_id("room-edit-count")).to_have_text("501/500")
    await dialog.get_by_test_id("room-edit-title").fill("Friday coffee & jobs")
    await expect(dialog.get_by_test_id("room-edit-save")).to_be_disabled()
    about = "Local businesses meet every Friday at 9.\nBring a question, leave with an answer."
    await dialog.get_by_test_id("room-edit-description").fill(about)
    await expect(dialog.get_by_test_id("room-edit-count")).to_have_text(f"{len(about)}/500")
    await dialog.get_by_test_id("room-edit-save").click()
    await expect(dialog).to_have_count(0)

    # Both pages show the new title and the description at once; Ann is told who changed them.
    for person in (mo, ann):
        await expect(person.tid("room-title")).to_have_text("Friday coffee & jobs")
        await expect(person.tid("room-description")).to_have_text(about)
        await expect(person.tid("room-description")).to_have_attribute("title", about)
    toast = ann.tid("toast").filter(has_text="Mo renamed the room")
    await expect(toast).to_contain_text("and changed its description")
    await expect(mo.tid("toast").filter(has_text="renamed")).to_have_count(0)
    # One line until clicked; then all of it.
    description = ann.tid("room-description")
    assert await description.evaluate("el => el.scrollHeight <= el.clientHeight + 1")
    await description.click()
    await expect(description).to_have_attribute("aria-expanded", "true")
    assert await description.evaluate("el => el.clientHeight > 30")

    # Only the description now: the toast says just that.
    await mo.tid("room-menu").click()
    await mo.tid("room-menu-items").get_by_test_id("room-edit-open").click()
    await mo.tid("room-edit-description").fill("Every Friday at 9.")
    await mo.tid("room-edit-save").click()
    await expect(ann.tid("room-description")).to_have_text("Every Friday at 9.")
    await expect(
        ann.tid("toast").filter(has_text="Mo changed the room's description")
    ).to_be_visible()
    # The moderation log keeps it.
    await mo.tid("room-menu").click()
    await mo.tid("audit-open").click()
    entry = mo.tid("audit-list").get_by_test_id("audit-entry").first
    await expect(entry).to_have_attribute("data-action", "edit")
    await expect(entry).to_contain_text("Mo edited the room “Friday coffee & jobs”")
    await mo.tid("audit-close").click()

    # A third person's lobby lists the room with what it is for.
    cat = await people.new("Cat")
    await cat.enter(server.url)
    item = cat.tid("room-list").locator(f'[data-testid="room-item"][data-room-id="{room}"]')
    await expect(item).to_contain_text("Friday coffee & jobs")
    await expect(item.get_by_test_id("room-item-description")).to_have_text("Every Friday at 9.")


async def test_a_moderator_pins_and_everybody_finds_it_in_the_pinned_list(
    people: People, server: Server
) -> None:
    mo, (ann, bob) = await owned_room(people, server, "Ann", "Bob")
    await mo.moderate(await mo.id_of("Ann"), "control-moderator")
    await expect(ann.tid("reports-open")).to_be_visible()  # Ann is a moderator now
    rota = "Work-day rota: first Saturday of each month, 10:00 at the gate"
    await bob.say(rota)
    await bob.say("Thanks, see you there")
    # Bob has the Pinned list open, with nothing in it yet.
    await bob.tid("pins-open").click()
    await expect(bob.tid("pins-empty")).to_be_visible()
    # A member is offered no pin; the moderator pins Bob's message.
    await bob.messages(rota).hover()
    await expect(bob.messages(rota).get_by_test_id("message-pin")).to_be_hidden()
    await ann.act(rota, "message-pin")
    await expect(ann.messages(rota).get_by_test_id("message-pinned")).to_be_visible()
    # Bob's list follows at once, and the message carries the mark.
    item = bob.tid("pin-item")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("message-text")).to_have_text(rota)
    await expect(item.get_by_test_id("pin-by")).to_contain_text("Pinned by Ann")
    await expect(bob.messages(rota).get_by_test_id("message-pinned")).to_be_visible()
    # A click opens the room at that message.
    await item.get_by_test_id("pin-open").click()
    await expect(bob.tid("search-found").get_by_test_id("message-text")).to_have_text(rota)
    # Unpinned, it leaves the list; the owner reads who did what.
    await ann.act(rota, "message-pin")
    await expect(bob.messages(rota).get_by_test_id("message-pinned")).to_have_count(0)
    await mo.tid("room-menu").click()
    await mo.tid("audit-open").click()
    entries = mo.tid("audit-list").get_by_test_id("audit-entry")
    await expect(entries.first).to_contain_text("Ann unpinned a message by Bob")
    await expect(entries.nth(1)).to_contain_text("Ann pinned a message by Bob")


async def test_a_moderator_opens_what_an_edited_message_said_before(
    people: People, server: Server
) -> None:
    mo, (ann, bob) = await owned_room(people, server, "Ann", "Bob")
    await mo.moderate(await mo.id_of("Ann"), "control-moderator")
    await expect(ann.tid("reports-open")).to_be_visible()
    await bob.say("Meet at the Corn Exchange at 6")
    await bob.act("Meet at the Corn Exchange at 6", "message-edit")
    await bob.tid("edit-input").fill("Meet at the Town Hall at 7")
    await bob.tid("edit-input").press("Enter")
    now = "Meet at the Town Hall at 7"
    # The author, a member, sees "(edited)" only: a mark, not a button.
    marker = bob.messages(now).get_by_test_id("message-edited")
    await expect(marker).to_have_text("(edited)")
    await expect(marker).to_have_js_property("tagName", "SPAN")

    # The moderator opens it: the earlier text, when it was replaced, and the text now.
    marker = ann.messages(now).get_by_test_id("message-edited")
    await expect(marker).to_have_js_property("tagName", "BUTTON")
    await marker.click()
    popover = ann.tid("versions-popover")
    await expect(popover).to_be_visible()
    versions = popover.get_by_test_id("version")
    await expect(versions).to_have_count(1)
    await expect(versions.get_by_test_id("message-text")).to_have_text(
        "Meet at the Corn Exchange at 6"
    )
    await expect(versions.get_by_test_id("version-when")).to_have_text(re.compile(r"^Until \d"))
    await expect(popover.get_by_test_id("version-now")).to_contain_text(now)
    await ann.page.keyboard.press("Escape")
    await expect(popover).to_have_count(0)

    # The owner's edits stay closed to a moderator, and open to the owner.
    await mo.say("Welcome, all")
    await mo.act("Welcome, all", "message-edit")
    await mo.tid("edit-input").fill("Welcome, everyone")
    await mo.tid("edit-input").press("Enter")
    owners = ann.messages("Welcome, everyone").get_by_test_id("message-edited")
    await expect(owners).to_have_js_property("tagName", "SPAN")
    await mo.messages(now).get_by_test_id("message-edited").click()
    await expect(mo.tid("versions-popover").get_by_test_id("version")).to_have_count(1)
