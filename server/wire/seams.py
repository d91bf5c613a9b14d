"""Every private name of python-engineio, python-socketio and aiohttp that ``server.wire`` uses,
checked at start-up.

The package overrides or calls these; none is promised by its library, so a release may move
one. A moved override would not fail: it would silently stop being called (the stock engine
back, a client's bad packet reaching the library). ``check`` looks at each before the server
starts and stops it with a message naming the library, its installed version and the name
(the pins in pyproject.toml are the versions these were checked against).

Where an attribute's presence says enough it is all that is checked; where the library must
also still *call* it the way we rely on, the caller's source must hold a fragment, and where
we override a method, its parameters must be the ones our override takes.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
from typing import Any


@dataclasses.dataclass(frozen=True)
class Seam:
    library: str
    """The distribution's name, as ``pip`` knows it."""
    name: str
    """Dotted path to the attribute, from its module."""
    why: str
    """What ``server.wire`` does with it."""
    source: str | None = None
    """A fragment the named function's source must hold (how the library calls our hook)."""
    params: tuple[str, ...] | None = None
    """The parameters of the named method, ``self`` left out (we override it)."""


ENGINEIO, SOCKETIO, AIOHTTP = "python-engineio", "python-socketio", "aiohttp"

SEAMS = (
    # engineio: the WebSocket driver (stream.Stream) and the sockets it carries.
    Seam(ENGINEIO, "engineio.base_server.BaseServer.__init__", "the drivers are instance data",
         source="self._async = "),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket._upgrade_websocket",
         "engineio builds its WebSocket driver from _async['websocket'] (a Stream)",
         source="self.server._async['websocket']("),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket._websocket_handler",
         "a Stream finds its socket as the handler's __self__"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer.handle_request",
         "engineio builds its environ with _async['translate_request'] (engine._environ)",
         source="self._async['translate_request']"),
    Seam(ENGINEIO, "engineio.async_drivers.aiohttp.translate_request",
         "engine._environ starts from engineio's environ"),
    Seam(ENGINEIO, "engineio.async_drivers.aiohttp.create_route",
         "the endpoint's requests go to the engine's handle_request (Engine.IO's answers)",
         source="engineio_server.handle_request"),
    Seam(ENGINEIO, "engineio.base_socket.BaseSocket.__init__",
         "a Stream takes over the socket's queue", source="self.queue = "),
    Seam(ENGINEIO, "engineio.base_socket.BaseSocket.__init__",
         "a Stream carries out the upgrade's steps", source="self.upgrading = False"),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket.close",
         "a socket closes by sending CLOSE through its send (a Stream's then ends)",
         source="await self.send(packet.Packet(packet.CLOSE))"),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket.handle_post_request",
         "replaced on long-polling sockets by engine._receive_payload"),
    Seam(ENGINEIO, "engineio.async_drivers.aiohttp.translate_request",
         "a POST's body is the environ's wsgi.input (engine._receive_payload reads it)",
         source="'wsgi.input': request.content"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer.handle_request",
         "a POST goes to the socket's handle_post_request (replaced: engine._receive_payload)",
         source="await socket.handle_post_request(environ)"),
    Seam(ENGINEIO, "engineio.payload.Payload.max_decode_packets",
         "engine._receive_payload takes as many packets per payload as engineio would"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer.handle_request",
         "an EngineIOError from handle_post_request is answered 400",
         source="except exceptions.EngineIOError:"),
    Seam(ENGINEIO, "engineio.packet.packet_names", "stream.receive_known: the known types"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer._make_response",
         "answers are made by _async['make_response'] (engine.Engine._respond)",
         source="self._async['make_response']"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer.handle_request",
         "engineio forgets a socket with del (engine._Sockets tells the engine)",
         source="del self.sockets[sid]"),
    # engineio: the pings (engine.Pings).
    Seam(ENGINEIO, "engineio.async_server.AsyncServer._handle_connect",
         "a new socket is stored in sockets (engine._Sockets adopts it, and its client's "
         "place, in the request that opens it)", source="self.sockets[sid] = s"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer.handle_request",
         "a new session is made in the request that asks for it (engine.Engine._open)",
         source="await self._handle_connect(environ, transport"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer._service_task",
         "engineio forgets a socket with del (engine._Sockets gives its place back)",
         source="del self.sockets[s.sid]"),
    Seam(ENGINEIO, "engineio.async_server.AsyncServer._handle_connect",
         "a socket's pings start from schedule_ping once it is accepted",
         source="s.schedule_ping()"),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket.receive",
         "a PONG calls schedule_ping (engine.Pings.answered)", source="self.schedule_ping()"),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket.schedule_ping",
         "replaced on every socket by engine.Pings.answered"),
    Seam(ENGINEIO, "engineio.async_socket.AsyncSocket.check_ping_timeout",
         "engineio's own ping timeout stays idle while last_ping is None",
         source="if last_ping and"),
    # socketio: the server (sockets.Server).
    Seam(SOCKETIO, "socketio.base_server.BaseServer.__init__",
         "the Engine.IO server is made by _engineio_server_class (an engine.Engine)",
         source="self.eio = self._engineio_server_class()("),
    Seam(SOCKETIO, "socketio.async_server.AsyncServer._engineio_server_class",
         "overridden: our engine.Engine", params=()),
    Seam(SOCKETIO, "socketio.async_server.AsyncServer._handle_event",
         "overridden: events named connect/disconnect or not a string are refused, and the "
         "handler's task is held by the engine", params=("eio_sid", "namespace", "id", "data")),
    Seam(SOCKETIO, "socketio.async_server.AsyncServer._handle_event_internal",
         "sockets.Server._handle_event starts it in a task the engine holds",
         params=("server", "sid", "eio_sid", "data", "namespace", "id")),
    Seam(SOCKETIO, "socketio.async_server.AsyncServer._handle_eio_message",
         "overridden: a packet the protocol has no place for closes the connection",
         params=("eio_sid", "data")),
    Seam(SOCKETIO, "socketio.base_server.BaseServer.__init__",
         "engineio's messages go to _handle_eio_message",
         source="self.eio.on('message', self._handle_eio_message)"),
    Seam(SOCKETIO, "socketio.packet.Packet.decode",
         "overridden (codec.Packet): the payload is read by json.loads, after the ack id",
         source="self.data = self.json.loads(ep)", params=("encoded_packet",)),
    Seam(SOCKETIO, "socketio.async_server.AsyncServer._send_packet",
         "the refusal of a reserved event is sent as an ACK, of an unknown namespace as a "
         "CONNECT_ERROR", params=("eio_sid", "pkt")),
    # aiohttp: the hand-over of a WebSocket's connection (stream._detach).
    Seam(AIOHTTP, "aiohttp.web_protocol.RequestHandler._manager",
         "the detached connection is no longer counted by aiohttp's server"),
    Seam(AIOHTTP, "aiohttp.web_protocol.RequestHandler._message_tail",
         "bytes aiohttp read past the handshake go to the Stream"),
    Seam(AIOHTTP, "aiohttp.web_protocol.RequestHandler.force_close",
         "aiohttp leaves a detached transport alone", source="if self.transport is not None"),
    Seam(AIOHTTP, "aiohttp.web_server.Server.connection_lost",
         "the detached connection is no longer counted by aiohttp's server"),
    Seam(AIOHTTP, "aiohttp.http.WS_KEY", "the handshake's accept key"),
    # aiohttp: its own answers to requests it cannot read (http.Handler).
    Seam(AIOHTTP, "aiohttp.web_server.RequestHandler",
         "replaced by http.Handler (http.install)"),
    Seam(AIOHTTP, "aiohttp.web_server.Server.__call__",
         "every connection's handler is built from web_server's RequestHandler (http.Handler)",
         source="RequestHandler(self, loop=self._loop"),
    Seam(AIOHTTP, "aiohttp.web_protocol.RequestHandler.handle_error",
         "overridden: http.Handler's answers carry the security headers and echo nothing",
         params=("request", "status", "exc", "message")),
    Seam(AIOHTTP, "aiohttp.web_protocol.RequestHandler._make_error_handler",
         "a request that does not parse is answered by handle_error",
         source="self.handle_error("),
)  # fmt: skip


