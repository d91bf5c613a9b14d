"""The Engine.IO server: python-engineio's, with WebSocket connections carried by ``Stream``
and every socket's pings on timers of our own.

engineio would keep, per socket, a writer task and a task sleeping until the next ping; here
a WebSocket's packets are written at once by its ``Stream`` and a ping is a timer (``Pings``).
Long-polling sockets, and WebSocket ones until their upgrade is done, keep engineio's queue;
a poll's answer still unwritten when its session ends resets its connection
(``Engine._respond``).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import engineio
import wsproto.frame_protocol
from aiohttp import WSCloseCode, web
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from engineio.async_drivers import aiohttp as eio_aiohttp

from .. import keys
from ..logs import Throttle
from .peers import Peer, Peers
from .stream import CLOSING, Stream, decode, frame, receive_known, reset

log = logging.getLogger(__name__)

SEPARATOR = "\x1e"
"""Between the packets of a long-polling payload (Engine.IO 4)."""

FLUSH = 0.001
"""Seconds frames wait to go out together: a member gets everything of about a millisecond in
one ``write`` (with two processes, what each heard from Redis in that time)."""

SPACING = 0.005
"""Seconds at least from one flush to the next: under load a member gets at most about 200
``write`` calls a second, each with what came meanwhile (docs/benchmarks.md, issue 13)."""

BACKLOG = 16 * 1024 * 1024
"""Bytes unsent to one connection past which it is dropped, by default (``MAX_BACKLOG_KIB``)."""

CONNECT_TIMEOUT = 5.0
"""Seconds a new session has to be ``Engine.connected``, by default (``connect_timeout``)."""

PER_ADDRESS = 50
"""Sessions from one address admitted at a time, by default (``max_per_address``)."""

_client: contextvars.ContextVar[Peer | None] = contextvars.ContextVar("client", default=None)
"""The client whose new session the request being handled opens (``Engine._open``)."""


class Pings:
    """Every socket's heartbeat (Engine.IO v4: the server pings, the client answers).

    A PING goes out ``ping_interval`` seconds after the socket connected or answered the last
    one; without a PONG within ``ping_timeout`` the socket is closed. One timer per socket at a
    time, no task. engineio calls a socket's ``schedule_ping`` once the connection is accepted
    and on every PONG: the engine points it at ``answered``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def answered(self, socket: Any) -> None:
        """``socket`` connected, or answered: its next ping is due in an interval."""
        self._set(socket, self.engine.ping_interval, self._ping)

    def _ping(self, socket: Any) -> None:
        engine = self.engine
        sid = socket.sid
        if socket.closing or socket.closed or sid not in engine.sockets:
            self._timers.pop(sid, None)
            return
        pkt = eio_packet.Packet(eio_packet.PING)
        if not engine.write(sid, frame(pkt.encode())):
            engine.spawn(socket.send(pkt))
        self._set(socket, engine.ping_timeout, self._unanswered)

    def _unanswered(self, socket: Any) -> None:
        self._timers.pop(socket.sid, None)
        if socket.closing or socket.closed:
            return
        self.engine.throttle.info(
            log, socket.peer.address, "sid=%s answered no ping: closed", socket.sid
        )
        # Not aborted: the CLOSE packet tells a half-open client it is disconnected; and the
        # session is forgotten, so that a later poll gets 400 (Engine.IO), not that packet.
        engine = self.engine
        engine.spawn(engine.drop(socket.sid, engine.reason.PING_TIMEOUT))

    def _set(self, socket: Any, delay: float, then: Callable[[Any], None]) -> None:
        timers = self._timers
        previous = timers.get(socket.sid)
        if previous is not None:
            previous.cancel()
        timers[socket.sid] = asyncio.get_running_loop().call_later(delay, then, socket)


class _Sockets(dict[str, Any]):
    """engineio's sockets by session id, handing each new one to the engine first, and each
    one that goes back to it (however engineio forgets a socket: ``del``)."""

    __slots__ = ("_adopt", "_release")

    def __init__(self, adopt: Callable[[Any], None], release: Callable[[Any], None]) -> None:
        super().__init__()
        self._adopt = adopt
        self._release = release

    def __setitem__(self, sid: str, socket: Any) -> None:
        if sid not in self:
            self._adopt(socket)
        super().__setitem__(sid, socket)

    def __delitem__(self, sid: str) -> None:
        socket = self[sid]
        super().__delitem__(sid)
        self._release(socket)

    def pop(self, sid: str, *default: Any) -> Any:
        if sid not in self:
            return super().pop(sid, *default)
        socket = self[sid]
        del self[sid]
        return socket


