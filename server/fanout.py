"""Fan-out between server processes: python-socketio's Redis manager, closed cleanly.

Every emit is published on one Redis channel that every process decodes; a process delivers
it to whichever of the addressed connections it holds. The stock manager has no way to stop
its listener or close its connections, which a server that stops cleanly (and a test suite
with ``filterwarnings = error``) needs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio

from .broadcast import Broadcast
from .control import CHANNEL
from .tasks import cancel

log = logging.getLogger(__name__)

RETRY = 1.0
"""Seconds between attempts to subscribe again after losing Redis."""


class RedisFanout(socketio.AsyncRedisManager, Broadcast):  # type: ignore[misc]
    def __init__(self, url: str, channel: str, json: Any) -> None:
        super().__init__(url, channel=channel, json=json)
        self._emitting = asyncio.Lock()
        self.subscribed = asyncio.Event()
        """Set while this process is subscribed to the channel (``/healthz`` reports it)."""
        self.on_control: Callable[[Any], Awaitable[None]] | None = None
        """Receives the server's own commands (``server.control``) instead of clients."""

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        # The stock listener doubles its wait after each failure up to a minute, so after a
        # Redis outage a process could stay deaf for that long; this one retries every
        # RETRY seconds at most, and records whether it is subscribed.
        while True:
            try:
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                self.subscribed.set()
                log.info("redis fan-out listening on %s", self.channel)
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                self.subscribed.clear()
                raise
            except Exception as exc:
                if self.subscribed.is_set():
                    log.warning("redis fan-out lost its subscription: %s", exc)
                self.subscribed.clear()
                await asyncio.sleep(RETRY)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # Called for this process's own emits and for every other process's: commands end
        # here, on every process, and never reach a client.
        if message.get("event") == CHANNEL:
            if self.on_control is not None:
                await self.on_control(message["data"][0])
            return
        await super()._handle_emit(message)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        # The stock emit delivers to this process's connections first, then publishes: two
        # processes emitting at once each deliver their own first, and their members see the
        # two messages in opposite orders. Here every process, this one included, delivers
        # an emit when it comes back from the channel, whose order is one for all: every
        # member of a room sees the same sequence. One emit at a time (the lock is FIFO) keeps
        # this process's emits in the order it made them.
        room = to or room
        if kwargs.get("ignore_queue") or callback is not None:
            # Local only (and what a command applies while the lock is held), or an emit
            # with an ack (never used for a room): the stock way.
            await super().emit(
                event,
                data,
                namespace=namespace or "/",
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                **kwargs,
            )
            return
        data = list(data) if isinstance(data, tuple) else [data]
        binary = self.server.packet_class.uses_binary_events and (
            socketio.packet.Packet.data_is_binary(data)
        )
        if binary:
            data, attachments = socketio.packet.Packet.deconstruct_binary(data)
            data = [data, *[base64.b64encode(a).decode() for a in attachments]]
        message = {
            "method": "emit",
            "event": event,
            "data": data,
            "binary": binary,
            "namespace": namespace or "/",
            "room": room,
            "skip_sid": skip_sid,
            "callback": None,
            # No host: the listener of every process, this one's too, delivers it.
            "host_id": None,
        }
        async with self._emitting:
            published = await self._publish(message)
            if published is None or not self.subscribed.is_set():
                # Redis is away (or this process is not listening): this process's own
                # connections still get it, now; the others fill the gap by seq later.
                await self._handle_emit(message)

    async def close(self) -> None:
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task):
            await cancel(thread, what="redis fan-out listener")
        if getattr(self, "connected", False):
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
            with contextlib.suppress(Exception):
                await self.redis.aclose()
