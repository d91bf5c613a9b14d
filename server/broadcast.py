"""Fan-out at wire speed: one encoding per broadcast, one ready WebSocket frame for everyone.

python-socketio encodes a room broadcast once, but then makes one task per recipient; each
task puts the packet on the recipient's Engine.IO queue, whose writer task wakes up (through
``asyncio.wait_for``, one more task), encodes the Engine.IO packet again and has aiohttp
build a WebSocket frame, compressing it if the client offered permessage-deflate. For a room
of 200 that is 600 task switches and 200 frame builds per message; and every idle member
costs some six live tasks (the writer, the task under it, one per pending read, one per
ping) besides the aiohttp request that opened its WebSocket, kept for the connection's life.

Here aiohttp only answers a WebSocket handshake; the connection is then served by a
``Stream``, the transport's protocol, with no task while it is idle: once it is up, every
packet sent to it is written to its socket at once, in call order (so nothing overtakes
anything), a connection's frames of one turn of the event loop in one ``write``; pings are
timers. A broadcast builds its WebSocket frame once and hands the same bytes to every
WebSocket member. Long-polling members, and WebSocket members until their upgrade is done,
get packets through Engine.IO's queue as before (``_take_over`` empties it first). A member
with more than ``backlog`` bytes unsent (``MAX_BACKLOG_KIB``: it stopped reading) is
disconnected.

Pieces, each on a seam the libraries offer or that ``check`` verifies:

* ``Engine``, the Engine.IO server (``socketio.AsyncServer._engineio_server_class``), keeps
  each WebSocket connection's ``Stream``, sends single packets (acks, events to one sid)
  the same direct way, and runs every socket's pings as timers (``start_background_task``);
* ``Stream``, engineio's WebSocket driver (``engineio_server._async['websocket']``), does
  what engineio's ``AsyncSocket._websocket_handler`` does (the same upgrade, ``receive`` and
  ``close``; the socket's ``send`` replaced on the instance), below aiohttp: the handshake's
  request lets go of the connection (``_detach``) and wsproto reads the frames. It does not
  negotiate per-message compression (as the Node.js server's default; a compressed frame
  could not be shared);
* ``Broadcast``, the Socket.IO manager, writes one frame to every WebSocket recipient.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import functools
import hashlib
import inspect
import logging
import struct
import time
from collections.abc import Callable, Coroutine
from typing import Any

import engineio
import socketio
import wsproto.connection
import wsproto.events
import wsproto.frame_protocol
from aiohttp import WSMsgType, web
from aiohttp.http import WS_KEY
from aiohttp.web_protocol import RequestHandler
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet
from wsproto.connection import ConnectionState

from . import keys

log = logging.getLogger(__name__)

_EMPTY: asyncio.Queue[Any] = asyncio.Queue()
"""Every taken-over socket's queue: never put to, so ``join`` returns at once."""

BACKLOG = 16 * 1024 * 1024
"""Bytes unsent to one connection past which it is dropped, by default (``MAX_BACKLOG_KIB``)."""

CLOSING = 5.0
"""Seconds a closed WebSocket connection waits for the client to hang up (``Stream.end``)."""

SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: "
)
"""The handshake's answer, up to the accept key."""


def check() -> None:
    """Raise ``RuntimeError`` unless engineio and aiohttp work the way this module relies on."""
    socket, server = engineio.async_socket.AsyncSocket, engineio.AsyncServer
    problems = []
    if "server._async['websocket']" not in inspect.getsource(socket._upgrade_websocket):
        problems.append("engineio takes its WebSocket driver from server._async['websocket']")
    if "self.schedule_ping()" not in inspect.getsource(socket.receive):
        problems.append("AsyncSocket.receive schedules the next ping on a PONG")
    if "start_background_task(self._send_ping)" not in inspect.getsource(socket.schedule_ping):
        problems.append("AsyncSocket.schedule_ping starts _send_ping as a background task")
    if "await self.send(packet.Packet(packet.CLOSE))" not in inspect.getsource(socket.close):
        problems.append("AsyncSocket.close sends CLOSE through self.send")
    if "check_ping_timeout" not in inspect.getsource(server._service_task):
        problems.append("AsyncServer._service_task checks every socket's ping timeout")
    if "_fwdm" not in inspect.getsource(socketio.base_manager.BaseManager.get_participants):
        problems.append("socketio's get_participants")
    if not {"_manager", "_message_tail"} <= set(RequestHandler.__slots__):
        problems.append("aiohttp's RequestHandler keeps _manager and _message_tail")
    if "if self.transport is not None" not in inspect.getsource(RequestHandler.force_close):
        problems.append("aiohttp's RequestHandler.force_close leaves a detached transport alone")
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


