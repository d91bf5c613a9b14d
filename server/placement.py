"""Placement: which server process holds a room's SFU media (docs/sfu-design.md 3.5).

A room's media lives in one process. The first process that needs it claims the room; the
claim lives ``ttl`` seconds unless its process renews it, so a crashed process's rooms free up
on their own and the next claimer takes over with a new epoch (clients act on one that
differs from theirs: a Redis that restarted empty counts from 1 again). Two backends, one
behaviour (``tests/test_placement.py`` runs against both): ``memory`` for the embedded mode
and ``redis`` for several processes.

Keys in Redis (``P`` is the configured prefix; room ids never contain ``:``):

- ``P:media:<room>`` hash ``process``, ``url`` (``""`` for none), ``mode``, ``epoch``;
  ``PEXPIRE ttl``, pushed forward by the owner's ``renew``;
- ``P:media:epoch:<room>`` ``INCR`` counter, one day's ``EXPIRE`` refreshed by every claim and
  renew, so it outlives the claim and the next owner's epoch is higher.

Claim, renew and release are Lua scripts: the check of who owns the room and the write that
follows run as one step, so two processes racing can never both create a claim, and a process
whose claim expired and was taken over cannot extend or delete the new owner's. TTLs run on
Redis's clock, so processes with skewed clocks agree. Claim touches two keys and renew many:
fine on a single Redis or a replicated pair, but on Redis Cluster they would need one hash slot.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .errors import Unavailable
from .protocol import MediaMode

_EPOCH_TTL = 24 * 3600  # seconds an epoch counter outlives the last claim or renew of its room


def new_process_id() -> str:
    """A random id for this process start: a restarted process is a new owner."""
    return secrets.token_urlsafe(9)


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    process: str
    """Id of the owning process (``new_process_id``, random per process start)."""
    url: str | None
    """That process's ``Settings.media_url`` (None: clients use the server they are on)."""
    mode: MediaMode
    """How the room's video flows; the server claims rooms for the SFU only."""
    epoch: int
    """Grows by one on every new claim of the room; 1 for the first ever."""


class Placement(Protocol):
    process: str

    async def claim(self, room: str, mode: MediaMode) -> tuple[Claim, bool]:
        """The room's live claim, made by this process if there was none; bool = this call
        created it."""

    async def read(self, room: str) -> Claim | None:
        """The room's live claim, or None."""

    async def renew(self, rooms: Sequence[str]) -> list[str]:
        """Push the TTL of these rooms' claims forward where this process still owns them;
        return the rooms it no longer owns (expired, or taken by another process)."""

    async def release(self, room: str) -> None:
        """Delete the room's claim if this process owns it."""

    async def close(self) -> None: ...


class MemoryPlacement:
    """Claims in this process's memory: the embedded mode, where every room is local."""

    def __init__(self, process: str, url: str | None, ttl: float) -> None:
        self.process = process
        self.url = url
        self.ttl = ttl
        self._claims: dict[str, tuple[Claim, float]] = {}  # room -> claim, monotonic deadline
        # Kept after a claim ends, like the counter in Redis, so a later claim's epoch is higher.
        self._epochs: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"MemoryPlacement({self.process})"

    def _live(self, room: str) -> Claim | None:
        held = self._claims.get(room)
        if held is None:
            return None
        if held[1] <= time.monotonic():
            del self._claims[room]
            return None
        return held[0]

    async def claim(self, room: str, mode: MediaMode) -> tuple[Claim, bool]:
        live = self._live(room)
        if live is not None:
            return live, False
        epoch = self._epochs.get(room, 0) + 1
        self._epochs[room] = epoch
        claim = Claim(self.process, self.url, mode, epoch)
        self._claims[room] = (claim, time.monotonic() + self.ttl)
        return claim, True

    async def read(self, room: str) -> Claim | None:
        return self._live(room)

    async def renew(self, rooms: Sequence[str]) -> list[str]:
        deadline = time.monotonic() + self.ttl
        lost = []
        for room in rooms:
            live = self._live(room)
            if live is not None and live.process == self.process:
                self._claims[room] = (live, deadline)
            else:
                lost.append(room)
        return lost

    async def release(self, room: str) -> None:
        live = self._live(room)
        if live is not None and live.process == self.process:
            del self._claims[room]

    async def close(self) -> None:
        pass


# KEYS: claim, epoch counter; ARGV: process, url, mode, ttl_ms, epoch_ttl_s.
# Returns process, url, mode, epoch, 1 if this call created the claim else 0.
_CLAIM = """
local held = redis.call('HMGET', KEYS[1], 'process', 'url', 'mode', 'epoch')
if held[1] then
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  return {held[1], held[2], held[3], held[4], 0}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[1], 'process', ARGV[1], 'url', ARGV[2], 'mode', ARGV[3], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {ARGV[1], ARGV[2], ARGV[3], epoch, 1}
"""

# KEYS: (claim, epoch counter) * n; ARGV: process, ttl_ms, epoch_ttl_s.
# Returns the 1-based positions of the rooms this process no longer owns.
_RENEW = """
local lost = {}
for i = 1, #KEYS, 2 do
  if redis.call('HGET', KEYS[i], 'process') == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    redis.call('EXPIRE', KEYS[i + 1], ARGV[3])
  else
    table.insert(lost, (i + 1) / 2)
  end
end
return lost
"""

# KEYS: claim; ARGV: process.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'process') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: bytes | str) -> str:
    # Works with clients made with or without decode_responses.
    return value.decode() if isinstance(value, bytes) else value


def _claim(process: Any, url: Any, mode: Any, epoch: Any) -> Claim:
    return Claim(_text(process), _text(url) or None, MediaMode(_text(mode)), int(epoch))


class RedisPlacement:
    """Claims in Redis, shared by every server process.

    The client belongs to the caller (the app passes presence's), so ``close`` leaves it open.
    """

    def __init__(
        self, redis: aioredis.Redis, prefix: str, process: str, url: str | None, ttl: float
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.process = process
        self.url = url
        self.ttl = ttl
        self._ttl_ms = max(1, round(ttl * 1000))
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisPlacement({self.prefix} {self.process})"

    def _keys(self, room: str) -> list[str]:
        return [f"{self.prefix}:media:{room}", f"{self.prefix}:media:epoch:{room}"]

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise Unavailable(f"redis: {exc}") from exc

    async def claim(self, room: str, mode: MediaMode) -> tuple[Claim, bool]:
        args: list[str | int] = [self.process, self.url or "", mode.value, self._ttl_ms, _EPOCH_TTL]
        held = await self._call(self._claim(keys=self._keys(room), args=args))
        return _claim(*held[:4]), held[4] == 1

    async def read(self, room: str) -> Claim | None:
        fields = ("process", "url", "mode", "epoch")
        held = await self._call(self.redis.hmget(f"{self.prefix}:media:{room}", fields))
        return None if held[0] is None else _claim(*held)

    async def renew(self, rooms: Sequence[str]) -> list[str]:
        if not rooms:
            return []
        keys = [key for room in rooms for key in self._keys(room)]
        args: list[str | int] = [self.process, self._ttl_ms, _EPOCH_TTL]
        lost = await self._call(self._renew(keys=keys, args=args))
        return [rooms[int(i) - 1] for i in lost]

    async def release(self, room: str) -> None:
        await self._call(self._release(keys=self._keys(room)[:1], args=[self.process]))

    async def close(self) -> None:
        pass  # the client is the caller's to close
