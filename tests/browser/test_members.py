"""Who is in a room, as the member lists show it: a page that goes away (closed, navigated
from, reloaded) leaves at once, one back from the back/forward cache or reloaded is back, and
presence that overtakes the join's ack is applied on top of the ack's members."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import WebSocketRoute, async_playwright, expect

from .harness import People, Person, Server, launch

pytestmark = pytest.mark.browser

GRACE = ("--reconnect-grace", "60")
"""Far longer than anybody waits here: a member list that changes did not wait for it."""
SOON_MS = 5_000
RESTORED = "addEventListener('pageshow', (e) => { if (e.persisted) window.__restored = true; })"


async def two_in_a_room(people: People, server: Server, **room: str) -> tuple[Person, Person]:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room_id = await ann.create_room("Lunch table", "open", **room)  # type: ignore[arg-type]
    bob = await people.new("Bob")
    if "passcode" in room:
        await bob.enter(f"{server.url}r/{room_id}")
        await bob.tid("passcode-input").fill(room["passcode"])
        await bob.tid("passcode-submit").click()
        await expect(bob.room()).to_have_attribute("data-room-id", room_id)
    else:
        await bob.open_room(server.url, room_id)
    await expect(ann.member(await bob.user_id())).to_be_visible()
    await expect(bob.member(await ann.user_id())).to_be_visible()
    return ann, bob


@pytest.mark.parametrize("server_flags", [GRACE])
@pytest.mark.parametrize("run_before_unload", [False, True])
async def test_closing_the_tab_leaves_every_member_list_at_once(
    people: People, server: Server, run_before_unload: bool
) -> None:
    ann, bob = await two_in_a_room(people, server)
    bob_id = await bob.user_id()
    await bob.page.close(run_before_unload=run_before_unload)
    await expect(ann.member(bob_id)).to_have_count(0, timeout=SOON_MS)
    await expect(ann.tid("member")).to_have_count(1)


@pytest.mark.parametrize("server_flags", [GRACE])
async def test_a_page_back_from_the_back_forward_cache_rejoins(server: Server) -> None:
    async with async_playwright() as playwright:
        browser = await launch(playwright, bfcache=True)
        people = People(browser, server)
        try:
            ann, bob = await two_in_a_room(people, server)
            room = await bob.room_id()
            bob_id = await bob.user_id()
            await bob.page.add_init_script(RESTORED)
            await bob.page.reload()  # so that the script above runs in the page that is cached
            await expect(bob.room()).to_have_attribute("data-room-id", room)
            await expect(ann.member(bob_id)).to_be_visible()

            # Bob follows a link away: he is gone from Ann's list now, not in a minute.
            await bob.page.goto(f"{server.url}healthz")
            await expect(ann.member(bob_id)).to_have_count(0, timeout=SOON_MS)

            # And back: the page comes out of the cache as it was, and joins again.
            await bob.page.go_back(wait_until="commit")  # no load event: nothing loads
            assert await bob.page.evaluate("window.__restored === true"), "not from the cache"
            await expect(bob.room()).to_have_attribute("data-room-id", room)
            await expect(ann.member(bob_id)).to_be_visible()
            await expect(bob.member(await ann.user_id())).to_be_visible()
            await expect(bob.tid("connection-banner")).to_be_hidden()
            await bob.say("Back again")
            await expect(ann.messages("Back again")).to_be_visible()
            await expect(ann.tid("member")).to_have_count(2)
        finally:
            print(people.report())
            await people.close()
            await browser.close()


@pytest.mark.parametrize("server_flags", [GRACE])
async def test_a_reload_leaves_and_rejoins_a_passcode_room_without_asking_again(
    people: People, server: Server
) -> None:
    ann, bob = await two_in_a_room(people, server, passcode="oolong")
    room = await bob.room_id()
    bob_id = await bob.user_id()
    await ann.say("Before the reload")
    await bob.page.reload()
    # The same user, in the same room: no passcode asked (the tab kept it), the history there.
    await expect(bob.room()).to_have_attribute("data-room-id", room)
    await expect(bob.tid("passcode-input")).to_have_count(0)
    assert await bob.user_id() == bob_id
    await expect(bob.messages("Before the reload")).to_be_visible()
    await expect(ann.member(bob_id)).to_be_visible()
    await expect(ann.tid("member")).to_have_count(2)
    await bob.say("After the reload")
    await expect(ann.messages("After the reload")).to_be_visible()
    # Leaving the room for good forgets the passcode: following the link again asks for it.
    await bob.tid("leave-room").click()
    await expect(ann.member(bob_id)).to_have_count(0)
    await bob.page.goto(f"{server.url}r/{room}")
    await expect(bob.tid("passcode-input")).to_be_visible()


# Whether the member ``user`` ever went missing from the page's member list.
WATCH_GONE = """user => {
  window.__gone = false;
  new MutationObserver(() => {
    const list = document.querySelector('[data-testid="member-list"]');
    if (!list?.querySelector(`[data-user-id="${user}"]`)) window.__gone = true;
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}"""


@pytest.mark.parametrize("server_flags", [GRACE])
async def test_a_new_name_is_a_rename_not_a_leave_and_a_join(
    people: People, server: Server
) -> None:
    # A new name needs a new connection; the old one is not a goodbye.
    ann, bob = await two_in_a_room(people, server)
    bob_id = await bob.user_id()
    await ann.page.evaluate(WATCH_GONE, bob_id)
    await bob.page.get_by_role("button", name="Change name").click()
    await bob.page.get_by_label("Your name").fill("Bobby")
    await bob.page.get_by_role("button", name="Save").click()
    await expect(ann.member(bob_id)).to_have_attribute("data-name", "Bobby")
    await expect(bob.member(bob_id)).to_have_attribute("data-name", "Bobby")
    assert await ann.page.evaluate("window.__gone") is False


class HeldAck:
    """Bob's WebSocket, passed through, except that the ack of his next ``room:join`` is held
    back until ``release``: whatever the server sends meanwhile overtakes it, as presence
    does when it changes while the server is answering the join."""

    def __init__(self) -> None:
        self.upgraded = asyncio.Event()
        self.held = asyncio.Event()
        self.passed: list[str] = []
        """What the server sent while the ack was held."""
        self._arrived = asyncio.Condition()
        self._join: str | None = None
        self._ack: str | None = None
        self._server: WebSocketRoute | None = None
        self._page: WebSocketRoute | None = None

    def route(self, page: WebSocketRoute) -> None:
        server = page.connect_to_server()
        self._page, self._server = page, server
        page.on_message(self._from_page)
        server.on_message(self._from_server)

    def _from_page(self, message: str | bytes) -> None:
        assert self._server is not None
        if message == "5":  # Engine.IO UPGRADE: this socket carries the connection now
            self.upgraded.set()
        if isinstance(message, str) and (join := re.match(r'42(\d+)\["room:join"', message)):
            self._join = join[1]
        self._server.send(message)

    def _from_server(self, message: str | bytes) -> None:
        assert self._page is not None
        join = self._join
        if isinstance(message, str) and join is not None and message.startswith(f"43{join}["):
            self._ack, self._join = message, None
            self.held.set()
            return
        self._page.send(message)
        if isinstance(message, str) and self._ack is not None:
            self.passed.append(message)
            asyncio.get_running_loop().create_task(self._tell())

    async def _tell(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    async def overtaken_by(self, *parts: str) -> None:
        """Until messages holding each of ``parts`` have gone by the held ack."""

        def seen() -> bool:
            return all(any(part in m for m in self.passed) for part in parts)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(seen), 15)

    def release(self) -> None:
        assert self._page is not None and self._ack is not None
        self._page.send(self._ack)
        self._ack = None


async def test_presence_that_overtakes_the_join_ack_is_applied_on_top_of_it(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Standup", "open")
    cleo = await people.new("Cleo")
    await cleo.open_room(server.url, room)
    cleo_id = await cleo.user_id()

    bob = await people.new("Bob")
    wire = HeldAck()
    await bob.page.route_web_socket(re.compile(r"/socket\.io/"), wire.route)
    await bob.enter(server.url)
    await asyncio.wait_for(wire.upgraded.wait(), 15)
    await bob.tid("room-list").locator(f'[data-room-id="{room}"]').click()
    await asyncio.wait_for(wire.held.wait(), 15)
    # The server has read the members (Ann, Cleo, Bob) and answered; before the answer
    # arrives, Cleo leaves and Dan comes in.
    await cleo.tid("leave-room").click()
    dan = await people.new("Dan")
    await dan.open_room(server.url, room)
    dan_id = await dan.user_id()
    await expect(ann.member(cleo_id)).to_have_count(0)
    await expect(ann.member(dan_id)).to_be_visible()
    await wire.overtaken_by('"event":"leave"', '"event":"join"')
    await expect(bob.page.get_by_test_id("room-view")).to_have_count(0)  # still joining
    wire.release()
    await expect(bob.room()).to_have_attribute("data-room-id", room)
    names = bob.tid("member-list").get_by_test_id("member")
    await expect(names).to_have_count(3)
    await expect(bob.member(dan_id)).to_be_visible()
    await expect(bob.member(cleo_id)).to_have_count(0)
