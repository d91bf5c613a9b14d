"""Fan-out at wire speed: one encoding per broadcast, one ready WebSocket frame for everyone.

python-socketio encodes a room broadcast once, but then makes one task per recipient; each
task puts the packet on the recipient's Engine.IO queue, whose writer task wakes up (through
``asyncio.wait_for``, one more task), encodes the Engine.IO packet again and has aiohttp
build a WebSocket frame, compressing it if the client offered permessage-deflate. For a room
of 200 that is 600 task switches and 200 frame builds per message; and every idle member
costs some six live tasks (the writer, the task under it, one per pending read, one per
ping).

Here a WebSocket connection is served by its own request task alone (``Stream._serve``):
once it is up, every packet sent to it is written to its socket at once, in call order (so
nothing overtakes anything), a connection's frames of one turn of the event loop in one
``write``; pings are timers. A broadcast builds its WebSocket frame once and hands the same
bytes to every WebSocket member. Long-polling members, and WebSocket members until their
upgrade is done, get packets through Engine.IO's queue as before (``_take_over`` empties it
first). A member with more than ``backlog`` bytes unsent (``MAX_BACKLOG_KIB``: it stopped
reading) is disconnected.

Pieces, each on a seam the libraries offer or that ``check`` verifies:

* ``Engine``, the Engine.IO server (``socketio.AsyncServer._engineio_server_class``), keeps
  each WebSocket connection's ``Stream`` and sends single packets (acks, events to one sid)
  the same direct way;
* ``Stream``, engineio's aiohttp WebSocket driver (``engineio_server._async['websocket']``),
  runs the connection in place of engineio's ``AsyncSocket._websocket_handler`` (the same
  upgrade, ``receive`` and ``close``; its ``send`` and ``schedule_ping`` replaced on the
  socket instance) and does not negotiate per-message compression (as the Node.js server's
  default; a compressed frame could not be shared);
* ``Broadcast``, the Socket.IO manager, writes one frame to every WebSocket recipient.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import struct
import time
from collections.abc import Coroutine
from typing import Any

import engineio
import socketio
from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet

log = logging.getLogger(__name__)

_EMPTY: asyncio.Queue[Any] = asyncio.Queue()
"""Every taken-over socket's queue: never put to, so ``join`` returns at once."""

BACKLOG = 16 * 1024 * 1024
"""Bytes unsent to one connection past which it is dropped, by default (``MAX_BACKLOG_KIB``)."""


def check() -> None:
    """Raise ``RuntimeError`` unless engineio still works the way this module relies on."""
    socket, server = engineio.async_socket.AsyncSocket, engineio.AsyncServer
    problems = []
    if "server._async['websocket']" not in inspect.getsource(socket._upgrade_websocket):
        problems.append("engineio takes its WebSocket driver from server._async['websocket']")
    if "self.schedule_ping()" not in inspect.getsource(socket.receive):
        problems.append("AsyncSocket.receive schedules the next ping on a PONG")
    if "await self.send(packet.Packet(packet.CLOSE))" not in inspect.getsource(socket.close):
        problems.append("AsyncSocket.close sends CLOSE through self.send")
    if "check_ping_timeout" not in inspect.getsource(server._service_task):
        problems.append("AsyncServer._service_task checks every socket's ping timeout")
    if "_fwdm" not in inspect.getsource(socketio.base_manager.BaseManager.get_participants):
        problems.append("socketio's get_participants")
    if problems:
        raise RuntimeError(f"the fan-out relies on what changed: {problems}")