class SeamError(RuntimeError):
    """A private name ``server.wire`` relies on moved: the server must not start."""


def check(seams: tuple[Seam, ...] = SEAMS) -> None:
    """Raise ``SeamError`` naming every seam that moved, with its library's installed version."""
    problems = [
        f"{_version(seam.library)}: {problem}" for seam in seams if (problem := _look(seam))
    ]
    if problems:
        raise SeamError(
            "server.wire relies on private names that moved (pyproject.toml pins the versions "
            "they were checked against): " + "; ".join(problems)
        )


def _look(seam: Seam) -> str | None:
    """What is wrong with ``seam``, or None."""
    try:
        found = _resolve(seam.name)
    except (ImportError, AttributeError):
        return f"{seam.name} is gone ({seam.why})"
    if seam.source is not None:
        try:
            text = inspect.getsource(found)
        except (OSError, TypeError):
            text = ""
        if seam.source not in text:
            return f"{seam.name} no longer holds {seam.source!r} ({seam.why})"
    if seam.params is not None:
        names = tuple(name for name in inspect.signature(found).parameters if name != "self")
        if names != seam.params:
            return f"{seam.name} takes {names}, not {seam.params} ({seam.why})"
    return None


def _resolve(name: str) -> Any:
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            found = inspect.getattr_static(found, part)
        return found.__func__ if isinstance(found, classmethod | staticmethod) else found
    raise ImportError(name)


def _version(library: str) -> str:
    try:
        return f"{library} {importlib.metadata.version(library)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{library} (not installed)"
