"""Presence in Redis, shared by every server process.

Keys (``P`` is the configured prefix):

- ``P:deadlines`` sorted set of ``"room user conn"`` scored by the deadline (ms, Redis clock);
- ``P:n:<room>`` hash user -> number of attached connections;
- ``P:m:<room>`` hash user -> member JSON;
- ``P:c:<room>:<user>`` set of the user's connections attached to the room;
- ``P:u:<user>`` set of rooms the user is in.

Every change runs as a Lua script, so the connection count, the member and the deadline move
together and two processes reaping the same expired entry cannot both announce the leave
(``ZREM`` succeeds for one of them only). Deadlines use Redis's clock (``TIME``) so processes
on machines with skewed clocks agree. Keys are built inside the scripts, which is fine on a
single Redis or a replicated pair but not on Redis Cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import Unavailable
from ..protocol import Member, Role
from . import ONLINE, Attachment, Change

log = logging.getLogger(__name__)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] deadlines; ARGV: prefix, ttl_ms, merge, then (room, user, conn, member) * n.
_ATTACH = (
    _NOW
    + """
local p = ARGV[1]
local deadline = now + tonumber(ARGV[2])
local merge = ARGV[3] == '1'
local added = {}
for i = 4, #ARGV, 4 do
  local room, user, conn, member = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local is_new = redis.call('ZADD', KEYS[1], deadline, room .. ' ' .. user .. ' ' .. conn)
  local count = -1
  if is_new == 1 then
    count = redis.call('HINCRBY', p .. ':n:' .. room, user, 1)
    redis.call('SADD', p .. ':c:' .. room .. ':' .. user, conn)
  end
  if count == 1 then
    redis.call('HSET', p .. ':m:' .. room, user, member)
    redis.call('SADD', p .. ':u:' .. user, room)
    table.insert(added, room)
    table.insert(added, member)
  elseif merge then
    local old = redis.call('HGET', p .. ':m:' .. room, user)
    if old then
      local m = cjson.decode(old)
      local given = cjson.decode(member)
      m['name'] = given['name']
      m['role'] = given['role']
      redis.call('HSET', p .. ':m:' .. room, user, cjson.encode(m))
    else
      redis.call('HSET', p .. ':m:' .. room, user, member)
    end
  end
end
return added
"""
)

# Shared by remove and reap: detach one "room user conn" entry; returns the member if it was
# the user's last connection in the room.
_DETACH = """
local function detach(p, deadlines, entry)
  if redis.call('ZREM', deadlines, entry) == 0 then
    return nil
  end
  local room, user, conn = string.match(entry, '^(%S+) (%S+) (%S+)$')
  redis.call('SREM', p .. ':c:' .. room .. ':' .. user, conn)
  local count = redis.call('HINCRBY', p .. ':n:' .. room, user, -1)
  if count > 0 then
    return nil
  end
  redis.call('HDEL', p .. ':n:' .. room, user)
  local member = redis.call('HGET', p .. ':m:' .. room, user)
  redis.call('HDEL', p .. ':m:' .. room, user)
  redis.call('SREM', p .. ':u:' .. user, room)
  if member then
    return {room, member}
  end
  return nil
end
"""

# KEYS[1] deadlines; ARGV: prefix, entry.
_REMOVE = (
    _DETACH
    + """
local gone = detach(ARGV[1], KEYS[1], ARGV[2])
if gone then
  return gone[2]
end
return false
"""
)

# KEYS[1] deadlines; ARGV: prefix, max entries.
_REAP = (
    _NOW
    + _DETACH
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local left = {}
for _, entry in ipairs(expired) do
  local gone = detach(ARGV[1], KEYS[1], entry)
  if gone then
    table.insert(left, gone[1])
    table.insert(left, gone[2])
  end
end
return left
"""
)

# KEYS[1] deadlines; ARGV: prefix, room, user.
_EVICT = (
    _DETACH
    + """
local p, room, user = ARGV[1], ARGV[2], ARGV[3]
local gone = false
for _, conn in ipairs(redis.call('SMEMBERS', p .. ':c:' .. room .. ':' .. user)) do
  local left = detach(p, KEYS[1], room .. ' ' .. user .. ' ' .. conn)
  if left then
    gone = left[2]
  end
end
return gone
"""
)

# KEYS[1] deadlines; ARGV: entry, after_ms.
_EXPIRE = (
    _NOW
    + """
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
"""
)

