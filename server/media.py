"""Media: camera/mic/screen state in presence, and relaying WebRTC signalling between members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signaling import relay

from .chat import joined
from .errors import bad_request, forbidden
from .protocol import MediaState, RoomKind, Signal
from .rooms import member_room
from .sessions import Session

if TYPE_CHECKING:
    from .app import Percolate

_VIDEO_KINDS = {RoomKind.COFFEE, RoomKind.WORKSHOP}


class Media:
    def __init__(self, app: Percolate) -> None:
        self.app = app

    async def _video_room(self, session: Session, room: str) -> None:
        joined(session, room)
        stored = await self.app.rooms.stored(room)
        if stored is None or stored.kind not in _VIDEO_KINDS:
            raise bad_request("this room has no video")

    async def state(self, session: Session, request: MediaState) -> dict[str, Any]:
        app = self.app
        await self._video_room(session, request.room)
        member = await app.presence.update(
            request.room,
            session.user.id,
            camera=request.camera,
            mic=request.mic,
            screen=request.screen,
        )
        if member is None:
            raise forbidden("you are not in this room")
        session.rooms[request.room] = member
        await app.announce(request.room, "update", member)
        return {"member": member}

    async def signal(self, session: Session, request: Signal) -> dict[str, Any]:
        app = self.app
        await self._video_room(session, request.room)
        if request.to == session.user.id:
            raise bad_request("cannot signal yourself")
        relay.check(request.type, request.data, app.settings.max_signal_bytes)
        if await app.presence.member(request.room, request.to) is None:
            raise forbidden("that user is not in this room")
        await app.sio.emit(
            "signal",
            {
                "room": request.room,
                "from": session.user.id,
                "type": request.type,
                "data": request.data,
            },
            room=member_room(request.room, request.to),
        )
        return {}
