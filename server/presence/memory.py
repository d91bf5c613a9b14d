"""Presence in this process's memory: the embedded default."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from ..protocol import Member, Role
from . import ONLINE, Attachment, Change

_Key = tuple[str, str, str]  # room, user id, connection


class MemoryPresence:
    name = "memory"

    def __init__(self) -> None:
        self._deadlines: dict[_Key, float] = {}
        self._members: dict[str, dict[str, Member]] = {}
        self._conns: dict[tuple[str, str], int] = {}
        self._rooms_of: dict[str, set[str]] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def healthy(self) -> bool:
        return True

    async def attach(
        self, entries: Sequence[Attachment], ttl: float, *, merge: bool
    ) -> list[Change]:
        deadline = time.monotonic() + ttl
        added: list[Change] = []
        for room, member, conn in entries:
            key = (room, member.id, conn)
            new_conn = key not in self._deadlines
            self._deadlines[key] = deadline
            members = self._members.setdefault(room, {})
            if new_conn:
                count = self._conns.get((room, member.id), 0) + 1
                self._conns[(room, member.id)] = count
                if count == 1:
                    members[member.id] = member
                    self._rooms_of.setdefault(member.id, set()).add(room)
                    added.append(Change(room, member))
                    continue
            if merge:
                old = members[member.id]
                members[member.id] = msgspec.structs.replace(
                    old, name=member.name, role=member.role
                )
        return added

    async def expire(self, room: str, user_id: str, conn: str, after: float) -> None:
        key = (room, user_id, conn)
        if key in self._deadlines:
            self._deadlines[key] = time.monotonic() + after

    async def remove(self, room: str, user_id: str, conn: str) -> Member | None:
        if self._deadlines.pop((room, user_id, conn), None) is None:
            return None
        count = self._conns[(room, user_id)] - 1
        if count > 0:
            self._conns[(room, user_id)] = count
            return None
        del self._conns[(room, user_id)]
        members = self._members[room]
        member = members.pop(user_id)
        if not members:
            del self._members[room]
        rooms = self._rooms_of[user_id]
        rooms.discard(room)
        if not rooms:
            del self._rooms_of[user_id]
        return member

    async def reap(self) -> list[Change]:
        now = time.monotonic()
        expired = [key for key, deadline in self._deadlines.items() if deadline <= now]
        left: list[Change] = []
        for room, user_id, conn in expired:
            member = await self.remove(room, user_id, conn)
            if member is not None:
                left.append(Change(room, member))
        return left

    async def update(
        self,
        room: str,
        user_id: str,
        *,
        camera: bool | None = None,
        mic: bool | None = None,
        screen: bool | None = None,
        role: Role | None = None,
    ) -> Member | None:
        members = self._members.get(room, {})
        old = members.get(user_id)
        if old is None:
            return None
        given = {"camera": camera, "mic": mic, "screen": screen, "role": role}
        changes = {name: value for name, value in given.items() if value is not None}
        members[user_id] = new = msgspec.structs.replace(old, **changes)
        return new

    async def evict(self, room: str, user_id: str) -> Member | None:
        gone = None
        for key in [k for k in self._deadlines if k[0] == room and k[1] == user_id]:
            gone = await self.remove(*key) or gone
        return gone

    async def members(self, room: str) -> list[Member]:
        return list(self._members.get(room, {}).values())

    async def member(self, room: str, user_id: str) -> Member | None:
        return self._members.get(room, {}).get(user_id)

    async def counts(self, rooms: Sequence[str]) -> list[int]:
        return [len(self._members.get(room, ())) for room in rooms]

    async def rooms_of(self, user_id: str) -> list[str]:
        return sorted(room for room in self._rooms_of.get(user_id, ()) if room != ONLINE)
