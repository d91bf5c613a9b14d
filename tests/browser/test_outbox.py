"""The outbox in the browser: what was typed offline survives a reload and is sent once.

A page cannot load while the browser is offline (the client has no service worker), so each
"reload while offline" here reloads with the network back but the server out of reach: the
page's Socket.IO requests are refused until the test lets them through, as when the server is
away. The person's page talks to the server over HTTP long-polling only (its WebSocket is
closed by the test), so that the test sees every packet and can hold back or cut one.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Route, WebSocketRoute, expect

from .harness import RECONNECT_MS, People, Person, Server

pytestmark = pytest.mark.browser

SOCKET = re.compile(r"/socket\.io/")


class Line:
    """A person's line to the server, under the test's control."""

    def __init__(self) -> None:
        self.down = False
        """Every Socket.IO request is refused (the server is out of reach)."""
        self.held = asyncio.Event()
        self.held.set()
        """Cleared: requests that send a `chat:` event wait until it is set again."""
        self.cut_on: str | None = None
        """The first answer from the server holding this text is lost (the test goes offline)."""
        self.cut = asyncio.Event()

    async def attach(self, person: Person) -> None:
        await person.context.route_web_socket(SOCKET, self.no_websocket)
        await person.context.route(SOCKET, self.route)

    @staticmethod
    async def no_websocket(ws: WebSocketRoute) -> None:
        # Engine.IO's upgrade fails and the connection stays on long-polling.
        await ws.close()

    async def route(self, route: Route) -> None:
        request = route.request
        if self.down:
            await route.abort("connectionrefused")
            return
        if request.method == "POST" and '"chat:' in (request.post_data or ""):
            await self.held.wait()
            if self.down:
                await route.abort("connectionrefused")
                return
        if request.method == "GET" and self.cut_on is not None:
            try:
                response = await route.fetch()
                body = await response.text()
            except Exception:  # the page went offline meanwhile
                await route.abort("internetdisconnected")
                return
            if self.cut_on in body:
                self.cut_on = None
                self.cut.set()
                await route.abort("internetdisconnected")
                return
            await route.fulfill(response=response)
            return
        await route.continue_()


async def ann_and_bob(people: People, server: Server) -> tuple[Person, Person, Line]:
    """Ann (whose line the test controls) and Bob in an open room."""
    ann = await people.new("Ann")
    line = Line()
    await line.attach(ann)
    await ann.enter(server.url)
    room = await ann.create_room("Night train", "open")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await expect(ann.member(await bob.id_of("Bob"))).to_be_visible()
    return ann, bob, line


async def reload_out_of_reach(person: Person, line: Line) -> None:
    """Reload the page while it cannot reach the server, then give it the network back with its
    `chat:` requests held: it joins the room again, and what it had not sent is still pending."""
    line.down = True
    line.held.clear()
    await person.context.set_offline(False)
    await person.page.reload()
    await expect(person.tid("room-view")).to_have_count(0)  # cannot be joined meanwhile
    line.down = False


async def test_messages_typed_offline_survive_a_reload_and_arrive_once_in_order(
    people: People, server: Server
) -> None:
    ann, bob, line = await ann_and_bob(people, server)
    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await ann.say("Lost signal in the tunnel")
    await ann.say("Back in ten minutes")
    await expect(ann.tid("pending-message")).to_have_count(2)

    await reload_out_of_reach(ann, line)
    pending = ann.tid("pending-message").get_by_test_id("message-text")
    await expect(pending).to_have_text(
        ["Lost signal in the tunnel", "Back in ten minutes"], timeout=RECONNECT_MS
    )
    await expect(bob.messages("Lost signal in the tunnel")).to_have_count(0)

    line.held.set()
    expected = ["Lost signal in the tunnel", "Back in ten minutes"]
    for person in (ann, bob):
        await expect(person.messages().get_by_test_id("message-text")).to_have_text(expected)
    await expect(ann.tid("pending-message")).to_have_count(0)

    # Once more after a reload: nothing is left to send again.
    await ann.page.reload()
    await expect(ann.messages().get_by_test_id("message-text")).to_have_text(expected)
    await bob.say("Welcome back")
    expected.append("Welcome back")
    for person in (ann, bob):
        await expect(person.messages().get_by_test_id("message-text")).to_have_text(expected)
        ids = await person.message_ids()
        assert len(set(ids)) == len(ids) == 3, ids
    await expect(ann.tid("pending-message")).to_have_count(0)


async def test_a_message_stored_but_never_acknowledged_is_stored_once(
    people: People, server: Server
) -> None:
    ann, bob, line = await ann_and_bob(people, server)
    # The server stores the message; its answer never reaches Ann, whose network goes.
    line.cut_on = "Sent as the doors closed"
    await ann.say("Sent as the doors closed")
    await asyncio.wait_for(line.cut.wait(), 15)
    await ann.context.set_offline(True)
    await expect(bob.messages("Sent as the doors closed")).to_have_count(1)
    await expect(ann.tid("pending-message")).to_have_count(1)

    await reload_out_of_reach(ann, line)
    line.held.set()
    await expect(ann.messages("Sent as the doors closed")).to_have_count(1, timeout=RECONNECT_MS)
    await expect(ann.tid("pending-message")).to_have_count(0)
    await bob.say("Got it")
    for person in (ann, bob):
        await expect(person.messages().get_by_test_id("message-text")).to_have_text(
            ["Sent as the doors closed", "Got it"]
        )


async def test_an_edit_and_a_reaction_made_offline_reach_the_others_after_a_reload(
    people: People, server: Server
) -> None:
    ann, bob, line = await ann_and_bob(people, server)
    await ann.say("Dinner at eight")
    await bob.say("Count me in")
    await expect(ann.messages("Count me in")).to_be_visible()

    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await ann.act("Dinner at eight", "message-edit")
    editor = ann.tid("edit-input")
    await editor.fill("Dinner at nine")
    await editor.press("Enter")
    await expect(editor).to_have_count(0)
    await ann.react("Count me in", "🎉")
    await expect(ann.tid("pending-message").get_by_test_id("message-text")).to_have_text(
        ["Edit: Dinner at nine", "🎉 on “Count me in”"]
    )

    await reload_out_of_reach(ann, line)
    await expect(ann.tid("pending-message")).to_have_count(2, timeout=RECONNECT_MS)
    await expect(bob.messages("Dinner at nine")).to_have_count(0)

    line.held.set()
    edited = bob.messages("Dinner at nine")
    await expect(edited.get_by_test_id("message-edited")).to_be_visible()
    chip = bob.messages("Count me in").get_by_test_id("reaction")
    await expect(chip).to_have_attribute("data-emoji", "🎉")
    await expect(chip.get_by_test_id("reaction-count")).to_have_text("1")
    await expect(bob.messages().get_by_test_id("message-text")).to_have_text(
        ["Dinner at nine", "Count me in"]
    )
    await expect(ann.tid("pending-message")).to_have_count(0)
    await expect(ann.messages("Count me in").get_by_test_id("reaction-count")).to_have_text("1")


async def test_a_reaction_refused_once_back_leaves_the_outbox_with_a_notice(
    people: People, server: Server
) -> None:
    ann, bob, _ = await ann_and_bob(people, server)
    await bob.say("Anyone seen my umbrella?")
    await expect(ann.messages("Anyone seen my umbrella?")).to_be_visible()

    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await ann.react("Anyone seen my umbrella?", "👀")
    await expect(ann.tid("pending-message")).to_have_count(1)
    await bob.act("Anyone seen my umbrella?", "message-delete")
    await bob.tid("confirm-ok").click()
    await expect(bob.messages().get_by_test_id("message-deleted")).to_have_count(1)

    await ann.context.set_offline(False)
    await expect(ann.tid("chat-error")).to_have_text(
        "Not sent: The reaction 👀 on “Anyone seen my umbrella?”: "
        "a deleted message takes no reactions.",
        timeout=RECONNECT_MS,
    )
    await expect(ann.tid("pending-message")).to_have_count(0)
    await expect(ann.messages().get_by_test_id("message-deleted")).to_have_count(1)
    await expect(ann.messages().get_by_test_id("reaction")).to_have_count(0)


async def test_past_200_waiting_items_the_oldest_goes_with_a_notice(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    await ann.create_room("Long tunnel", "open")
    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    for n in range(1, 201):
        await ann.say(f"Note {n}")
    await expect(ann.tid("pending-message")).to_have_count(200)
    await expect(ann.tid("chat-error")).to_be_hidden()

    await ann.say("Note 201")
    await expect(ann.tid("chat-error")).to_have_text(
        "Not sent: Too much was waiting to be sent, so the oldest went: the message “Note 1”."
    )
    texts = ann.tid("pending-message").get_by_test_id("message-text")
    await expect(texts).to_have_count(200)
    await expect(texts.first).to_have_text("Note 2")
    await expect(texts.last).to_have_text("Note 201")


async def test_what_one_identity_typed_is_never_sent_as_another(
    people: People, server: Server
) -> None:
    ann, bob, line = await ann_and_bob(people, server)
    old_id = await ann.user_id()
    await ann.context.set_offline(True)
    await expect(ann.tid("connection-banner")).to_be_visible()
    await ann.say("Signed by the old me")

    # The page comes back as somebody else in the same browser: its resume token is gone, so
    # the server makes a new user (of the same name).
    await reload_out_of_reach(ann, line)
    await ann.page.evaluate("localStorage.removeItem('percolate.token')")
    line.held.set()
    await expect(ann.room()).to_be_visible(timeout=RECONNECT_MS)
    # Joined as a new user: the old one may still be listed for the reconnect grace.
    anns = ann.tid("member-list").locator('[data-testid="member"][data-name="Ann"]')
    await expect(anns.and_(ann.page.locator(f':not([data-user-id="{old_id}"])'))).to_have_count(1)
    await expect(ann.tid("pending-message")).to_have_count(0)
    await ann.say("Signed by the new me")
    await expect(bob.messages("Signed by the new me")).to_be_visible()
    await expect(bob.messages().get_by_test_id("message-text")).to_have_text(
        ["Signed by the new me"]
    )
    # The old identity's outbox stays in the browser, for that identity.
    stored = await ann.page.evaluate(f"localStorage.getItem('percolate.outbox.{old_id}')")
    assert stored is not None and "Signed by the old me" in stored
