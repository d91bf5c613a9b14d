"""Presence: who is in which room, with name, role and media state.

A member is present in a room while at least one of their connections is attached to it. Each
attachment carries a deadline: heartbeats push it forward; a dropped connection gets a short
one (the reconnect grace), and a crashed process stops sending heartbeats, so either way its
attachments run out and ``reap`` removes them. The caller announces the members ``reap`` and
``remove`` report as gone, and the members ``attach`` reports as new.

Two backends, one behaviour (``tests/test_presence.py`` runs against both): ``memory`` for one
process and ``redis`` for several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from ..protocol import Member, Role, User

ONLINE = "~online"
"""Pseudo-room every connection is attached to: its members are the users online."""


def online_member(user: User) -> Member:
    """What a connection is attached to ``ONLINE`` as."""
    return Member(id=user.id, name=user.name, role=Role.MEMBER)


class Attachment(NamedTuple):
    room: str
    member: Member
    conn: str


class Change(NamedTuple):
    room: str
    member: Member


class Presence(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def healthy(self) -> bool: ...

    async def attach(
        self, entries: Sequence[Attachment], ttl: float, *, merge: bool
    ) -> list[Change]:
        """Attach connections (or push their deadline ``ttl`` seconds ahead).

        Returns the members that were not in their room before. With ``merge``, an existing
        member's name and role are replaced by the given ones (a join); without, an existing
        member is left as it is (a heartbeat re-announcing what this process holds).
        """

    async def expire(self, room: str, user_id: str, conn: str, after: float) -> None:
        """Let one attachment run out ``after`` seconds from now unless attached again."""

    async def remove(self, room: str, user_id: str, conn: str) -> Member | None:
        """Detach now; returns the member if that was their last connection in the room."""

    async def reap(self) -> list[Change]:
        """Remove every attachment past its deadline; returns the members who left."""

    async def update(
        self,
        room: str,
        user_id: str,
        *,
        camera: bool | None = None,
        mic: bool | None = None,
        screen: bool | None = None,
        role: Role | None = None,
    ) -> Member | None:
        """Change what is given (None leaves it); None if the user is not in the room."""

    async def evict(self, room: str, user_id: str) -> Member | None:
        """Detach every connection of the user from the room now; the member, if present."""

    async def members(self, room: str) -> list[Member]: ...

    async def member(self, room: str, user_id: str) -> Member | None: ...

    async def counts(self, rooms: Sequence[str]) -> list[int]: ...

    async def rooms_of(self, user_id: str) -> list[str]:
        """Rooms the user is present in (``ONLINE`` excluded)."""
