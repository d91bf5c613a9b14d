"""The Socket.IO edge: connection life cycle, the event table, and the one place that turns
whatever a handler raised into the ack the client sees.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from . import authz, wire
from . import protocol as p
from .budget import Budget, OverBudget
from .cards import Cards
from .catalog import Catalog
from .chat import Chat
from .config import Settings
from .errors import Code, ProtocolError, Unavailable, error_ack
from .logins import Logins, label
from .media import Media
from .moderation import Moderation
from .people import Contacts
from .presence import ONLINE, Attachment, Presence, online_member
from .profiles import Profiles
from .recordings import Recordings
from .replies import Reply
from .rooms import Rooms
from .roster import Roster
from .search import Search
from .sessions import Session, Sessions
from .tables import Tables
from .tasks import Tasks
from .workshop import Workshop
from .yourdata import YourData

log = logging.getLogger(__name__)

Handler = Callable[[Session, Any], Awaitable[Reply]]


def table(
    rooms: Rooms,
    chat: Chat,
    media: Media,
    workshop: Workshop,
    tables: Tables,
    moderation: Moderation,
    search: Search,
    contacts: Contacts,
    cards: Cards,
    profiles: Profiles,
    logins: Logins,
    yourdata: YourData,
    recordings: Recordings,
) -> dict[str, tuple[type[msgspec.Struct], Handler]]:
    """Every client event: the request type its payload must decode to, and its handler."""
    return {
        "room:list": (p.Empty, rooms.list_public),
        "room:create": (p.RoomCreate, rooms.create),
        "room:join": (p.RoomJoin, rooms.join),
        "room:leave": (p.RoomRef, rooms.leave),
        "goodbye": (p.Empty, rooms.goodbye),
        "dm:open": (p.DmOpen, rooms.open_dm),
        "user:block": (p.Block, rooms.block),
        "blocks:list": (p.Empty, rooms.blocks),
        "dm:list": (p.Empty, rooms.list_dms),
        "chat:send": (p.ChatSend, chat.send),
        "chat:history": (p.ChatHistory, chat.history),
        "chat:search": (p.ChatSearch, chat.search),
        "search": (p.SearchRequest, search.search),
        "chat:typing": (p.RoomRef, chat.typing),
        "chat:edit": (p.ChatEdit, chat.edit),
        "chat:delete": (p.MessageRef, chat.delete),
        "chat:react": (p.ChatReact, chat.react),
        "chat:changes": (p.ChatChanges, chat.changes),
        "chat:thread": (p.ChatThread, chat.thread),
        "chat:pin": (p.Pin, chat.pin),
        "chat:pins": (p.RoomRef, chat.pins),
        "mentions:list": (p.MentionsList, chat.mentions),
        "media:state": (p.MediaState, media.state),
        "signal": (p.Signal, media.signal),
        "sfu:join": (p.RoomRef, media.sfu_join),
        "sfu:answer": (p.SfuAnswer, media.sfu_answer),
        "sfu:candidate": (p.SfuCandidate, media.sfu_candidate),
        "sfu:leave": (p.RoomRef, media.sfu_leave),
        "hand:raise": (p.RoomRef, workshop.raise_hand),
        "hand:lower": (p.OptionalTarget, workshop.lower_hand),
        "stage:invite": (p.Target, workshop.invite),
        "stage:remove": (p.OptionalTarget, workshop.send_back),
        "member:mute": (p.Mute, workshop.mute),
        "member:remove": (p.Target, workshop.remove),
        "member:allow": (p.Target, workshop.allow),
        "member:role": (p.SetRole, workshop.set_role),
        "host:handover": (p.Target, workshop.hand_over),
        "room:lock": (p.Toggle, workshop.lock),
        "room:waiting": (p.Toggle, workshop.waiting),
        "waiting:admit": (p.Target, workshop.admit),
        "waiting:decline": (p.Target, workshop.decline),
        "chat:enable": (p.Toggle, workshop.enable_chat),
        "workshop:end": (p.RoomRef, workshop.end),
        "recording:start": (p.RoomRef, recordings.start),
        "recording:stop": (p.RoomRef, recordings.stop),
        "tables:open": (p.TablesOpen, tables.open),
        "tables:move": (p.TablesMove, tables.move),
        "tables:choose": (p.TablesChoose, tables.choose),
        "tables:notice": (p.TablesNotice, tables.notice),
        "tables:close": (p.RoomRef, tables.close),
        "rounds:start": (p.RoundsStart, tables.start),
        "rounds:join": (p.RoomRef, tables.join),
        "rounds:leave": (p.RoomRef, tables.leave),
        "rounds:stop": (p.RoomRef, tables.stop),
        "people:stay": (p.PeopleStay, contacts.stay),
        "people:decline": (p.PersonRef, contacts.decline),
        "people:remove": (p.PersonRef, contacts.remove),
        "people:list": (p.Empty, contacts.people),
        "card:get": (p.Empty, cards.get),
        "card:set": (p.CardSet, cards.set),
        "card:share": (p.CardShare, cards.share),
        "room:slow": (p.SlowMode, moderation.slow),
        "room:edit": (p.RoomEdit, moderation.edit),
        "room:moderator": (p.ModeratorSet, moderation.set_moderator),
        "chat:report": (p.ChatReport, moderation.report),
        "reports:list": (p.RoomRef, moderation.reports),
        "report:resolve": (p.ReportResolve, moderation.resolve),
        "chat:versions": (p.MessageRef, moderation.versions),
        "audit:list": (p.AuditList, moderation.audit),
        "profile:get": (p.ProfileGet, profiles.get),
        "profile:set": (p.ProfileSet, profiles.set),
        "profile:headlines": (p.HeadlinesGet, profiles.headlines),
        "online:list": (p.Empty, profiles.online),
        "sessions:list": (p.Empty, logins.list_mine),
        "session:revoke": (p.SessionRef, logins.revoke),
        "sessions:revoke_others": (p.Empty, logins.revoke_others),
        "account:erase": (p.AccountErase, yourdata.erase),
    }


class Events:
    """The client events of this process's Socket.IO server, and its connections' life."""

    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        presence: Presence,
        sessions: Sessions,
        catalog: Catalog,
        roster: Roster,
        rooms: Rooms,
        media: Media,
        budget: Budget,
        tasks: Tasks,
        stopping: Callable[[], bool],
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._presence = presence
        self._sessions = sessions
        self._catalog = catalog
        self._roster = roster
        self._rooms = rooms
        self._media = media
        self._budget = budget
        self._tasks = tasks
        self._stopping = stopping

    async def answer(
        self,
        sid: str,
        event: str,
        kind: type[msgspec.Struct],
        handler: Handler,
        args: tuple[Any, ...],
    ) -> Reply | dict[str, Any]:
        """Run one client event and return its ack; never raises.

        The event is charged to the connection's budget first: one over it is answered
        ``rate_limited`` and goes no further (``server/budget.py``).
        """
        try:
            session = self._sessions.get(sid)
            if session is None:
                raise ProtocolError(Code.FORBIDDEN, "not connected")
            await self._budget.charge(session.spending, event, session.user.id, session.address)
            if len(args) > 1:
                raise ProtocolError(Code.BAD_REQUEST, "send one payload object")
            request = p.decode(args[0] if args else None, kind)
            if event in authz.POLICY:
                await self.authorize(session, event, request.room)  # type: ignore[attr-defined]
            return await handler(session, request)
        except OverBudget as exc:
            return self._over(sid, event, exc)
        except ProtocolError as exc:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("event=%s sid=%s refused: %s %s", event, sid, exc.code, exc.message)
            return exc.ack()
        except Unavailable as exc:
            log.warning("event=%s sid=%s: backend unavailable: %s", event, sid, exc)
            return error_ack(Code.UNAVAILABLE, "the server cannot reach its storage; try again")
        except Exception as exc:
            if self._sessions.get(sid) is None:
                # The connection ended while the handler ran (a page that joins and goes
                # away at once): its Socket.IO session is gone from under the handler, and
                # nobody is left to answer.
                log.info("event=%s sid=%s: the connection closed meanwhile (%s)", event, sid, exc)
                return error_ack(Code.UNAVAILABLE, "the connection closed")
            log.exception("event=%s sid=%s failed", event, sid)
            return error_ack(Code.INTERNAL, "internal server error")

    async def authorize(self, session: Session, event: str, room: str) -> None:
        """The connection joined ``room`` and its role there may send ``event`` (``authz``)."""
        member = session.rooms.get(room)
        if member is None:
            raise ProtocolError(Code.FORBIDDEN, "you are not in this room")
        stored = await self._catalog.get(room)
        if stored is None or not authz.allowed(event, stored.kind, member.role):
            kind = stored.kind.value if stored is not None else "unknown"
            raise ProtocolError(
                Code.FORBIDDEN, f"{event} is not for {_a(member.role.value)} in {_a(kind)} room"
            )

    async def unknown(self, sid: str, name: str) -> dict[str, Any]:
        """The ack to an event the server does not know, which is charged like any other."""
        session = self._sessions.get(sid)
        if session is not None:
            try:
                await self._budget.charge(session.spending, name, session.user.id, session.address)
            except OverBudget as exc:
                return self._over(sid, name, exc)
        return error_ack(Code.BAD_REQUEST, f"unknown event {name[:64]}")

    def _over(self, sid: str, event: str, exc: OverBudget) -> dict[str, Any]:
        """The ack to an event over its budget; the connection is closed if it keeps going."""
        budget = self._budget
        shown = event if event in budget.events else "(unknown)"  # a name the client chose
        if exc.first:
            log.info("event=%s sid=%s over its budget (%s): refused, and any more at debug",
                     shown, sid, exc.allowance.name)  # fmt: skip
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("event=%s sid=%s over its budget (%s): refused", shown, sid,
                      exc.allowance.name)  # fmt: skip
        if exc.last:
            log.warning("sid=%s refused %d times within %g s for going over its budget: "
                        "disconnected", sid, budget.refusals, budget.window)  # fmt: skip
            self._tasks.spawn(self._hang_up(sid), name=f"hang up {sid}")
        return exc.ack()

    async def _hang_up(self, sid: str) -> None:
        """Close a connection that keeps going over its budget, saying why and for how long."""
        closing = {
            "code": Code.RATE_LIMITED.value,
            "message": "you kept sending too fast; disconnected",
            "retry_after": self._budget.window,
        }
        # ignore_queue: the connection is ours.
        await self._sio.emit("closing", closing, to=sid, ignore_queue=True)
        await self._sio.disconnect(sid, ignore_queue=True)

    def register(self, handlers: dict[str, tuple[type[msgspec.Struct], Handler]]) -> None:
        """Bind the event table (``table``) and the connection handlers to the server."""
        uncounted = set(handlers) - self._budget.events
        if uncounted:
            raise ValueError(f"events with no class in the budget: {sorted(uncounted)}")
        sio = self._sio

        def bind(event: str, kind: type[msgspec.Struct], handler: Handler) -> None:
            # Handlers take *args: python-socketio calls them with whatever the client sent,
            # and a fixed signature would raise TypeError inside the library for a wrong count.
            async def on_event(sid: str, *args: Any) -> Reply | dict[str, Any]:
                return await self.answer(sid, event, kind, handler, args)

            sio.on(event, on_event)

        for event, (kind, handler) in handlers.items():
            bind(event, kind, handler)

        @sio.on("*")  # type: ignore[untyped-decorator]
        async def on_unknown(event: Any, sid: str, *args: Any) -> dict[str, Any]:
            return await self.unknown(sid, event if isinstance(event, str) else repr(event))

        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        settings, sessions, presence = self._settings, self._sessions, self._presence
        # (The connections per address are counted, and refused past the cap, by the wire
        # from the request that opens each session: Engine.admitted.)
        address = client_address(environ, settings.trusted_proxies)
        device = label(environ.get("HTTP_USER_AGENT", ""))
        wire.release(environ)  # python-socketio keeps the environ as long as the connection
        try:
            login, token = await sessions.authenticate(auth, address, device)
        except ProtocolError as exc:
            raise _refusal(exc.code, exc.message) from None
        except Unavailable as exc:
            log.warning("connect sid=%s: archive unavailable: %s", sid, exc)
            raise _refusal(
                Code.UNAVAILABLE, "the server cannot reach its storage; try again"
            ) from None
        except Exception:
            log.exception("connect sid=%s failed", sid)
            raise _refusal(Code.INTERNAL, "internal server error") from None
        sessions.add(sid, login, address)
        user = login.user
        await self._sio.enter_room(sid, f"u:{user.id}")
        rooms: list[str] = []
        try:
            await presence.attach(
                [Attachment(ONLINE, online_member(user), sid)], settings.presence_ttl, merge=True
            )
            rooms = await presence.rooms_of(user.id)
        except Unavailable as exc:
            log.warning("connect sid=%s user=%s: presence unavailable: %s", sid, user.id, exc)
        log.debug("connect sid=%s user=%s address=%s", sid, user.id, address)
        # The CONNECT packet goes out after this handler returns; an event emitted here would
        # overtake it, so the session is sent from a task that runs after.
        # ignore_queue: the connection is ours, and the token must not cross the Redis channel.
        self._tasks.spawn(
            self._sio.emit(
                "session", {"user": user, "token": token, "rooms": rooms}, to=sid, ignore_queue=True
            ),
            name=f"session {sid}",
        )

    async def disconnect(self, sid: str, reason: str = "") -> None:
        session = self._sessions.remove(sid)
        if session is None:
            return
        presence = self._presence
        # Media has no grace: the peer connections die with the connection that made them.
        await self._media.leave_all(sid)
        # A dropped connection keeps its place for the reconnect grace, so a flaky network
        # does not show everyone a leave and a join; so do the clients of a server shutting
        # down (they come back on another process). A disconnect the server sees as
        # deliberate leaves at once, and so does any disconnect after the client's `goodbye`
        # (a page going away), whatever ended it: a client library may close its socket
        # before writing its DISCONNECT, and a page may be gone before its close is seen
        # (docs/protocol.md).
        deliberate = session.leaving or (
            not self._stopping()
            and reason in (self._sio.reason.CLIENT_DISCONNECT, self._sio.reason.SERVER_DISCONNECT)
        )
        log.debug("disconnect sid=%s user=%s reason=%s", sid, session.user.id, reason)
        try:
            for room in [*session.rooms, ONLINE]:
                if deliberate:
                    gone = await presence.remove(room, session.user.id, sid)
                    if gone is not None and room != ONLINE:
                        await self._roster.announce(room, "leave", gone)
                else:
                    await presence.expire(
                        room, session.user.id, sid, self._settings.reconnect_grace
                    )
        except Unavailable as exc:
            # The attachments run out by themselves once heartbeats stop.
            log.warning("disconnect sid=%s: presence unavailable: %s", sid, exc)
        if session.knocking:
            try:
                await self._rooms.stop_knocking(session)
            except Unavailable as exc:
                log.warning("disconnect sid=%s: waiting list not updated: %s", sid, exc)


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def client_address(environ: dict[str, Any], trusted: tuple[str, ...]) -> str:
    """Who is connecting: the peer, or behind a trusted proxy what the proxy says (the wire
    counts connections per address with it too).

    ``X-Forwarded-For`` is a list each proxy appends to; read from the right, the first
    address that is not one of our proxies is the client (anything further left was written
    by the client and proves nothing).
    """
    peer: str = environ.get("REMOTE_ADDR", "")
    if peer not in trusted:
        return peer
    forwarded: str = environ.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def _refusal(code: Code, message: str) -> Exception:
    """What a refused client receives: Socket.IO's CONNECT_ERROR with ``data: {code, message}``."""
    return wire.refusal(code.value, message)
