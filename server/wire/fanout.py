"""Fan-out between server processes: emits and commands on one ordered Redis channel.

Every emit to a room (and every command between processes, ``command``) is published on one
Redis pub/sub channel, through redis-py's public API, in a format of our own (``Emit``,
``Command``): an emit carries the Socket.IO packet already encoded, so a process receiving it
only frames it once and writes that frame to its members of the room (``Broadcast.deliver``).
Every process, the emitting one too, delivers an emit when it comes back from the channel,
whose order is one for all: every member of a room, on any process, sees the same sequence.
While Redis is away (or this process is not subscribed), a process delivers to its own
connections at once; the others catch up by ``seq``.

What one process emits in one turn of the event loop (more under load) travels as one Redis
message, a JSON array, in the order emitted: one PUBLISH and one decode for many emits, and
on every process one pass over a room's members for a run of emits to it (``Fanout._drain``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import redis.asyncio

from ..tasks import cancel
from .codec import event_packet
from .sequencer import Sequencer
from .sockets import Broadcast

log = logging.getLogger(__name__)

RETRY = 1.0
"""Seconds between attempts to subscribe again after losing Redis."""

TIMEOUT = 2.0
"""Seconds a publish may take before Redis counts as away (and this process delivers alone)."""


class Emit(msgspec.Struct, tag="emit", omit_defaults=True):
    """A Socket.IO packet for the members of a room (or of a namespace) on every process."""

    packet: str
    """The encoded Socket.IO packet, as every recipient gets it."""
    namespace: str = "/"
    room: str | list[str] | None = None
    """A room, several, or ``None``: everyone in the namespace."""
    skip: list[str] = []
    """Socket.IO session ids that do not get it (the sender of a presence change, say)."""
    order: tuple[str, int] | None = None
    """A key and a position in it: every process delivers a key's emits in position order
    (``sequencer``)."""


class Command(msgspec.Struct, tag="command"):
    """A command for every process (``on_command``), never for a client."""

    payload: Any
    """JSON-able builtins, the dispatcher's to read."""


Message = Emit | Command


class Fanout(Broadcast):
    """The client manager of a process that shares its rooms with others through Redis."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.subscribed = asyncio.Event()
        """Set while this process is subscribed to the channel (``/healthz`` reports it)."""
        self.on_command: Callable[[Any], Awaitable[None]] | None = None
        """Receives every ``command``, on every process (the sender's too), in channel order."""
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(list[Message]).decode
        self._outbox: list[Message] = []
        self._waiting = asyncio.Event()
        """Set while the outbox holds something."""
        self._publisher: redis.asyncio.Redis | None = None
        self._listener: redis.asyncio.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sequencer: Sequencer[Emit] = Sequencer(self._deliver)
        self._ready: list[Emit] = []
        """Emits to deliver once the batch being applied is through (``_apply``)."""
        self._applying = 0

    async def start(self, wait: float = 2.0) -> None:
        """Start publishing and listening; wait up to ``wait`` seconds to be subscribed.

        (So a new process hears the others, and says so in ``/healthz``, before its first
        connection.)
        """
        # One connection of its own (no pool to take it from and give it back to for every
        # PUBLISH: a third of the client's time), used by the one publisher task.
        self._publisher = redis.asyncio.Redis.from_url(
            self.url,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            single_connection_client=True,
        )
        # No read timeout for the subscription: it waits as long as the channel is quiet.
        self._listener = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=TIMEOUT)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish(self._publisher), name="fan-out publisher"),
            loop.create_task(self._listen(self._listener), name="fan-out listener"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), wait)

    async def close(self) -> None:
        for task in self._tasks:
            await cancel(task, what=task.get_name())
        self._tasks = []
        for client in (self._publisher, self._listener):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._publisher = self._listener = None
        self._sequencer.close()

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if kwargs.get("ignore_queue") or callback is not None:
            # This process's connections only (what a command applies, a token for one
            # connection), now; or an emit with an ack (never used for a room).
            await super().emit(event, data, namespace, room, skip_sid, callback)
            return
        skip = skip_sid if isinstance(skip_sid, list) else [] if skip_sid is None else [skip_sid]
        namespace = namespace or "/"
        packet = event_packet(namespace, event, data)
        await self._send(Emit(packet, namespace, room, skip, kwargs.get("order")))

    async def command(self, payload: Any) -> None:
        """Run ``on_command(payload)`` on every process, this one too, in channel order."""
        await self._send(Command(payload))

    async def _send(self, message: Message) -> None:
        if not self._tasks:  # not started (or closed): there is nobody else to tell
            await self._apply([message])
            return
        self._outbox.append(message)
        self._waiting.set()

    async def _publish(self, client: redis.asyncio.Redis) -> None:
        # One publisher, so the channel gets this process's messages in the order they were
        # made; what piles up while a PUBLISH is under way goes in the next, together.
        away = False
        while True:
            await self._waiting.wait()
            self._waiting.clear()
            batch, self._outbox = self._outbox, []
            try:
                await client.publish(self.channel, self._encode(batch))
            except Exception as exc:
                if not away:
                    log.warning("fan-out channel=%s: Redis away, delivering here only: %s",
                                self.channel, exc)  # fmt: skip
                away = True
                await self._apply(batch)
                continue
            away = False
            if not self.subscribed.is_set():  # it will not come back to this process
                await self._apply(batch)

    async def _listen(self, client: redis.asyncio.Redis) -> None:
        # Subscribed again every RETRY seconds after losing Redis (python-socketio's manager
        # would double its wait up to a minute: a process deaf that long).
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        await self._received(message["data"])
                    elif message["type"] == "subscribe":
                        self.subscribed.set()
                        log.info("fan-out channel=%s: subscribed", self.channel)
            except Exception as exc:
                if self.subscribed.is_set():
                    log.warning("fan-out channel=%s: lost the subscription: %s", self.channel, exc)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(RETRY)

    async def _received(self, data: bytes) -> None:
        try:
            batch = self._decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("fan-out channel=%s: dropped a message that does not decode: %s",
                        self.channel, exc)  # fmt: skip
            return
        await self._apply(batch)

    async def _apply(self, batch: list[Message]) -> None:
        # The emits of a batch are gathered and written together (``_ready``): a member gets
        # a run of emits to its room in one piece, for one pass over the room's members. A
        # command (it may change who is in a room) waits for the emits before it.
        self._applying += 1
        try:
            for message in batch:
                try:
                    if not isinstance(message, Emit):
                        await self._drain()
                        if self.on_command is not None:
                            await self.on_command(message.payload)
                    elif message.order is not None:
                        await self._sequencer.put(*message.order, message)
                    else:
                        await self._deliver(message)
                except Exception:
                    kind = type(message).__name__
                    log.exception("fan-out channel=%s: a %s failed", self.channel, kind)
        finally:
            self._applying -= 1
        await self._drain()

    async def _deliver(self, emit: Emit) -> None:
        self._ready.append(emit)
        if not self._applying:  # the sequencer gave up waiting: outside any batch
            await self._drain()

    async def _drain(self) -> None:
        """Deliver the emits gathered, in order; a run of them to the same members at once."""
        while self._ready:
            ready, self._ready = self._ready, []
            for (namespace, room, skip), run in itertools.groupby(ready, _audience):
                try:
                    await self.deliver(namespace, room, skip, [emit.packet for emit in run])
                except Exception:
                    log.exception("fan-out channel=%s: an Emit failed", self.channel)


def _audience(emit: Emit) -> tuple[str, str | list[str] | None, list[str]]:
    return emit.namespace, emit.room, emit.skip
