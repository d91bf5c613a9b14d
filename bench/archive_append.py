"""Chat archive write throughput: group commit against one commit per message.

    .venv/bin/python bench/archive_append.py [--senders 50] [--messages 20] [--runs 5]
        [--database-url postgresql://...]

``senders`` concurrent tasks each append ``messages`` chat messages and wait for each ack before
the next, as chat clients do. Every commit is durable (WAL, synchronous=FULL: one fsync per
commit). The reference is the same archive with group commit off (``batch=1``), measured in
the same run; the figure to quote is the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from server.archive.postgres import PostgresArchive
from server.archive.sqlite import SqliteArchive
from server.protocol import User


async def run_once(batch: int, senders: int, messages: int, database_url: str | None) -> float:
    with tempfile.TemporaryDirectory() as folder:
        archive: SqliteArchive | PostgresArchive
        if database_url:
            archive = PostgresArchive(database_url, batch=batch)
        else:
            archive = SqliteArchive(Path(folder) / "bench.db", batch=batch)
        await archive.open()
        run = uuid.uuid4().hex[:8]  # a shared database keeps earlier runs' messages

        async def sender(n: int) -> None:
            user = User(id=f"u{n}", name=f"User {n}")
            for i in range(messages):
                await archive.append("lobby", user, f"message {i} from {n}", f"{run}-{n}-{i}")

        start = time.perf_counter()
        await asyncio.gather(*(sender(n) for n in range(senders)))
        elapsed = time.perf_counter() - start
        await archive.close()
    return senders * messages / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL instead of a SQLite file")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"group commit": [], "one commit per message": []}
    for _ in range(args.runs):  # interleaved, so drift on a shared machine hits both alike
        for name, batch in (("group commit", 256), ("one commit per message", 1)):
            rate = await run_once(batch, args.senders, args.messages, args.database_url)
            results[name].append(rate)
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {backend}, "
        f"{args.senders} senders x {args.messages} messages, {args.runs} runs"
    )
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        print(
            f"{name:>24}: median {medians[name]:8.0f} msg/s "
            f"(min {min(values):.0f}, max {max(values):.0f})"
        )
    ratio = medians["group commit"] / medians["one commit per message"]
    print(f"{'ratio':>24}: {ratio:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
