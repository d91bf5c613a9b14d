"""Commands between server processes: one process says, every process (itself too) does.

A host's action changes shared state (presence, the archive) at once, but each process also
keeps its own view of its connections and of the media it holds. A command tells every
process to bring that view in line. ``Control`` knows no command: features ``register`` a
handler per command type (a tagged Struct), and ``send`` runs the handlers on every process,
in registration order. Commands travel on the fan-out channel between processes, in order
with its emits (``wire.Fanout.command``); with one process they apply directly. While Redis
is down a command applies on its own process only, like an emit (docs/architecture.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import msgspec

log = logging.getLogger(__name__)

C = TypeVar("C", bound=msgspec.Struct)
Handler = Callable[[Any], Awaitable[None]]


class Fanout(Protocol):
    """The fan-out between processes, as far as commands use it."""

    on_command: Callable[[Any], Awaitable[None]] | None

    async def command(self, payload: Any) -> None: ...


class Control:
    def __init__(self, fanout: Fanout | None) -> None:
        self._fanout = fanout
        self._kinds: dict[str, type[msgspec.Struct]] = {}
        self._handlers: dict[type[msgspec.Struct], list[Handler]] = {}
        if fanout is not None:
            fanout.on_command = self.apply

    def register(self, kind: type[C], handler: Callable[[C], Awaitable[None]]) -> None:
        """Run ``handler`` for every ``kind`` command, sent by any process."""
        tag = kind.__struct_config__.tag
        if not isinstance(tag, str):
            raise TypeError(f"a command must be a tagged Struct: {kind.__name__}")
        self._kinds[tag] = kind
        self._handlers.setdefault(kind, []).append(handler)

    async def send(self, command: msgspec.Struct) -> None:
        if self._fanout is None:
            await self._run(command)
        else:
            # The fan-out hands it to apply() here and on every other process.
            await self._fanout.command(msgspec.to_builtins(command))

    async def apply(self, data: Any) -> None:
        """A command as it came over the fan-out."""
        tag = data.get("type") if isinstance(data, dict) else None
        kind = self._kinds.get(tag) if isinstance(tag, str) else None
        if kind is None:
            log.warning("control: ignored a command of no known type: %.80r", data)
            return
        try:
            command = msgspec.convert(data, kind)
        except msgspec.ValidationError as exc:
            log.warning("control: ignored a command that does not decode: %s", exc)
            return
        await self._run(command)

    async def _run(self, command: msgspec.Struct) -> None:
        for handler in self._handlers.get(type(command), ()):
            await handler(command)
