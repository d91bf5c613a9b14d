"""Workshop hosting: the stage, raised hands, moderation, the waiting room, ending.

Who may call what is decided by ``server.authz`` before these handlers run; here live the
rules about the target (present? on stage? the host?) and the changes themselves. Shared
state goes to the archive (``RoomState``); a change to a member goes everywhere through
``server.roster``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from . import keys, wire
from .archive import Archive, RoomState
from .audiences import host_room, member_room, user_room
from .authz import HOSTS, STAGE
from .errors import bad_request, forbidden, not_found
from .presence import Presence
from .protocol import (
    AuditEntry,
    Member,
    Mute,
    OptionalTarget,
    Phase,
    Role,
    RoomRef,
    SetRole,
    Target,
    Toggle,
    User,
)
from .replies import Done, Hands, MemberChanged, StateChanged
from .roster import Roster
from .sessions import Session

log = logging.getLogger(__name__)


def _drop(users: list[User], user_id: str) -> bool:
    """Remove ``user_id`` from a list of users; True if it was there."""
    before = len(users)
    users[:] = [u for u in users if u.id != user_id]
    return len(users) != before


class Workshop:
    def __init__(
        self, sio: wire.Server, archive: Archive, presence: Presence, roster: Roster
    ) -> None:
        self._sio = sio
        self._archive = archive
        self._presence = presence
        self._roster = roster

    # -- telling people ----------------------------------------------------------------------

    async def publish(self, room: str, state: RoomState, *, hosts: bool = False) -> None:
        await self._sio.emit("workshop", {"room": room, "state": state.view()}, room=room)
        if hosts:
            await self.publish_hosts(room, state)

    async def publish_hosts(self, room: str, state: RoomState) -> None:
        await self._sio.emit(
            "workshop:hosts", {"room": room, "state": state.hosts_view()}, room=host_room(room)
        )

    async def notify(self, room: str, user_id: str, action: str, by: Session, **extra: Any) -> None:
        """Tell one member what a host did to them, so their client can obey and say why."""
        await self._sio.emit(
            "moderation",
            {"room": room, "action": action, "by": by.user, **extra},
            room=member_room(room, user_id),
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _target(self, room: str, user_id: str) -> Member:
        member = await self._presence.member(room, user_id)
        if member is None:
            raise not_found("that user is not in this room")
        return member

    async def _recast(self, room: str, member: Member, **changes: Any) -> Member:
        updated = await self._roster.change(room, member.id, **changes)
        if updated is None:
            raise not_found("that user is not in this room")
        return updated

    async def _change(self, room: str, change: Any) -> tuple[RoomState, Any]:
        return await self._archive.change_room_state(room, change)

    # -- hands -------------------------------------------------------------------------------

    async def raise_hand(self, session: Session, request: RoomRef) -> Hands:
        user = session.user

        def change(state: RoomState) -> None:
            if all(u.id != user.id for u in state.hands):
                state.hands.append(user)

        state, _ = await self._change(request.room, change)
        await self.publish(request.room, state)
        return Hands(hands=state.hands)

    async def lower_hand(self, session: Session, request: OptionalTarget) -> Hands:
        target = request.user or session.user.id
        if target != session.user.id and session.rooms[request.room].role not in HOSTS:
            raise forbidden("only a host can lower somebody else's hand")
        state, _ = await self._change(request.room, lambda s: _drop(s.hands, target))
        await self.publish(request.room, state)
        return Hands(hands=state.hands)

    # -- stage -------------------------------------------------------------------------------

    async def invite(self, session: Session, request: Target) -> MemberChanged:
        member = await self._target(request.room, request.user)
        if member.role is not Role.GUEST:
            raise bad_request("only a guest can be brought on stage")

        def change(state: RoomState) -> None:
            state.roles[member.id] = Role.PRESENTER
            _drop(state.hands, member.id)

        state, _ = await self._change(request.room, change)
        updated = await self._recast(request.room, member, role=Role.PRESENTER)
        await self.notify(request.room, member.id, "stage_invited", session)
        await self.publish(request.room, state)
        return MemberChanged(member=updated)

    async def send_back(self, session: Session, request: OptionalTarget) -> MemberChanged:
        target = request.user or session.user.id
        own = target == session.user.id
        if not own and session.rooms[request.room].role not in HOSTS:
            raise forbidden("only a host can send somebody else off the stage")
        member = await self._target(request.room, target)
        if member.role is not Role.PRESENTER:
            raise bad_request("only a presenter can leave the stage")

        def change(state: RoomState) -> None:
            state.roles.pop(member.id, None)

        await self._change(request.room, change)
        updated = await self._recast(
            request.room, member, role=Role.GUEST, camera=False, mic=False, screen=False
        )
        if not own:
            await self.notify(request.room, member.id, "stage_removed", session)
        return MemberChanged(member=updated)

    # -- moderation --------------------------------------------------------------------------

    async def mute(self, session: Session, request: Mute) -> MemberChanged:
        if not (request.camera or request.mic or request.screen):
            raise bad_request("say what to turn off: camera, mic or screen")
        member = await self._target(request.room, request.user)
        off = {
            name: False
            for name in ("camera", "mic", "screen")
            if getattr(request, name) and getattr(member, name)
        }
        updated = await self._recast(request.room, member, **off) if off else member
        await self.notify(
            request.room,
            member.id,
            "muted",
            session,
            camera=request.camera,
            mic=request.mic,
            screen=request.screen,
        )
        return MemberChanged(member=updated)

    async def remove(self, session: Session, request: Target) -> Done:
        if request.user == session.user.id:
            raise bad_request("use room:leave to leave")
        member = await self._target(request.room, request.user)
        if member.role is Role.HOST:
            raise forbidden("the host cannot be removed")
        if member.role is Role.OWNER:
            raise forbidden("a moderator cannot act on the owner")
        await self.ban(session, request.room, member)
        return Done()

    async def ban(self, session: Session, room: str, member: Member) -> None:
        """Send a member away and keep them out until allowed back (any kind of room)."""

        def change(state: RoomState) -> str | None:
            state.banned[member.id] = member.name
            state.roles.pop(member.id, None)
            if member.id in state.moderators:
                state.moderators.remove(member.id)
            _drop(state.hands, member.id)
            _drop(state.knocking, member.id)
            if member.id in state.admitted:
                state.admitted.remove(member.id)
            if state.series is not None:
                _drop(state.series.participants, member.id)
            table = state.sitting.unseat(member.id) if state.sitting is not None else None
            return table.id if table is not None else None

        state, table = await self._change(room, change)
        if table is not None:
            await self._roster.evict(table, member.id, "removed")
            view = state.tables_view(int(time.time() * 1000))
            await self._sio.emit("tables", {"room": room, "state": view}, room=room)
        await self._roster.evict(room, member.id, "removed")
        if session.rooms[room].role in HOSTS:
            await self.publish(room, state, hosts=True)
        await self._record(session, room, "remove", User(id=member.id, name=member.name))
        log.info("room=%s user=%s removed by user=%s", room, member.id, session.user.id)

    async def allow(self, session: Session, request: Target) -> Done:
        state, name = await self._change(request.room, lambda s: s.banned.pop(request.user, None))
        if name is None:
            raise not_found("that user was not removed from this room")
        if session.rooms[request.room].role in HOSTS:
            await self.publish_hosts(request.room, state)
        await self._record(session, request.room, "allow", User(id=request.user, name=name))
        return Done()

    async def _record(self, session: Session, room: str, action: str, target: User) -> None:
        entry = AuditEntry(
            at=int(time.time() * 1000), by=session.user, action=action, target=target
        )
        await self._archive.audit(room, entry)

    async def set_role(self, session: Session, request: SetRole) -> MemberChanged:
        if request.user == session.user.id:
            raise bad_request("use host:handover to give up hosting")
        member = await self._target(request.room, request.user)
        if member.role is Role.HOST:
            raise bad_request("that user is the host")

        def change(state: RoomState) -> None:
            if request.role is Role.GUEST:
                state.roles.pop(member.id, None)
            else:
                state.roles[member.id] = request.role
                _drop(state.hands, member.id)

        state, _ = await self._change(request.room, change)
        media = {} if request.role in STAGE else {"camera": False, "mic": False, "screen": False}
        updated = await self._recast(request.room, member, role=request.role, **media)
        await self.publish(request.room, state, hosts=True)
        return MemberChanged(member=updated)

    async def hand_over(self, session: Session, request: Target) -> Done:
        if request.user == session.user.id:
            raise bad_request("you are the host already")
        member = await self._target(request.room, request.user)
        host_key = keys.new_token()

        def change(state: RoomState) -> None:
            state.host_key_digest = keys.digest(host_key)
            state.roles.pop(member.id, None)
            state.roles[session.user.id] = Role.COHOST
            _drop(state.hands, member.id)

        state, _ = await self._change(request.room, change)
        await self._recast(request.room, member, role=Role.HOST)
        me = session.rooms[request.room]
        await self._recast(request.room, me, role=Role.COHOST)
        # The new key goes to the new host's own connections only: it is how they come back.
        await self._sio.emit(
            "host:key", {"room": request.room, "host_key": host_key}, room=user_room(member.id)
        )
        await self.publish(request.room, state, hosts=True)
        log.info("room=%s host handed from user=%s to user=%s", request.room, me.id, member.id)
        return Done()

    # -- the room ----------------------------------------------------------------------------

    async def _toggle(self, room: str, field: str, enabled: bool) -> StateChanged:
        state, _ = await self._change(room, lambda s: setattr(s, field, enabled))
        await self.publish(room, state)
        return StateChanged(state=state.view())

    async def lock(self, session: Session, request: Toggle) -> StateChanged:
        return await self._toggle(request.room, "locked", request.enabled)

    async def waiting(self, session: Session, request: Toggle) -> StateChanged:
        if request.enabled:
            # Whoever is in already need not knock when they come back after a drop.
            inside = [member.id for member in await self._presence.members(request.room)]

            def close_doors(state: RoomState) -> None:
                state.waiting_room = True
                state.admitted.extend(uid for uid in inside if uid not in state.admitted)

            state, _ = await self._change(request.room, close_doors)
            await self.publish(request.room, state)
            return StateChanged(state=state.view())

        # Opening the doors lets in whoever was waiting.
        def change(state: RoomState) -> list[User]:
            state.waiting_room = False
            waited, state.knocking = state.knocking, []
            state.admitted.extend(u.id for u in waited if u.id not in state.admitted)
            return waited

        state, waited = await self._change(request.room, change)
        for user in waited:
            await self._sio.emit("room:admitted", {"room": request.room}, room=user_room(user.id))
        await self.publish(request.room, state, hosts=True)
        return StateChanged(state=state.view())

    async def enable_chat(self, session: Session, request: Toggle) -> StateChanged:
        return await self._toggle(request.room, "chat_enabled", request.enabled)

    async def admit(self, session: Session, request: Target) -> Done:
        return await self._answer_knock(request, admitted=True)

    async def decline(self, session: Session, request: Target) -> Done:
        return await self._answer_knock(request, admitted=False)

    async def _answer_knock(self, request: Target, *, admitted: bool) -> Done:
        """Take a knocker off the waiting list, let them in or not, and tell them and hosts."""

        def change(state: RoomState) -> bool:
            if not _drop(state.knocking, request.user):
                return False
            if admitted and request.user not in state.admitted:
                state.admitted.append(request.user)
            return True

        state, knocked = await self._change(request.room, change)
        if not knocked:
            raise not_found("that user is not waiting")
        event = "room:admitted" if admitted else "room:declined"
        await self._sio.emit(event, {"room": request.room}, room=user_room(request.user))
        await self.publish_hosts(request.room, state)
        return Done()

    async def end(self, session: Session, request: RoomRef) -> Done:

        def change(state: RoomState) -> tuple[list[User], list[str]]:
            state.ended = True
            waited, state.knocking = state.knocking, []
            # Its tables end with it (everybody at them is sent away below).
            tables = [t.id for t in state.sitting.tables] if state.sitting is not None else []
            state.sitting = None
            if state.series is not None and state.series.running:
                state.series.phase, state.series.phase_ends_at = Phase.DONE, None
            return waited, tables

        state, (waited, tables) = await self._change(request.room, change)
        await self.publish(request.room, state)
        for user in waited:
            await self._sio.emit("room:declined", {"room": request.room}, room=user_room(user.id))
        for table in tables:
            for member in await self._presence.members(table):
                await self._roster.evict(table, member.id, "ended")
        for member in await self._presence.members(request.room):
            await self._roster.evict(request.room, member.id, "ended")
        log.info("room=%s ended by user=%s", request.room, session.user.id)
        return Done()
