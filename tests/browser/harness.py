"""The pieces of a browser test: a real ``python -m server``, Debian's Chromium, and people.

A person is one page in its own browser context, so each has its own ``localStorage`` (its own
resume token): two people are two users, as two laptops would be. Everything on the page is
found through the ``data-testid`` contract of docs/web-client.md.

Also used by ``python -m tests.browser.screenshots``, so nothing here depends on pytest.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, Playwright, expect

from server import keys
from server.archive import NewLogin
from server.archive.sqlite import SqliteArchive

from ..support.ports import free_port
from ..support.servers import Process

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "web" / "dist" / "app.js"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own download is not used
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A synthetic camera (a moving test pattern) and microphone (a beep), granted without a
    # prompt: getUserMedia works headless and each page really encodes and decodes video.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

WAIT_MS = 15_000  # any one thing a person waits for on the page
RECONNECT_MS = 30_000  # coming back from a lost connection: socket.io-client backs off up to 5 s
DESKTOP = {"width": 1280, "height": 800}

expect.set_options(timeout=WAIT_MS)

# True once the <video> has a picture and has counted more decoded frames at each of three looks
# a second apart: the stream is live, not one frozen frame. getVideoPlaybackQuality() is read on
# the element because the client's RTCPeerConnections are not reachable from the page.
VIDEO_PLAYS = """
selector => {
  const video = [...document.querySelectorAll(selector)].find((v) => v.checkVisibility());
  if (!video || video.videoWidth === 0) return false;
  const seen = ((window.__testFrames ??= {})[selector] ??= []);
  seen.push(video.getVideoPlaybackQuality().totalVideoFrames);
  const [a, b, c] = seen.slice(-3);
  return seen.length >= 3 && a < b && b < c;
}
"""


class Server(Process):
    """``python -m server`` in a subprocess with a data folder of its own."""

    def __init__(self, workdir: Path, *flags: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            ["--data-dir", str(workdir / "data"), *flags],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            workdir / "server.log",
            free_port(),
        )


def missing() -> str | None:
    """What is not installed for a browser test to run, if anything (scripts/test.sh does it)."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: apt-get install chromium"
    if not BUNDLE.is_file():
        return f"{BUNDLE} is missing: npm --prefix web ci && npm --prefix web run build"
    return None


async def launch(playwright: Playwright, *, bfcache: bool = False) -> Browser:
    """Debian's Chromium, headless. Playwright turns the back/forward cache off unless
    ``bfcache`` (a page then comes back from it on ``go_back``, as in a person's browser)."""
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"] if bfcache else None,
    )


