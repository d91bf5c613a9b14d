"""Fan-out at wire speed: one encoding per broadcast, one ready WebSocket frame for everyone.

python-socketio encodes a room broadcast once, but then makes one task per recipient; each
task puts the packet on the recipient's Engine.IO queue, whose writer task wakes up (through
``asyncio.wait_for``, one more task), encodes the Engine.IO packet again and has aiohttp
build a WebSocket frame, compressing it if the client offered permessage-deflate. For a room
of 200 that is 600 task switches and 200 frame builds per message.

Here a broadcast builds its WebSocket frame once and writes the same bytes to every recipient
whose connection is a WebSocket that is idle: nothing waits in its Engine.IO queue or on its
way out of it, and the socket is not paused by flow control. Every other recipient (long
polling, a writer busy, a slow reader) gets the packet through Engine.IO's queue as before,
so the order of what one connection receives never changes: a packet is written directly
only when everything sent to that connection before it is already in the socket.

Pieces, each on a seam the libraries offer or that ``check`` verifies:

* ``Engine``, the Engine.IO server (``socketio.AsyncServer._engineio_server_class``), keeps
  each WebSocket connection's ``Stream`` and sends single packets (acks, events to one sid)
  the same direct way;
* ``Stream``, engineio's aiohttp WebSocket driver (``engineio_server._async['websocket']``),
  records itself by session id, and does not negotiate per-message compression (as the
  Node.js server's default, and a compressed frame could not be shared);
* ``Broadcast``, the Socket.IO manager, writes one frame to every idle recipient.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import struct
from typing import Any

import engineio
import socketio
from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet

log = logging.getLogger(__name__)


def check() -> None:
    """Raise ``RuntimeError`` unless the libraries still work the way this module relies on."""
    problems = []
    if "server._async['websocket']" not in inspect.getsource(
        engineio.async_socket.AsyncSocket._upgrade_websocket
    ):
        problems.append("engineio takes its WebSocket driver from server._async['websocket']")
    poll = inspect.getsource(engineio.async_socket.AsyncSocket.poll)
    if "self.queue.get()" not in poll:
        problems.append("engineio's writer waits in AsyncSocket.queue.get()")
    if "self._getters" not in inspect.getsource(asyncio.Queue.get):
        problems.append("asyncio.Queue keeps its waiting getters in _getters")
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
    """engineio's aiohttp WebSocket, without compression, that can take ready frames."""

    def __init__(self, handler: Any, server: Engine) -> None:
        super().__init__(handler, server)
        self.socket: Any = getattr(handler, "__self__", None)
        """The engineio ``AsyncSocket`` this WebSocket carries."""
        self._pending: list[bytes] | None = None
        """Frames written since the last flush, sent together by the next ``_flush``."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        sid = getattr(self.socket, "sid", None)
        if sid is not None:
            self.server.streams[sid] = self
        try:
            await self.handler(self)
        finally:
            if sid is not None and self.server.streams.get(sid) is self:
                del self.server.streams[sid]
        return self._sock

    def write(self, data: bytes) -> bool:
        """Write a ready frame, in this turn of the event loop, if the connection is idle.

        False: it was not written.

        Idle: upgraded, open, nothing in its Engine.IO queue, its writer task waiting for the
        next packet (not between taking one and writing it), and the transport not paused.
        """
        socket = self.socket
        if socket is None or not socket.upgraded or socket.closing or socket.closed:
            return False
        queue = socket.queue
        if queue.qsize() or not any(not getter.done() for getter in queue._getters):
            return False
        writer = getattr(self._sock, "_writer", None)
        if writer is None or writer._closing or writer.protocol._paused:
            return False
        transport = writer.transport
        if transport is None or transport.is_closing():
            return False
        if self._pending is None:
            self._pending = [data]
            asyncio.get_running_loop().call_soon(self._flush, transport)
        else:
            self._pending.append(data)
        return True

    def _flush(self, transport: asyncio.Transport) -> None:
        # One send for every frame of the loop's turn: with many messages a second, a member
        # gets several per system call. Scheduled at the first, so it runs before anything
        # queued after it (Engine.IO's writer is woken by callbacks scheduled later).
        pending, self._pending = self._pending, None
        if pending and not transport.is_closing():
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


class Engine(engineio.AsyncServer):  # type: ignore[misc]
    """The Engine.IO server, writing to idle WebSocket connections directly."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped in engineio
        setattr(self, "_async", {**drivers, "websocket": Stream})  # noqa: B010
        self.streams: dict[str, Stream] = {}
        """The WebSocket connections, by Engine.IO session id."""
        self.direct = 0
        """Packets written straight to a WebSocket connection."""
        self.queued = 0
        """Packets that went through Engine.IO's queue."""

    def write(self, sid: str, data: bytes) -> bool:
        """Write a ready frame to ``sid`` if it is an idle WebSocket connection."""
        stream = self.streams.get(sid)
        if stream is not None and stream.write(data):
            self.direct += 1
            return True
        return False

    async def send_packet(self, sid: str, pkt: eio_packet.Packet) -> None:
        if not self.write(sid, frame(pkt.encode())):
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
