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
from typing import Any

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet

from ..errors import Code, error_ack
from .codec import Packet, event_packet
from .engine import Engine
from .stream import frame

log = logging.getLogger(__name__)


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
        await self.deliver(namespace or "/", room, skip_sid, event_packet(namespace, event, data))

    async def deliver(self, namespace: str, room: Any, skip_sid: Any, text: str) -> None:
        """Send the encoded Socket.IO packet ``text`` to this process's members of ``room``.

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
                if ready is None:
                    ready = frame("4" + text)  # an Engine.IO MESSAGE
                if stream.write(ready):
                    engine.direct += 1
                    continue
            slow.append(eio_sid)
        for eio_sid in slow:
            await engine.enqueue(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, text))


class Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, guarded at the two seams where a client could reach it.

    - An EVENT named ``connect`` or ``disconnect`` would run the connection handlers (only
      the catch-all handler skips those names), and a name that is not a string would raise
      inside the library: both get a ``bad_request`` ack and go no further.
    - What Socket.IO 5 says closes the connection does (python-socketio drops it, or logs a
      traceback): a first packet that is not a CONNECT, a packet that does not decode,
      binary data that is not an announced attachment, an EVENT whose payload is not a
      non-empty array or whose namespace the client has not connected to. A CONNECT to a
      namespace there is not gets ``{"message": "Invalid namespace"}``. A connection that is
      not connected to Socket.IO within the connect timeout is closed (``Engine.connected``).

    Its Engine.IO server is ``engine.Engine``; its client manager a ``Broadcast`` (or the
    ``Fanout`` between processes).
    """

    def __init__(self, client_manager: Broadcast, **kwargs: Any) -> None:
        super().__init__(
            async_mode="aiohttp", client_manager=client_manager, serializer=Packet, **kwargs
        )

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
        if not isinstance(event, str) or event in self.reserved_events:
            if id is not None:
                shown = event if isinstance(event, str) else "with a name that is not a string"
                ack = error_ack(Code.BAD_REQUEST, f"unknown event {shown}"[:80])
                await self._send_packet(
                    eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[ack])
                )
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        binary: dict[str, Any] = getattr(self, "_binary_packet", {})
        if not isinstance(data, str):
            if eio_sid not in binary:  # python-socketio would read it as a packet's text
                await self.refuse(eio_sid, "binary data no packet announced")
                return
        elif data[:1] == "0":
            namespace = await self._connect_namespace(eio_sid, data)
            if namespace is not None:
                await super()._handle_eio_message(eio_sid, data)  # the connect handler runs
                if self.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
                    self.eio.connected(eio_sid)  # no connect timeout any more
            return
        elif self.manager.sid_from_eio_sid(eio_sid, "/") is None:
            await self.refuse(eio_sid, "a packet before CONNECT")
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            await self.refuse(eio_sid, f"a packet that does not decode ({exc})")

    async def _connect_namespace(self, eio_sid: str, data: str) -> str | None:
        """The namespace of a CONNECT packet, if there is one such; if not, it is refused.

        (python-socketio's refusal carries a string where Socket.IO 5 has an object.)
        """
        try:
            namespace: str = self.packet_class(encoded_packet=data).namespace or "/"
        except ValueError as exc:
            await self.refuse(eio_sid, f"a packet that does not decode ({exc})")
            return None
        if namespace in self.handlers:
            return namespace
        refused = self.packet_class(
            packet.CONNECT_ERROR, data={"message": "Invalid namespace"}, namespace=namespace
        )
        await self._send_packet(eio_sid, refused)
        return None

    async def refuse(self, eio_sid: str, what: str) -> None:
        """Close the connection of a client that broke the protocol, as Socket.IO 5 says."""
        log.warning("eio_sid=%s sent %s: disconnected", eio_sid, what)
        await self.eio.drop(eio_sid, self.reason.SERVER_DISCONNECT)


def refusal(code: str, message: str) -> Exception:
    """What a connect handler raises to refuse: CONNECT_ERROR with ``data: {code, message}``."""
    refused: Exception = socketio.exceptions.ConnectionRefusedError(
        message, {"code": code, "message": message}
    )
    return refused
