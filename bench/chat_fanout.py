"""Chat fan-out: messages delivered per second to N members of one room, against Node.js.

    .venv/bin/python bench/chat_fanout.py [--n 50,200,1000] [--senders 10]
        [--servers node,relay_sio,percolate] [--scaled] [--warmup 5] [--window 20] [--runs 1]
        [--workers 2] [--reactions RATE] [--json FILE] [--profile DIR] [--quick]

N clients (Node, the official ``socket.io-client``, in ``--workers`` processes of
``bench/node/crowd.js``) connect over WebSocket with ``auth: {name}`` as the web client does,
and join one room made for the run (``room:create``). S of them then send ``chat:send`` as
fast as their acks return: each keeps exactly one unacknowledged. The text is the sender's
clock in ms, so each receiver times the delivery. After ``--warmup`` seconds, for
``--window`` seconds: delivered messages per second (``chat:message`` events received by all N
clients, the senders included), acknowledged sends per second, p50/p99 delivery latency (send
to receipt) and ack latency, the server's CPU (all its processes and threads) and the load
generator's (per worker: one near 100% would make it the bottleneck). Afterwards every
client's deliveries are checked: none lost, each client's seqs increasing.

Servers, each on free loopback ports and started afresh for every (server, N, run):

* ``node``: ``bench/node/relay.js``, Node.js socket.io, the reference: every other server's
  messages per second and p99 are also given as a ratio to its figure at the same N and run;
* ``relay_sio``: ``bench/relay_sio.py``, a plain python-socketio relay, nothing stored;
* ``percolate``: ``python -m server`` embedded (SQLite archive in a fresh folder: acknowledged
  means stored), every rate and size limit raised above the load (``bench/servers.py``);
* ``percolate-2p`` (``--scaled``): two Percolate processes with a private ``redis-server``
  and one shared SQLite folder (or ``--database-url``), clients half on each.

``--reactions RATE``: each Percolate server also runs a second time, in the same run, as
``<kind> +reactions``: while the S senders send, ten other clients (the last of each block)
toggle a reaction on the latest message they received, RATE a second in all, each a
``chat:change`` to all N (the Node reference has no reactions).

``--runs`` repeats everything, interleaved by server, so drift on a shared machine hits all
alike; the table gives medians over runs. ``--profile DIR`` records py-spy (raw collapsed
stacks) of every Percolate process during each window and prints a summary; it slows the
process a little, so profile in a run of its own. ``--quick``: N=50, S=5, short windows, about
a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import itertools
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import profiles
import servers
from children import Interrupt, ensure_node_modules, machine, machine_busy, raise_nofile
from crowd import Crowd, Histogram, Joined

SETTLE = 15.0
"""Seconds at most to wait, after the senders stop, for deliveries still under way."""


@dataclasses.dataclass
class Snapshot:
    """One reading of every process, taken together."""

    time: float
    server: float
    crowd: list[float]
    machine: tuple[int, int]
    marks: list[dict[str, Any]]


async def snapshot(target: servers.Target, crowd: Crowd) -> Snapshot:
    marks = await crowd.mark()
    return Snapshot(time.monotonic(), target.cpu(), crowd.cpu(), machine_busy(), marks)


@dataclasses.dataclass
class Result:
    """One window of one server at one N."""

    server: str
    n: int
    senders: int
    run: int
    delivered: float = 0.0
    """``chat:message`` events received per second, all clients together."""
    sent: float = 0.0
    """``chat:send`` acknowledged per second."""
    reactions: float = 0.0
    """``chat:react`` acknowledged per second (``--reactions``)."""
    p50: float = float("nan")
    p99: float = float("nan")
    ack_p50: float = float("nan")
    ack_p99: float = float("nan")
    server_cores: float = 0.0
    crowd_cores: list[float] = dataclasses.field(default_factory=list)
    machine: float = 0.0
    """Share of the machine's CPUs busy (every process on it, ours or not)."""
    connected: int = 0
    join_seconds: float = 0.0
    """Connecting and joining all N clients, wall time."""
    join_ms: float = float("nan")
    """Median ``room:join`` ack time."""
    lost: int = 0
    """Deliveries missing after the senders stopped and the deliveries settled."""
    disorder: int = 0
    refusals: dict[str, int] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)


