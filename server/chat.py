"""Chat: sending (stored before acknowledged), history, search and typing."""

from __future__ import annotations

import logging

from . import wire
from .archive import Archive, NoSuchRoom, StoredRoom
from .audiences import user_room
from .authz import HOSTS
from .catalog import Catalog
from .config import Settings
from .errors import forbidden, not_found
from .protocol import ChatHistory, ChatSearch, ChatSend, RoomKind, RoomRef, check_text
from .replies import Done, Messages, Sent
from .sessions import Session

log = logging.getLogger(__name__)


class Chat:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        archive: Archive,
        catalog: Catalog,
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._archive = archive
        self._catalog = catalog

    async def send(self, session: Session, request: ChatSend) -> Sent:
        check_text(request.text, self._settings.max_text)
        # Everything that may wait happens before the append: between the commit and the
        # emit nothing awaits, so the room's messages go out in the order they were stored.
        stored = await self._may_chat(session, request.room)
        audience = self._audience(stored, request.room)
        try:
            message, created = await self._archive.append(
                request.room, session.user, request.text, request.client_msg_id
            )
        except NoSuchRoom:
            raise not_found("no such room") from None
        if created:
            # Only a message stored just now is broadcast: a retried client_msg_id gets its
            # ack again but nobody sees the message twice.
            await self._sio.emit_in_order(
                "chat:message", message, audience, request.room, message.seq
            )
        return Sent(message=message)

    @staticmethod
    def _audience(stored: StoredRoom | None, room: str) -> str | list[str]:
        """A room's Socket.IO room, or for a direct message both users wherever they are."""
        pair = stored.dm_users if stored is not None else None
        return [user_room(pair[0]), user_room(pair[1])] if pair else room

    async def history(self, session: Session, request: ChatHistory) -> Messages:
        settings = self._settings
        limit = min(request.limit or settings.join_history, settings.max_page)
        messages = await self._archive.history(
            request.room, before=request.before, after=request.after, limit=limit
        )
        return Messages(messages=messages)

    async def search(self, session: Session, request: ChatSearch) -> Messages:
        limit = min(request.limit or 20, self._settings.max_page)
        return Messages(messages=await self._archive.search(request.room, request.query, limit))

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
