"""The catalog: rooms as the archive stores them, cached in this process.

A stored room changes only by ``room:edit`` (its title and description), which drops it from
this cache on every process (the ``Forget`` command); every room a connection of this process
uses passed through ``room:join`` first, so the cache serves every later look-up of a room
without the archive.
"""

from __future__ import annotations

import msgspec

from .archive import Archive, StoredRoom
from .control import Control


class Forget(msgspec.Struct, tag="forget"):
    """A room changed in the archive: every process reads it again."""

    room: str


class Catalog:
    def __init__(self, archive: Archive, control: Control) -> None:
        self._archive = archive
        self._rooms: dict[str, StoredRoom] = {}
        self._control = control
        control.register(Forget, self._forget)

    async def changed(self, room_id: str) -> None:
        """Tell every process (this one at once) that the room changed in the archive."""
        self._rooms.pop(room_id, None)
        await self._control.send(Forget(room=room_id))

    async def _forget(self, command: Forget) -> None:
        self._rooms.pop(command.room, None)

    async def get(self, room_id: str) -> StoredRoom | None:
        room = self._rooms.get(room_id)
        if room is None:
            room = await self._archive.get_room(room_id)
            if room is not None:
                self._rooms[room_id] = room
        return room