def measure_window(result: Result, before: Snapshot, after: Snapshot) -> None:
    wall = after.time - before.time
    result.delivered = (
        sum(a["received"] - b["received"] for a, b in zip(after.marks, before.marks, strict=True))
        / wall
    )
    result.sent = (
        sum(a["acked"] - b["acked"] for a, b in zip(after.marks, before.marks, strict=True)) / wall
    )
    result.reactions = (
        sum(a["reacted"] - b["reacted"] for a, b in zip(after.marks, before.marks, strict=True))
        / wall
    )
    delivery, ack = Histogram(), Histogram()
    for mark in after.marks:  # each mark empties the histograms: these are the window's
        delivery.add(mark["delivery"])
        ack.add(mark["ack"])
    result.p50, result.p99 = delivery.quantile(0.5), delivery.quantile(0.99)
    result.ack_p50, result.ack_p99 = ack.quantile(0.5), ack.quantile(0.99)
    result.server_cores = (after.server - before.server) / wall
    result.crowd_cores = [(a - b) / wall for a, b in zip(after.crowd, before.crowd, strict=True)]
    busy = after.machine[0] - before.machine[0]
    result.machine = busy / max(1, after.machine[1] - before.machine[1])
    for mark in after.marks:
        for code, count in mark["refusals"].items():
            result.refusals[code] = result.refusals.get(code, 0) + count


async def settle(crowd: Crowd) -> dict[str, int]:
    """Counts once deliveries stopped changing (or ``SETTLE`` seconds passed)."""
    deadline = time.monotonic() + SETTLE
    counts = await crowd.counts()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        later = await crowd.counts()
        if later["received"] == counts["received"]:
            return later
        counts = later
    return counts


REACTORS = 10
SUFFIX = " +reactions"


async def measure(kind: str, n: int, run: int, args: argparse.Namespace, logs: Path) -> Result:
    result = Result(kind, n, min(args.senders, n), run)
    reacting = kind.endswith(SUFFIX)
    kind = kind.removesuffix(SUFFIX)
    target = await servers.start(kind, n, logs, args.database_url)
    crowd: Crowd | None = None
    recorders = []
    try:
        crowd = await Crowd.start(args.workers, logs)
        rooms = await crowd.create_rooms(target.urls[0], 1)
        joined: Joined = await crowd.connect(target.urls, n, rooms, n, args.concurrency)
        result.connected = joined.connected
        result.join_seconds, result.join_ms = joined.seconds, joined.median_join()
        if joined.failed:
            result.problems.append(f"{joined.failed} clients did not join: {joined.errors}")
        await crowd.send(result.senders)
        if reacting:
            await crowd.react(min(REACTORS, n - result.senders), args.reactions)
        await asyncio.sleep(args.warmup)
        before = await snapshot(target, crowd)
        if args.profile and kind.startswith("percolate"):
            for child in target.servers:
                output = args.profile / f"{kind}-n{n}-run{run}-{child.name}.txt"
                recorder = await profiles.record(child.pid, args.window, output, logs)
                if recorder is not None:
                    recorders.append((recorder, output))
        await asyncio.sleep(args.window)
        after = await snapshot(target, crowd)
        measure_window(result, before, after)
        await crowd.stop_sending()
        counts = await settle(crowd)
        result.lost = counts["acked"] * counts["clients"] - counts["received"]
        result.disorder = counts["disorder"]
        for recorder, output in recorders:
            await asyncio.wait_for(recorder.proc.wait(), args.window + 30)
            if output.exists():
                print(profiles.summarise(output), file=sys.stderr, flush=True)
    finally:
        for recorder, _ in recorders:
            await recorder.stop()
        if crowd is not None:
            await crowd.close()
        await target.stop()
    return result


def log_result(result: Result) -> None:
    crowd = " + ".join(f"{100 * c:.0f}%" for c in result.crowd_cores)
    print(
        f"  {result.server} N={result.n} S={result.senders}: {result.delivered:,.0f} delivered/s, "
        f"{result.sent:,.0f} sent/s, {result.reactions:,.0f} reactions/s, "
        f"p50 {result.p50:.1f} ms, p99 {result.p99:.1f} ms (ack p50 "
        f"{result.ack_p50:.1f} ms); server {result.server_cores:.2f} cores, load generator "
        f"{crowd}; machine {100 * result.machine:.0f}% busy; joined {result.connected} in "
        f"{result.join_seconds:.1f} s; lost {result.lost}, out of order {result.disorder}"
        + (f"; refusals {result.refusals}" if result.refusals else ""),
        file=sys.stderr,
        flush=True,
    )
    for problem in result.problems:
        print(f"    {problem}", file=sys.stderr, flush=True)


# --- Report ------------------------------------------------------------------------------------


def median(results: list[Result], value: Callable[[Result], float]) -> float:
    return statistics.median(value(result) for result in results)


HEADER = [
    "server",
    "N",
    "S",
    "delivered msg/s",
    "vs node",
    "p50 ms",
    "p99 ms",
    "p99 vs node",
    "sent msg/s",
    "server CPU (cores)",
    "delivered per server CPU-s (vs node)",
    "load generator CPU (per worker)",
    "machine busy",
    "join all (s) / median join (ms)",
    "lost / out of order",
]


def efficiency(results: list[Result]) -> float:
    """Messages delivered per second of server CPU: less swayed by a busy machine."""
    return median(results, lambda r: r.delivered / r.server_cores if r.server_cores else 0.0)


