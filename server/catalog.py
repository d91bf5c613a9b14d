"""The catalog: rooms as the archive stores them, cached in this process.

Nothing of a stored room changes after ``room:create`` (a feature that changes one must drop
it from this cache), and every room a connection of this process uses passed through
``room:join`` first, so the cache serves every later look-up of a room without the archive.
"""

from __future__ import annotations

from .archive import Archive, StoredRoom


class Catalog:
    def __init__(self, archive: Archive) -> None:
        self._archive = archive
        self._rooms: dict[str, StoredRoom] = {}

    async def get(self, room_id: str) -> StoredRoom | None:
        room = self._rooms.get(room_id)
        if room is None:
            room = await self._archive.get_room(room_id)
            if room is not None:
                self._rooms[room_id] = room
        return room
