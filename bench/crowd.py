"""The load generator: Node worker processes of ``bench/node/crowd.js``, driven together.

Each worker holds a contiguous block of the clients (global indices) with the official
``socket.io-client``; client ``g`` connects to ``urls[g % len(urls)]`` (so two server
processes get half each) and joins ``rooms[g // per_room]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from children import NODE_DIR, WAIT, Child


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts as equal as can be."""
    return [total // parts + (i < total % parts) for i in range(parts)]


class Histogram:
    """Latencies in 0.1 ms buckets, merged from the workers' sparse ``{bucket: count}``."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def add(self, sparse: dict[str, int]) -> None:
        for bucket, count in sparse.items():
            self.counts[int(bucket)] = self.counts.get(int(bucket), 0) + count

    def __len__(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """The nearest-rank ``q`` quantile in ms (the bucket's upper edge); NaN if empty."""
        total = len(self)
        if not total:
            return math.nan
        rank = max(1, math.ceil(q * total))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return (bucket + 1) / 10
        raise AssertionError("unreachable")


@dataclasses.dataclass
class Joined:
    """How connecting and joining went, over every worker."""

    connected: int
    failed: int
    errors: dict[str, int]
    connect_ms: list[float]
    join_ms: list[float]
    seconds: float
    """Wall time from the first connect to the last join ack."""

    def median_join(self) -> float:
        return statistics.median(self.join_ms) if self.join_ms else math.nan

    def median_connect(self) -> float:
        return statistics.median(self.connect_ms) if self.connect_ms else math.nan


class Crowd:
    def __init__(self, workers: list[Child]) -> None:
        self.workers = workers
        self.blocks: list[tuple[int, int]] = []
        """(first global index, count) of each worker's clients."""

    @classmethod
    async def start(cls, count: int, logs: Path) -> Crowd:
        workers = []
        try:
            for index in range(count):
                argv = ["node", str(NODE_DIR / "crowd.js"), str(index)]
                log = logs / f"crowd-{index}.log"
                workers.append(await Child.start(f"crowd-{index}", argv, log, control=True))
        except BaseException:
            await asyncio.gather(*(worker.stop() for worker in workers))
            raise
        return cls(workers)

    async def create_rooms(self, url: str, count: int) -> list[str]:
        reply = await self.workers[0].call({"cmd": "create", "url": url, "count": count})
        return list(reply["rooms"])

    async def connect(
        self, urls: Sequence[str], total: int, rooms: Sequence[str], per_room: int, concurrency: int
    ) -> Joined:
        """Connect ``total`` clients and join each to its room; ``concurrency`` per worker."""
        counts = spread(total, len(self.workers))
        firsts = [sum(counts[:i]) for i in range(len(counts))]
        self.blocks = list(zip(firsts, counts, strict=True))
        within = WAIT + max(counts) * 0.5  # a bound, not an expectation
        replies = await asyncio.gather(
            *(
                worker.call(
                    {
                        "cmd": "connect",
                        "urls": list(urls),
                        "first": first,
                        "count": count,
                        "rooms": list(rooms),
                        "per_room": per_room,
                        "concurrency": concurrency,
                    },
                    within,
                )
                for worker, (first, count) in zip(self.workers, self.blocks, strict=True)
            )
        )
        errors: dict[str, int] = {}
        for reply in replies:
            for error, count in reply["errors"].items():
                errors[error] = errors.get(error, 0) + count
        return Joined(
            connected=sum(reply["connected"] for reply in replies),
            failed=sum(reply["failed"] for reply in replies),
            errors=errors,
            connect_ms=[ms for reply in replies for ms in reply["connect_ms"]],
            join_ms=[ms for reply in replies for ms in reply["join_ms"]],
            seconds=max(reply["seconds"] for reply in replies),
        )

    async def send(self, senders: int) -> None:
        """Start ``senders`` clients sending, spread over the workers, first of each block."""
        shares = spread(senders, len(self.workers))
        await asyncio.gather(
            *(
                worker.call({"cmd": "send", "senders": list(range(share))})
                for worker, share in zip(self.workers, shares, strict=True)
            )
        )

    async def react(self, reactors: int, per_second: float) -> None:
        """Start ``reactors`` clients toggling reactions, ``per_second`` in all, the last of
        each block (never a sender)."""
        shares = spread(reactors, len(self.workers))
        interval = 1000 * reactors / per_second
        await asyncio.gather(
            *(
                worker.call(
                    {"cmd": "react", "interval_ms": interval,
                     "reactors": list(range(size - share, size))}
                )
                for worker, share, (_, size) in zip(self.workers, shares, self.blocks, strict=True)
                if share
            )
        )  # fmt: skip

    async def mark(self) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(worker.call({"cmd": "mark"}) for worker in self.workers))
        )

    async def stop_sending(self) -> None:
        await asyncio.gather(*(worker.call({"cmd": "stop"}, WAIT) for worker in self.workers))

    async def counts(self) -> dict[str, int]:
        replies = await asyncio.gather(*(worker.call({"cmd": "counts"}) for worker in self.workers))
        return {
            "clients": sum(reply["clients"] for reply in replies),
            "received": sum(reply["received"] for reply in replies),
            "acked": sum(reply["acked"] for reply in replies),
            "min": min(reply["min"] for reply in replies),
            "max": max(reply["max"] for reply in replies),
            "disorder": sum(reply["disorder"] for reply in replies),
        }

    def cpu(self) -> list[float]:
        return [worker.cpu() for worker in self.workers]

    def rss(self) -> int:
        return sum(worker.rss() for worker in self.workers)

    async def close(self) -> None:
        async def one(worker: Child) -> None:
            if worker.proc.returncode is None:
                # A worker that does not answer is stopped below anyway.
                with contextlib.suppress(RuntimeError, TimeoutError, ConnectionError):
                    await worker.call({"cmd": "close"}, WAIT)
            await worker.stop()

        await asyncio.gather(*(one(worker) for worker in self.workers))
