"""Delivery in sequence: emits that carry a position (a chat message's ``seq`` in its room) are
delivered in that order on every process, whatever order they crossed the channel in.

Two processes storing messages of one room at the same moment publish them in either order;
a process that gets a room's message before the one ahead of it holds it back until the
missing one comes, for at most ``HOLD`` seconds (a position may never come: its process died
between storing and publishing, or Redis was away and it was delivered there only). A
position behind the next expected one (late, or the first this process sees of a key) is
delivered at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

HOLD = 0.1
"""Seconds an emit waits at most for the ones ahead of it."""

T = TypeVar("T")


class Sequencer(Generic[T]):
    """Per key, hands ``deliver`` its items in position order (see the module)."""

    def __init__(self, deliver: Callable[[T], Awaitable[None]], hold: float = HOLD) -> None:
        self.deliver = deliver
        self.hold = hold
        self._next: dict[str, int] = {}
        """Per key, the position expected next."""
        self._held: dict[str, dict[int, T]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def put(self, key: str, position: int, item: T) -> None:
        expected = self._next.get(key)
        if expected is None or position < expected:  # the first of its key, or late
            if expected is None:
                self._next[key] = position + 1
            await self.deliver(item)
            return
        if position > expected:
            held = self._held.setdefault(key, {})
            held[position] = item
            if key not in self._timers:
                loop = asyncio.get_running_loop()
                self._timers[key] = loop.call_later(self.hold, self._give_up, key)
            return
        self._next[key] = position + 1
        await self.deliver(item)
        await self._release(key)

    async def _release(self, key: str) -> None:
        """Deliver what is held of ``key`` and now next in line."""
        held = self._held.get(key)
        while held:
            position = self._next[key]
            item = held.pop(position, None)
            if item is None:
                return
            self._next[key] = position + 1
            await self.deliver(item)
        self._held.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _give_up(self, key: str) -> None:
        # What is missing is not coming: carry on from the first position held.
        self._timers.pop(key, None)
        held = self._held.get(key)
        if not held:
            return
        first = min(held)
        log.info("key=%s: positions %d-%d never came", key, self._next[key], first - 1)
        self._next[key] = first
        task = asyncio.get_running_loop().create_task(self._release(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
