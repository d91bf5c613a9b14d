"""A WebSocket connection served below aiohttp, with no task while it is idle.

aiohttp only answers the handshake: the 101 is written, aiohttp lets the connection go
(``_detach``) and the transport's protocol becomes a ``Stream``, which parses frames with
wsproto and hands each Engine.IO packet to the engineio socket it carries. Once the socket is
carried (``OPEN``), every packet sent to it is written at once, in call order (nothing
overtakes anything), a connection's frames of about a millisecond in one ``write``;
a broadcast hands the same ready frame (``frame``) to every member. A member with more than
the engine's ``backlog`` bytes unsent (it stopped reading) is disconnected. Per-message
compression is not negotiated (as the Node.js server's default): a compressed frame could not
be shared. Percolate's protocol has no binary data: the first frame of a binary message ends
the connection (1003), and nothing of it is kept. What the client sends is handled in order,
a share at a time: with ``IN_HAND`` of its events' handlers running, or as many messages
read and waiting, the connection is not read (TCP pushes back on the client) until one is
done.

engineio gets a ``Stream`` as its WebSocket driver (``engine.Engine``); the ``Stream`` does what
engineio's ``AsyncSocket._websocket_handler`` does (the same upgrade, ``receive`` and
``close``; the socket's ``send`` replaced on the instance). Every private name this relies on
is listed in ``seams``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import hashlib
import logging
import struct
from collections.abc import Coroutine
from socket import SO_LINGER, SOL_SOCKET
from typing import Any, Protocol

import engineio
import wsproto.connection
import wsproto.events
import wsproto.frame_protocol
from aiohttp import WSMsgType, web
from aiohttp.http import WS_KEY
from engineio import packet as eio_packet
from wsproto.connection import ConnectionState

from ..logs import Throttle

log = logging.getLogger(__name__)

_EMPTY: asyncio.Queue[Any] = asyncio.Queue()
"""Every taken-over socket's queue: never put to, so ``join`` returns at once."""

IN_HAND = 32
"""Messages of one connection handled at once, at most: past it, nothing more of the
connection is read until one is done (``Stream._handle``), so that a client flooding the server
cannot fill a turn of the event loop with thousands of its own handlers."""

CLOSING = 5.0
"""Seconds a closed WebSocket connection waits for the client to hang up (``Stream.end``)."""

SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: "
)
"""The handshake's answer, up to the accept key."""


