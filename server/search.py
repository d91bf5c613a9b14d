"""Search across rooms: the ``search`` event (docs/protocol.md, "search").

What a person types becomes a ``Query`` here (words, and operators such as ``from:Ann`` or
``before:2026-12-07``); the archive finds the matches in the rooms the user may read
(``Archive.search_readable``), best first, and this module groups them by room.
"""

from __future__ import annotations

import datetime
import logging
import re

from .archive import Archive, Hit, Query
from .config import Settings
from .errors import bad_request
from .protocol import Found, Message, RoomFound, RoomKind, SearchRequest
from .replies import Results
from .sessions import Session

log = logging.getLogger(__name__)

_TOKEN = re.compile(r'(?P<name>[A-Za-z]+):(?:"(?P<quoted>[^"]*)"?|(?P<value>\S*))|(?P<word>\S+)')
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_MS = 86_400_000

OPERATORS = ("from", "in", "before", "after", "on", "has", "is")


def _day(name: str, value: str) -> int:
    """The start of a UTC day (ms since the epoch), or ``bad_request``."""
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name}: expected a date like 2026-12-07") from None
    start = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
    return int(start.timestamp() * 1000)


def parse(typed: str) -> Query:
    """The query a person typed: words and operators (``OPERATORS``), or ``bad_request``.

    A token ``name:value`` whose name is not an operator is words; an operator's value may be
    quoted (``in:"Team room"``). The same operator twice matches either value, except dates,
    which all apply.
    """
    words: list[str] = []
    people: list[str] = []
    rooms: list[str] = []
    since: int | None = None
    until: int | None = None
    link = pinned = False
    for token in _TOKEN.finditer(typed):
        name = (token["name"] or "").lower()
        if token["word"] is not None or name not in OPERATORS:
            words.append(token[0])
            continue
        value = (token["quoted"] if token["quoted"] is not None else token["value"]).strip()
        if name == "from":
            if not value:
                raise bad_request("from: expected a name or user id")
            people.append(value)
        elif name == "in":
            if not value:
                raise bad_request("in: expected a room id or title")
            rooms.append(value)
        elif name == "has":
            if value.lower() != "link":
                raise bad_request("has: expected link")
            link = True
        elif name == "is":
            if value.lower() != "pinned":
                raise bad_request("is: expected pinned")
            pinned = True
        else:
            start = _day(name, value)
            if name in ("after", "on"):
                begin = start + _DAY_MS if name == "after" else start
                since = begin if since is None else max(since, begin)
            if name in ("before", "on"):
                end = start if name == "before" else start + _DAY_MS
                until = end if until is None else min(until, end)
    return Query(
        # Only the word characters count (``fts_query``, ``ts_query``): "???" is no word.
        words=tuple(w for w in words if re.search(r"\w", w)),
        # A user id or a name: both are looked for (ids are not names anybody chooses).
        users=tuple(people),
        names=tuple(people),
        rooms=tuple(rooms),
        since=since,
        until=until,
        link=link,
        pinned=pinned,
    )


def group(hits: list[Hit], titles: dict[str, str]) -> list[Found]:
    """Hits (best first) by room: rooms in the order of their best hit, each ranked within.

    ``titles`` names rooms whose own title is not what the user sees (a DM's other user).
    """
    groups: dict[str, tuple[RoomFound, list[Message]]] = {}
    for hit in hits:
        room = hit.message.room
        if room not in groups:
            found = RoomFound(id=room, title=titles.get(room, hit.title), kind=hit.kind)
            groups[room] = (found, [])
        groups[room][1].append(hit.message)
    return [Found(room=found, messages=messages) for found, messages in groups.values()]


class Search:
    def __init__(self, settings: Settings, archive: Archive) -> None:
        self._settings = settings
        self._archive = archive

    async def search(self, session: Session, request: SearchRequest) -> Results:
        query = parse(request.query)
        if query == Query():
            return Results(results=[])  # nothing that can match (only "???")
        limit = min(request.limit or 20, self._settings.max_page)
        user_id = session.user.id
        hits = await self._archive.search_readable(user_id, query, limit)
        # Rooms a host removed the user from stay closed to them, their messages too.
        removed = set()
        for room in {h.message.room for h in hits if h.kind is not RoomKind.DM}:
            if user_id in (await self._archive.room_state(room)).banned:
                removed.add(room)
        # Nor are the messages of people the user blocks shown (``user:block``).
        blocked = {user.id for user in await self._archive.blocked(user_id, 1000)}
        hits = [
            h for h in hits if h.message.room not in removed and h.message.user.id not in blocked
        ]
        titles = {}
        if any(h.kind is RoomKind.DM for h in hits):
            titles = {room.id: other.name for room, other in await self._archive.dm_rooms(user_id)}
        return Results(results=group(hits, titles))
