"""People who met, for "people you met" (docs/protocol.md, "people:list"): besides a table
(``server.tables`` records those), two people meet in a coffee room while both cameras are on,
and in direct messages once both have written.

Both hooks sit on hot paths (``media:state``, ``chat:send`` in a DM), so their work is bounded:
a camera turned on meets at most ``CAMERA_PEERS_MAX`` others, each pair is written at most once
per room per day by a process (``_written``), and a DM is looked at until its encounter is
written, then never again (``_dms``). Recording is best effort: a failing archive costs the
encounter, never the request that met it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeVar

from .archive import Archive
from .errors import Unavailable
from .protocol import How, Member

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

CAMERA_PEERS_MAX = 48
"""Cameras one camera turned on meets (the first in presence's order): a coffee room's grid
shows no more, and one ``media:state`` writes at most this many rows, in one transaction."""
_REMEMBERED = 50_000
"""Pairs (and DM rooms) a process remembers as written; the oldest are forgotten first."""
_DAY_MS = 86_400_000


class Encounters:
    def __init__(self, archive: Archive) -> None:
        self._archive = archive
        self._written: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        """(room, user, user) written, with the day (since the epoch) it was."""
        self._dms: OrderedDict[str, None] = OrderedDict()
        """DM rooms whose two people are known to have met."""

    async def cameras_on(self, room: str, user: str, members: Sequence[Member]) -> None:
        """``user``'s camera is on in coffee ``room``: they meet everybody whose camera is."""
        now = int(time.time() * 1000)
        day = now // _DAY_MS
        others = [m.id for m in members if m.camera and m.id != user][:CAMERA_PEERS_MAX]
        pairs = [_pair(user, other) for other in others]
        pairs = [pair for pair in pairs if self._written.get(_key(room, pair)) != day]
        if not pairs:
            return
        if await self._record(pairs, room, How.CAMERA, now):
            for pair in pairs:
                _remember(self._written, _key(room, pair), day)

    async def messaged(self, room: str, sender: str, other: str) -> None:
        """``sender`` wrote in their DM with ``other``: met, if ``other`` has written too."""
        if room in self._dms:
            self._dms.move_to_end(room)
            return
        try:
            answered = await self._archive.last_sent(room, other) is not None
        except Unavailable as exc:
            log.warning("room=%s encounter not looked for: %s", room, exc)
            return
        if not answered:
            return
        if await self._record([_pair(sender, other)], "", How.DM, int(time.time() * 1000)):
            _remember(self._dms, room, None)

    async def _record(self, pairs: list[tuple[str, str]], room: str, how: How, at: int) -> bool:
        try:
            await self._archive.encounter(pairs, room, how, at)
        except Unavailable as exc:
            log.warning("room=%s %d encounters (%s) not stored: %s", room, len(pairs), how, exc)
            return False
        log.debug("room=%s %d encounters (%s) stored", room, len(pairs), how)
        return True


def _remember(memo: OrderedDict[K, V], key: K, value: V) -> None:
    memo[key] = value
    memo.move_to_end(key)
    while len(memo) > _REMEMBERED:
        memo.popitem(last=False)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _key(room: str, pair: tuple[str, str]) -> tuple[str, str, str]:
    return room, pair[0], pair[1]
