"""Rooms: listing, creating, joining and leaving, and direct-message rooms."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from signaling.ice import ice_servers

from . import keys
from .archive import StoredRoom
from .errors import bad_request, forbidden, not_found
from .presence import ONLINE, Attachment
from .protocol import (
    DmOpen,
    Empty,
    Member,
    Role,
    RoomCreate,
    RoomInfo,
    RoomJoin,
    RoomKind,
    RoomRef,
)
from .sessions import Session

if TYPE_CHECKING:
    from .app import Percolate

log = logging.getLogger(__name__)

_LIST_MAX = 200
_PUBLIC_ID_BYTES = 6
_PRIVATE_ID_BYTES = 16  # 128 bits: a private room's link is its secret


def member_room(room: str, user_id: str) -> str:
    """The Socket.IO room holding one member's connections in one room (signal targets)."""
    return f"m:{room}:{user_id}"


def user_room(user_id: str) -> str:
    """The Socket.IO room holding every connection of one user (direct messages)."""
    return f"u:{user_id}"


class Rooms:
    def __init__(self, app: Percolate) -> None:
        self.app = app
        self._stored: dict[str, StoredRoom] = {}

    async def stored(self, room_id: str) -> StoredRoom | None:
        """A room as the archive has it, cached: nothing of a stored room changes after
        ``room:create`` (a feature that changes one must drop it from this cache), and every
        room a connection of this process uses passed through ``join`` here first."""
        room = self._stored.get(room_id)
        if room is None:
            room = await self.app.archive.get_room(room_id)
            if room is not None:
                self._stored[room_id] = room
        return room

    async def list_public(self, session: Session, request: Empty) -> dict[str, Any]:
        return {"rooms": await self.public()}

    async def public(self) -> list[RoomInfo]:
        """Public rooms with how many are in each now: the busiest first, the lobby on top."""
        rooms = await self.app.archive.public_rooms(_LIST_MAX)
        counts = await self.app.presence.counts([room.id for room in rooms])
        infos = [
            RoomInfo(**msgspec.structs.asdict(room.public()), members=count)
            for room, count in zip(rooms, counts, strict=True)
        ]
        infos.sort(key=lambda r: (r.id != "lobby", -r.members, -r.created_at))
        return infos

    async def create(self, session: Session, request: RoomCreate) -> dict[str, Any]:
        nbytes = _PRIVATE_ID_BYTES if request.private else _PUBLIC_ID_BYTES
        passcode_hash = None
        if request.passcode is not None:
            # scrypt is deliberately slow (tens of ms): keep it off the event loop.
            passcode_hash = await asyncio.to_thread(keys.hash_passcode, request.passcode)
        host_key = keys.new_token() if request.kind is RoomKind.WORKSHOP else None
        room = StoredRoom(
            id=keys.new_id("", nbytes),
            title=request.title,
            kind=request.kind,
            private=request.private,
            created_at=int(time.time() * 1000),
            passcode_hash=passcode_hash,
            host_key_hash=keys.digest(host_key) if host_key else None,
            created_by=session.user.id,
        )
        await self.app.archive.create_room(room)
        log.info("room=%s created kind=%s by user=%s", room.id, room.kind, session.user.id)
        answer: dict[str, Any] = {"room": room.public()}
        if host_key is not None:
            answer["host_key"] = host_key
        return answer

    async def join(self, session: Session, request: RoomJoin) -> dict[str, Any]:
        app = self.app
        user = session.user
        room = await self.stored(request.room)
        if room is None:
            # With a passcode given, "no such room" and "wrong passcode" must look the same.
            if request.passcode is not None:
                raise forbidden("wrong passcode, or no such room")
            raise not_found("no such room")
        present = await app.presence.member(room.id, user.id)
        role = await self._admit(room, user.id, request, present)
        member = Member(id=user.id, name=user.name, role=role)
        # Enter the Socket.IO rooms before reading history: a message sent meanwhile then
        # arrives twice (the client drops the repeated seq) rather than not at all.
        rooms = (room.id, member_room(room.id, user.id))
        for name in rooms:
            await app.sio.enter_room(session.sid, name)
        try:
            added = await app.presence.attach(
                [Attachment(room.id, member, session.sid)], app.settings.presence_ttl, merge=True
            )
            members = await app.presence.members(room.id)
            you = next((m for m in members if m.id == user.id), member)
            session.rooms[room.id] = you
            if added:
                await app.announce(room.id, "join", you, skip_sid=session.sid)
            elif present is not None and (present.name, present.role) != (you.name, you.role):
                # Back under a new name, or now with the host key: the others see the change.
                await app.announce(room.id, "update", you, skip_sid=session.sid)
            history = await app.archive.history(
                room.id, before=None, after=None, limit=app.settings.join_history
            )
        except Exception:
            # A failed join leaves no trace: no broadcasts for a room the client is not in.
            if room.id not in session.rooms:
                for name in rooms:
                    await app.sio.leave_room(session.sid, name)
            raise
        log.info("room=%s user=%s joined as %s", room.id, user.id, role)
        return {
            "room": room.public(),
            "you": you,
            "members": members,
            "history": history,
            "ice_servers": ice_servers(app.ice, user.id),
        }

    async def _admit(
        self, room: StoredRoom, user_id: str, request: RoomJoin, present: Member | None
    ) -> Role:
        """The role ``user_id`` joins with, or ``forbidden``."""
        if room.dm_users is not None and user_id not in room.dm_users:
            raise forbidden("this is somebody else's conversation")
        if room.kind is RoomKind.WORKSHOP and request.host_key is not None:
            if room.host_key_hash is None or not keys.matches(request.host_key, room.host_key_hash):
                raise forbidden("wrong host key")
            return Role.HOST
        # Somebody already in the room (another tab, or back within the reconnect grace) was
        # admitted before: do not ask for the passcode again, and keep their role.
        if present is not None:
            return present.role
        if room.passcode_hash is not None:
            if request.passcode is None:
                raise forbidden("this room needs a passcode")
            ok = await asyncio.to_thread(keys.check_passcode, request.passcode, room.passcode_hash)
            if not ok:
                raise forbidden("wrong passcode, or no such room")
        return Role.GUEST if room.kind is RoomKind.WORKSHOP else Role.MEMBER

    async def leave(self, session: Session, request: RoomRef) -> dict[str, Any]:
        if request.room not in session.rooms:
            raise forbidden("you are not in this room")
        await self.depart(session, request.room)
        return {}

    async def depart(self, session: Session, room: str) -> None:
        app = self.app
        # Presence first: if it is unreachable, nothing has changed and a retry can succeed.
        gone = await app.presence.remove(room, session.user.id, session.sid)
        del session.rooms[room]
        await app.sio.leave_room(session.sid, room)
        await app.sio.leave_room(session.sid, member_room(room, session.user.id))
        if gone is not None:
            await app.announce(room, "leave", gone)
        log.info("room=%s user=%s left", room, session.user.id)

    async def open_dm(self, session: Session, request: DmOpen) -> dict[str, Any]:
        app = self.app
        if request.user == session.user.id:
            raise bad_request("a direct message needs another user")
        other = await app.archive.get_user(request.user)
        if other is None:
            raise not_found("no such user")
        fresh = StoredRoom(
            id=keys.new_id("", _PRIVATE_ID_BYTES),
            title="",
            kind=RoomKind.DM,
            private=True,
            created_at=int(time.time() * 1000),
            created_by=session.user.id,
        )
        room = await app.archive.open_dm(session.user.id, other.id, fresh)
        return {"room": room.public(), "user": other}

    async def list_dms(self, session: Session, request: Empty) -> dict[str, Any]:
        presence = self.app.presence
        pairs = await self.app.archive.dm_rooms(session.user.id)
        online = await asyncio.gather(*(presence.member(ONLINE, other.id) for _, other in pairs))
        return {
            "dms": [
                {"room": room.public(), "user": other, "online": here is not None}
                for (room, other), here in zip(pairs, online, strict=True)
            ]
        }
