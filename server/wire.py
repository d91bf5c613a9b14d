"""The Socket.IO wire: the JSON codec of packets, and a server that refuses what the
protocol has no place for before python-socketio acts on it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import socketio
from socketio import packet

from .broadcast import Engine
from .errors import Code, error_ack

log = logging.getLogger(__name__)


class Json:
    """JSON for Socket.IO packets: msgspec encodes our Structs directly, and fast."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return msgspec.json.encode(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        try:
            return msgspec.json.decode(data)
        except RecursionError:
            # Nesting no request has: refuse the packet (it is dropped, see Server).
            raise ValueError("JSON nested too deeply") from None
        except msgspec.DecodeError:
            # msgspec refuses JSON that escapes a lone UTF-16 surrogate ("\ud83d", what a
            # client sends after cutting an emoji in half); the standard library accepts it,
            # and validation then refuses the text with an answer instead of silence.
            return json.loads(data)


class Packet(socketio.packet.Packet):  # type: ignore[misc]
    json = Json
    # Percolate sends no binary data: skip python-socketio's walk of every outgoing payload
    # looking for bytes (a join's ack holds the whole member list and history). Binary
    # packets from clients still decode.
    uses_binary_events = False


class Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, guarded at the two seams where a client could reach it.

    - An EVENT named ``connect`` or ``disconnect`` would run the connection handlers (only
      the catch-all handler skips those names), and a name that is not a string would raise
      inside the library: both get a ``bad_request`` ack and go no further.
    - A packet that does not decode, or binary data that is not an announced attachment,
      is dropped with a one-line warning instead of a logged traceback.

    Its Engine.IO server is ``server.broadcast.Engine``, which writes to WebSocket
    connections directly.
    """

    def _engineio_server_class(self) -> type[Engine]:
        return Engine

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        event = data[0] if isinstance(data, list) and data else None
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
        if not isinstance(data, str) and eio_sid not in binary:
            # Binary data that no packet announced as its attachment: python-socketio would
            # try to read it as a packet's text.
            log.warning("eio_sid=%s sent binary data no packet announced", eio_sid)
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            log.warning("eio_sid=%s sent a packet that does not decode: %s", eio_sid, exc)
