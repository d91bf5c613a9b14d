"""Fan-out between server processes: python-socketio's Redis manager, closed cleanly.

Every emit is published on one Redis channel that every process decodes; a process delivers
it to whichever of the addressed connections it holds. The stock manager has no way to stop
its listener or close its connections, which a server that stops cleanly (and a test suite
with ``filterwarnings = error``) needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio

log = logging.getLogger(__name__)


class RedisFanout(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, channel: str, json: Any) -> None:
        super().__init__(url, channel=channel, json=json)
        self._publishing = asyncio.Lock()

    async def _publish(self, data: Any) -> Any:
        # Concurrent publishes would go out on different pooled connections and could reach
        # Redis out of order; one at a time (asyncio.Lock is FIFO) keeps the order of emits,
        # so every process delivers a room's messages in the order they were stored.
        async with self._publishing:
            return await super()._publish(data)

    async def close(self) -> None:
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task):
            # redis-py may swallow a cancellation inside its connection code and go on to the
            # manager's retry sleep; cancelling again once it gets there ends it. Bounded.
            for _ in range(50):
                thread.cancel()
                await asyncio.wait([thread], timeout=0.1)
                if thread.done():
                    break
            else:
                log.warning("redis fan-out listener did not stop")
        if getattr(self, "connected", False):
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
            with contextlib.suppress(Exception):
                await self.redis.aclose()
