"""Media: camera/mic/screen state in presence, and relaying WebRTC signalling between members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from signaling import relay

from .audiences import member_room
from .authz import STAGE
from .errors import bad_request, forbidden
from .protocol import MediaState, RoomKind, Signal
from .sessions import Session

if TYPE_CHECKING:
    from .app import Percolate


class Media:
    def __init__(self, app: Percolate) -> None:
        self.app = app

    async def state(self, session: Session, request: MediaState) -> dict[str, Any]:
        app = self.app
        role = session.rooms[request.room].role
        turning_on = request.camera or request.mic or request.screen
        if turning_on and await self._workshop(request.room) and role not in STAGE:
            raise forbidden("in a workshop only people on stage turn on camera, mic or screen")
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
        if request.to == session.user.id:
            raise bad_request("cannot signal yourself")
        relay.check(request.type, request.data, app.settings.max_signal_bytes)
        target = await app.presence.member(request.room, request.to)
        if target is None:
            raise forbidden("that user is not in this room")
        # In a workshop, media flows between the stage and everyone, never guest to guest.
        if (
            await self._workshop(request.room)
            and session.rooms[request.room].role not in STAGE
            and target.role not in STAGE
        ):
            raise forbidden("in a workshop guests connect only to people on stage")
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

    async def _workshop(self, room: str) -> bool:
        stored = await self.app.rooms.stored(room)
        return stored is not None and stored.kind is RoomKind.WORKSHOP
