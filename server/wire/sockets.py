"""The Socket.IO server: python-socketio's, guarded where a client could reach into it, on our
Engine.IO server, with a client manager that writes each broadcast as one shared frame.

python-socketio encodes a room broadcast once, but then makes one task per recipient; each
puts the packet on the recipient's Engine.IO queue, whose writer task wakes, encodes the
Engine.IO packet again and builds a WebSocket frame. ``Broadcast`` builds the frame once and
hands the same bytes to every WebSocket member (``Stream.write``); long-polling members, and
WebSocket members until their upgrade is done, get it through Engine.IO's queue, so nobody's
order changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet

from ..errors import Code, error_ack
from .codec import Bounds, Unbounded, bounded, event_packet
from .engine import Engine
from .stream import frame

log = logging.getLogger(__name__)

ONE_IDENTITY = "this connection had an identity: open a new connection for another"
"""Why a second CONNECT on one Engine.IO session is refused (docs/protocol.md, Connecting)."""

CONNECT, ACK = str(packet.CONNECT), str(packet.ACK)
BINARY = (str(packet.BINARY_EVENT), str(packet.BINARY_ACK))
"""The first character of Socket.IO packets by type."""


class Broadcast(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's client manager, writing each broadcast as one frame for everybody."""

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
        if callback is not None:  # an ack id per recipient (never used for a room)
            await super().emit(event, data, namespace, room, skip_sid, callback)
            return
        packet = event_packet(namespace, event, data)
        await self.deliver(namespace or "/", room, skip_sid, (packet,))

    async def deliver(self, namespace: str, room: Any, skip_sid: Any, texts: Sequence[str]) -> None:
        """Send the encoded Socket.IO packets ``texts``, in order, to this process's members of
        ``room``: to a WebSocket member all of them in one piece (``Stream.write``).

        ``room``: a room, a list of rooms, or ``None`` for everyone in the namespace;
        ``skip_sid``: a Socket.IO session id, a list of them, or ``None``.
        """
        if namespace not in self.rooms:
            return
        engine: Engine = self.server.eio
        streams = engine.streams
        skip = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        ready: bytes | None = None
        slow = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            stream = streams.get(eio_sid)
            if stream is not None:
                if ready is None:  # Engine.IO MESSAGEs
                    ready = b"".join([frame("4" + text) for text in texts])
                if stream.write(ready):
                    engine.direct += len(texts)
                    continue
            slow.append(eio_sid)
        for eio_sid in slow:
            for text in texts:
                await engine.enqueue(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, text))


class Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, guarded at the two seams where a client could reach it.

    - An EVENT named ``connect`` or ``disconnect`` would run the connection handlers (only
      the catch-all handler skips those names), one named ``*`` the catch-all handler with
      the wrong arguments, and a name that is not a string would raise inside the library:
      all get a ``bad_request`` ack and go no further.
    - What Socket.IO 5 says closes the connection does (python-socketio drops it, or logs a
      traceback): a first packet that is not a CONNECT, a packet that does not decode, an
      EVENT whose payload is not a non-empty array or whose namespace the client has not
      connected to. So does binary data of any kind (BINARY_EVENT, BINARY_ACK, an
      attachment): Percolate's protocol has none, and python-socketio would keep every
      attachment announced. A CONNECT to a namespace there is not gets
      ``{"message": "Invalid namespace"}``. A connection that is not connected to Socket.IO
      within the connect timeout is closed (``Engine.connected``).
    - A packet whose JSON is past ``bounds`` is not decoded: an EVENT with an ack id is
      answered ``bad_request``, a CONNECT refused with it, anything else dropped; after
      ``max_strikes`` of them the connection is closed.
    - An event's handler runs in a task of its own, as python-socketio runs it, held by the
      engine (``Engine.hold``): a WebSocket connection has at most ``stream.IN_HAND``
      running, and sends nothing more to be handled meanwhile.
    - A CONNECT of a session opened past the cap of its address (``Engine.admitted``) is
      refused ``rate_limited``. ACKs are dropped: the server asks clients for none.

    Its Engine.IO server is ``engine.Engine``; its client manager a ``Broadcast`` (or the
    ``Fanout`` between processes).
    """

    def __init__(
        self, client_manager: Broadcast, *, bounds: Bounds, max_strikes: int, **kwargs: Any
    ) -> None:
        super().__init__(
            async_mode="aiohttp",
            client_manager=client_manager,
            serializer=bounded(bounds),
            **kwargs,
        )
        self.max_strikes = max_strikes
        """Packets past the bounds after which a connection is closed."""

    async def emit_in_order(
        self, event: str, data: Any, room: Any, key: str, position: int
    ) -> None:
        """Emit to ``room``; every process delivers a ``key``'s emits in ``position`` order.

        (One process emits in the order it stores; between processes the fan-out's
        ``sequencer`` restores it.)
        """
        await self.manager.emit(event, data, "/", room=room, order=(key, position))

    def _engineio_server_class(self) -> type[Engine]:
        return Engine

    def attach(self, app: web.Application, socketio_path: str = "socket.io") -> None:
        super().attach(app, socketio_path)
        # engineio routes GET and POST; aiohttp would answer any other method 405, where
        # Engine.IO says 400 (``Engine.handle_request``).
        app.router.add_route("*", f"/{socketio_path.strip('/')}/", self.eio.handle_request)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        if not isinstance(data, list) or not data:
            await self.refuse(eio_sid, "an EVENT whose payload is not a non-empty array")
            return
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is None:
            await self.refuse(eio_sid, f"an EVENT to {namespace or '/'}, not connected")
            return
        event = data[0]
        # "*" names the catch-all handler: python-socketio would call it with the wrong
        # arguments (the session id where the event name goes).
        if not isinstance(event, str) or event in self.reserved_events or event == "*":
            if id is not None:
                shown = event if isinstance(event, str) else "with a name that is not a string"
                ack = error_ack(Code.BAD_REQUEST, f"unknown event {shown}"[:80])
                await self._send_packet(
                    eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[ack])
                )
            return
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):  # being disconnected
            return
        # python-socketio would start the handler in a task nobody counts, and a client that
        # sends without waiting for answers would have thousands running: the engine holds
        # each, and a WebSocket connection handles at most stream.IN_HAND at once.
        self.eio.hold(
            eio_sid,
            self.eio.spawn(self._handle_event_internal(self, sid, eio_sid, data, namespace, id)),
        )

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        kind = data[:1] if isinstance(data, str) else None
        if kind is None or kind in BINARY:
            await self.refuse(eio_sid, "binary data")
        elif kind == CONNECT:
            await self._connect(eio_sid, data)
        elif self.manager.sid_from_eio_sid(eio_sid, "/") is None:
            await self.refuse(eio_sid, "a packet before CONNECT")
        elif kind != ACK:  # the server asks for no acks: any that comes is dropped
            await self._receive(eio_sid, data)

    async def _receive(self, eio_sid: str, data: str) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Unbounded as exc:
            await self._unbounded(eio_sid, exc)
        except ValueError as exc:
            await self.refuse(eio_sid, f"a packet that does not decode ({exc})")

    async def _connect(self, eio_sid: str, data: str) -> None:
        """A CONNECT: to ``/``, from a session opened within the cap of its address, with
        ``auth`` within the bounds, it goes on to the connect handler; else it is refused.

        (python-socketio's refusal of a namespace carries a string where Socket.IO 5 has an
        object.)
        """
        try:
            namespace: str = self.packet_class(encoded_packet=data).namespace or "/"
        except Unbounded as exc:
            await self._unbounded(eio_sid, exc)
            return
        except ValueError as exc:
            await self.refuse(eio_sid, f"a packet that does not decode ({exc})")
            return
        if namespace not in self.handlers:
            refused = {"message": "Invalid namespace"}
        elif self.eio.identified(eio_sid):
            # Socket.IO lets a client leave its namespace (DISCONNECT) and CONNECT again on
            # the same Engine.IO session: with a new ``auth`` that is a new identity, and
            # somebody removed from a room would be back in it on the very connection that
            # was removed. socket.io-client and python-socketio reconnect on a new session,
            # so one session carries one identity.
            self._note(eio_sid, "eio_sid=%s sent a second CONNECT: refused", eio_sid)
            refused = _refused(Code.FORBIDDEN, ONE_IDENTITY)
        elif not self.eio.admitted(eio_sid):
            peer = self.eio.peer(eio_sid)
            address = peer.address if peer is not None else ""
            self.eio.throttle.warning(
                log, address, "connect eio_sid=%s refused: too many from %s", eio_sid, address
            )
            refused = _refused(Code.RATE_LIMITED, "too many connections from your address")
        else:
            await super()._handle_eio_message(eio_sid, data)  # the connect handler runs
            if self.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
                self.eio.connected(eio_sid)  # no connect timeout any more
            return
        await self._send_packet(
            eio_sid, self.packet_class(packet.CONNECT_ERROR, data=refused, namespace=namespace)
        )

    async def _unbounded(self, eio_sid: str, exc: Unbounded) -> None:
        """A packet past the bounds: answered if it asks for an answer, and a strike."""
        pkt = exc.packet
        namespace = pkt.namespace or "/"
        if pkt.packet_type == packet.CONNECT:
            refused = _refused(Code.BAD_REQUEST, exc.message)
            await self._send_packet(
                eio_sid, self.packet_class(packet.CONNECT_ERROR, data=refused, namespace=namespace)
            )
        elif self.manager.sid_from_eio_sid(eio_sid, namespace) is None:
            await self.refuse(eio_sid, f"a packet to {namespace}, not connected")
            return
        elif pkt.packet_type == packet.EVENT and pkt.id is not None:
            ack = error_ack(Code.BAD_REQUEST, exc.message)
            await self._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=pkt.id, data=[ack])
            )
        strikes = self.eio.strike(eio_sid)
        if strikes >= self.max_strikes:
            await self.refuse(eio_sid, f"{strikes} packets past the bounds, the last {exc}")
        else:
            self._note(eio_sid, "eio_sid=%s sent a packet past the bounds: %s", eio_sid, exc)

    async def refuse(self, eio_sid: str, what: str) -> None:
        """Close the connection of a client that broke the protocol, as Socket.IO 5 says."""
        self._note(eio_sid, "eio_sid=%s sent %s: disconnected", eio_sid, what)
        await self.eio.drop(eio_sid, self.reason.SERVER_DISCONNECT)

    def _note(self, eio_sid: str, msg: str, *args: object) -> None:
        # A line about what a client sent: a few per address (logs.Throttle).
        peer = self.eio.peer(eio_sid)
        self.eio.throttle.warning(log, peer.address if peer is not None else "", msg, *args)


def _refused(code: Code, message: str) -> dict[str, Any]:
    """The data of a CONNECT_ERROR, as python-socketio sends a ``ConnectionRefusedError``."""
    return {"message": message, "data": {"code": code.value, "message": message}}


def refusal(code: str, message: str) -> Exception:
    """What a connect handler raises to refuse: CONNECT_ERROR with ``data: {code, message}``."""
    refused: Exception = socketio.exceptions.ConnectionRefusedError(
        message, {"code": code, "message": message}
    )
    return refused