# ARGV: prefix, room, user, camera, mic, screen ("1", "0", or "" to leave), role ("" to leave).
_UPDATE = """
local key = ARGV[1] .. ':m:' .. ARGV[2]
local old = redis.call('HGET', key, ARGV[3])
if not old then
  return false
end
local m = cjson.decode(old)
for i, field in ipairs({'camera', 'mic', 'screen'}) do
  if ARGV[3 + i] ~= '' then
    m[field] = ARGV[3 + i] == '1'
  end
end
if ARGV[7] ~= '' then
  m['role'] = ARGV[7]
end
local new = cjson.encode(m)
redis.call('HSET', key, ARGV[3], new)
return new
"""

_REAP_BATCH = 1000
_decoder = msgspec.json.Decoder(Member)
_encode = msgspec.json.encode


def _flag(value: bool | None) -> str:
    return "" if value is None else "1" if value else "0"


class RedisPresence:
    name = "redis"

    def __init__(self, url: str, prefix: str = "pc") -> None:
        self.url = url
        self.prefix = prefix
        self._deadlines = f"{prefix}:deadlines"
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, retry_on_timeout=False
        )
        self._attach = self.redis.register_script(_ATTACH)
        self._remove = self.redis.register_script(_REMOVE)
        self._reap = self.redis.register_script(_REAP)
        self._expire = self.redis.register_script(_EXPIRE)
        self._update = self.redis.register_script(_UPDATE)
        self._evict = self.redis.register_script(_EVICT)

    def __repr__(self) -> str:
        return f"RedisPresence({self.prefix})"

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise Unavailable(f"redis: {exc}") from exc

    async def start(self) -> None:
        await self._call(self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()

    async def healthy(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def attach(
        self, entries: Sequence[Attachment], ttl: float, *, merge: bool
    ) -> list[Change]:
        if not entries:
            return []
        args: list[str | bytes] = [self.prefix, str(int(ttl * 1000)), _flag(merge)]
        for room, member, conn in entries:
            args += [room, member.id, conn, _encode(member)]
        added = await self._call(self._attach(keys=[self._deadlines], args=args))
        return self._changes(added)

    async def expire(self, room: str, user_id: str, conn: str, after: float) -> None:
        await self._call(
            self._expire(
                keys=[self._deadlines], args=[f"{room} {user_id} {conn}", int(after * 1000)]
            )
        )

    async def remove(self, room: str, user_id: str, conn: str) -> Member | None:
        gone = await self._call(
            self._remove(keys=[self._deadlines], args=[self.prefix, f"{room} {user_id} {conn}"])
        )
        return _decoder.decode(gone) if gone else None

    async def reap(self) -> list[Change]:
        left = await self._call(self._reap(keys=[self._deadlines], args=[self.prefix, _REAP_BATCH]))
        return self._changes(left)

    @staticmethod
    def _changes(flat: list[bytes]) -> list[Change]:
        return [
            Change(flat[i].decode(), _decoder.decode(flat[i + 1])) for i in range(0, len(flat), 2)
        ]

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
        flags = [_flag(value) for value in (camera, mic, screen)]
        args = [self.prefix, room, user_id, *flags, role.value if role else ""]
        new = await self._call(self._update(args=args))
        return _decoder.decode(new) if new else None

    async def evict(self, room: str, user_id: str) -> Member | None:
        gone = await self._call(
            self._evict(keys=[self._deadlines], args=[self.prefix, room, user_id])
        )
        return _decoder.decode(gone) if gone else None

    async def members(self, room: str) -> list[Member]:
        values = await self._call(self.redis.hvals(f"{self.prefix}:m:{room}"))
        return [_decoder.decode(value) for value in values]

    async def member(self, room: str, user_id: str) -> Member | None:
        value = await self._call(self.redis.hget(f"{self.prefix}:m:{room}", user_id))
        return _decoder.decode(value) if value else None

    async def counts(self, rooms: Sequence[str]) -> list[int]:
        if not rooms:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.hlen(f"{self.prefix}:m:{room}")
            counts = await self._call(pipe.execute())
        return [int(count) for count in counts]

    async def rooms_of(self, user_id: str) -> list[str]:
        rooms = await self._call(self.redis.smembers(f"{self.prefix}:u:{user_id}"))
        return sorted(room.decode() for room in rooms if room.decode() != ONLINE)
