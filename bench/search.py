"""Search across rooms over an archive of 1,000,000 messages in 1,000 rooms: p50 and p95.

    .venv/bin/python bench/search.py [--messages 1000000] [--rooms 1000] [--runs 3]
        [--backend sqlite|postgres|both]

The archive is made by the archive itself (``open``: the schema as the server has it), then
filled directly with SQL in bulk: a vocabulary of 5,000 made-up words drawn with a Zipf
frequency (the word of rank k about 1/k as often as the first), 4 to 16 words a message,
one message in 30 with a link, about 50 authors per room out of 5,000, a year of timestamps.
Of the rooms, 940 are public (open, coffee, workshop), 40 private (the searcher joined 20),
20 DMs (10 of them the searcher's). PostgreSQL is a private cluster on a free port
(``tests/support/services.py``), never the machine's own; everything lives in a temporary
folder removed at the end.

Each query kind is timed through ``Archive.search_readable`` (parsing included, as the
``search`` event runs it) for one searcher, 20 results: every kind has 20 queries (different
words, authors, rooms), each run ``--runs`` times. The reference, measured in the same run,
is the one-room search (``Archive.search``, ``chat:search``) of a single word.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.archive import Archive
from server.archive.postgres import PostgresArchive, fold, vector
from server.archive.sqlite import SqliteArchive
from server.search import parse

SEARCHER = "u-searcher"
VOCABULARY = 5000
AUTHORS = 5000
START = 1_765_065_600_000  # 2025-12-07 00:00 UTC
YEAR = 365 * 86_400_000
_SYLLABLES = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]


def vocabulary(rng: random.Random) -> list[str]:
    """Made-up words, rank 1 (most frequent) first."""
    words: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < VOCABULARY:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if word not in words:
            words.add(word)
            ordered.append(word)
    return ordered


class World:
    """What the archive holds, generated once and loaded into each backend alike."""

    def __init__(self, messages: int, rooms: int, seed: int = 16) -> None:
        rng = random.Random(seed)
        self.words = vocabulary(rng)
        self.cumulative = list(itertools.accumulate(1 / k for k in range(1, VOCABULARY + 1)))
        self.rooms: list[tuple[str, str, str, bool]] = []  # id, title, kind, private
        self.readers: list[str] = []  # private rooms the searcher joined
        self.dms: list[tuple[str, str, str]] = []  # user_a, user_b, room
        public = rooms * 94 // 100
        private = rooms * 4 // 100
        for i in range(rooms):
            room_id = f"r{i:04d}"
            if i < public:
                kind = ("open", "coffee", "workshop")[i % 3]
                self.rooms.append((room_id, f"Room {self.words[i % 900 + 100]} {i}", kind, False))
            elif i < public + private:
                self.rooms.append((room_id, f"Private {i}", "open", True))
                if i % 2 == 0:
                    self.readers.append(room_id)
            else:
                self.rooms.append((room_id, "", "dm", True))
                other = f"u{i:05d}"
                pair = sorted((SEARCHER, other) if i % 2 == 0 else (other, f"u{i + 1:05d}"))
                self.dms.append((pair[0], pair[1], room_id))
        self.authors = {
            room[0]: rng.sample(range(AUTHORS), 50) for room in self.rooms if room[2] != "dm"
        }
        self.messages = messages
        self.seed = seed

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """(id, seq, room, user_id, user_name, text, ts, client_msg_id, author, link), in
        time order."""
        rng = random.Random(self.seed + 1)
        rooms = [room[0] for room in self.rooms]
        seqs = dict.fromkeys(rooms, 0)
        total = self.cumulative[-1]
        step = YEAR // self.messages
        for n in range(self.messages):
            room = rooms[rng.randrange(len(rooms))]
            seqs[room] += 1
            count = rng.randint(4, 16)
            picks = [
                self.words[bisect.bisect_left(self.cumulative, rng.random() * total)]
                for _ in range(count)
            ]
            link = rng.randrange(30) == 0
            if link:
                picks.insert(rng.randrange(count), f"https://example.org/{picks[0]}")
            text = " ".join(picks)
            authors = self.authors.get(room)
            author = rng.choice(authors) if authors else rng.randrange(AUTHORS)
            name = f"Member {author}"
            yield (f"m{n:012d}", seqs[room], room, f"u{author:05d}", name, text,
                   START + n * step, f"c{n}", name.casefold(), link)  # fmt: skip


# -- filling each backend ----------------------------------------------------------------------


def fill_sqlite(path: Path, world: World) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO rooms (id, title, kind, private, created_at) VALUES (?, ?, ?, ?, 0)",
        world.rooms,
    )
    conn.executemany(
        "INSERT INTO readers (user_id, room, at) VALUES (?, ?, 0)",
        [(SEARCHER, room) for room in world.readers],
    )
    conn.executemany("INSERT INTO dms (user_a, user_b, room) VALUES (?, ?, ?)", world.dms)
    # The full-text index is built once at the end, not row by row.
    conn.execute("DROP TRIGGER messages_fts_insert")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.executemany(
        "INSERT INTO messages (id, seq, room, user_id, user_name, text, ts, client_msg_id, "
        "author, link) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        world.rows(),
    )
    conn.execute(
        "UPDATE rooms SET last_seq = "
        "(SELECT coalesce(max(seq), 0) FROM messages WHERE room = rooms.id)"
    )
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    # The words searched prefixes become, as the archive notes them for each message.
    conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab (main, messages_fts, 'row')")
    conn.execute("INSERT OR IGNORE INTO words SELECT term FROM temp.vocab")
    conn.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text); END"
    )
    conn.execute("COMMIT")
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.close()


async def fill_postgres(url: str, world: World) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO rooms (id, title, kind, private, created_at) VALUES ($1, $2, $3, $4, 0)",
            world.rooms,
        )
        await conn.executemany(
            "INSERT INTO readers (user_id, room, at) VALUES ($1, $2, 0)",
            [(SEARCHER, room) for room in world.readers],
        )
        await conn.executemany(
            "INSERT INTO dms (user_a, user_b, room) VALUES ($1, $2, $3)", world.dms
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' "
            "AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['indexname']}")
        await conn.execute(
            "CREATE UNLOGGED TABLE staging (id TEXT, seq BIGINT, room TEXT, user_id TEXT, "
            "user_name TEXT, text TEXT, ts BIGINT, client_msg_id TEXT, author TEXT, link BOOLEAN)"
        )
        await conn.copy_records_to_table("staging", records=world.rows())
        # The same folding as the archive's (``fold``): plain ASCII here, so lower() is it.
        assert fold("Member Ab") == "member ab"
        await conn.execute(
            "INSERT INTO messages (id, seq, room, user_id, user_name, text, ts, client_msg_id, "
            "author, link, search) SELECT id, seq, room, user_id, user_name, text, ts, "
            f"client_msg_id, author, link, {vector('lower(text)', 'link')} FROM staging"
        )
        await conn.execute("DROP TABLE staging")
        await conn.execute(
            "UPDATE rooms SET last_seq = s.n FROM (SELECT room, max(seq) AS n FROM messages "
            "GROUP BY room) s WHERE s.room = rooms.id"
        )
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# -- the queries -------------------------------------------------------------------------------


def queries(world: World, rng: random.Random) -> dict[str, list[str]]:
    """Every kind of query, 20 of each."""
    words = world.words
    public = [room for room in world.rooms if not room[3]]

    def rare() -> str:
        return words[rng.randrange(2000, VOCABULARY)]

    def common() -> str:
        return words[rng.randrange(0, 10)]

    def middling() -> str:
        return words[rng.randrange(50, 500)]

    def author() -> str:
        return f'"Member {rng.randrange(AUTHORS)}"'

    def day() -> str:
        at = START + rng.randrange(30, 330) * 86_400_000
        return time.strftime("%Y-%m-%d", time.gmtime(at / 1000))

    makers: dict[str, Callable[[], str]] = {
        "rare word": rare,
        "common word": common,
        "two words": lambda: f"{middling()} {words[rng.randrange(10, 100)]}",
        "word from:": lambda: f"{common()} from:{author()}",
        "word in:": lambda: f"{common()} in:{rng.choice(public)[0]}",
        "word before:/after:": lambda: f"{middling()} after:{day()} before:{day()}",
        "word has:link": lambda: f"{middling()} has:link",
        "only operators": lambda: rng.choice(
            [
                lambda: f"from:{author()} has:link",
                lambda: f"in:{rng.choice(public)[0]} before:{day()}",
                lambda: "has:link",
                lambda: f"from:{author()}",
            ]
        )(),
    }
    return {kind: [make() for _ in range(20)] for kind, make in makers.items()}


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(archive: Archive, world: World, runs: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    kinds = queries(world, rng)
    public = [room[0] for room in world.rooms if not room[3]]
    reference = [(rng.choice(public), world.words[rng.randrange(50, 500)]) for _ in range(20)]
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    results["reference: one room, one word"] = []
    for _ in range(runs):
        for kind, texts in kinds.items():
            for text in texts:
                results[kind].append(
                    await timed(lambda t=text: archive.search_readable(SEARCHER, parse(t), 20))
                )
        for room, word in reference:
            results["reference: one room, one word"].append(
                await timed(lambda r=room, w=word: archive.search(r, w, 20))
            )
    return results


def report(backend: str, build: float, results: dict[str, list[float]]) -> None:
    load = open("/proc/loadavg").read().split()[0]  # noqa: SIM115
    print(f"\n{backend}: archive built in {build:.0f} s; load average {load} after the queries")
    print("| query | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|")
    everything: list[float] = []
    for kind, values in results.items():
        if not kind.startswith("reference"):
            everything += values
        print(
            f"| {kind} | {percentile(values, 50):.1f} | {percentile(values, 95):.1f} | "
            f"{max(values):.1f} |"
        )
    print(
        f"| **all kinds** | {percentile(everything, 50):.1f} | {percentile(everything, 95):.1f} "
        f"| {max(everything):.1f} |"
    )


async def run_sqlite(world: World, runs: int, folder: Path) -> None:
    path = folder / "search.db"
    start = time.perf_counter()
    archive = SqliteArchive(path)
    await archive.open()
    await archive.close()
    fill_sqlite(path, world)
    build = time.perf_counter() - start
    archive = SqliteArchive(path)
    await archive.open()
    try:
        report("SQLite", build, await measure(archive, world, runs))
    finally:
        await archive.close()


async def run_postgres(world: World, runs: int) -> None:
    from tests.support.services import postgres_cluster

    with postgres_cluster() as cluster:
        url = await cluster.new_database()
        start = time.perf_counter()
        archive = PostgresArchive(url)
        await archive.open()
        await archive.close()
        await fill_postgres(url, world)
        build = time.perf_counter() - start
        archive = PostgresArchive(url)
        await archive.open()
        try:
            report("PostgreSQL", build, await measure(archive, world, runs))
        finally:
            await archive.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    world = World(args.messages, args.rooms)
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{args.messages} messages in {args.rooms} rooms, {args.runs} runs, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="percolate-search-") as folder:
            await run_sqlite(world, args.runs, Path(folder))
    if args.backend in ("postgres", "both"):
        await run_postgres(world, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
