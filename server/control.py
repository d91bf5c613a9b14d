"""Commands between server processes, for what a host does to a member on another process.

A host's action changes shared state (presence, the archive) at once, but each process also
keeps its own view of its connections (``Session.rooms``: which rooms, with which role). A
command tells every process to bring that view in line: drop a removed member's connections
from the room, or take a new role. Commands travel on the Socket.IO fan-out channel as an
emit to a room nobody joins, intercepted by ``RedisFanout``; with one process they apply
directly. Like every emit there, a command is lost while Redis is down (docs/architecture.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

from .audiences import host_room
from .authz import HOSTS
from .protocol import Member

if TYPE_CHECKING:
    from .app import Percolate

log = logging.getLogger(__name__)

CHANNEL = "~control"
"""The event name and the room name that carry commands; no client can join that room."""


class Evict(msgspec.Struct, tag="evict"):
    """The user's connections leave the room: removed by a host, or the workshop ended."""

    room: str
    user: str
    reason: str


class Recast(msgspec.Struct, tag="recast"):
    """The user's member in the room changed (role, or media a host turned off)."""

    room: str
    member: Member


class Restate(msgspec.Struct, tag="restate"):
    """The member turned their camera, microphone or screen on or off (``media:state``)."""

    room: str
    member: Member


Command = Evict | Recast | Restate


class Control:
    def __init__(self, app: Percolate) -> None:
        self.app = app
        if app.fanout is not None:
            app.fanout.on_control = self.apply

    async def send(self, command: Command) -> None:
        if self.app.fanout is None:
            await self._apply(command)
        else:
            # The fan-out runs apply() here and on every other process.
            await self.app.sio.emit(CHANNEL, msgspec.to_builtins(command), room=CHANNEL)

    async def apply(self, data: Any) -> None:
        try:
            command: Command = msgspec.convert(data, Command)
        except msgspec.ValidationError as exc:
            log.warning("control: ignored a command that does not decode: %s", exc)
            return
        await self._apply(command)

    async def _apply(self, command: Command) -> None:
        app = self.app
        if isinstance(command, Evict):
            for session in app.sessions.in_room(command.user, command.room):
                await app.rooms.forget(session, command.room)
                await app.media.leave(session.sid, command.room)
                await app.sio.emit(
                    "room:removed",
                    {"room": command.room, "reason": command.reason},
                    to=session.sid,
                    ignore_queue=True,
                )
        elif isinstance(command, Restate):
            app.media.restate(command.room, command.member)
        else:
            room, member = command.room, command.member
            app.media.restate(room, member)
            for session in app.sessions.in_room(member.id, room):
                session.rooms[room] = member
                if member.role in HOSTS:
                    await app.sio.enter_room(session.sid, host_room(room))
                else:
                    await app.sio.leave_room(session.sid, host_room(room))