def cells(group: list[Result], node: list[Result] | None) -> list[str]:
    first = group[0]
    delivered, p99 = median(group, lambda r: r.delivered), median(group, lambda r: r.p99)
    per_cpu = efficiency(group)
    if node:
        versus = f"{delivered / median(node, lambda r: r.delivered):.2f}x"
        p99_versus = f"{p99 / median(node, lambda r: r.p99):.2f}x"
        per_cpu_versus = f" ({per_cpu / efficiency(node):.2f}x)"
    else:
        versus = p99_versus = "-"
        per_cpu_versus = ""
    workers = len(first.crowd_cores)
    crowd = " + ".join(
        f"{100 * median(group, lambda r, i=i: r.crowd_cores[i]):.0f}%" for i in range(workers)
    )
    return [
        first.server,
        str(first.n),
        str(first.senders),
        f"{delivered:,.0f}",
        versus,
        f"{median(group, lambda r: r.p50):.1f}",
        f"{p99:.1f}",
        p99_versus,
        f"{median(group, lambda r: r.sent):,.0f}",
        f"{median(group, lambda r: r.server_cores):.2f}",
        f"{per_cpu:,.0f}{per_cpu_versus}",
        crowd,
        f"{100 * median(group, lambda r: r.machine):.0f}%",
        f"{median(group, lambda r: r.join_seconds):.1f} / {median(group, lambda r: r.join_ms):.1f}",
        f"{sum(r.lost for r in group)} / {sum(r.disorder for r in group)}",
    ]


def report(args: argparse.Namespace, results: list[Result], started: str) -> dict[str, Any]:
    about = machine()
    print(f"command: .venv/bin/python bench/chat_fanout.py {shlex.join(sys.argv[1:])}".rstrip())
    print(
        f"machine: {about['cpu']}, nproc {about['nproc']}, Python {about['python']}, "
        f"Node {about['node']}, Linux {about['kernel']}"
    )
    print(
        f"date: {started}; {args.runs} run(s); warm-up {args.warmup:g} s, window "
        f"{args.window:g} s; {args.workers} load generator workers"
    )
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + " --- |" * len(HEADER))
    groups: dict[tuple[str, int], list[Result]] = {}
    for result in results:
        if result.connected:  # a run that failed to start is only listed among the problems
            groups.setdefault((result.server, result.n), []).append(result)
    for n in args.n:
        for kind in args.servers:
            if group := groups.get((kind, n)):
                print("| " + " | ".join(cells(group, groups.get(("node", n)))) + " |")
    problems = [f"{r.server} N={r.n} run {r.run}: {p}" for r in results for p in r.problems]
    for problem in problems:
        print(problem)
    return {
        "command": sys.argv,
        "date": started,
        "machine": about,
        "settings": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "results": [dataclasses.asdict(result) for result in results],
    }


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="50,200,1000", help="room sizes, comma-separated")
    parser.add_argument("--senders", type=int, default=10, help="clients sending (S)")
    parser.add_argument("--servers", default="node,relay_sio,percolate", help=f"of {servers.KINDS}")
    parser.add_argument("--scaled", action="store_true", help="add percolate-2p (Redis)")
    parser.add_argument("--database-url", help="percolate-2p's archive: PostgreSQL, not SQLite")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--runs", type=int, default=1, help="repeats, interleaved by server")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--concurrency", type=int, default=50, help="joins at once per worker")
    parser.add_argument("--reactions", type=float, default=0.0, help="reactions a second, too")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of Percolate")
    parser.add_argument("--logs", type=Path, help="folder for logs (default: a new temp one)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.senders, args.warmup, args.window = "50", 5, 2.0, 5.0
    args.n = numbers(args.n)
    args.servers = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
    if args.scaled and "percolate-2p" not in args.servers:
        args.servers.append("percolate-2p")
    if unknown := set(args.servers) - set(servers.KINDS):
        parser.error(f"--servers: unknown {sorted(unknown)}; choose from {servers.KINDS}")
    if args.reactions:
        args.servers += [k + SUFFIX for k in args.servers if k.startswith("percolate")]
    return args


async def main(args: argparse.Namespace) -> None:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    raise_nofile()
    ensure_node_modules()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="chat_fanout-"))
    print(f"logs in {logs}", file=sys.stderr)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = []
    interrupt = Interrupt()
    # Interleaved, so drift on a shared machine hits every server alike.
    for run, n, kind in itertools.product(range(args.runs), args.n, args.servers):
        print(f"run {run + 1}/{args.runs}, {kind}, N={n}:", file=sys.stderr, flush=True)
        place = logs / f"{run}-{kind}-{n}"
        try:
            result = await interrupt.run(measure(kind, n, run, args, place))
        except asyncio.CancelledError:
            if interrupt.received:
                break  # report what was measured
            raise
        except (RuntimeError, TimeoutError) as exc:
            result = Result(kind, n, min(args.senders, n), run)
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
