"""Delivery in sequence (server/wire/sequencer.py): what a process got early waits for what
comes before it, and what never comes holds nothing up for long."""

from __future__ import annotations

import asyncio

from server.wire.sequencer import Sequencer

from .support import WAIT


class Delivered:
    """What the sequencer handed on, in order, and an event for each."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._changed = asyncio.Event()

    async def deliver(self, item: str) -> None:
        self.items.append(item)
        self._changed.set()

    async def until(self, count: int) -> list[str]:
        async with asyncio.timeout(WAIT):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


async def test_a_message_that_came_early_waits_for_the_one_before_it() -> None:
    delivered = Delivered()
    sequencer = Sequencer(delivered.deliver)
    await sequencer.put("lobby", 1, "one")
    await sequencer.put("lobby", 3, "three")  # from the other process, before two
    await sequencer.put("hall", 7, "elsewhere")  # another room is not held up
    assert delivered.items == ["one", "elsewhere"]
    await sequencer.put("lobby", 2, "two")
    assert delivered.items == ["one", "elsewhere", "two", "three"]
    await sequencer.put("lobby", 2, "two again")  # late: delivered, nothing waits for it
    assert delivered.items[-1] == "two again"
    sequencer.close()


async def test_what_never_comes_holds_the_rest_back_only_for_a_moment() -> None:
    delivered = Delivered()
    sequencer = Sequencer(delivered.deliver, hold=0.05)
    await sequencer.put("lobby", 1, "one")
    await sequencer.put("lobby", 4, "four")  # two and three were never published
    await sequencer.put("lobby", 3, "three")
    assert await delivered.until(3) == ["one", "three", "four"]
    await sequencer.put("lobby", 5, "five")  # and it carries on from there
    assert delivered.items[-1] == "five"
    sequencer.close()
