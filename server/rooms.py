"""Rooms: listing, creating, joining and leaving, and direct-message rooms.

This process's view of who is in which room lives here too (``Session.rooms`` and the
Socket.IO rooms a connection is in): a member changed or evicted on any process is brought
in line by the roster's commands (``Recast``, ``Evict``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec

from signaling.ice import IceConfig, ice_servers

from . import keys, wire
from .archive import Archive, RoomState, StoredRoom
from .audiences import host_room, member_room, user_room
from .authz import HOSTS, MODERATORS
from .catalog import Catalog
from .clock import now_ms
from .config import Settings
from .control import Control
from .errors import Code, ProtocolError, bad_request, forbidden, not_found
from .limits import Limits
from .media import VIDEO, Media
from .presence import ONLINE, Attachment, Presence
from .protocol import (
    Block,
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
from .replies import Blocked, Dm, DmList, DmOpened, Done, Joined, RoomCreated, RoomList, Waiting
from .roster import Evict, Recast, Roster
from .sessions import Session, Sessions
from .tables import Tables
from .workshop import Workshop

log = logging.getLogger(__name__)

_LIST_MAX = 200
_BLOCKED_MAX = 1000
_QUIET_MAX = 1000
"""Public rooms looked at, besides the recently active ones, for people in them now."""
_PUBLIC_ID_BYTES = 6
_PRIVATE_ID_BYTES = 16  # 128 bits: a private room's link is its secret


_DECOY = keys.hash_passcode(keys.new_token())
"""Checked against when a passcode is given for a room that does not exist."""


class _Knock(Exception):
    """The newcomer must wait in the waiting room."""


class Rooms:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        archive: Archive,
        presence: Presence,
        catalog: Catalog,
        sessions: Sessions,
        roster: Roster,
        media: Media,
        workshop: Workshop,
        tables: Tables,
        control: Control,
        limits: Limits,
        ice: IceConfig,
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._archive = archive
        self._presence = presence
        self._catalog = catalog
        self._sessions = sessions
        self._roster = roster
        self._media = media
        self._workshop = workshop
        self._tables = tables
        self._ice = ice
        self._secrets = limits.limiter(
            "secret", settings.passcode_failures / 60, settings.passcode_failures
        )
        control.register(Recast, self._recast)
        control.register(Evict, self._evict)

    async def list_public(self, session: Session, request: Empty) -> RoomList:
        return RoomList(rooms=await self.public())

    async def public(self) -> list[RoomInfo]:
        """Public rooms with how many are in each now: the busiest first, the lobby on top.

        A room nobody is in and nobody wrote in (or made) for ``room_idle_hours`` is left out:
        its link and archive stay.
        """
        idle = int(self._settings.room_idle_hours * 3_600_000)
        recent = await self._archive.public_rooms(_LIST_MAX, int(time.time() * 1000) - idle)
        # Quiet rooms people are in now stay too: the latest active of them.
        known = {room.id for room in recent}
        quiet = [r for r in await self._archive.public_rooms(_QUIET_MAX) if r.id not in known]
        rooms = recent + quiet
        counts = await self._presence.counts([room.id for room in rooms])
        infos = [
            RoomInfo(**msgspec.structs.asdict(room.public()), members=count)
            for index, (room, count) in enumerate(zip(rooms, counts, strict=True))
            if index < len(recent) or count > 0
        ][:_LIST_MAX]
        infos.sort(key=lambda r: (r.id != "lobby", -r.members, -r.created_at))
        return infos

    async def create(self, session: Session, request: RoomCreate) -> RoomCreated:
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
        await self._archive.create_room(room)
        log.info("room=%s created kind=%s by user=%s", room.id, room.kind, session.user.id)
        if host_key is None:
            return RoomCreated(room=room.public())
        return RoomCreated(room=room.public(), host_key=host_key)

    async def join(self, session: Session, request: RoomJoin) -> Joined | Waiting:
        user = session.user
        room = await self._catalog.get(request.room)
        if room is None:
            if request.passcode is not None:
                # "No such room" and "wrong passcode" must look the same: same throttle, same
                # answer, and the same scrypt work before it.
                await self._guess(session, request.passcode, _DECOY)
            raise not_found("no such room")
        present = await self._presence.member(room.id, user.id)
        try:
            role, state = await self._admit(session, room, request, present)
        except _Knock:
            return await self._knock(session, room)
        if present is None and role not in MODERATORS:
            (count,) = await self._presence.counts([room.id])
            if count >= self._settings.max_members:
                raise forbidden("the room is full")
        if room.private and room.dm_users is None and present is None:
            # Who joined a private room or a table may find its messages later (``search``).
            await self._archive.add_reader(user.id, room.id, now_ms())
        member = Member(id=user.id, name=user.name, role=role)
        # Enter the Socket.IO rooms before reading history: a message sent meanwhile then
        # arrives twice (the client drops the repeated seq) rather than not at all.
        rooms = [room.id, member_room(room.id, user.id)]
        if role in MODERATORS:
            rooms.append(host_room(room.id))
        for name in rooms:
            await self._sio.enter_room(session.sid, name)
        try:
            added = await self._presence.attach(
                [Attachment(room.id, member, session.sid)], self._settings.presence_ttl, merge=True
            )
            members = await self._presence.members(room.id)
            you = next((m for m in members if m.id == user.id), member)
            session.rooms[room.id] = you
            if added:
                await self._roster.announce(room.id, "join", you, skip_sid=session.sid)
            elif present is not None and (present.name, present.role) != (you.name, you.role):
                # Back under a new name, or now with the host key: the others see the change.
                await self._roster.announce(room.id, "update", you, skip_sid=session.sid)
            # The revision before the history: a change in between is in both, never lost.
            rev, history = await self._archive.latest(room.id, self._settings.join_history)
        except Exception:
            # A failed join leaves no trace: no broadcasts for a room the client is not in.
            if room.id not in session.rooms:
                for name in rooms:
                    await self._sio.leave_room(session.sid, name)
            raise
        log.debug("room=%s user=%s joined as %s", room.id, user.id, role)
        answer = Joined(
            room=room.public(),
            you=you,
            members=members,
            history=history,
            rev=rev,
            ice_servers=ice_servers(self._ice, user.id),
        )
        if room.kind in VIDEO:
            answer.media = await self._media.place(room.id, room.kind)
        if state is not None and room.kind is RoomKind.WORKSHOP:
            answer.workshop = state.view()
            answer.recording = state.recording_view()
            if role in HOSTS:
                answer.hosts = state.hosts_view()
        answer.slow_seconds = room.slow_seconds
        if room.kind in (RoomKind.COFFEE, RoomKind.WORKSHOP):
            tables = state if state is not None else await self._archive.room_state(room.id)
            answer.tables = tables.tables_view(now_ms())
        return answer

    async def _admit(
        self, session: Session, room: StoredRoom, request: RoomJoin, present: Member | None
    ) -> tuple[Role, RoomState | None]:
        """The role the connection joins with and the workshop's state, or ``forbidden``.

        Raises ``_Knock`` when the newcomer must wait for a host to let them in.
        """
        user_id = session.user.id
        if room.dm_users is not None and user_id not in room.dm_users:
            raise forbidden("this is somebody else's conversation")
        if room.kind is RoomKind.TABLE:
            # Seated there, a host visiting, or somebody who sat there coming back to read.
            await self._tables.admit(session, room)
            return Role.MEMBER, None
        state = None
        if room.kind in (RoomKind.OPEN, RoomKind.COFFEE):
            own = await self._archive.room_state(room.id)
            if user_id in own.banned:
                raise forbidden("a moderator removed you from this room")
            if room.created_by == user_id:
                role = Role.OWNER
            elif user_id in own.moderators or (
                room.created_by is None and user_id in self._settings.moderators
            ):
                role = Role.MODERATOR
            else:
                role = Role.MEMBER
            if present is None and room.passcode_hash is not None:
                if request.passcode is None:
                    raise forbidden("this room needs a passcode")
                await self._guess(session, request.passcode, room.passcode_hash)
            return role, own
        if room.kind is RoomKind.WORKSHOP:
            state = await self._archive.room_state(room.id)
            if state.ended:
                raise forbidden("this workshop has ended")
            if request.host_key is not None:
                await self._throttle(session)
                digest = state.host_key_digest or room.host_key_hash
                if digest is None or not keys.matches(request.host_key, digest):
                    await self._secrets.allow(session.address)
                    raise forbidden("wrong host key")
                return Role.HOST, state
            if user_id in state.banned:
                raise forbidden("a host removed you from this room")
        # Somebody already in the room (another tab, or back within the reconnect grace) was
        # admitted before: do not ask for the passcode again, and keep their role.
        if present is not None:
            return present.role, state
        if room.passcode_hash is not None:
            if request.passcode is None:
                raise forbidden("this room needs a passcode")
            await self._guess(session, request.passcode, room.passcode_hash)
        if state is None:
            return Role.MEMBER, None
        role = state.roles.get(user_id, Role.GUEST)
        if state.locked and role not in HOSTS:
            raise forbidden("the room is locked")
        if state.waiting_room and role not in HOSTS and user_id not in state.admitted:
            raise _Knock
        return role, state

    async def _throttle(self, session: Session) -> None:
        # Wrong passcodes and host keys drain a bucket per address: guessing stays slow.
        if not await self._secrets.allow(session.address, peek=True):
            raise ProtocolError(Code.RATE_LIMITED, "too many wrong passcodes; wait a minute")

    async def _guess(self, session: Session, passcode: str, stored_hash: str) -> None:
        """Check a passcode, or raise: throttled, and ``forbidden`` when wrong."""
        await self._throttle(session)
        # scrypt is deliberately slow (tens of ms): keep it off the event loop.
        if not await asyncio.to_thread(keys.check_passcode, passcode, stored_hash):
            await self._secrets.allow(session.address)
            raise forbidden("wrong passcode, or no such room")

    async def _knock(self, session: Session, room: StoredRoom) -> Waiting:
        """Put the newcomer in the waiting room and tell the hosts."""
        user = session.user

        def change(state: RoomState) -> None:
            if all(u.id != user.id for u in state.knocking):
                if len(state.knocking) >= self._settings.max_members:
                    raise forbidden("the waiting room is full")
                state.knocking.append(user)

        state, _ = await self._archive.change_room_state(room.id, change)
        session.knocking.add(room.id)
        await self._workshop.publish_hosts(room.id, state)
        log.info("room=%s user=%s knocks", room.id, user.id)
        return Waiting(room=room.public())

    async def stop_knocking(self, session: Session) -> None:
        """A connection that waited is gone: take it off the hosts' waiting list."""
        user_id = session.user.id
        for room in session.knocking:

            def change(state: RoomState) -> bool:
                before = len(state.knocking)
                state.knocking = [u for u in state.knocking if u.id != user_id]
                return len(state.knocking) != before

            state, dropped = await self._archive.change_room_state(room, change)
            if dropped:
                await self._workshop.publish_hosts(room, state)
        session.knocking.clear()

    async def leave(self, session: Session, request: RoomRef) -> Done:
        await self.depart(session, request.room)
        return Done()

    async def goodbye(self, session: Session, request: Empty) -> Done:
        # Only a mark: the page is going away and its transport closes next, so the
        # disconnect does the leaving (``Events.disconnect``), whichever comes first of the
        # client's DISCONNECT packet and the server noticing the closed transport.
        session.leaving = True
        return Done()

    async def depart(self, session: Session, room: str) -> None:
        # Presence first: if it is unreachable, nothing has changed and a retry can succeed.
        gone = await self._presence.remove(room, session.user.id, session.sid)
        await self.forget(session, room)
        if gone is not None:
            await self._roster.announce(room, "leave", gone)
        log.debug("room=%s user=%s left", room, session.user.id)

    async def forget(self, session: Session, room: str) -> None:
        """This process's side of leaving: the session, its Socket.IO rooms, its media."""
        session.rooms.pop(room, None)
        for name in (room, member_room(room, session.user.id), host_room(room)):
            await self._sio.leave_room(session.sid, name)
        await self._media.leave(session.sid, room)

    async def _evict(self, command: Evict) -> None:
        for session in self._sessions.in_room(command.user, command.room):
            await self.forget(session, command.room)
            await self._sio.emit(
                "room:removed",
                {"room": command.room, "reason": command.reason},
                to=session.sid,
                ignore_queue=True,
            )

    async def _recast(self, command: Recast) -> None:
        room, member = command.room, command.member
        for session in self._sessions.in_room(member.id, room):
            session.rooms[room] = member
            if member.role in MODERATORS:
                await self._sio.enter_room(session.sid, host_room(room))
            else:
                await self._sio.leave_room(session.sid, host_room(room))

    async def open_dm(self, session: Session, request: DmOpen) -> DmOpened:
        if request.user == session.user.id:
            raise bad_request("a direct message needs another user")
        other = await self._archive.get_user(request.user)
        if other is None:
            raise not_found("no such user")
        if await self._archive.blocking(session.user.id, other.id):
            raise forbidden("you cannot message this person")
        fresh = StoredRoom(
            id=keys.new_id("", _PRIVATE_ID_BYTES),
            title="",
            kind=RoomKind.DM,
            private=True,
            created_at=int(time.time() * 1000),
            created_by=session.user.id,
        )
        room = await self._archive.open_dm(session.user.id, other.id, fresh)
        return DmOpened(room=room.public(), user=other)

    async def block(self, session: Session, request: Block) -> Blocked:
        if request.user == session.user.id:
            raise bad_request("that is you")
        if await self._archive.get_user(request.user) is None:
            raise not_found("no such user")
        await self._archive.block(
            session.user.id, request.user, request.on, int(time.time() * 1000)
        )
        if request.on:
            # Gone from the blocker's people lists, on every connection (the blocked one is
            # not told: a block is never said).
            await self._sio.emit(
                "people:removed", {"user": request.user}, room=user_room(session.user.id)
            )
        return Blocked(blocked=await self._archive.blocked(session.user.id, _BLOCKED_MAX))

    async def blocks(self, session: Session, request: Empty) -> Blocked:
        return Blocked(blocked=await self._archive.blocked(session.user.id, _BLOCKED_MAX))

    async def list_dms(self, session: Session, request: Empty) -> DmList:
        presence = self._presence
        pairs = await self._archive.dm_rooms(session.user.id)
        online = await asyncio.gather(*(presence.member(ONLINE, other.id) for _, other in pairs))
        return DmList(
            dms=[
                Dm(room=room.public(), user=other, online=here is not None)
                for (room, other), here in zip(pairs, online, strict=True)
            ]
        )