@dataclass
class Person:
    """One user at one browser: a page in a context of its own."""

    name: str
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)
    """The page's console messages and uncaught errors, shown when a test fails."""

    def tid(self, test_id: str) -> Locator:
        """What the person sees with this test id. The client keeps a view per open room and
        hides all but the current one, so hidden elements are left out."""
        return self.page.get_by_test_id(test_id).filter(visible=True)

    async def enter(self, url: str) -> None:
        """Open ``url`` and give a name if the page asks for one."""
        await self.page.goto(url)
        await self.give_name_if_asked()

    async def give_name_if_asked(self) -> None:
        name_input = self.tid("name-input")
        landed = self.tid("lobby").or_(self.tid("room-view")).or_(self.tid("passcode-input"))
        await expect(name_input.or_(landed).first).to_be_visible()
        if await name_input.is_visible():
            await name_input.fill(self.name)
            await self.tid("name-submit").click()
        await expect(landed.first).to_be_visible()

    # Rooms

    def room(self) -> Locator:
        return self.tid("room-view")

    async def room_id(self) -> str:
        await expect(self.room()).to_have_attribute("data-room-id", re.compile(r"."))
        room_id = await self.room().get_attribute("data-room-id")
        assert room_id
        return room_id

    async def create_room(
        self, title: str, kind: str, *, private: bool = False, passcode: str | None = None
    ) -> str:
        """Fill the lobby's create form; the creator lands in the new room. Its id."""
        await expect(self.tid("lobby")).to_be_visible()
        await self.tid("create-title").fill(title)
        await self.tid("create-kind").select_option(kind)
        if private:
            await self.tid("create-private").check()
        if passcode is not None:
            await self.tid("create-passcode").fill(passcode)
        await self.tid("create-submit").click()
        await expect(self.room()).to_have_attribute("data-kind", kind)
        await expect(self.tid("room-title")).to_have_text(title)
        return await self.room_id()

    async def open_room(self, url: str, room_id: str) -> None:
        """Follow a shared link to a room that needs no passcode."""
        await self.enter(f"{url}r/{room_id}")
        await expect(self.room()).to_have_attribute("data-room-id", room_id)

    # Members

    def member(self, user_id: str) -> Locator:
        return self.tid("member-list").locator(f'[data-testid="member"][data-user-id="{user_id}"]')

    async def user_id(self) -> str:
        """Own id, as the member list of the current room shows it."""
        return await self.id_of(self.name)

    async def id_of(self, name: str) -> str:
        """The id of the one member called ``name`` in the current room's member list."""
        member = self.tid("member-list").locator(f'[data-testid="member"][data-name="{name}"]')
        await expect(member).to_have_count(1)
        user_id = await member.get_attribute("data-user-id")
        assert user_id
        return user_id

    def tile(self, user_id: str) -> Locator:
        return self.tid("video-grid").locator(
            f'[data-testid="video-tile"][data-user-id="{user_id}"]'
        )

    async def sees_video_of(self, user_id: str) -> None:
        """The tile of ``user_id`` shows their camera on and their video playing."""
        tile = self.tile(user_id)
        await expect(tile).to_be_visible()
        await expect(tile.get_by_test_id("tile-camera")).to_have_attribute("data-on", "true")
        selector = f'[data-testid="video-tile"][data-user-id="{user_id}"] video'
        await self.page.wait_for_function(VIDEO_PLAYS, arg=selector, polling=1000, timeout=WAIT_MS)
        width = await tile.locator("video").evaluate("video => video.videoWidth")
        assert width > 0

    # Workshops

    def stage_tile(self, user_id: str) -> Locator:
        """The tile of ``user_id`` on a workshop's stage."""
        return self.tid("stage").locator(f'[data-testid="video-tile"][data-user-id="{user_id}"]')

    async def sees_video_on_stage(self, user_id: str) -> None:
        """The stage tile of ``user_id`` shows their camera on and their video playing."""
        tile = self.stage_tile(user_id)
        await expect(tile).to_be_visible()
        await expect(tile.get_by_test_id("tile-camera")).to_have_attribute("data-on", "true")
        selector = (
            f'[data-testid="stage"] [data-testid="video-tile"][data-user-id="{user_id}"] video'
        )
        await self.page.wait_for_function(VIDEO_PLAYS, arg=selector, polling=1000, timeout=WAIT_MS)
        width = await tile.locator("video").evaluate("video => video.videoWidth")
        assert width > 0

    async def moderate(self, user_id: str, control: str) -> None:
        """As a host: open the "…" menu of ``user_id`` in the member list and pick ``control``."""
        member = self.member(user_id)
        await member.get_by_test_id("member-menu").click()
        await member.get_by_test_id("member-controls").get_by_test_id(control).click()

    def queue_item(self, queue: str, item: str, user_id: str) -> Locator:
        """A host's queue entry, e.g. ``("hand-queue", "hand-item", id)``."""
        return self.tid(queue).locator(f'[data-testid="{item}"][data-user-id="{user_id}"]')

    async def give_name(self, url: str) -> None:
        """Open ``url`` as somebody new and give a name, landing wherever the page goes."""
        await self.page.goto(url)
        await self.tid("name-input").fill(self.name)
        await self.tid("name-submit").click()

    async def camera_on(self) -> None:
        """Turn the camera on unless the client already did."""
        button = self.tid("toggle-camera")
        await expect(button).to_be_enabled()
        if await button.get_attribute("aria-pressed") != "true":
            await button.click()
        await expect(button).to_have_attribute("aria-pressed", "true")

    # Chat

    def messages(self, text: str | None = None, within: str = "message-list") -> Locator:
        found = self.tid(within).get_by_test_id("message")
        if text is None:
            return found
        return found.filter(
            has=self.page.get_by_test_id("message-text").get_by_text(text, exact=True)
        )

    async def say(self, text: str) -> None:
        """Type a message and press Enter."""
        box = self.tid("chat-input")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    async def act(self, text: str, action: str) -> None:
        """Point at the message ``text`` (its action bar shows on hover) and press ``action``:
        ``message-reply``, ``message-react``, ``message-edit``, ``message-delete``."""
        message = self.messages(text)
        await message.hover()
        await message.get_by_test_id(action).click()

    async def react(self, text: str, emoji: str) -> None:
        """React to the message ``text`` with ``emoji`` from its action bar's picker."""
        await self.act(text, "message-react")
        await self.tid("reaction-picker").locator(f'[data-emoji="{emoji}"]').click()
        await expect(self.tid("reaction-picker")).to_have_count(0)

    async def reply(self, text: str, reply: str) -> None:
        """Open the thread of the message ``text`` and answer it there."""
        await self.act(text, "message-reply")
        box = self.tid("thread-input")
        await box.fill(reply)
        await box.press("Enter")
        await expect(box).to_have_value("")

    async def mention(self, name: str, text: str) -> None:
        """Write ``@`` and the start of ``name``, choose them, write ``text`` and send."""
        box = self.tid("chat-input")
        await box.press_sequentially(f"@{name[:2]}")
        option = self.tid("mention-suggestions").get_by_test_id("mention-option")
        await option.filter(has_text=name).first.click()
        await box.press_sequentially(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    async def message_ids(self) -> list[str]:
        ids = await self.messages().evaluate_all("els => els.map(e => e.dataset.id)")
        return [str(i) for i in ids]


class People:
    """Makes people on one browser and one server; closes their contexts at the end."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.people: list[Person] = []

    async def new(
        self, name: str, *, viewport: dict[str, int] | None = None, **options: Any
    ) -> Person:
        size = viewport or DESKTOP
        context = await self.browser.new_context(
            viewport={"width": size["width"], "height": size["height"]}, **options
        )
        context.set_default_timeout(WAIT_MS)
        await context.grant_permissions(
            ["camera", "microphone"], origin=self.server.url.rstrip("/")
        )
        page = await context.new_page()
        person = Person(name, context, page)
        page.on("console", lambda msg: person.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: person.console.append(f"uncaught: {exc}"))
        self.people.append(person)
        return person

    async def elsewhere(
        self, person: Person, label: str, *, hours_ago: float = 0, **options: Any
    ) -> Person:
        """``person`` on another device: a browser with a session of their own, as a sign-in
        there will make (passkeys, later). The session is written to the server's archive
        beside it (a second process on the same data folder), its token to the new
        browser's storage."""
        stored = await person.page.wait_for_function(
            "() => localStorage.getItem('percolate.token')"
        )
        token = await stored.json_value()
        archive = SqliteArchive(self.server.log.parent / "data" / "percolate.db")
        await archive.open()
        try:
            login = await archive.login_by_token(keys.digest(token))
            assert login is not None, "the person has not connected yet"
            fresh = keys.new_token()
            at = int((time.time() - hours_ago * 3600) * 1000)
            made = NewLogin(keys.new_id("s"), keys.digest(fresh), label, at)
            await archive.add_login(login.user.id, made)
        finally:
            await archive.close()
        other = await self.new(person.name, **options)
        await other.page.goto(self.server.url)
        await other.page.evaluate(
            "([token, name]) => { localStorage.setItem('percolate.token', token); "
            "localStorage.setItem('percolate.name', name); }",
            [fresh, person.name],
        )
        await other.page.reload()
        return other

    async def close(self) -> None:
        for person in self.people:
            await person.context.close()

    def report(self) -> str:
        return "\n".join(
            f"--- {p.name}'s console ---\n" + "\n".join(p.console) for p in self.people if p.console
        )
