"""Losing the network in the browser: a banner, an outbox, and no message lost or doubled."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Route, expect

from .harness import RECONNECT_MS, People, Server

pytestmark = pytest.mark.browser


async def test_messages_cross_an_offline_spell_exactly_once(people: People, server: Server) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Commuters", "open")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    ann_id = await ann.user_id()
    await expect(bob.member(ann_id)).to_be_visible()
    await expect(ann.tid("connection-banner")).to_be_hidden()

    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await bob.say("First while you were away")
    await bob.say("Second while you were away")
    await ann.say("Sent from the train")  # typed and sent while offline
    await expect(bob.messages("Second while you were away")).to_be_visible()
    await expect(bob.messages("Sent from the train")).to_have_count(0)

    await ann.context.set_offline(False)
    await expect(ann.tid("connection-banner")).to_be_hidden(timeout=RECONNECT_MS)
    expected = ["First while you were away", "Second while you were away", "Sent from the train"]
    for text in expected:
        await expect(ann.messages(text)).to_have_count(1, timeout=RECONNECT_MS)
    await expect(bob.messages("Sent from the train")).to_have_count(1, timeout=RECONNECT_MS)

    # One more message after the dust settles; then every text is there exactly once, in order.
    await bob.say("Welcome back")
    expected.append("Welcome back")
    for person in (ann, bob):
        await expect(person.messages("Welcome back")).to_be_visible()
        await expect(person.messages().get_by_test_id("message-text")).to_have_text(expected)
        ids = await person.message_ids()
        assert len(set(ids)) == len(ids) == len(expected), ids
    await expect(bob.member(ann_id)).to_be_visible()


# What the page ever showed about its connection: recorded, since it may be on screen only
# between two looks.
SAID = """
window.__said = [];
new MutationObserver(() => {
  const text = document.body?.innerText ?? "";
  const phrases = ["offline", "Connection lost", "connection to the server is lost", "Connecting"];
  for (const words of phrases) {
    if (text.includes(words) && !window.__said.includes(words)) window.__said.push(words);
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


async def test_a_room_created_while_the_first_connection_is_made_waits_for_it(
    people: People, server: Server
) -> None:
    # The first two attempts to connect fail (the first only once the room is asked for): the
    # page is still connecting, never offline, and the room is created once it is connected.
    ann = await people.new("Ann")
    await ann.page.add_init_script(SAID)
    clicked = asyncio.Event()
    handshakes = 0

    async def flaky(route: Route) -> None:
        nonlocal handshakes
        if "sid=" in route.request.url:  # the Engine.IO session's own requests: let them be
            await route.continue_()
            return
        handshakes += 1
        if handshakes == 1:
            await clicked.wait()
        if handshakes <= 2:
            await route.abort("connectionrefused")
        else:
            await route.continue_()

    await ann.context.route(re.compile(r"/socket\.io/"), flaky)
    await ann.give_name(server.url)
    await expect(ann.tid("lobby")).to_be_visible()
    await ann.tid("create-title").fill("Early birds")
    await ann.tid("create-submit").click()
    clicked.set()
    await expect(ann.tid("room-title")).to_have_text("Early birds", timeout=RECONNECT_MS)
    assert handshakes == 3
    assert await ann.page.evaluate("window.__said") == ["Connecting"]  # the banner, meanwhile
