"""The Engine.IO server: python-engineio's, with WebSocket connections carried by ``Stream``
and every socket's pings on timers of our own.

engineio would keep, per socket, a writer task and a task sleeping until the next ping; here
a WebSocket's packets are written at once by its ``Stream`` and a ping is a timer (``Pings``).
Long-polling sockets, and WebSocket ones until their upgrade is done, keep engineio's queue.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import engineio
import wsproto.frame_protocol
from aiohttp import WSCloseCode, web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp

from .. import keys
from .stream import CLOSING, Stream, frame, receive_known

log = logging.getLogger(__name__)

FLUSH = 0.001
"""Seconds frames wait to go out together: a member gets everything of about a millisecond in
one ``write`` (with two processes, what each heard from Redis in that time)."""

SPACING = 0.005
"""Seconds at least from one flush to the next: under load a member gets at most about 200
``write`` calls a second, each with what came meanwhile (docs/benchmarks.md, issue 13)."""

BACKLOG = 16 * 1024 * 1024
"""Bytes unsent to one connection past which it is dropped, by default (``MAX_BACKLOG_KIB``)."""

CONNECT_TIMEOUT = 45.0
"""Seconds a new session has to be ``Engine.connected``, by default (``connect_timeout``)."""


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
        log.info("sid=%s answered no ping: closed", socket.sid)
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
    """engineio's sockets by session id, handing each new one to the engine first."""

    __slots__ = ("_adopt",)

    def __init__(self, adopt: Callable[[Any], None]) -> None:
        super().__init__()
        self._adopt = adopt

    def __setitem__(self, sid: str, socket: Any) -> None:
        if sid not in self:
            self._adopt(socket)
        super().__setitem__(sid, socket)


class Engine(engineio.AsyncServer):  # type: ignore[misc]
    """The Engine.IO server, writing to WebSocket connections directly."""

    def __init__(
        self, *, backlog: int = BACKLOG, connect_timeout: float = CONNECT_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.backlog = backlog
        """Bytes unsent to one WebSocket connection past which it is dropped."""
        self.connect_timeout = connect_timeout
        """Seconds a new session has to be ``connected`` before it is closed."""
        self._connecting: dict[str, tuple[float, Any]] = {}
        """New sessions until they are ``connected``: their deadline and socket, oldest first."""
        self._connect_timer: asyncio.TimerHandle | None = None
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 - untyped in engineio
        setattr(self, "_async", {**drivers, "websocket": Stream, "translate_request": _environ})  # noqa: B010
        self.sockets: dict[str, Any] = _Sockets(self._adopt)
        self.streams: dict[str, Stream] = {}
        """The WebSocket connections, by Engine.IO session id."""
        self.pings = Pings(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._active: set[tuple[str, str]] = set()
        """Long-polling requests being served: (session id, method)."""
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
        # A new socket: its heartbeat is ours (engineio's own timeout check, which reads
        # last_ping, stays idle), a packet engineio cannot read ends the session before its
        # receive sees it, and its connect timeout runs.
        socket.last_ping = None
        socket.schedule_ping = functools.partial(self.pings.answered, socket)
        socket.receive = functools.partial(receive_known, socket)
        self._opening(socket)

    def _opening(self, socket: Any) -> None:
        # One timer for every session's connect timeout: the deadlines come in the order the
        # sessions opened, and nearly every session is connected long before its own.
        loop = asyncio.get_running_loop()
        self._connecting[socket.sid] = (loop.time() + self.connect_timeout, socket)
        if self._connect_timer is None:
            self._connect_timer = loop.call_later(self.connect_timeout, self._connect_timeouts)

    def connected(self, sid: str) -> None:
        """Session ``sid`` connected to the protocol above (Socket.IO): it stays open."""
        self._connecting.pop(sid, None)

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
                log.info("sid=%s: not connected within the connect timeout: closed", sid)
                self.spawn(self.drop(sid, self.reason.SERVER_DISCONNECT))

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """engineio's, answering as Engine.IO 4 says where engineio does not.

        - A request without ``transport``, or with a method other than GET, POST and OPTIONS,
          gets 400 (engineio takes long polling as the default, and answers 405); so does one
          for a session that ended, without engineio's error in the log.
        - A second GET, or POST, of a session while one is still served gets 400, and the
          session ends (engineio would hold both, one of them until the ping timeout).
        - A POST that went through is answered ``ok`` (engineio: ``OK``).
        - A second WebSocket for a session is opened and closed, not answered 400 (which a
          WebSocket client sees as an error).
        """
        request: web.BaseRequest = args[0]
        method, query = request.method, request.query
        if "transport" not in query or method not in ("GET", "POST", "OPTIONS"):
            return web.Response(status=400, text="Bad Request")
        sid = query.get("sid")
        if sid is not None and sid not in self.sockets:
            # A session that ended (engineio would log an error the first time).
            return web.Response(status=400, text="Bad Request")
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade and sid is not None and self.sockets[sid].upgraded:
            return await _refuse_websocket(request)
        if sid is None or upgrade or method == "OPTIONS":
            return await super().handle_request(*args, **kwargs)
        active = (sid, method)
        if active in self._active:
            log.info("sid=%s: a second %s while one is served: session closed", sid, method)
            await self.drop(sid, self.reason.SERVER_DISCONNECT)
            return web.Response(status=400, text="Bad Request")
        socket = self.sockets[sid]
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
        sid = socket.sid
        if self.sockets.get(sid) is socket:
            del self.sockets[sid]

    def hang_up(self) -> None:
        """Close every WebSocket connection (those still upgrading included)."""
        for stream in list(self.streams.values()):
            stream.end(wsproto.frame_protocol.CloseReason.GOING_AWAY, linger=False)

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
    """``AsyncSocket.handle_post_request``; a payload it cannot read ends the session.

    engineio would answer 200 to a payload that does not decode (and log the traceback), and
    hold the answer to one it refuses until the session's next poll. Here the session is
    closed (a poll that is waiting gets CLOSE), and engineio answers 400 and forgets it. A
    CLOSE from the client ends the poll that is waiting with a NOOP, as Engine.IO's close does.
    """
    try:
        await engineio.async_socket.AsyncSocket.handle_post_request(socket, environ)
    except (ValueError, engineio.exceptions.EngineIOError) as exc:
        log.info("sid=%s: a payload not read (%r): session closed", socket.sid, exc)
        reason = socket.server.reason.SERVER_DISCONNECT
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
