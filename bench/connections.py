"""Idle members per process: resident memory per member and join time, against Node.js.

    .venv/bin/python bench/connections.py [--members 1000,10000] [--room-size 100]
        [--servers node,relay_sio,percolate] [--workers 2] [--concurrency 50] [--settle 5]
        [--runs 1] [--json FILE] [--profile DIR] [--quick]

For each server (the same three as ``bench/chat_fanout.py``: ``node``, the reference;
``relay_sio``; ``percolate`` embedded, limits raised) and each M: a fresh server process, its
resident memory (``VmRSS`` of /proc/<pid>/status) once healthy and idle, then M clients of
the official ``socket.io-client`` (``--workers`` Node processes) connect over WebSocket with
``auth: {name}`` and join rooms of ``--room-size`` members each (made with ``room:create``
first), at most ``--concurrency`` at a time per worker. Once all have joined and ``--settle``
seconds passed: memory per member = (RSS with M members - RSS with none) / M. Join time: the
median ``room:join`` ack (connected to ack) and connect (``io()`` to connected), and the wall
time to connect and join all M. The file-descriptor limit is raised to the hard limit for
this process and its children (servers and load generator alike).

Every server sends the same events for a join (as Percolate does): a ``session`` event once
connected, the room's members in the ``room:join`` ack and a ``presence`` event to the rest of
the room, so the join work grows with the room size for all three. ``--profile DIR``
records py-spy on Percolate while everyone connects and joins (and prints a summary).
``--quick``: M=200, rooms of 50, about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import itertools
import json
import math
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import profiles
import servers
from children import Interrupt, ensure_node_modules, machine, raise_nofile
from crowd import Crowd


@dataclasses.dataclass
class Result:
    server: str
    members: int
    room_size: int
    run: int
    joined: int = 0
    rss_idle: int = 0
    """Server KiB before any client."""
    rss_members: int = 0
    """Server KiB with every member joined and settled."""
    crowd_rss: int = 0
    """Load generator KiB with every member joined (all workers)."""
    join_ms: float = math.nan
    connect_ms: float = math.nan
    join_p99_ms: float = math.nan
    total_seconds: float = math.nan
    server_cpu_seconds: float = math.nan
    """Server CPU spent connecting and joining everyone."""
    crowd_cpu_seconds: float = math.nan
    """Load generator CPU (all workers) spent connecting and joining everyone."""
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def per_member(self) -> float:
        """KiB of server memory per member."""
        return (self.rss_members - self.rss_idle) / self.joined if self.joined else math.nan


async def measure(
    kind: str, members: int, run: int, args: argparse.Namespace, logs: Path
) -> Result:
    result = Result(kind, members, args.room_size, run)
    target = await servers.start(kind, members, logs)
    crowd: Crowd | None = None
    try:
        await asyncio.sleep(1.0)  # let start-up work finish before the idle reading
        result.rss_idle = target.rss()
        crowd = await Crowd.start(args.workers, logs)
        rooms = await crowd.create_rooms(target.urls[0], math.ceil(members / args.room_size))
        recorder, output = None, None
        if args.profile and kind == "percolate":
            output = args.profile / f"{kind}-m{members}-run{run}-joins.txt"
            recorder = await profiles.record(target.servers[0].pid, 3600, output, logs)
        cpu, crowd_cpu = target.cpu(), sum(crowd.cpu())
        started = time.monotonic()
        joined = await crowd.connect(target.urls, members, rooms, args.room_size, args.concurrency)
        result.total_seconds = time.monotonic() - started
        result.server_cpu_seconds = target.cpu() - cpu
        result.crowd_cpu_seconds = sum(crowd.cpu()) - crowd_cpu
        if recorder is not None and output is not None:
            await profiles.finish(recorder)
            print(profiles.summarise(output), file=sys.stderr, flush=True)
        result.joined = joined.connected
        result.join_ms, result.connect_ms = joined.median_join(), joined.median_connect()
        if joined.join_ms:
            ordered = sorted(joined.join_ms)
            result.join_p99_ms = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
        if joined.failed:
            result.problems.append(f"{joined.failed} clients did not join: {joined.errors}")
        await asyncio.sleep(args.settle)
        result.rss_members = target.rss()
        result.crowd_rss = crowd.rss()
        still = await crowd.counts()
        if still["clients"] != joined.connected:
            result.problems.append(f"{joined.connected - still['clients']} clients dropped")
    finally:
        if crowd is not None:
            await crowd.close()
        await target.stop()
    return result


def log_result(result: Result) -> None:
    print(
        f"  {result.server} M={result.members}: {result.joined} joined in "
        f"{result.total_seconds:.1f} s (join median {result.join_ms:.1f} ms, p99 "
        f"{result.join_p99_ms:.1f} ms; connect median {result.connect_ms:.1f} ms; server CPU "
        f"{result.server_cpu_seconds:.1f} s, load generator CPU "
        f"{result.crowd_cpu_seconds:.1f} s); RSS {result.rss_idle / 1024:.0f} -> "
        f"{result.rss_members / 1024:.0f} MiB = {result.per_member:.1f} KiB per member; load "
        f"generator {result.crowd_rss / 1024:.0f} MiB",
        file=sys.stderr,
        flush=True,
    )
    for problem in result.problems:
        print(f"    {problem}", file=sys.stderr, flush=True)


HEADER = [
    "server",
    "members",
    "room size",
    "joined",
    "RSS idle (MiB)",
    "RSS with members (MiB)",
    "KiB per member",
    "per member vs node",
    "median join (ms)",
    "p99 join (ms)",
    "median connect (ms)",
    "connect+join all (s)",
    "all vs node",
    "server CPU to join all (s)",
    "load generator CPU (s)",
]


def cells(group: list[Result], node: list[Result] | None) -> list[str]:
    def med(value: Any) -> float:
        return statistics.median(value(result) for result in group)

    first = group[0]
    per_member, total = med(lambda r: r.per_member), med(lambda r: r.total_seconds)
    if node:
        versus = f"{per_member / statistics.median(r.per_member for r in node):.2f}x"
        total_versus = f"{total / statistics.median(r.total_seconds for r in node):.2f}x"
    else:
        versus = total_versus = "-"
    return [
        first.server,
        f"{first.members:,}",
        str(first.room_size),
        f"{med(lambda r: r.joined):,.0f}",
        f"{med(lambda r: r.rss_idle) / 1024:.0f}",
        f"{med(lambda r: r.rss_members) / 1024:.0f}",
        f"{per_member:.1f}",
        versus,
        f"{med(lambda r: r.join_ms):.1f}",
        f"{med(lambda r: r.join_p99_ms):.1f}",
        f"{med(lambda r: r.connect_ms):.1f}",
        f"{total:.1f}",
        total_versus,
        f"{med(lambda r: r.server_cpu_seconds):.1f}",
        f"{med(lambda r: r.crowd_cpu_seconds):.1f}",
    ]


def report(args: argparse.Namespace, results: list[Result], started: str) -> dict[str, Any]:
    about = machine()
    print(f"command: .venv/bin/python bench/connections.py {shlex.join(sys.argv[1:])}".rstrip())
    print(
        f"machine: {about['cpu']}, nproc {about['nproc']}, Python {about['python']}, "
        f"Node {about['node']}, Linux {about['kernel']}"
    )
    print(
        f"date: {started}; {args.runs} run(s); rooms of {args.room_size}; {args.workers} load "
        f"generator workers, {args.concurrency} joins at once each; settle {args.settle:g} s"
    )
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + " --- |" * len(HEADER))
    groups: dict[tuple[str, int], list[Result]] = {}
    for result in results:
        if result.joined:  # a run that failed to start is only listed among the problems
            groups.setdefault((result.server, result.members), []).append(result)
    for members in args.members:
        for kind in args.servers:
            if group := groups.get((kind, members)):
                print("| " + " | ".join(cells(group, groups.get(("node", members)))) + " |")
    for result in results:
        for problem in result.problems:
            print(f"{result.server} M={result.members} run {result.run}: {problem}")
    return {
        "command": sys.argv,
        "date": started,
        "machine": about,
        "settings": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "results": [
            {**dataclasses.asdict(result), "kib_per_member": result.per_member}
            for result in results
        ],
    }


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", default="1000,10000", help="M, comma-separated")
    parser.add_argument("--room-size", type=int, default=100, help="members per room")
    parser.add_argument("--servers", default="node,relay_sio,percolate", help="of node, "
                        "relay_sio, percolate")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--concurrency", type=int, default=50, help="joins at once per worker")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before RSS")
    parser.add_argument("--runs", type=int, default=1, help="repeats, interleaved by server")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--logs", type=Path, help="folder for logs (default: a new temp one)")
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of Percolate")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.members, args.room_size, args.settle = "200", 50, 2.0
    args.members = [int(part) for part in args.members.split(",") if part.strip()]
    args.servers = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
    if unknown := set(args.servers) - {"node", "relay_sio", "percolate"}:
        parser.error(f"--servers: unknown {sorted(unknown)}")
    return args


async def main(args: argparse.Namespace) -> None:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    limit = raise_nofile()
    if limit < max(args.members) + 1000:
        print(f"warning: only {limit} open files per process allowed", file=sys.stderr)
    ensure_node_modules()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="connections-"))
    print(f"logs in {logs}", file=sys.stderr)
    results = []
    interrupt = Interrupt()
    # Interleaved, so drift on a shared machine hits every server alike.
    for run, members, kind in itertools.product(range(args.runs), args.members, args.servers):
        print(f"run {run + 1}/{args.runs}, {kind}, M={members}:", file=sys.stderr, flush=True)
        place = logs / f"{run}-{kind}-{members}"
        try:
            result = await interrupt.run(measure(kind, members, run, args, place))
        except asyncio.CancelledError:
            if interrupt.received:
                break  # report what was measured
            raise
        except (RuntimeError, TimeoutError) as exc:
            result = Result(kind, members, args.room_size, run)
            result.problems.append(f"failed: {type(exc).__name__} {exc} (logs: {place})")
        log_result(result)
        results.append(result)
        if interrupt.received:
            break
    document = report(args, results, started)
    if args.json:
        args.json.write_text(json.dumps(document, indent=1, default=str) + "\n")


if __name__ == "__main__":
    try:
        asyncio.run(main(parse()))
    except KeyboardInterrupt:  # before the handler was installed
        sys.exit("interrupted")
