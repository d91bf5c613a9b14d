"""Fan-out between server processes: python-socketio's Redis manager, closed cleanly.

Every emit is published on one Redis channel that every process decodes; a process delivers
it to whichever of the addressed connections it holds. The stock manager has no way to stop
its listener or close its connections, which a server that stops cleanly (and a test suite
with ``filterwarnings = error``) needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio


class RedisFanout(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, channel: str, json: Any) -> None:
        super().__init__(url, channel=channel, json=json)

    async def close(self) -> None:
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task):
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await thread
        if getattr(self, "connected", False):
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
            with contextlib.suppress(Exception):
                await self.redis.aclose()