def _detach(request: web.BaseRequest) -> None:
    """aiohttp lets go of ``request``'s connection, leaving its transport open to another protocol.

    The request's handler (its ``RequestHandler``) forgets the transport, so that nothing it
    does next writes to it or closes it, and ends its request loop once this request is
    answered; its server stops counting the connection.
    """
    handler = request.protocol
    handler.keep_alive(False)  # and its timer (for a connection that sends no request) goes
    handler.transport = None
    handler.force_close()
    manager = getattr(handler, "_manager", None)  # private to aiohttp: check() looks
    if manager is not None:
        manager.connection_lost(handler, None)


class _Detached(web.StreamResponse):
    """What aiohttp gets back for a connection it let go of: nothing to write."""

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class State(enum.Enum):
    HANDSHAKE = "handshake"
    PROBE = "probe"
    """Upgrading from long polling: waiting for the client's probe."""
    UPGRADE = "upgrade"
    """Upgrading from long polling: probe answered, waiting for UPGRADE."""
    OPEN = "open"
    """This connection carries the socket."""
    ENDED = "ended"


class Stream(asyncio.Protocol):
    """One WebSocket connection, served below aiohttp once it is up: no task while idle.

    aiohttp serves a WebSocket inside the request that opened it: for the connection's whole
    life it keeps that request, its headers and parser state, its response, reader and writer,
    the request's two tasks and the middleware chain's coroutine frames (some 16 KiB a member,
    most of what an idle member cost). Here the request only answers the handshake: the 101
    is written, aiohttp lets the connection go (``_detach``) and the transport's protocol is
    this object, which parses WebSocket frames with wsproto and hands each message to the
    engineio socket in order, in a task that lives while there are messages to handle.

    Once the Engine.IO socket is carried (``OPEN``), every packet sent to it is written at
    once, in call order (nothing overtakes anything), a connection's frames of one turn of the
    event loop in one ``write``. A member with more than the engine's ``backlog`` bytes unsent
    (it stopped reading) is disconnected.
    """

    __slots__ = ("_inbox", "_parts", "_pending", "_task", "_ws", "carried", "server", "socket",
                 "state", "transport")  # fmt: skip

    def __init__(self, handler: Any, server: Engine) -> None:
        self.server = server
        self.socket: Any = handler.__self__
        """The engineio ``AsyncSocket`` this connection carries."""
        self.transport: asyncio.Transport | None = None
        self.state = State.HANDSHAKE
        self.carried = False
        """Set once this connection carries the socket (its packets are written here)."""
        self._ws: wsproto.connection.Connection | None = None
        self._parts: list[str | bytes] | None = None
        """The frames so far of a message sent in several (rare)."""
        self._inbox: list[str | bytes] | None = None
        """Messages received and not yet handled (by ``_task``)."""
        self._task: asyncio.Task[None] | None = None
        self._pending: list[bytes] | None = None
        """Frames written since the last flush, sent together by the next ``_flush``."""

    @property
    def ended(self) -> bool:
        return self.state is State.ENDED

    # -- the handshake, in aiohttp's request ------------------------------------------------

    async def __call__(self, environ: dict[str, Any]) -> web.StreamResponse:
        request: web.BaseRequest = environ["aiohttp.request"]
        socket, server = self.socket, self.server
        transport = request.transport
        key = request.headers.get("Sec-WebSocket-Key", "")
        if not web.WebSocketResponse(compress=False).can_prepare(request).ok:
            return web.Response(status=400, text="not a WebSocket handshake")
        if transport is None or transport.is_closing():  # gone while it was being handled
            if not socket.connected:
                await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
            return web.Response(status=400)
        _detach(request)
        transport.set_protocol(self)
        self.transport = transport
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_KEY).digest())
        # Written with what follows in this turn (the Engine.IO OPEN packet): one send.
        self._put(SWITCHING + accept + b"\r\n\r\n")
        self._ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
        server.streams[socket.sid] = self
        if socket.connected:  # came by long polling: engineio's upgrade, step by step
            socket.upgrading = True  # hold packet sends during the upgrade
            self.state = State.PROBE
        else:
            socket.connected = socket.upgraded = True
            self._take_over()
        tail = getattr(request.protocol, "_message_tail", b"")
        if tail:
            self.data_received(tail)
        if not transport.is_reading():  # aiohttp paused it, holding the tail
            transport.resume_reading()
        return _Detached(status=101)

    def _take_over(self) -> None:
        """From now on this object writes what the socket sends, starting with its queue."""
        socket = self.socket
        self.state = State.OPEN
        self.carried = True
        queue = socket.queue
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is not None:
                self.write(frame(pkt.encode()))
        socket.send = self._send
        # Nothing is queued from now on: the socket's own queue (four deques and an event,
        # some 2 KiB) goes, for one that stays empty (``close`` still joins it).
        socket.queue = _EMPTY
        log.debug("sid=%s: WebSocket up", socket.sid)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        if ws is None or self.ended:
            return
        ws.receive_data(data)
        for event in ws.events():
            if self.ended:  # a message too large, say: nothing more is read
                return
            if isinstance(event, wsproto.events.Message):
                self._message(event)
            elif isinstance(event, wsproto.events.Ping):
                self._put(ws.send(event.response()))
            elif isinstance(event, wsproto.events.CloseConnection):
                self.end(event.code, event.reason or "")
                return

    def _message(self, event: wsproto.events.Message[Any]) -> None:
        parts = self._parts
        if parts is None and event.message_finished:
            message: str | bytes = event.data
        else:
            parts = self._parts = [*(parts or ()), event.data]
            if not event.message_finished:
                if sum(len(part) for part in parts) > self.server.max_http_buffer_size:
                    self.end(wsproto.frame_protocol.CloseReason.MESSAGE_TOO_BIG, "too large")
                return
            self._parts = None
            message = "".join(parts) if isinstance(event.data, str) else b"".join(parts)  # type: ignore[arg-type]
        if len(message) > self.server.max_http_buffer_size:
            self.end(wsproto.frame_protocol.CloseReason.MESSAGE_TOO_BIG, "too large")
            return
        server = self.server
        if (
            self._task is None
            and self.state is State.OPEN
            and server.async_handlers
            and (isinstance(message, bytes) or message[:1] == "4")
        ):
            # An Engine.IO MESSAGE with nothing waiting before it: engineio's receive would
            # only start a task for its handler, so that task starts here, in order.
            pkt = eio_packet.Packet(encoded_packet=message)
            server.spawn(server._trigger_event("message", self.socket.sid, pkt.data))
            return
        if self._inbox is None:
            self._inbox = [message]
        else:
            self._inbox.append(message)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._handle())

    def connection_lost(self, exc: Exception | None) -> None:
        socket, server = self.socket, self.server
        self.state = State.ENDED
        self.transport = None
        self._ws = None
        if server.streams.get(socket.sid) is self:
            del server.streams[socket.sid]
        log.debug("sid=%s: WebSocket ended", socket.sid)
        if not self.carried:
            socket.upgrading = False  # a failed upgrade leaves the socket on long polling
        elif socket.closing or socket.closed:
            server.forget(socket)
        else:
            server.spawn(server.end(socket, server.reason.TRANSPORT_CLOSE))

    def pause_writing(self) -> None:
        pass  # ``write`` watches the buffer itself

    def resume_writing(self) -> None:
        pass

    # -- what the client sends ------------------------------------------------------------

    async def _handle(self) -> None:
        # Every message in the order received, one at a time (as engineio's read loop).
        try:
            while self._inbox:
                batch, self._inbox = self._inbox, None
                for message in batch:
                    if self.ended:
                        return
                    await self._receive(message)
        finally:
            self._task = None

    async def _receive(self, message: str | bytes) -> None:
        socket = self.socket
        try:
            pkt = eio_packet.Packet(encoded_packet=message)
        except Exception:
            log.info("sid=%s: not an Engine.IO packet", socket.sid)
            return
        if self.state is State.PROBE:
            if pkt.packet_type != eio_packet.PING or pkt.data != "probe":
                log.info("sid=%s: failed WebSocket upgrade, no probe", socket.sid)
                self.end()
                return
            self._put(frame(eio_packet.Packet(eio_packet.PONG, data="probe").encode()))
            self.state = State.UPGRADE
            await socket.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end the poll
        elif self.state is State.UPGRADE:
            if pkt.packet_type != eio_packet.UPGRADE:
                log.info("sid=%s: failed WebSocket upgrade, no UPGRADE", socket.sid)
                socket.upgraded = False
                self.end()
                return
            socket.upgraded, socket.upgrading = True, False
            self._take_over()
        else:
            try:
                await _receive_known(socket, pkt)
            except engineio.exceptions.UnknownPacketError:
                pass
            except engineio.exceptions.SocketIsClosedError:
                self.end()
            except Exception:
                log.exception("sid=%s: a packet failed", socket.sid)
            if socket.closed:  # the client said goodbye (CLOSE)
                self.end()

    # -- what the server sends -----------------------------------------------------------

    async def _send(self, pkt: eio_packet.Packet) -> None:
        # What engineio's AsyncSocket.send does, writing instead of queueing.
        if await self.socket.check_ping_timeout():
            self.write(frame(pkt.encode()))
            if pkt.packet_type == eio_packet.CLOSE:  # the socket is closing: so is this
                self.end()

    def write(self, data: bytes) -> bool:
        """Write a ready frame in this turn of the event loop; False: it was not written.

        Not written: before the socket is carried (the packet goes through the queue, which
        ``_take_over`` empties first), once the connection is down, or when the member has
        more than the engine's ``backlog`` bytes unsent (it is then disconnected: it stopped
        reading).
        """
        if self.state is not State.OPEN or self.socket.closed:
            return False
        return self._put(data)

    def _put(self, data: bytes) -> bool:
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        unsent = transport.get_write_buffer_size()
        if unsent > self.server.backlog:
            log.warning(
                "sid=%s has %d bytes unsent: too slow a reader, disconnected",
                self.socket.sid,
                unsent,
            )
            transport.abort()
            return False
        if self._pending is None:
            self._pending = [data]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._pending.append(data)
        return True

    def _flush(self) -> None:
        # One send for every frame of the loop's turn: with many messages a second, a member
        # gets several per system call.
        pending, self._pending = self._pending, None
        transport = self.transport
        if pending and transport is not None and not transport.is_closing():
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def end(self, code: int = 1000, reason: str = "", linger: bool = True) -> None:
        """Close the connection: a WebSocket close frame after what is pending, then TCP.

        With ``linger``, the server's side ends first (FIN) and what the client still sends
        is read and dropped until it hangs up too (within ``CLOSING`` seconds): closing a
        socket with unread data would reset the connection, and the client could lose the
        close frame and what came before it.
        """
        ws, transport = self._ws, self.transport
        if self.ended or transport is None:
            return
        self.state = State.ENDED
        if ws is not None and ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._put(ws.send(wsproto.events.CloseConnection(code=code, reason=reason)))
        self._flush()
        if linger and transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(CLOSING, self._abort)
        else:
            transport.close()  # after the buffer is written

    def eof_received(self) -> None:
        return None  # the transport closes itself

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class Engine(engineio.AsyncServer):  # type: ignore[misc]
    """The Engine.IO server, writing to WebSocket connections directly."""

    def __init__(self, *, backlog: int = BACKLOG, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backlog = backlog
        """Bytes unsent to one WebSocket connection past which it is dropped."""
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped in engineio
        setattr(self, "_async", {**drivers, "websocket": Stream, "translate_request": _environ})  # noqa: B010
        self.streams: dict[str, Stream] = {}
        """The WebSocket connections, by Engine.IO session id."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sequence = 0
        self.direct = 0
        """Packets written straight to a WebSocket connection."""
        self.queued = 0
        """Packets that went through Engine.IO's queue (long polling, or before the upgrade)."""

    def generate_id(self) -> str:
        # engineio's ids (Engine.IO's and Socket.IO's session ids), from the pooled CSPRNG.
        sequence = self._sequence.to_bytes(3, "big")
        self._sequence = (self._sequence + 1) & 0xFFFFFF
        return base64.urlsafe_b64encode(keys.random_bytes(12) + sequence).decode()

    def _get_socket(self, sid: str) -> Any:
        # Long polling hands packets to socket.receive (a WebSocket's Stream calls
        # _receive_known itself).
        socket = super()._get_socket(sid)
        if "receive" not in vars(socket):  # once per socket
            socket.receive = functools.partial(_receive_known, socket)
        return socket

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in a task this engine keeps until it is done."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def end(self, socket: Any, reason: str) -> None:
        """Close ``socket`` whose connection is gone, and forget it."""
        await socket.close(wait=False, abort=True, reason=reason)
        self.forget(socket)

    def forget(self, socket: Any) -> None:
        # engineio forgets a closed socket when its request ends, or in its service task.
        if self.sockets.get(socket.sid) is socket:
            del self.sockets[socket.sid]

    def hang_up(self) -> None:
        """Close every WebSocket connection (those still upgrading included)."""
        for stream in list(self.streams.values()):
            stream.end(wsproto.frame_protocol.CloseReason.GOING_AWAY, linger=False)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # engineio sleeps in a task of its own until each socket's next ping: a timer is enough.
        socket = getattr(target, "__self__", None)
        if getattr(target, "__func__", None) is engineio.async_socket.AsyncSocket._send_ping:
            asyncio.get_running_loop().call_later(self.ping_interval, self._ping, socket)
            return None
        return super().start_background_task(target, *args, **kwargs)

    def _ping(self, socket: Any) -> None:
        # What AsyncSocket._send_ping does once it has slept.
        if socket.closing or socket.closed:
            return
        socket.last_ping = time.time()
        pkt = eio_packet.Packet(eio_packet.PING)
        if not self.write(socket.sid, frame(pkt.encode())):
            self.spawn(socket.send(pkt))

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


async def _receive_known(socket: Any, pkt: eio_packet.Packet) -> None:
    """``AsyncSocket.receive`` of a packet whose type engineio knows; any other is dropped.

    (engineio's would index its list of type names past the end, and log the traceback.)
    """
    if 0 <= pkt.packet_type < len(eio_packet.packet_names):
        await engineio.async_socket.AsyncSocket.receive(socket, pkt)
    else:
        log.info("sid=%s: not an Engine.IO packet", socket.sid)


def _environ(request: web.BaseRequest) -> dict[str, Any]:
    """engineio's WSGI-like environ of an aiohttp request, with the peer's address.

    (engineio writes 127.0.0.1 for every peer and leaves the real one on the request; the
    request is not kept once a connection is up: ``release``.)
    """
    environ: dict[str, Any] = eio_aiohttp.translate_request(request)
    environ["REMOTE_ADDR"] = request.remote or ""
    return environ


def release(environ: dict[str, Any]) -> None:
    """Let go of the aiohttp request an environ kept (python-socketio keeps the environ)."""
    environ.pop("aiohttp.request", None)
    environ.pop("wsgi.input", None)


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
