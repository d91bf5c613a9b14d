"""Looking after rooms: moderators, slow mode, reports and the audit log.

An open room or coffee morning is looked after by its owner (who made it) and the moderators
the owner appoints (``RoomState.moderators``; for the lobby and other rooms the server made,
the users named in ``Settings.moderators``); a workshop by its hosts and co-hosts. Who may
call what is in ``server.authz``; deleting messages is ``server.chat``'s, removing people
``server.workshop``'s. Everything a moderator does is written to the room's audit log,
which the owner (a workshop's host) reads.
"""

from __future__ import annotations

import logging

from . import wire
from .archive import Archive, RoomState
from .audiences import host_room, user_room
from .catalog import Catalog
from .chat import Chat
from .clock import now_ms
from .errors import bad_request, forbidden, not_found
from .presence import Presence
from .protocol import (
    AuditEntry,
    AuditList,
    ChatReport,
    Message,
    MessageRef,
    ModeratorSet,
    ReportAction,
    ReportResolve,
    Role,
    RoomEdit,
    RoomRef,
    SlowMode,
    User,
)
from .replies import Audit, Done, ReportFiled, Reports, RoomEdited, SlowChanged, Versions
from .roster import Roster
from .sessions import Session
from .workshop import Workshop

log = logging.getLogger(__name__)

_REPORTS_MAX = 200


class Moderation:
    def __init__(
        self,
        sio: wire.Server,
        archive: Archive,
        presence: Presence,
        roster: Roster,
        chat: Chat,
        workshop: Workshop,
        catalog: Catalog,
    ) -> None:
        self._sio = sio
        self._archive = archive
        self._presence = presence
        self._roster = roster
        self._chat = chat
        self._workshop = workshop
        self._catalog = catalog

    async def record(
        self,
        room: str,
        by: User,
        action: str,
        target: User | None = None,
        seq: int | None = None,
        detail: str = "",
    ) -> None:
        entry = AuditEntry(at=now_ms(), by=by, action=action, target=target, seq=seq, detail=detail)
        await self._archive.audit(room, entry)

    # -- the room ----------------------------------------------------------------------------

    async def edit(self, session: Session, request: RoomEdit) -> RoomEdited:
        await self._archive.describe_room(request.room, request.title, request.description)
        await self._catalog.changed(request.room)
        stored = await self._catalog.get(request.room)
        if stored is None:
            raise not_found("no such room")
        room = stored.public()
        await self._sio.emit("room:updated", {"room": room, "by": session.user}, room=request.room)
        await self.record(request.room, session.user, "edit", detail=request.title)
        return RoomEdited(room=room)

    async def slow(self, session: Session, request: SlowMode) -> SlowChanged:
        seconds = request.seconds
        # Kept with the room (read from the catalog at every chat:send, not the archive).
        await self._archive.slow_room(request.room, seconds)
        await self._catalog.changed(request.room)
        await self._sio.emit(
            "room:slow",
            {"room": request.room, "seconds": seconds, "by": session.user},
            room=request.room,
        )
        await self.record(request.room, session.user, "slow", detail=f"{seconds} s")
        return SlowChanged(seconds=seconds)

    async def set_moderator(self, session: Session, request: ModeratorSet) -> Done:
        if request.user == session.user.id:
            raise bad_request("you are the owner")
        member = await self._presence.member(request.room, request.user)
        if member is None:
            raise not_found("that user is not in this room")

        def change(state: RoomState) -> None:
            if request.on and member.id not in state.moderators:
                state.moderators.append(member.id)
            elif not request.on and member.id in state.moderators:
                state.moderators.remove(member.id)

        await self._archive.change_room_state(request.room, change)
        role = Role.MODERATOR if request.on else Role.MEMBER
        if member.role is not role:
            await self._roster.change(request.room, member.id, role=role)
        target = User(id=member.id, name=member.name)
        action = "moderator" if request.on else "moderator_off"
        await self.record(request.room, session.user, action, target)
        return Done()

    # -- reports -----------------------------------------------------------------------------

    async def report(self, session: Session, request: ChatReport) -> ReportFiled:
        message = await self._message(request.room, request.seq)
        if message.user.id == session.user.id:
            raise bad_request("you cannot report your own message")
        if message.deleted:
            raise bad_request("that message was deleted")
        report = await self._archive.report(
            request.room, request.seq, session.user, request.reason.strip(), now_ms()
        )
        await self._sio.emit("report", report, room=host_room(request.room))
        return ReportFiled(report=report)

    async def reports(self, session: Session, request: RoomRef) -> Reports:
        return Reports(reports=await self._archive.reports(request.room, _REPORTS_MAX))

    async def resolve(self, session: Session, request: ReportResolve) -> ReportFiled:
        room, by = request.room, session.user
        found = await self._archive.reports(room, 1, request.report)
        if not found:
            raise not_found("no such open report")
        pending = found[0]
        author = pending.message.user
        if request.action is not ReportAction.DISMISS:
            await self._may_act_on(room, author.id)
        if request.action is ReportAction.DELETE:
            await self._chat.remove_message(session, room, pending.message.seq)
        elif request.action is ReportAction.BAN:
            await self._ban(session, room, author)
        report = await self._archive.resolve_report(
            room, request.report, by, request.action, now_ms()
        )
        if report is None:  # another moderator answered it meanwhile
            raise not_found("no such open report")
        await self.record(
            room, by, "report", author, pending.message.seq, f"{request.action.value}"
        )
        told = {"room": room, "report": report}
        await self._sio.emit("report:resolved", told, room=host_room(room))
        await self._sio.emit("report:resolved", told, room=user_room(report.reporter.id))
        return ReportFiled(report=report)

    async def versions(self, session: Session, request: MessageRef) -> Versions:
        """The texts an edited message had before: a moderator reads them, of anybody they
        may act on (so not the owner's), and of their own messages."""
        message = await self._message(request.room, request.seq)
        if message.deleted:
            raise bad_request("that message was deleted")
        if message.user.id != session.user.id:
            await self._may_act_on(request.room, message.user.id)
        return Versions(versions=await self._archive.earlier(request.room, request.seq))

    async def _message(self, room: str, seq: int) -> Message:
        message = await self._archive.message_at(room, seq)
        if message is None:
            raise not_found("no such message")
        return message

    async def _may_act_on(self, room: str, user_id: str) -> None:
        """Moderators do not act on the room's owner (nor hosts on the host)."""
        target = await self._presence.member(room, user_id)
        owner = await self._owner(room)
        if user_id == owner or (target is not None and target.role is Role.HOST):
            raise forbidden("a moderator cannot act on the owner")

    async def _owner(self, room: str) -> str | None:
        stored = await self._archive.get_room(room)
        return stored.created_by if stored is not None else None

    async def _ban(self, session: Session, room: str, author: User) -> None:
        """Ban the author of a reported message, present or not."""
        member = await self._presence.member(room, author.id)
        if member is not None:
            await self._workshop.ban(session, room, member)
            return

        def change(state: RoomState) -> None:
            state.banned[author.id] = author.name

        await self._archive.change_room_state(room, change)

    # -- the audit log -----------------------------------------------------------------------

    async def audit(self, session: Session, request: AuditList) -> Audit:
        limit = min(request.limit or 50, 100)
        return Audit(entries=await self._archive.audit_log(request.room, request.before, limit))
