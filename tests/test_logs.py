"""Log lines about what clients sent (server/logs.py): a few per address, short, one line each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from server.logs import LINE, Throttle

from .support import WAIT


class Arrivals(logging.Handler):
    """Every message logged, and an event set when one containing ``awaited`` comes."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.awaited = awaited
        self.messages: list[str] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if self.awaited in message:
            self.arrived.set()


@pytest.fixture
def arrivals() -> Iterator[Arrivals]:
    handler = Arrivals("more lines from 10.0.0.1")
    for name in ("test.logs", "server.logs"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    yield handler
    for name in ("test.logs", "server.logs"):
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(logging.NOTSET)


async def test_an_address_gets_a_few_lines_then_one_saying_how_many_were_left_out(
    arrivals: Arrivals,
) -> None:
    throttle = Throttle(lines=2, interval=0.2)
    logger = logging.getLogger("test.logs")
    for n in range(5):
        throttle.warning(logger, "10.0.0.1", "line %d", n)
    throttle.info(logger, "10.0.0.2", "another address")
    assert arrivals.messages == ["line 0", "line 1", "another address"]
    await asyncio.wait_for(arrivals.arrived.wait(), WAIT)
    assert arrivals.messages[-1] == "…and 3 more lines from 10.0.0.1 in 0.2 s"
    throttle.warning(logger, "10.0.0.1", "a new interval")
    assert arrivals.messages[-1] == "a new interval"


async def test_a_line_is_short_and_one_line(arrivals: Arrivals) -> None:
    Throttle().info(logging.getLogger("test.logs"), "10.0.0.1", "sent %s", "a\nb\x1b[31m" * 500)
    (line,) = arrivals.messages
    assert len(line) == LINE and line.startswith("sent a\\nb\\x1b[31ma")
