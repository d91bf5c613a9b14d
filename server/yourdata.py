"""Your data: a person downloads everything Percolate keeps of theirs, or erases themselves.

The export (``GET /api/me/export``, docs/protocol.md, "Your data") is a JSON file written as
it is read: the archive is paged through (``EXPORT_PAGE`` messages at a time) and each page
goes out before the next is read, so 100,000 messages hold neither the loop nor the memory.
One export per person at a time on each process, and ``EXPORTS_PER_HOUR`` an hour.

``account:erase`` takes the person out of the archive in one transaction
(``Archive.erase_user``), signs out every session of theirs on every process (``Revoke``:
their connections close, so they leave every room) and then tells each room whose messages
changed, as any change is told (``chat:change``), at most ``ERASE_TOLD_MAX`` a room: past
that a room hears only the last, and its clients catch up with ``chat:changes`` as after any gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from .archive import Archive, Erasure, Revised, StoredProfile
from .catalog import Catalog
from .chat import Chat
from .clock import now_ms
from .config import Settings
from .control import Control
from .errors import Code, ProtocolError, bad_request
from .limits import Limits
from .logins import Revoke
from .protocol import AccountErase, Message, User
from .replies import Done
from .sessions import Session, Sessions
from .tasks import Tasks

log = logging.getLogger(__name__)

_LIST_MAX = 1000
"""At most this many of each list in an export (contacts, blocks, people met, sessions)."""


class Written(msgspec.Struct, frozen=True):
    """A message the person wrote, as the export lists it."""

    room: str
    room_title: str
    seq: int
    ts: int
    text: str
    reply_to: int | None
    edited_at: int | None
    deleted: bool


class Said(msgspec.Struct, frozen=True):
    """A message of a direct conversation, by either person."""

    seq: int
    ts: int
    user: User
    text: str
    reply_to: int | None
    edited_at: int | None
    deleted: bool


def _said(message: Message) -> Said:
    m = message
    return Said(m.seq, m.ts, m.user, m.text, m.reply_to, m.edited_at, m.deleted)


def _written(m: Message, title: str) -> Written:
    return Written(m.room, title, m.seq, m.ts, m.text, m.reply_to, m.edited_at, m.deleted)


class YourData:
    def __init__(
        self,
        settings: Settings,
        archive: Archive,
        sessions: Sessions,
        catalog: Catalog,
        chat: Chat,
        control: Control,
        limits: Limits,
        tasks: Tasks,
    ) -> None:
        self._archive = archive
        self._sessions = sessions
        self._catalog = catalog
        self._chat = chat
        self._control = control
        self._tasks = tasks
        self._erasure: Erasure = "anonymise" if settings.erase_messages == "anonymise" else "delete"
        per_hour = settings.exports_per_hour
        self._exports = limits.limiter("export", per_hour / 3600, per_hour)
        self._page = settings.export_page
        self._told_max = settings.erase_told_max
        self._exporting: set[str] = set()
        """Users whose export this process is writing now."""

    # -- export ----------------------------------------------------------------------------

    async def bearer(self, authorization: str | None) -> User:
        """The user of an ``Authorization: Bearer <resume token>``, whose session is live."""
        return (await self._sessions.bearer(authorization)).user

    @contextlib.asynccontextmanager
    async def exporting(self, user: User) -> AsyncIterator[None]:
        """While one export of the user's is written; refused past the rate or beside another."""
        if user.id in self._exporting:
            raise ProtocolError(Code.RATE_LIMITED, "your data is being exported already")
        if not await self._exports.allow(user.id):
            raise ProtocolError(
                Code.RATE_LIMITED, "you have exported your data often lately; wait a while"
            )
        self._exporting.add(user.id)
        try:
            yield
        finally:
            self._exporting.discard(user.id)

    async def export(self, user: User) -> AsyncIterator[bytes]:
        """The export file, a piece at a time (docs/protocol.md, "GET /api/me/export")."""
        archive, encode = self._archive, msgspec.json.encode
        me = user.id
        stored = (await archive.profiles([me])).get(me) or StoredProfile()
        asked, asking = await archive.wishes(me, _LIST_MAX)
        head: dict[str, Any] = {
            "format": "percolate-export/1",
            "exported_at": now_ms(),
            "user": user,
            "profile": stored.shown(user, own=True),
            "sessions": [
                {
                    "label": login.label,
                    "created_at": login.created_at,
                    "last_seen": login.seen_at,
                    "expires": self._sessions.expires(login),
                }
                for login in await archive.logins(me, _LIST_MAX)
            ],
            "contacts": await archive.people_met(me, _LIST_MAX),
            "asked_you": asked,
            "you_asked": asking,
            "people_met": await archive.everyone_met(me, _LIST_MAX),
            "blocked": await archive.blocked(me, _LIST_MAX),
        }
        yield encode(head)[:-1] + b',"messages":['
        titles: dict[str, str] = {}
        after: str | None = None
        first = True
        while True:
            page = await archive.written(me, after, self._page)
            items = []
            for m in page.messages:
                if m.room not in titles:
                    # From the archive, not the catalog: an export is no reason to cache
                    # every room its person ever wrote in.
                    room = await archive.get_room(m.room)
                    titles[m.room] = room.title if room is not None else ""
                items.append(_written(m, titles[m.room]))
            if items:
                yield (b"" if first else b",") + encode(items)[1:-1]
                first = False
            if page.after is None:
                break
            after = page.after
        yield b'],"conversations":['
        for n, (room, other) in enumerate(await archive.dm_rooms(me)):
            yield (b"," if n else b"") + encode({"room": room.id, "with": other})[:-1]
            yield b',"messages":['
            seq, first = 0, True
            while True:
                said = await archive.history(room.id, before=None, after=seq, limit=self._page)
                if said:
                    yield (b"" if first else b",") + encode([_said(m) for m in said])[1:-1]
                    first = False
                    seq = said[-1].seq
                if len(said) < self._page:
                    break
            yield b"]}"
        yield b"]}"

    # -- erase -----------------------------------------------------------------------------

    async def erase(self, session: Session, request: AccountErase) -> Done:
        user = session.user
        if request.confirm.strip() != user.name:
            raise bad_request("type your name exactly as it is to confirm")
        erased = await self._archive.erase_user(user.id, self._erasure, now_ms())
        log.info(
            "user=%s erased (messages %s, %d rooms changed)",
            user.id, self._erasure, len(erased.revised),
        )  # fmt: skip
        for room in erased.unowned:
            await self._catalog.changed(room)
        # Every connection of theirs closes on every process (this one after its ack), and
        # with it their place in every room.
        await self._control.send(Revoke(user=user.id, ids=erased.logins))
        self._tasks.spawn(self._republish(erased.revised), name=f"erased {user.id}")
        return Done()

    async def _republish(self, revised: list[Revised]) -> None:
        """Tell each room of its changed messages (``ERASE_TOLD_MAX`` at most, then the last)."""
        for change in revised:
            stored = await self._catalog.get(change.room)
            after, told = change.after, 0
            while after < change.rev:
                left = self._told_max - told
                if left <= 0:
                    # The rest only as the last: clients fetch the gap (chat:changes).
                    after, left = max(after, change.rev - 1), self._page
                limit = min(self._page, left)
                page = await self._archive.changes(change.room, after, limit)
                mine = [m for m in page if m.rev <= change.rev]
                for message in mine:
                    await self._chat.republish(stored, message)
                told += len(mine)
                if len(mine) < len(page) or len(page) < limit:
                    break
                after = page[-1].rev
                await asyncio.sleep(0)  # a mass change shares the loop, a page at a time
