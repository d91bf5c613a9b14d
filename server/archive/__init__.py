"""The archive: the durable store of users, rooms and chat messages.

One interface, backends behind it: SQLite (embedded default, ``server.archive.sqlite``) and,
for several processes, a shared database. Every backend passes ``tests/test_archive.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import msgspec

from ..protocol import HostsView, Message, Role, Room, RoomKind, User, WorkshopView

T = TypeVar("T")


class NoSuchRoom(LookupError):
    """A message was appended to a room the archive does not know."""


class StoredRoom(msgspec.Struct, frozen=True):
    """A room with what only the server may see."""

    id: str
    title: str
    kind: RoomKind
    private: bool
    created_at: int
    passcode_hash: str | None = None
    host_key_hash: str | None = None
    created_by: str | None = None
    dm_users: tuple[str, str] | None = None
    """The two users of a direct-message room, sorted."""

    def public(self) -> Room:
        return Room(
            id=self.id,
            title=self.title,
            kind=self.kind,
            private=self.private,
            has_passcode=self.passcode_hash is not None,
            created_at=self.created_at,
        )


class RoomState(msgspec.Struct):
    """What a host can change about a room, shared by every process through the archive."""

    locked: bool = False
    """No new joins, except with the host key."""
    waiting_room: bool = False
    """Newcomers knock and wait for a host to admit them."""
    chat_enabled: bool = True
    """When off, only hosts and co-hosts may send chat."""
    pinned: Message | None = None
    ended: bool = False
    """The workshop is over: nobody may join any more."""
    host_key_digest: str | None = None
    """Replaces the room's creation-time host key once the host hands it on."""
    roles: dict[str, Role] = msgspec.field(default_factory=dict)
    """Roles given by a host (co-host, presenter); the host role comes from the host key."""
    banned: dict[str, str] = msgspec.field(default_factory=dict)
    """Removed users (id -> name) who may not come back until a host allows them."""
    hands: list[User] = msgspec.field(default_factory=list)
    """Raised hands, in the order they went up."""
    knocking: list[User] = msgspec.field(default_factory=list)
    """Who waits in the waiting room, first come first."""
    admitted: list[str] = msgspec.field(default_factory=list)
    """Users a host let in from the waiting room."""

    def view(self) -> WorkshopView:
        return WorkshopView(
            locked=self.locked,
            waiting_room=self.waiting_room,
            chat_enabled=self.chat_enabled,
            pinned=self.pinned,
            ended=self.ended,
            hands=list(self.hands),
        )

    def hosts_view(self) -> HostsView:
        return HostsView(
            knocking=list(self.knocking),
            banned=[User(id=uid, name=name) for uid, name in self.banned.items()],
        )


class Archive(Protocol):
    async def open(self) -> None:
        """Connect and create or migrate the schema."""

    async def close(self) -> None: ...

    async def healthy(self) -> bool: ...

    async def create_user(self, name: str, token_digest: str) -> User: ...

    async def user_by_token(self, token_digest: str) -> User | None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def rename_user(self, user_id: str, name: str) -> None: ...

    async def create_room(self, room: StoredRoom) -> None: ...

    async def get_room(self, room_id: str) -> StoredRoom | None: ...

    async def public_rooms(self, limit: int) -> list[StoredRoom]: ...

    async def room_state(self, room_id: str) -> RoomState:
        """The room's host-controlled state (the defaults for a room never changed)."""

    async def change_room_state(
        self, room_id: str, change: Callable[[RoomState], T]
    ) -> tuple[RoomState, T]:
        """Apply ``change`` to the room's state atomically (no other change interleaves).

        ``change`` runs synchronously on a copy it may mutate; its result is returned with the
        new state. If it raises, nothing is stored and the exception propagates.
        """

    async def open_dm(self, a: str, b: str, room: StoredRoom) -> StoredRoom:
        """The direct-message room of users ``a`` and ``b``; ``room`` is stored if none exists."""

    async def dm_rooms(self, user_id: str) -> list[tuple[StoredRoom, User]]:
        """The user's direct-message rooms, each with the other user."""

    async def append(
        self, room: str, user: User, text: str, client_msg_id: str
    ) -> tuple[Message, bool]:
        """Store a message and give it the room's next ``seq``; True if stored just now.

        Returns only once the message is durable. A second call with the same room, user and
        ``client_msg_id`` returns the message stored the first time (and False), storing
        nothing. Raises ``NoSuchRoom`` for a room the archive does not know.
        """

    async def history(
        self, room: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        """Messages oldest first: the latest ``limit``, or those just before/after a ``seq``."""

    async def message(self, room: str, message_id: str) -> Message | None:
        """One message of ``room`` by its id."""

    async def search(self, room: str, query: str, limit: int) -> list[Message]:
        """Messages of ``room`` matching every word of ``query``, newest first."""
