"""Chat: sending (stored before acknowledged), replies, edits, deletes, reactions, pins,
mentions, history, changes, search and typing.

A change to a stored message (``server.archive.changes``) is stored at the room's next
revision and then sent to the room as ``chat:change``, in revision order on every process
(as messages are in ``seq`` order); ``chat:changes`` fills the gaps (docs/protocol.md,
"Replies, reactions, edits and deletes").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from . import wire
from .archive import (
    Archive,
    Change,
    MessageDeleted,
    NoSuchMessage,
    NoSuchRoom,
    NotYours,
    RoomState,
    StoredRoom,
    TooManyPins,
)
from .archive import changes as rules
from .audiences import user_room
from .authz import HOSTS, MODERATORS
from .catalog import Catalog
from .clock import now_ms
from .config import Settings
from .encounters import Encounters
from .errors import Code, ProtocolError, bad_request, forbidden, not_found
from .presence import Presence
from .protocol import (
    AuditEntry,
    ChatChanges,
    ChatEdit,
    ChatHistory,
    ChatReact,
    ChatSearch,
    ChatSend,
    ChatThread,
    Mentioned,
    MentionsList,
    Message,
    MessageRef,
    Pin,
    Role,
    RoomBrief,
    RoomKind,
    RoomRef,
    check_mentions,
    check_text,
)
from .replies import Changed, Changes, Done, Mentions, Messages, Sent, Thread
from .sessions import Session

log = logging.getLogger(__name__)


class Chat:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        archive: Archive,
        catalog: Catalog,
        presence: Presence,
        encounters: Encounters,
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._archive = archive
        self._catalog = catalog
        self._presence = presence
        self._encounters = encounters

    async def send(self, session: Session, request: ChatSend) -> Sent:
        check_text(request.text, self._settings.max_text)
        mentions = check_mentions(request.mentions)
        # Everything that may wait happens before the append: between the commit and the
        # emit nothing awaits, so the room's messages go out in the order they were stored.
        stored = await self._may_chat(session, request.room)
        await self._slow(session, stored, request)
        other = None
        if stored is not None and stored.dm_users is not None:
            other = next((u for u in stored.dm_users if u != session.user.id), session.user.id)
            if await self._archive.blocking(session.user.id, other):
                raise forbidden("you cannot message this person")
        audience = self._audience(stored, request.room)
        notify = await self._readers(session, stored, request.room, mentions)
        try:
            appended = await self._archive.append(
                request.room,
                session.user,
                request.text,
                request.client_msg_id,
                reply_to=request.reply_to,
                mentions=mentions,
                notify=notify,
            )
        except NoSuchRoom:
            raise not_found("no such room") from None
        except NoSuchMessage:
            raise not_found("no such message") from None
        except MessageDeleted as exc:
            raise bad_request(str(exc)) from None
        message = appended.message
        if appended.created:
            # Only a message stored just now is broadcast: a retried client_msg_id gets its
            # ack again but nobody sees the message twice.
            await self._sio.emit_in_order(
                "chat:message", message, audience, request.room, message.seq
            )
            if appended.first is not None:
                await self._changed(audience, appended.first)
            await self._mention(stored, message, notify)
            if other is not None and other != session.user.id:
                await self._encounters.messaged(request.room, session.user.id, other)
        return Sent(message=message)

    async def edit(self, session: Session, request: ChatEdit) -> Changed:
        check_text(request.text, self._settings.max_text)
        mentions = check_mentions(request.mentions)
        stored = await self._may_chat(session, request.room)
        notify = await self._readers(session, stored, request.room, mentions)
        before: list[str] = []
        user_id, now = session.user.id, int(time.time() * 1000)

        def change(message: Message) -> Change | None:
            before[:] = message.mentions
            return rules.edit(message, user_id, request.text, mentions, now)

        message, changed = await self._change(stored, request.room, request.seq, change, notify)
        if changed:
            await self._mention(stored, message, [u for u in notify if u not in before])
        return Changed(message=message)

    async def delete(self, session: Session, request: MessageRef) -> Changed:
        stored = await self._may_chat(session, request.room)
        return Changed(
            message=await self.remove_message(session, request.room, request.seq, stored)
        )

    async def remove_message(
        self, session: Session, room: str, seq: int, stored: StoredRoom | None = None
    ) -> Message:
        """Delete a message: its author, or a moderator of the room (written to its audit
        log); nobody but the owner deletes the owner's."""
        if stored is None:
            stored = await self._catalog.get(room)
        role = session.rooms[room].role
        moderator = role in MODERATORS
        owner = stored.created_by if stored is not None and role is not Role.OWNER else None
        protected = frozenset({owner}) if owner else frozenset()
        user = session.user
        pinned: list[bool] = []

        def change(m: Message) -> Change | None:
            pinned[:] = [m.pinned_at is not None]
            return rules.delete(m, user.id, moderator=moderator, protected=protected)

        message, changed = await self._change(stored, room, seq, change)
        if changed and message.user.id != user.id:
            entry = AuditEntry(at=now_ms(), by=user, action="delete", target=message.user, seq=seq)
            await self._archive.audit(room, entry)
        if changed and pinned == [True]:  # a tombstone is pinned no more
            await self._banner(stored, room)
        return message

    async def pin(self, session: Session, request: Pin) -> Changed:
        """Pin or unpin a message (who may: ``server.authz``); a moderator's pin is audited."""
        stored = await self._catalog.get(request.room)
        user, now = session.user, now_ms()
        message, changed = await self._change(
            stored, request.room, request.seq, lambda m: rules.pin(m, user, request.on, now)
        )
        if changed:
            if session.rooms[request.room].role in MODERATORS:
                action = "pin" if request.on else "unpin"
                entry = AuditEntry(
                    at=now, by=user, action=action, target=message.user, seq=request.seq
                )
                await self._archive.audit(request.room, entry)
            await self._banner(stored, request.room)
        return Changed(message=message)

    async def pins(self, session: Session, request: RoomRef) -> Messages:
        return Messages(messages=await self._archive.pins(request.room, rules.PINS_MAX))

    async def _banner(self, stored: StoredRoom | None, room: str) -> None:
        """A workshop shows its latest pin above the chat (``WorkshopView.pinned``)."""
        if stored is None or stored.kind is not RoomKind.WORKSHOP:
            return
        latest = next(iter(await self._archive.pins(room, 1)), None)

        def change(state: RoomState) -> None:
            state.pinned = latest

        state, _ = await self._archive.change_room_state(room, change)
        await self._sio.emit("workshop", {"room": room, "state": state.view()}, room=room)

    async def react(self, session: Session, request: ChatReact) -> Changed:
        stored = await self._may_chat(session, request.room)
        user = session.user
        message, _ = await self._change(
            stored,
            request.room,
            request.seq,
            lambda m: rules.react(m, user, request.emoji, request.on),
        )
        return Changed(message=message)

    async def changes(self, session: Session, request: ChatChanges) -> Changes:
        limit = min(request.limit or self._settings.max_page, self._settings.max_page)
        # The revision first: a change in between is in the page, or comes as chat:change.
        rev = await self._archive.room_rev(request.room)
        messages = await self._archive.changes(request.room, request.after, limit)
        return Changes(messages=messages, rev=rev)

    async def thread(self, session: Session, request: ChatThread) -> Thread:
        limit = min(request.limit or self._settings.join_history, self._settings.max_page)
        try:
            first, replies = await self._archive.thread(
                request.room, request.seq, request.after, limit
            )
        except NoSuchMessage:
            raise not_found("no such message") from None
        return Thread(message=first, messages=replies)

    async def mentions(self, session: Session, request: MentionsList) -> Mentions:
        limit = min(request.limit or 20, self._settings.max_page)
        return Mentions(
            mentions=await self._archive.mentions(session.user.id, request.before, limit)
        )

    # -- changes and mentions ------------------------------------------------------------------

    async def _change(
        self,
        stored: StoredRoom | None,
        room: str,
        seq: int,
        change: Callable[[Message], Change | None],
        notify: list[str] | None = None,
    ) -> tuple[Message, bool]:
        """Store a change and tell the room: the message as it is now, and whether it changed."""
        try:
            message, changed = await self._archive.change_message(room, seq, change, notify or [])
        except NoSuchMessage:
            raise not_found("no such message") from None
        except NotYours as exc:
            raise forbidden(str(exc)) from None
        except (MessageDeleted, TooManyPins) as exc:
            raise bad_request(str(exc)) from None
        if changed:
            await self._changed(self._audience(stored, room), message)
        return message, changed

    async def republish(self, stored: StoredRoom | None, message: Message) -> None:
        """Tell the room of a change stored elsewhere (an erase, ``server/yourdata.py``)."""
        await self._changed(self._audience(stored, message.room), message)

    async def _changed(self, audience: str | list[str], message: Message) -> None:
        await self._sio.emit_in_order(
            "chat:change", message, audience, f"{message.room} rev", message.rev
        )

    async def _readers(
        self, session: Session, stored: StoredRoom | None, room: str, mentions: list[str]
    ) -> list[str]:
        """Who of the mentioned users may read the room (and so is told); checks they exist."""
        if not mentions:
            return []
        known = await self._archive.known_users(mentions)
        if len(known) != len(mentions):
            raise bad_request("mentions: unknown user")
        others = [u for u in mentions if u != session.user.id]
        if stored is None or not others:
            return []
        blockers = await self._archive.blockers(session.user.id, others)
        others = [u for u in others if u not in blockers]
        if stored.dm_users is not None:
            return [u for u in others if u in stored.dm_users]
        if not stored.private and stored.kind is not RoomKind.TABLE:
            return others
        present = {member.id for member in await self._presence.members(room)}
        return [u for u in others if u in present]

    async def _mention(self, stored: StoredRoom | None, message: Message, users: list[str]) -> None:
        if not users:
            return
        title = stored.title if stored is not None else ""
        mentioned = Mentioned(message=message, room=RoomBrief(id=message.room, title=title))
        await self._sio.emit("mention", mentioned, room=[user_room(u) for u in users])

    @staticmethod
    def _audience(stored: StoredRoom | None, room: str) -> str | list[str]:
        """A room's Socket.IO room, or for a direct message both users wherever they are."""
        pair = stored.dm_users if stored is not None else None
        return [user_room(pair[0]), user_room(pair[1])] if pair else room

    async def history(self, session: Session, request: ChatHistory) -> Messages:
        settings = self._settings
        limit = min(request.limit or settings.join_history, settings.max_page)
        messages = await self._archive.history(
            request.room,
            before=request.before,
            after=request.after,
            limit=limit,
            around=request.around,
        )
        return Messages(messages=messages)

    async def search(self, session: Session, request: ChatSearch) -> Messages:
        limit = min(request.limit or 20, self._settings.max_page)
        return Messages(messages=await self._archive.search(request.room, request.query, limit))

    async def _slow(self, session: Session, stored: StoredRoom | None, request: ChatSend) -> None:
        """Slow mode: one message per so many seconds per person (moderators are free)."""
        if stored is None or stored.kind in (RoomKind.DM, RoomKind.TABLE):
            return
        if session.rooms[request.room].role in MODERATORS:
            return
        seconds = stored.slow_seconds
        if not seconds:
            return
        last = await self._archive.last_sent(request.room, session.user.id)
        wait = (last or 0) + seconds * 1000 - now_ms()
        if wait > 0:
            raise ProtocolError(
                Code.RATE_LIMITED,
                f"slow mode: one message every {seconds} s",
                retry_after=round(wait / 1000, 1),
            )

    async def _may_chat(self, session: Session, room: str) -> StoredRoom | None:
        """The room, unless a host turned chat off there for everyone but hosts."""
        stored = await self._catalog.get(room)
        if (
            stored is not None
            and stored.kind is RoomKind.WORKSHOP
            and session.rooms[room].role not in HOSTS
            and not (await self._archive.room_state(room)).chat_enabled
        ):
            raise forbidden("the host turned chat off")
        if stored is not None and stored.kind is RoomKind.TABLE and stored.parent is not None:
            # Those who sat at a table may come back to read its chat, not to add to it.
            sitting = (await self._archive.room_state(stored.parent)).sitting
            if sitting is None or sitting.table(stored.id) is None:
                raise forbidden("this table has closed")
        return stored

    async def typing(self, session: Session, request: RoomRef) -> Done:
        await self._may_chat(session, request.room)
        await self._sio.emit(
            "chat:typing",
            {"room": request.room, "user": session.user},
            room=request.room,
            skip_sid=session.sid,
        )
        return Done()
