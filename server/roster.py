"""The roster: who is in a room as everybody sees it, and the changes to a member everywhere.

A member lives in three places: presence (shared by every process), the view of each process
that holds their connections or the room's media (``Session.rooms``, the SFU's forwarding),
and every member's list (the ``presence`` event). A change goes to all three here: presence
first, then a command (``Recast``, ``Evict``) that the features holding that view on each
process register for (``server.control``), then the announcement.
"""

from __future__ import annotations

from typing import Any

import msgspec

from . import wire
from .control import Control
from .presence import ONLINE, Change, Presence
from .protocol import Member


class Recast(msgspec.Struct, tag="recast"):
    """The user's member in the room changed: role, or camera, microphone or screen."""

    room: str
    member: Member


class Evict(msgspec.Struct, tag="evict"):
    """The user's connections leave the room: removed by a host, or the workshop ended."""

    room: str
    user: str
    reason: str


class Roster:
    def __init__(self, sio: wire.Server, presence: Presence, control: Control) -> None:
        self._sio = sio
        self._presence = presence
        self._control = control

    async def announce(
        self, room: str, event: str, member: Member, skip_sid: str | None = None
    ) -> None:
        """Tell the room's connections a member joined, left or changed (``presence``)."""
        await self._sio.emit(
            "presence",
            {"room": room, "event": event, "member": member},
            room=room,
            skip_sid=skip_sid,
        )

    async def announce_all(self, event: str, changes: list[Change]) -> None:
        for room, member in changes:
            if room != ONLINE:
                await self.announce(room, event, member)

    async def change(self, room: str, user_id: str, **changes: Any) -> Member | None:
        """Change a member everywhere; None if the user is not in the room."""
        member = await self._presence.update(room, user_id, **changes)
        if member is not None:
            await self._control.send(Recast(room=room, member=member))
            await self.announce(room, "update", member)
        return member

    async def evict(self, room: str, user_id: str, reason: str) -> None:
        """Take a user out of a room everywhere, all their connections at once."""
        gone = await self._presence.evict(room, user_id)
        await self._control.send(Evict(room=room, user=user_id, reason=reason))
        if gone is not None:
            await self.announce(room, "leave", gone)