class _Poll(web.Response):
    """A long-polling answer, known to its engine until aiohttp has written it all."""

    def __init__(
        self, polls: dict[str, asyncio.Transport], sid: str, transport: asyncio.Transport, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self._polls, self._sid, self._transport = polls, sid, transport
        polls[sid] = transport

    async def write_eof(self, data: bytes = b"") -> None:
        try:
            await super().write_eof(data)
        finally:
            if self._polls.get(self._sid) is self._transport:
                del self._polls[self._sid]


class Engine(engineio.AsyncServer):  # type: ignore[misc]
    """The Engine.IO server, writing to WebSocket connections directly."""

    def __init__(
        self,
        *,
        backlog: int = BACKLOG,
        connect_timeout: float = CONNECT_TIMEOUT,
        address: Callable[[dict[str, Any]], str] | None = None,
        max_per_address: int = PER_ADDRESS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backlog = backlog
        """Bytes unsent to one WebSocket connection past which it is dropped."""
        self.connect_timeout = connect_timeout
        """Seconds a new session has to be ``connected`` before it is closed."""
        self.address = address or _peer
        """The client's address from a request's environ (behind proxies, what they say)."""
        self.peers = Peers(max_per_address)
        """Sessions open from each address, counted from the request that opens one."""
        self.throttle = Throttle()
        """Log lines about what clients sent: a few per address (``logs``)."""
        self._connecting: dict[str, tuple[float, Any]] = {}
        """New sessions until they are ``connected``: their deadline and socket, oldest first."""
        self._connect_timer: asyncio.TimerHandle | None = None
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped in engineio
        setattr(self, "_async", {**drivers, "websocket": Stream, "translate_request": _environ,  # noqa: B010
                                 "make_response": self._respond})  # fmt: skip
        self.sockets: dict[str, Any] = _Sockets(self._adopt, self._release)
        self.streams: dict[str, Stream] = {}
        """The WebSocket connections, by Engine.IO session id."""
        self.pings = Pings(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._active: set[tuple[str, str]] = set()
        """Long-polling requests being served: (session id, method)."""
        self._polls: dict[str, asyncio.Transport] = {}
        """Long-polling answers being written, by session id: the connection each goes out on."""
        self._dirty: list[Stream] | None = None
        """Streams with frames to write when the flush timer fires (``dirty``)."""
        self._flushed = 0.0
        """When the last flush was (the loop's clock)."""
        self._sequence = 0
        self.direct = 0
        """Packets written straight to a WebSocket connection."""
        self.queued = 0
        """Packets that went through Engine.IO's queue (long polling, or before the upgrade)."""

    def _adopt(self, socket: Any) -> None:
        # A new socket: it takes the place its request holds for its address, its heartbeat
        # is ours (engineio's own timeout check, which reads last_ping, stays idle), a packet
        # engineio cannot read ends the session before its receive sees it, and its connect
        # timeout runs.
        peer = _client.get()
        if peer is None or peer.sid is not None:  # not opened by _open (none is): count it
            peer = Peer("", admitted=True)
            self.peers.open[peer.address] += 1
        peer.sid = socket.sid
        socket.peer = peer
        socket.last_ping = None
        socket.schedule_ping = functools.partial(self.pings.answered, socket)
        socket.receive = functools.partial(receive_known, socket)
        self._opening(socket)

    def _release(self, socket: Any) -> None:
        # The session ended: its address has a place free, and a poll's answer still being
        # written will not be read (``_respond``).
        self.peers.leave(socket.peer)
        transport = self._polls.pop(socket.sid, None)
        if transport is not None and not transport.is_closing():
            log.info("sid=%s: gone with its poll's answer unread: connection reset", socket.sid)
            reset(transport)

    def admitted(self, sid: str) -> bool:
        """Whether session ``sid`` opened while its address had places (it may connect)."""
        socket = self.sockets.get(sid)
        return socket is not None and bool(socket.peer.admitted)

    def peer(self, sid: str) -> Peer | None:
        """The client of session ``sid``, while it is open."""
        socket = self.sockets.get(sid)
        return socket.peer if socket is not None else None

    def strike(self, sid: str) -> int:
        """One more packet of ``sid`` refused without closing it: how many so far."""
        peer = self.peer(sid)
        if peer is None:
            return 0
        peer.strikes += 1
        return peer.strikes

    def _opening(self, socket: Any) -> None:
        # One timer for every session's connect timeout: the deadlines come in the order the
        # sessions opened, and nearly every session is connected long before its own.
        loop = asyncio.get_running_loop()
        self._connecting[socket.sid] = (loop.time() + self.connect_timeout, socket)
        if self._connect_timer is None:
            self._connect_timer = loop.call_later(self.connect_timeout, self._connect_timeouts)

    def on(self, event: str, handler: Any = None) -> Any:
        """engineio's (its documented registration), with the ``message`` handler guarded.

        A message whose handling raised (python-socketio decoding a packet, or our connect
        handler) ends its session: engineio would log it and keep the connection open, in
        whatever state the failure left it.
        """
        if event != "message":
            return super().on(event, handler)
        if handler is None:
            return lambda handler: super(Engine, self).on(event, self._guarded(handler))
        return super().on(event, self._guarded(handler))

    def _guarded(self, handler: Callable[[str, Any], Awaitable[Any]]) -> Callable[..., Any]:
        async def message(sid: str, data: Any) -> Any:
            try:
                return await handler(sid, data)
            except Exception:
                # Not foreseen (a packet we can refuse is refused before this), so ours to fix.
                log.exception("sid=%s: a message failed: session closed", sid)
                await self.drop(sid, self.reason.SERVER_DISCONNECT)
                return None

        return message

    def _respond(
        self, status: str, headers: list[tuple[str, str]], payload: bytes, environ: dict[str, Any]
    ) -> web.Response:
        """engineio's aiohttp ``make_response``; a live session's poll answer is a ``_Poll``.

        aiohttp writes an answer with no deadline: to a client that reads nothing (its
        process stopped) it waits for good, holding the connection and what it could not
        send (a poll can carry all that was queued since the last). So while a session's
        answer is being written, its connection is known (``_polls``), and reset if the
        session ends first (``_release``): a client that stops reading stops answering pings.
        """
        request = environ.get("aiohttp.request")
        code = int(status.split()[0])
        sid = request.query.get("sid") if request is not None and request.method == "GET" else None
        transport = request.transport if request is not None else None
        if sid is None or transport is None or sid not in self.sockets:
            return web.Response(body=payload, status=code, headers=headers)
        return _Poll(self._polls, sid, transport, body=payload, status=code, headers=headers)

    def connected(self, sid: str) -> None:
        """Session ``sid`` connected to the protocol above (Socket.IO): it stays open."""
        self._connecting.pop(sid, None)
        peer = self.peer(sid)
        if peer is not None:
            peer.identified = True

    def identified(self, sid: str) -> bool:
        """Whether session ``sid`` was ever connected to Socket.IO (``connected``)."""
        peer = self.peer(sid)
        return peer is not None and peer.identified

    def _connect_timeouts(self) -> None:
        loop = asyncio.get_running_loop()
        self._connect_timer = None
        while self._connecting:
            sid, (deadline, socket) = next(iter(self._connecting.items()))
            if deadline > loop.time():
                self._connect_timer = loop.call_at(deadline, self._connect_timeouts)
                return
            del self._connecting[sid]
            if not (socket.closing or socket.closed):
                self.throttle.info(
                    log, socket.peer.address, "sid=%s: not connected in time: closed", sid
                )
                self.spawn(self.drop(sid, self.reason.SERVER_DISCONNECT))

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """engineio's, answering as Engine.IO 4 says where engineio does not.

        - A request without a ``transport``, or with a method other than GET, POST and OPTIONS,
          gets 400 (engineio takes long polling as the default, and answers 405); so does one
          for a session that ended, without engineio's error in the log.
        - A second GET, or POST, of a session while one is still served gets 400, and the
          session ends (engineio would hold both, one of them until the ping timeout).
        - A POST that went through is answered ``ok`` (engineio: ``OK``).
        - A second WebSocket for a session is opened and closed, not answered 400 (which a
          WebSocket client sees as an error).
        - A request that opens a session counts against its address from the start
          (``_open``); past twice the cap it is answered 429.
        - Requests engineio would refuse with an error in the log (an unknown transport or
          Engine.IO version, a POST without a session, ``transport=websocket`` without the
          upgrade, long polling on an upgraded session) get 400 without it: a client must
          not write the server's log at will.
        """
        request: web.BaseRequest = args[0]
        method, query = request.method, request.query
        transport = query.get("transport")
        if transport not in ("polling", "websocket") or method not in ("GET", "POST", "OPTIONS"):
            return web.Response(status=400, text="Bad Request")
        sid = query.get("sid")
        if sid is None and query.get("EIO") != "4":
            return web.Response(status=400, text="Bad Request")
        if sid is not None and sid not in self.sockets:
            # A session that ended (engineio would log an error the first time).
            return web.Response(status=400, text="Bad Request")
        if method == "OPTIONS":
            return await super().handle_request(*args, **kwargs)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade != (transport == "websocket"):
            return web.Response(status=400, text="Bad Request")
        if sid is None:
            if method == "GET":
                return await self._open(*args, **kwargs)
            return web.Response(status=400, text="Bad Request")
        socket = self.sockets[sid]
        if upgrade:
            if socket.upgraded:
                return await _refuse_websocket(request)
            return await super().handle_request(*args, **kwargs)
        if socket.upgraded:
            return web.Response(status=400, text="Bad Request")
        active = (sid, method)
        if active in self._active:
            self.throttle.info(
                log,
                socket.peer.address,
                "sid=%s: a second %s while one is served: session closed",
                sid,
                method,
            )
            await self.drop(sid, self.reason.SERVER_DISCONNECT)
            return web.Response(status=400, text="Bad Request")
        if method == "POST" and "handle_post_request" not in vars(socket):
            # Only long-polling sockets POST: the others do without the attribute.
            socket.handle_post_request = functools.partial(_receive_payload, socket)
        self._active.add(active)
        try:
            response = await super().handle_request(*args, **kwargs)
        finally:
            self._active.discard(active)
        if method == "POST" and response.status == 200:
            response.body = b"ok"
        return response

    async def _open(self, *args: Any, **kwargs: Any) -> Any:
        """Open a session: from here until it ends, it holds a place for its client's address
        (``peers``), taken before anything is awaited; past ``REFUSED`` times the cap the
        request is answered 429."""
        address = self.address(_environ(args[0]))
        peer = self.peers.enter(address)
        if peer is None:
            self.throttle.warning(
                log, address, "address=%s has too many sessions: one more refused", address
            )
            return web.Response(status=429, text="too many connections from your address")
        token = _client.set(peer)
        try:
            return await super().handle_request(*args, **kwargs)
        finally:
            _client.reset(token)
            if peer.sid is None:  # no session came of it
                self.peers.leave(peer)

    async def drop(self, sid: str, reason: str) -> None:
        """End session ``sid`` at once: for a client that broke the protocol, or went silent.

        A poll that is waiting gets a CLOSE packet, a WebSocket its CLOSE packet and close
        frame; a later request for the session gets 400, as for any unknown session.
        """
        socket = self.sockets.get(sid)
        if socket is None:
            return
        await socket.close(wait=False, abort=False, reason=reason)
        stream = self.streams.get(sid)
        if stream is not None:
            stream.end()  # if its CLOSE packet did not
        self.forget(socket)

    def generate_id(self) -> str:
        # engineio's ids (Engine.IO's and Socket.IO's session ids), from the pooled CSPRNG.
        sequence = self._sequence.to_bytes(3, "big")
        self._sequence = (self._sequence + 1) & 0xFFFFFF
        return base64.urlsafe_b64encode(keys.random_bytes(12) + sequence).decode()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coroutine`` in a task this engine keeps until it is done."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def end(self, socket: Any, reason: str) -> None:
        """Close ``socket`` whose connection is gone, and forget it."""
        await socket.close(wait=False, abort=True, reason=reason)
        self.forget(socket)

    def forget(self, socket: Any) -> None:
        # engineio forgets a closed socket when its request ends, or in its service task.
        sid = socket.sid
        if self.sockets.get(sid) is socket:
            del self.sockets[sid]

    def hang_up(self) -> None:
        """Close every WebSocket connection (those still upgrading included)."""
        for stream in list(self.streams.values()):
            stream.end(wsproto.frame_protocol.CloseReason.GOING_AWAY, linger=False)

    def hold(self, sid: str, task: asyncio.Task[Any]) -> None:
        """``task`` handles an event of session ``sid``: a WebSocket connection handles at most
        ``stream.IN_HAND`` at once, and reads nothing more meanwhile (``Stream.hold``)."""
        stream = self.streams.get(sid)
        if stream is not None:
            stream.hold(task)

    def dirty(self, stream: Stream) -> None:
        """``stream`` has frames to write: every such stream writes them within ``FLUSH`` seconds,
        and no sooner than ``SPACING`` seconds after the last flush.

        One timer for all of them, not a callback per stream per turn.
        """
        if self._dirty is None:
            self._dirty = [stream]
            loop = asyncio.get_running_loop()
            loop.call_later(max(FLUSH, self._flushed + SPACING - loop.time()), self._flush)
        else:
            self._dirty.append(stream)

    def _flush(self) -> None:
        streams, self._dirty = self._dirty or [], None
        self._flushed = asyncio.get_running_loop().time()
        for stream in streams:
            stream.flush()

    def write(self, sid: str, data: bytes) -> bool:
        """Write a ready frame to ``sid`` if it is a WebSocket connection that is up."""
        stream = self.streams.get(sid)
        if stream is not None and stream.write(data):
            self.direct += 1
            return True
        return False

    async def send_packet(self, sid: str, pkt: eio_packet.Packet) -> None:
        if sid not in self.streams or not self.write(sid, frame(pkt.encode())):
            await self.enqueue(sid, pkt)

    async def enqueue(self, sid: str, pkt: eio_packet.Packet) -> None:
        """Send through the socket's queue (long polling, or a WebSocket not yet upgraded)."""
        self.queued += 1
        await super().send_packet(sid, pkt)


async def _receive_payload(socket: Any, environ: dict[str, Any]) -> None:
    """``AsyncSocket.handle_post_request``: a long-polling payload's packets to the socket, in
    order; a payload it cannot read ends the session.

    Read here rather than by engineio, whose decoder takes binary packets ("b" and base64,
    which Percolate's protocol has none of) and tries every packet's data as JSON, recursively
    (``stream.decode``). engineio would answer 200 to a payload that does not decode (and log
    the traceback), and hold the answer to one it refuses until the session's next poll. Here
    the session is closed (a poll that is waiting gets CLOSE), and engineio answers 400 and
    forgets it. A CLOSE from the client ends the poll that is waiting with a NOOP, as
    Engine.IO's close does.
    """
    server = socket.server
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > server.max_http_buffer_size:
            raise ValueError(f"{length} bytes")
        body = (await environ["wsgi.input"].readexactly(length)).decode()
        texts = body.split(SEPARATOR) if body else []
        if len(texts) > eio_payload.Payload.max_decode_packets:
            raise ValueError(f"{len(texts)} packets")
        for pkt in [decode(text) for text in texts]:
            await receive_known(socket, pkt)
    except (ValueError, asyncio.IncompleteReadError, engineio.exceptions.EngineIOError) as exc:
        address = socket.peer.address
        server.throttle.info(
            log, address, "sid=%s: a payload not read (%s): session closed", socket.sid, exc
        )
        reason = server.reason.SERVER_DISCONNECT
        await socket.close(wait=False, abort=False, reason=reason)
        raise engineio.exceptions.EngineIOError("unreadable payload") from None
    if socket.closed:
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


async def _refuse_websocket(request: web.BaseRequest) -> web.StreamResponse:
    """Open a WebSocket and close it at once (Engine.IO: one WebSocket per session)."""
    ws = web.WebSocketResponse(timeout=CLOSING, compress=False)
    await ws.prepare(request)
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"the session has a WebSocket")
    return ws


def _peer(environ: dict[str, Any]) -> str:
    """The address of the TCP peer, without proxies (``Engine.address``'s default)."""
    return str(environ.get("REMOTE_ADDR", ""))


def _environ(request: web.BaseRequest) -> dict[str, Any]:
    """engineio's WSGI-like environ of an aiohttp request, with the peer's address.

    (engineio writes 127.0.0.1 for every peer and leaves the real one on the request; the
    request is not kept once a connection is up: ``release``.)
    """
    environ: dict[str, Any] = eio_aiohttp.translate_request(request)
    environ["REMOTE_ADDR"] = request.remote or ""
    return environ


def release(environ: dict[str, Any]) -> None:
    """Empty an environ once its connection is up: python-socketio keeps it as long as the
    connection, with the aiohttp request and every header (about 1.2 KiB per idle member).

    Engine.IO has read it by then (the handshake, the WebSocket's request); nothing reads it
    later (``get_environ`` is not used).
    """
    environ.clear()
    environ.pop("wsgi.input", None)
