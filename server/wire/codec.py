"""The Socket.IO packet codec: JSON by msgspec, bounded before it is decoded, no walk for binary
attachments."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import msgspec
import socketio

_RUNS = re.compile(r"[\[{]+|[\]}]+")
"""A run of opening brackets, or of closing ones."""


class Unbounded(ValueError):
    """A packet whose JSON nests deeper, or holds more elements, than ``Bounds`` allow.

    ``packet``: the packet as far as it was read before its payload (type, namespace, ack id).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.packet: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """How deep a packet's JSON may nest and how many elements it may hold.

    Checked on the text before it is decoded, in time linear in its length and without
    recursion: the JSON decoder recurses (a few thousand brackets raise ``RecursionError``),
    and so does everything that walks a decoded payload.
    """

    depth: int
    """Levels of arrays and objects, the outermost counting as one."""
    elements: int
    """Members of all arrays and objects, an empty one counting as one."""

    def excess(self, text: str) -> str | None:
        """What is too much about the JSON ``text``, or None."""
        opens = text.count("[") + text.count("{")
        commas = text.count(",")
        if opens <= self.depth and opens + commas <= self.elements:
            return None  # nearly every packet: too few brackets and commas, strings included
        quotes = text.count('"')
        if quotes:
            # Every string is a key or a value: at most two for each element, and one more.
            if quotes > 2 * (2 * self.elements + 1):
                return self._too_many()
            text = _outside_strings(text)  # brackets and commas in strings are text
            opens, commas = text.count("[") + text.count("{"), text.count(",")
        # Every member of an array or object but the first follows a comma.
        if opens + commas > self.elements:
            return self._too_many()
        if opens > self.depth:
            # Runs of openings and of closings in turn: at most twice ``elements`` of them.
            depth = 0
            for run in _RUNS.findall(text):
                if run[0] in "[{":
                    depth += len(run)
                    if depth > self.depth:
                        return f"payload nested too deep (at most {self.depth} levels)"
                else:
                    depth = max(0, depth - len(run))
        return None

    def _too_many(self) -> str:
        return f"payload has too many elements (at most {self.elements})"


def _outside_strings(text: str) -> str:
    """JSON ``text`` without its strings.

    Each run of backslashes pairs up from its left, as a decoder reads escapes: with the
    escaped backslashes and then the escaped quotes gone, every quote left opens or closes a
    string. (JSON that is not valid may come out otherwise; the decoder stops at its first
    mistake, which is no deeper than what is counted here.)
    """
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    return "".join(text.split('"')[::2])


class Json:
    """JSON for Socket.IO packets: msgspec encodes our Structs directly, and fast; with
    ``bounds``, a packet past them raises ``Unbounded`` before it is decoded."""

    def __init__(self, bounds: Bounds | None = None) -> None:
        self.bounds = bounds

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return msgspec.json.encode(obj).decode()

    def loads(self, data: str, **_: Any) -> Any:
        if self.bounds is not None and (excess := self.bounds.excess(data)) is not None:
            raise Unbounded(excess)
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            # msgspec refuses JSON that escapes a lone UTF-16 surrogate ("\ud83d", what a
            # client sends after cutting an emoji in half); the standard library accepts it,
            # and validation then refuses the text with an answer instead of silence.
            return json.loads(data)


class Packet(socketio.packet.Packet):  # type: ignore[misc]
    """python-socketio's packet (its documented ``serializer`` option) with our JSON."""

    json = Json()
    # Percolate sends no binary data: skip python-socketio's walk of every outgoing payload
    # looking for bytes (a join's ack holds the whole member list and history).
    uses_binary_events = False

    def decode(self, encoded_packet: str) -> int:
        try:
            count: int = super().decode(encoded_packet)
        except Unbounded as exc:
            # Type, namespace and ack id are read before the payload: the refusal can answer.
            exc.packet = self
            raise
        return count


def bounded(bounds: Bounds) -> type[Packet]:
    """The packet class of a server whose clients' packets are held to ``bounds``."""
    return type("BoundedPacket", (Packet,), {"json": Json(bounds)})


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
