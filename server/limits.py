"""Rate limits: a token bucket per key (RFC 2697's single-rate idea, without colours)."""

from __future__ import annotations

import logging
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

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


class Limits:
    """Makes the server's rate limits: shared through Redis when there is one, else local."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def limiter(self, name: str, rate: float, burst: int) -> Limiter:
        if self._redis is not None:
            return RedisLimiter(self._redis, f"{self._prefix}:rl:{name}", rate, burst)
        return LocalLimiter(rate, burst)