def frame(encoded: str | bytes) -> bytes:
    """An unmasked, uncompressed, final WebSocket frame of an encoded Engine.IO packet."""
    if isinstance(encoded, str):
        payload, opcode = encoded.encode(), WSMsgType.TEXT
    else:
        payload, opcode = encoded, WSMsgType.BINARY
    first, length = 0x80 | opcode, len(payload)
    if length < 126:
        header = struct.pack("!BB", first, length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    return header + payload


class Stream(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """engineio's aiohttp WebSocket, run by Percolate: one task per connection.

    engineio runs a WebSocket with a writer task fed by the socket's queue (and a task under
    it waiting on the queue), a task for every read, and a task sleeping until each ping:
    about six live tasks per idle member. Here the connection's own request task reads
    (``_serve``), every packet is written as it is sent (``write``, all in call order, so
    nothing can overtake anything), and pings are timers. engineio's ``AsyncSocket`` keeps
    its state and logic (``receive``, ``close``, ping timeouts); only its ``send`` and
    ``schedule_ping`` are replaced on the instance once the WebSocket is up.
    """

    def __init__(self, handler: Any, server: Engine) -> None:
        super().__init__(handler, server)
        self.socket: Any = getattr(handler, "__self__", None)
        """The engineio ``AsyncSocket`` this WebSocket carries."""
        self._own = False
        """Set once this object writes the socket's packets (after the upgrade)."""
        self._pending: list[bytes] | None = None
        """Frames written since the last flush, sent together by the next ``_flush``."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        socket = self.socket
        if socket is None:  # not an engineio socket's handler: run it as engineio would
            await self.handler(self)
            return self._sock
        self.server.streams[socket.sid] = self
        try:
            await self._serve(socket)
        finally:
            self._own = False
            if self.server.streams.get(socket.sid) is self:
                del self.server.streams[socket.sid]
            if not (socket.closing or socket.closed):
                # Cancelled (aiohttp cancels the request's task when its connection is lost,
                # as when a too slow reader is cut off): the socket still ends, in a task.
                self.server.closing(
                    socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
                )
        return self._sock

    async def _serve(self, socket: Any) -> None:
        server = self.server
        if socket.connected:  # came by long polling: the upgrade (engineio's, as it is)
            socket.upgrading = True  # hold packet sends during the upgrade
            try:
                probe = eio_packet.Packet(encoded_packet=await self.wait())
            except OSError:
                return
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                log.info("sid=%s: failed WebSocket upgrade, no probe", socket.sid)
                socket.upgrading = False
                return
            await self.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            await socket.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end the poll
            try:
                upgrade = eio_packet.Packet(encoded_packet=await self.wait())
            except OSError:
                socket.upgrading = False
                return
            if upgrade.packet_type != eio_packet.UPGRADE:
                log.info("sid=%s: failed WebSocket upgrade, no UPGRADE", socket.sid)
                socket.upgraded = socket.upgrading = False
                return
            socket.upgraded, socket.upgrading = True, False
        else:
            socket.connected = socket.upgraded = True
        self._take_over(socket)
        limit = server.ping_interval + server.ping_timeout
        while True:
            try:
                message = await self._sock.receive(timeout=limit)
            except (TimeoutError, OSError):
                break
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break  # closed, closing, or an error
            try:
                await socket.receive(eio_packet.Packet(encoded_packet=message.data))
            except engineio.exceptions.UnknownPacketError:
                pass
            except engineio.exceptions.SocketIsClosedError:
                break
            except Exception:
                log.exception("sid=%s: a packet failed", socket.sid)
        self._own = False
        log.debug("sid=%s: WebSocket ended", socket.sid)
        # In a task: aiohttp may cancel this one once the connection is gone, and the
        # disconnect handlers it runs must finish.
        server.closing(socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE))
        writer = getattr(self._sock, "_writer", None)
        if (
            writer is not None
            and writer.transport is not None
            and not writer.transport.is_closing()
        ):
            await self._sock.close()

    def _take_over(self, socket: Any) -> None:
        """From now on this object writes what ``socket`` sends, starting with its queue."""
        queue = socket.queue
        self._own = True
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is not None:
                self.write(frame(pkt.encode()))
        socket.send = self._send
        socket.schedule_ping = self._schedule_ping
        # Nothing is queued from now on: the socket's own queue (four deques and an event,
        # some 2 KiB) goes, for one that stays empty (``close`` still joins it).
        socket.queue = _EMPTY

    async def _send(self, pkt: eio_packet.Packet) -> None:
        # What engineio's AsyncSocket.send does, writing instead of queueing.
        if await self.socket.check_ping_timeout():
            self.write(frame(pkt.encode()))

    def _schedule_ping(self) -> None:
        # engineio sleeps in a task of its own until each ping; a timer is enough.
        socket = self.socket
        if socket.last_ping:
            socket.last_ping = None
            asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        socket = self.socket
        if not socket.closing and not socket.closed:
            socket.last_ping = time.time()
            self.write(frame(eio_packet.Packet(eio_packet.PING).encode()))

    def write(self, data: bytes) -> bool:
        """Write a ready frame in this turn of the event loop; False: it was not written.

        Not written: before the WebSocket is up (the packet goes through the queue, which
        ``_take_over`` empties first), once it is down, or when the member has more than the
        engine's ``backlog`` bytes unsent (it is then disconnected: it stopped reading).
        """
        if not self._own or self.socket.closed:
            return False
        writer = getattr(self._sock, "_writer", None)
        transport = writer.transport if writer is not None else None
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.server.backlog:
            log.warning(
                "sid=%s has %d bytes unsent: too slow a reader, disconnected",
                self.socket.sid,
                transport.get_write_buffer_size(),
            )
            transport.abort()
            return False
        if self._pending is None:
            self._pending = [data]
            asyncio.get_running_loop().call_soon(self._flush, transport)
        else:
            self._pending.append(data)
        return True

    def _flush(self, transport: asyncio.Transport) -> None:
        # One send for every frame of the loop's turn: with many messages a second, a member
        # gets several per system call.
        pending, self._pending = self._pending, None
        if pending and not transport.is_closing():
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


class Engine(engineio.AsyncServer):  # type: ignore[misc]
    """The Engine.IO server, writing to WebSocket connections directly."""

    def __init__(self, *, backlog: int = BACKLOG, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backlog = backlog
        """Bytes unsent to one WebSocket connection past which it is dropped."""
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped in engineio
        setattr(self, "_async", {**drivers, "websocket": Stream})  # noqa: B010
        self.streams: dict[str, Stream] = {}
        """The WebSocket connections, by Engine.IO session id."""
        self._closing: set[asyncio.Task[Any]] = set()
        self.direct = 0
        """Packets written straight to a WebSocket connection."""
        self.queued = 0
        """Packets that went through Engine.IO's queue (long polling, or before the upgrade)."""

    def closing(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in a task this engine keeps until it is done."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def write(self, sid: str, data: bytes) -> bool:
        """Write a ready frame to ``sid`` if it is a WebSocket connection that is up."""
        stream = self.streams.get(sid)
        if stream is not None and stream.write(data):
            self.direct += 1
            return True
        return False

    async def send_packet(self, sid: str, pkt: eio_packet.Packet) -> None:
        if sid not in self.streams or not self.write(sid, frame(pkt.encode())):
            self.queued += 1
            await super().send_packet(sid, pkt)


class Broadcast(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's manager, writing each broadcast as one frame shared by everybody."""

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
        given = data
        engine = getattr(self.server, "eio", None)
        if callback is not None or not isinstance(engine, Engine):
            return await super().emit(  # type: ignore[no-any-return]
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback
            )
        if namespace not in self.rooms:
            return None
        if isinstance(data, tuple):
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *data]
        ).encode()
        if isinstance(encoded, list):  # binary attachments: several packets, the stock way
            return await super().emit(  # type: ignore[no-any-return]
                event, given, namespace, room=room, skip_sid=skip_sid
            )
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        ready: bytes | None = None
        slow = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            stream = engine.streams.get(eio_sid)
            if stream is not None:
                if ready is None:
                    ready = frame(eio_pkt.encode())
                if stream.write(ready):
                    engine.direct += 1
                    continue
            slow.append(eio_sid)
        for eio_sid in slow:
            engine.queued += 1
            await super(Engine, engine).send_packet(eio_sid, eio_pkt)
        return None
