"""Chat: sending (stored before acknowledged), history, search and typing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .archive import NoSuchRoom, StoredRoom
from .audiences import user_room
from .authz import HOSTS
from .errors import Code, ProtocolError, forbidden, not_found
from .protocol import ChatHistory, ChatSearch, ChatSend, RoomKind, RoomRef, check_text
from .sessions import Session

if TYPE_CHECKING:
    from .app import Percolate

log = logging.getLogger(__name__)


class Chat:
    def __init__(self, app: Percolate) -> None:
        self.app = app
        settings = app.settings
        self.limit = app.limiter("chat", settings.chat_rate, settings.chat_burst)

    async def send(self, session: Session, request: ChatSend) -> dict[str, Any]:
        app = self.app
        check_text(request.text, app.settings.max_text)
        if not await self.limit.allow(session.user.id):
            raise ProtocolError(Code.RATE_LIMITED, "you are sending too fast; slow down")
        # Everything that may wait happens before the append: between the commit and the
        # emit nothing awaits, so the room's messages go out in the order they were stored.
        stored = await self._may_chat(session, request.room)
        audience = self._audience(stored, request.room)
        try:
            message, created = await app.archive.append(
                request.room, session.user, request.text, request.client_msg_id
            )
        except NoSuchRoom:
            raise not_found("no such room") from None
        if created:
            # Only a message stored just now is broadcast: a retried client_msg_id gets its
            # ack again but nobody sees the message twice.
            await app.sio.emit("chat:message", message, room=audience)
        return {"message": message}

    @staticmethod
    def _audience(stored: StoredRoom | None, room: str) -> str | list[str]:
        """A room's Socket.IO room, or for a direct message both users wherever they are."""
        pair = stored.dm_users if stored is not None else None
        return [user_room(pair[0]), user_room(pair[1])] if pair else room

    async def history(self, session: Session, request: ChatHistory) -> dict[str, Any]:
        limit = min(request.limit or self.app.settings.join_history, self.app.settings.max_page)
        messages = await self.app.archive.history(
            request.room, before=request.before, after=request.after, limit=limit
        )
        return {"messages": messages}

    async def search(self, session: Session, request: ChatSearch) -> dict[str, Any]:
        limit = min(request.limit or 20, self.app.settings.max_page)
        return {"messages": await self.app.archive.search(request.room, request.query, limit)}

    async def _may_chat(self, session: Session, room: str) -> StoredRoom | None:
        """The room, unless a host turned chat off there for everyone but hosts."""
        stored = await self.app.rooms.stored(room)
        if (
            stored is not None
            and stored.kind is RoomKind.WORKSHOP
            and session.rooms[room].role not in HOSTS
            and not (await self.app.archive.room_state(room)).chat_enabled
        ):
            raise forbidden("the host turned chat off")
        return stored

    async def typing(self, session: Session, request: RoomRef) -> dict[str, Any]:
        await self._may_chat(session, request.room)
        await self.app.sio.emit(
            "chat:typing",
            {"room": request.room, "user": session.user},
            room=request.room,
            skip_sid=session.sid,
        )
        return {}
