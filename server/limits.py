"""Rate limits: a token bucket per key (RFC 2697's single-rate idea, without colours)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .tasks import cancel

log = logging.getLogger(__name__)


class TokenBucket:
    """Allows ``burst`` events at once and ``rate`` per second sustained, per key."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None, *, peek: bool = False) -> bool:
        """Take a token for ``key`` if there is one; with ``peek``, only say if there is."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if peek:
            return tokens >= 1.0
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def known(self, key: str) -> bool:
        """Whether ``key`` has a bucket here (it was charged and not forgotten since)."""
        return key in self._buckets

    def _forget_full(self, now: float) -> None:
        # Buckets that have refilled carry no state worth keeping.
        refill = self.burst / self.rate if self.rate > 0 else float("inf")
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}


class Limiter(Protocol):
    """A token bucket per key, in this process or shared by every process."""

    async def allow(self, key: str, *, peek: bool = False) -> bool: ...


class LocalLimiter:
    """The embedded default: buckets in this process's memory."""

    def __init__(self, rate: float, burst: int) -> None:
        self._bucket = TokenBucket(rate, burst)

    async def allow(self, key: str, *, peek: bool = False) -> bool:
        return self._bucket.allow(key, peek=peek)


# KEYS[1] the bucket; ARGV: rate per second, burst, peek ("1"/"0"). Redis's clock, so every
# process drains the same bucket at the same pace.
_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
if ARGV[3] == '1' then
  return tokens >= 1 and 1 or 0
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate + 1) * 1000))
return allowed
"""


class RedisLimiter:
    """Buckets in Redis, so a limit holds across processes (a client cannot dodge it by
    reconnecting to another one). If Redis is unreachable the limit is not enforced: the
    server keeps serving, and says so in its log."""

    def __init__(self, redis: aioredis.Redis, name: str, rate: float, burst: int) -> None:
        self._prefix = name
        self._args = [repr(rate), str(burst)]
        self._script = redis.register_script(_BUCKET)

    async def allow(self, key: str, *, peek: bool = False) -> bool:
        try:
            allowed = await self._script(
                keys=[f"{self._prefix}:{key}"], args=[*self._args, "1" if peek else "0"]
            )
        except (RedisError, OSError) as exc:
            log.warning("limit=%s not enforced, redis unreachable: %s", self._prefix, exc)
            return True
        return bool(allowed)


SYNC = 0.05
"""Seconds a ``SyncedLimiter`` gathers what it allowed before telling Redis, in one call."""

# KEYS the buckets; ARGV: rate per second, burst, then per key the tokens spent. Returns per
# key the tokens left, which may be below zero: what other processes allowed before they
# heard is paid back before the next token.
_SPEND = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local left = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(v[1]) or burst
  local at = tonumber(v[2]) or now
  tokens = math.min(burst, tokens + (now - at) * rate) - tonumber(ARGV[i + 2])
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(((burst - tokens) / rate + 1) * 1000))
  left[i] = tostring(tokens)
end
return left
"""


class SyncedLimiter:
    """Buckets in this process, synced with Redis every ``SYNC`` seconds: for a hot path.

    A request is answered at once, from this process's bucket for its key and from what
    Redis last said of the shared one; what was allowed goes to Redis afterwards, every key
    together in one call. So no request waits for a round trip, and the limit holds across
    processes a moment late: a key used on several processes at once may get, on each of
    them, up to a burst before Redis's answer comes back (docs/security.md, Limits). The
    first request for a key this process has not charged yet asks Redis first, so a key
    spent elsewhere is refused here too. If Redis is unreachable, each process still holds
    its own bucket.
    """

    def __init__(self, redis: aioredis.Redis, name: str, rate: float, burst: int) -> None:
        self._prefix = name
        self._rate = rate
        self._args = [repr(rate), str(burst)]
        self._script = redis.register_script(_SPEND)
        self._bucket = TokenBucket(rate, burst)
        self._spent: dict[str, int] = {}
        """Tokens allowed here per key since the last sync."""
        self._empty: dict[str, float] = {}
        """Keys whose shared bucket Redis said was empty, and until when (``time.monotonic``)."""
        self._syncing: asyncio.Task[None] | None = None

    async def allow(self, key: str, *, peek: bool = False) -> bool:
        until = self._empty.get(key)
        if until is not None:
            if time.monotonic() < until:
                return False
            del self._empty[key]
        if not self._bucket.known(key) and not await self._ask(key):
            return False
        if not self._bucket.allow(key, peek=peek):
            return False
        if not peek:
            self._spent[key] = self._spent.get(key, 0) + 1
            if self._syncing is None:
                self._syncing = asyncio.get_running_loop().create_task(self._sync())
        return True

    async def close(self) -> None:
        """Stop syncing (what was allowed since the last sync stays this process's)."""
        if self._syncing is not None:
            await cancel(self._syncing, what=f"limit={self._prefix} sync")

    async def _ask(self, key: str) -> bool:
        """Whether the shared bucket of a key new to this process has a token."""
        left = await self._spend({key: 0})
        return left is None or left.get(key, 1.0) >= 1.0

    async def _sync(self) -> None:
        try:
            while self._spent:
                await asyncio.sleep(SYNC)
                spent, self._spent = self._spent, {}
                await self._spend(spent)
        finally:
            self._syncing = None

    async def _spend(self, spent: dict[str, int]) -> dict[str, float] | None:
        """Charge the shared buckets; mark the ones left empty. None: Redis is unreachable."""
        keys = list(spent)
        try:
            answer = await self._script(
                keys=[f"{self._prefix}:{key}" for key in keys],
                args=[*self._args, *(str(spent[key]) for key in keys)],
            )
        except (RedisError, OSError) as exc:
            log.warning("limit=%s shared across processes not enforced, redis unreachable: %s",
                        self._prefix, exc)  # fmt: skip
            return None
        left = {key: float(tokens) for key, tokens in zip(keys, answer, strict=True)}
        now = time.monotonic()
        if len(self._empty) > self._bucket.max_keys:
            self._empty = {key: until for key, until in self._empty.items() if until > now}
        for key, tokens in left.items():
            if tokens < 1.0:
                self._empty[key] = now + (1.0 - tokens) / self._rate
        return left


class Limits:
    """Makes the server's rate limits: shared through Redis when there is one, else local."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._synced: list[SyncedLimiter] = []

    def limiter(self, name: str, rate: float, burst: int, *, hot: bool = False) -> Limiter:
        """A limit per key; ``hot``: on a path where a Redis round trip per request costs
        throughput, shared a moment late (``SyncedLimiter``) instead of exactly."""
        if self._redis is None:
            return LocalLimiter(rate, burst)
        key = f"{self._prefix}:rl:{name}"
        if not hot:
            return RedisLimiter(self._redis, key, rate, burst)
        limiter = SyncedLimiter(self._redis, key, rate, burst)
        self._synced.append(limiter)
        return limiter

    async def close(self) -> None:
        """Stop the limits' own tasks (before Redis is closed)."""
        for limiter in self._synced:
            await limiter.close()
