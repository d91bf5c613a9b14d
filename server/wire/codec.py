"""The Socket.IO packet codec: JSON by msgspec, no walk for binary attachments."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import socketio


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
            # Nesting no request has: the packet does not decode (sockets.Server.refuse).
            raise ValueError("JSON nested too deeply") from None
        except msgspec.DecodeError:
            # msgspec refuses JSON that escapes a lone UTF-16 surrogate ("\ud83d", what a
            # client sends after cutting an emoji in half); the standard library accepts it,
            # and validation then refuses the text with an answer instead of silence.
            return json.loads(data)


class Packet(socketio.packet.Packet):  # type: ignore[misc]
    """python-socketio's packet (its documented ``serializer`` option) with our JSON."""

    json = Json
    # Percolate sends no binary data: skip python-socketio's walk of every outgoing payload
    # looking for bytes (a join's ack holds the whole member list and history). Binary
    # packets from clients still decode.
    uses_binary_events = False


def event_packet(namespace: str, event: str, data: Any) -> str:
    """The text of a Socket.IO EVENT packet of ``event`` with ``data``, as every recipient gets it.

    ``data`` as python-socketio's ``emit`` takes it: a tuple is several arguments, ``None``
    none, anything else one.
    """
    if isinstance(data, tuple):
        args = list(data)
    elif data is not None:
        args = [data]
    else:
        args = []
    encoded: str = Packet(socketio.packet.EVENT, namespace=namespace, data=[event, *args]).encode()
    return encoded