class Host(Protocol):
    """What a ``Stream`` needs of its Engine.IO server (``engine.Engine``)."""

    max_http_buffer_size: int
    backlog: int
    streams: dict[str, Stream]
    reason: Any
    throttle: Throttle

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

    def forget(self, socket: Any) -> None: ...

    def dirty(self, stream: Stream) -> None: ...

    async def end(self, socket: Any, reason: str) -> None: ...

    async def drop(self, sid: str, reason: str) -> None: ...


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
    manager = getattr(handler, "_manager", None)  # private to aiohttp (seams)
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
    once, in call order (nothing overtakes anything), a connection's frames of about a
    millisecond in one ``write`` (``Engine.dirty``). A member with more than the engine's
    ``backlog`` bytes unsent (it stopped reading) is disconnected.
    """

    __slots__ = ("_held", "_inbox", "_parts", "_paused", "_pending", "_room", "_task", "_ws",
                 "carried", "server", "socket", "state", "transport")  # fmt: skip

    def __init__(self, handler: Any, server: Host) -> None:
        self.server = server
        self.socket: Any = handler.__self__
        """The engineio ``AsyncSocket`` this connection carries."""
        self.transport: asyncio.Transport | None = None
        self.state = State.HANDSHAKE
        self.carried = False
        """Set once this connection carries the socket (its packets are written here)."""
        self._ws: wsproto.connection.Connection | None = None
        self._parts: list[str] | None = None
        """The frames so far of a message sent in several (rare)."""
        self._inbox: list[str] | None = None
        """Messages received and not yet handled (by ``_task``)."""
        self._task: asyncio.Task[None] | None = None
        self._held = 0
        """Handlers of this connection's events running (``hold``)."""
        self._room: asyncio.Future[None] | None = None
        """Set when one of ``IN_HAND`` held handlers is done (``_handle`` waits for it)."""
        self._paused = False
        """The transport is not read: ``IN_HAND`` messages wait (``_read``)."""
        self._pending: list[bytes] | None = None
        """Frames written since the last flush, sent together by the next ``flush``."""

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
            # The NOOP that was to end a poll (none came) means nothing here.
            if pkt is not None and pkt.packet_type != eio_packet.NOOP:
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
        self._read()

    def _read(self) -> None:
        """Take the frames wsproto has read, in order, until ``IN_HAND`` messages wait.

        Then the rest stays in wsproto's buffer and the transport is not read (TCP pushes
        back on the client) until ``_handle`` has handled them and reads on: one read can
        hold thousands of small messages, and a client may send them without waiting for
        any answer.
        """
        ws = self._ws
        if ws is None:
            return
        for event in ws.events():
            if self.ended:  # a message too large, say: nothing more is read
                return
            if isinstance(event, wsproto.events.BytesMessage):
                self._binary()
                return
            if isinstance(event, wsproto.events.TextMessage):
                self._message(event)
                inbox = self._inbox
                if inbox is not None and len(inbox) >= IN_HAND:
                    self._pause(True)
                    return
            elif isinstance(event, wsproto.events.Ping):
                self._put(ws.send(event.response()))
            elif isinstance(event, wsproto.events.CloseConnection):
                self.end(event.code, event.reason or "")
                return
        self._pause(False)

    def _pause(self, paused: bool) -> None:
        transport = self.transport
        if paused is self._paused or transport is None or transport.is_closing():
            return
        self._paused = paused
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _binary(self) -> None:
        # Percolate's protocol has no binary data: the first part of a binary message ends
        # the connection, and nothing of it is kept. 1003: "a type of data it cannot accept"
        # (RFC 6455 section 7.4.1).
        socket, server = self.socket, self.server
        server.throttle.info(
            log, socket.peer.address, "sid=%s sent binary data: disconnected", socket.sid
        )
        self.end(wsproto.frame_protocol.CloseReason.UNSUPPORTED_DATA, "binary data")
        server.spawn(server.drop(socket.sid, server.reason.SERVER_DISCONNECT))

    def _message(self, event: wsproto.events.TextMessage) -> None:
        parts = self._parts
        if parts is None and event.message_finished:
            message = event.data
        else:
            parts = self._parts = [*(parts or ()), event.data]
            if not event.message_finished:
                if sum(len(part) for part in parts) > self.server.max_http_buffer_size:
                    self.end(wsproto.frame_protocol.CloseReason.MESSAGE_TOO_BIG, "too large")
                return
            self._parts = None
            message = "".join(parts)
        if len(message) > self.server.max_http_buffer_size:
            self.end(wsproto.frame_protocol.CloseReason.MESSAGE_TOO_BIG, "too large")
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

    def hold(self, task: asyncio.Task[Any]) -> None:
        """``task`` handles one of this connection's events: while ``IN_HAND`` of them run,
        no more of its messages are handled, or read (``Engine.hold``)."""
        self._held += 1
        task.add_done_callback(self._let_go)

    def _let_go(self, task: asyncio.Task[Any]) -> None:
        self._held -= 1
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    async def _handle(self) -> None:
        # Every message in the order received, one at a time (as engineio's read loop).
        # What came before the client's close frame is handled even though the connection
        # has ended since: a page going away sends its goodbye (a Socket.IO DISCONNECT, the
        # `goodbye` event) and closes at once, often in one segment. Only once the socket
        # itself is closing, or if the connection never carried it (an upgrade that failed),
        # is the rest dropped.
        # A connection takes a share of the event loop, not all of it: every IN_HAND messages
        # (most answered at once, with no await that lets others run) the loop gets a turn,
        # and while IN_HAND of its events' handlers run, it waits for one to be done.
        socket = self.socket
        loop = asyncio.get_running_loop()
        turn = 0
        try:
            while self._inbox:
                batch, self._inbox = self._inbox, None
                for message in batch:
                    if socket.closing or socket.closed or (self.ended and not self.carried):
                        return
                    await self._receive(message)
                    turn += 1
                    while self._held >= IN_HAND:
                        self._room = loop.create_future()
                        await self._room
                        turn = 0
                    if turn >= IN_HAND:
                        await asyncio.sleep(0)
                        turn = 0
                if not self._inbox and not self.ended:
                    self._read()  # what waited in wsproto's buffer, if reading was paused
        finally:
            self._task = None
            self._room = None

    async def _receive(self, message: str) -> None:
        socket = self.socket
        throttle, address = self.server.throttle, socket.peer.address
        try:
            pkt: eio_packet.Packet | None = decode(message)
        except ValueError:
            pkt = None
        if self.state is State.PROBE:
            if pkt is None or pkt.packet_type != eio_packet.PING or pkt.data != "probe":
                throttle.info(
                    log, address, "sid=%s: failed WebSocket upgrade, no probe", socket.sid
                )
                self.end()
                return
            self._put(frame(eio_packet.Packet(eio_packet.PONG, data="probe").encode()))
            self.state = State.UPGRADE
            await socket.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end the poll
        elif self.state is State.UPGRADE:
            if pkt is None or pkt.packet_type != eio_packet.UPGRADE:
                throttle.info(
                    log, address, "sid=%s: failed WebSocket upgrade, no UPGRADE", socket.sid
                )
                socket.upgraded = False
                self.end()
                return
            socket.upgraded, socket.upgrading = True, False
            self._take_over()
        else:
            try:
                if pkt is None:
                    raise ValueError("not an Engine.IO packet")
                await receive_known(socket, pkt)
            except ValueError as exc:
                throttle.info(log, address, "sid=%s: %s: session closed", socket.sid, exc)
                await self.server.drop(socket.sid, self.server.reason.SERVER_DISCONNECT)
            except engineio.exceptions.SocketIsClosedError:
                self.end()
            except Exception:
                # Not foreseen, so ours to fix; the session ends, as for any packet that
                # cannot be handled (a connection left open after it is in an unknown state).
                log.exception("sid=%s: a packet failed: session closed", socket.sid)
                await self.server.drop(socket.sid, self.server.reason.SERVER_DISCONNECT)
            if socket.closed:  # the client said goodbye (CLOSE)
                self.end()

    # -- what the server sends -----------------------------------------------------------

    async def _send(self, pkt: eio_packet.Packet) -> None:
        # The socket's send, writing instead of queueing (the ping timeout is the engine's:
        # ``engine.Pings``).
        if self.socket.closed:
            raise engineio.exceptions.SocketIsClosedError()
        self.write(frame(pkt.encode()))
        if pkt.packet_type == eio_packet.CLOSE:  # the socket is closing: so is this
            self.end()

    def write(self, data: bytes) -> bool:
        """Write a ready frame (within ``engine.FLUSH`` seconds); False: it was not written.

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
            self.server.throttle.warning(
                log,
                self.socket.peer.address,
                "sid=%s has %d bytes unsent: too slow a reader, disconnected",
                self.socket.sid,
                unsent,
            )
            reset(transport)
            return False
        if self._pending is None:
            self._pending = [data]
            self.server.dirty(self)
        else:
            self._pending.append(data)
        return True

    def flush(self) -> None:
        """Write the pending frames in one send (the engine calls it, ``dirty``)."""
        # With many messages a second, a member gets several per system call.
        pending, self._pending = self._pending, None
        transport = self.transport
        if pending and transport is not None and not transport.is_closing():
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def end(self, code: int = 1000, reason: str = "", linger: bool = True) -> None:
        """Close the connection: a WebSocket close frame after what is pending, then TCP.

        With ``linger``, the server's side ends first (FIN) and what the client still sends
        is read and dropped until it hangs up too (within ``CLOSING`` seconds): closing a
        socket with unread data would reset the connection, and the client could lose the
        close frame and what came before it. Either way the connection is gone within
        ``CLOSING`` seconds: a client that reads nothing (its process stopped, its network
        gone) would otherwise keep the unsent bytes, and the socket, for good.
        """
        ws, transport = self._ws, self.transport
        if self.ended or transport is None:
            return
        self.state = State.ENDED
        self._pause(False)  # what the client still sends is read, and dropped
        if ws is not None and ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._put(ws.send(wsproto.events.CloseConnection(code=code, reason=reason)))
        self.flush()
        if linger and transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:  # the client reset the connection, and the loop has not seen it
                transport.abort()
                return
        else:
            transport.close()  # after the buffer is written
        asyncio.get_running_loop().call_later(CLOSING, self._abort)

    def eof_received(self) -> None:
        return None  # the transport closes itself

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def decode(message: str) -> eio_packet.Packet:
    """The Engine.IO packet of a text a client sent; ``ValueError`` if it is not one.

    Engine.IO 4 packets are a type digit and text. engineio's decoder would also try the text
    as JSON where it does not start with a digit (a relic of Engine.IO 3: the JSON decoder
    recurses, and a few thousand brackets raise ``RecursionError``), and take "b" and base64
    as binary data, which Percolate's protocol has none of: here the text stays text, and
    "b" is refused like anything else that is not a packet.
    """
    kind = message[:1]
    if not "0" <= kind <= "9":
        raise ValueError("binary data" if kind == "b" else "not an Engine.IO packet")
    return eio_packet.Packet(int(kind), message[1:])


def reset(transport: asyncio.Transport) -> None:
    """Close a connection nobody reads at once, with a reset (RST): what it could not send is
    dropped, the kernel's share too (a plain close would keep sending it, for minutes, to a
    peer whose window stays shut)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def receive_known(socket: Any, pkt: eio_packet.Packet) -> None:
    """``AsyncSocket.receive``, for the packets a client may send.

    A type past the known ones raises ``ValueError``: the packet is unreadable and the session
    ends, as Engine.IO's parse error does (engineio's receive would index its list of type
    names past the end). A known type no client sends (OPEN, PING, NOOP) is dropped.
    """
    if not 0 <= pkt.packet_type < len(eio_packet.packet_names):
        raise ValueError(f"no Engine.IO packet has type {pkt.packet_type}")
    try:
        await engineio.async_socket.AsyncSocket.receive(socket, pkt)
    except engineio.exceptions.UnknownPacketError:
        name = eio_packet.packet_names[pkt.packet_type]
        socket.server.throttle.info(
            log, socket.peer.address, "sid=%s: a %s packet dropped", socket.sid, name
        )
