"""Rate limits: a token bucket per key (RFC 2697's single-rate idea, without colours)."""

from __future__ import annotations

import time


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
