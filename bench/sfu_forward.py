"""SFU forwarding: server CPU per subscriber stream, against a re-encoding reference.

    .venv/bin/python bench/sfu_forward.py [--modes sfu,reference] [--sfu-n 10,20,30,40,50,75,100]
        [--reference-n 1,2,4,8] [--processes 4] [--warmup 5] [--window 20] [--runs 1] [--quick]

One publisher process sends VP8 (640x360, 30 fps, encoder pinned at 1 Mbps) and Opus to a
media server process; P subscriber processes hold the N subscriber sessions between them and
count the complete frames they receive without decoding them (``bench/sfu_peers.py``). Modes:

* ``sfu``: the Percolate server (``python -m server``, embedded), over Socket.IO with the
  ``sfu:*`` events of docs/sfu-design.md section 2; the publisher is the host of a workshop,
  the subscribers join it as guests;
* ``reference``: a bare server that feeds the publisher's tracks into aiortc's ``MediaRelay``
  and gives every subscriber a normal sender: decoded once, encoded again per subscriber;
* ``forward``: the same bare server forwarding with a ``signaling.publication.Publication``
  and a ``signaling.slot.Slot`` per subscriber m-line: the SFU's forwarding without the
  server around it (Socket.IO, rooms, sessions);
* ``record``: ``forward``, and the publisher's camera and microphone recorded to WebM files
  (``signaling.recorder.Recording``) all along. Run with ``forward`` (``--modes
  forward,record``), the same workshop unrecorded, for what recording adds: the report
  compares the server's CPU at each N, and in the same process the thread CPU of forwarding
  (the publications' receive path: packetizing, every slot's packets) against the recorders'
  (``deliver``, and muxing their batches).

Subscribers join in steps while one server process runs (N grows through the list); each
process joins its sessions one at a time. After every step and a warm-up, the server's CPU
time (utime + stime in ``/proc/<pid>/stat``, all threads) is read over the window, with the
frames each stream got. Streams per core = N / (server CPU seconds / wall seconds), at the
largest N where every stream kept 95% of the publisher's frame rate; a ramp stops at the
first step that did not. First frame: from asking for the session (``sfu:join``, or the HTTP
offer) to the first keyframe at the subscriber. Runs are interleaved by mode; the table gives
medians over runs (streams pooled).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from children import Child, free_port, machine_busy, wait_healthy
from sfu_peers import BITRATE, FPS, HEIGHT, LOOPBACK, WAIT, WIDTH

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "sfu_peers.py"
MODES = ("sfu", "reference", "forward", "record")
FULL_RATE = 0.95
"""A stream runs at full frame rate while it gets this share of the publisher's frames."""


# --- Processes ---------------------------------------------------------------------------------


class Peer(Child):
    """A process of ``bench/sfu_peers.py`` (or the server): told to quit before it is ended."""

    quit = b'{"cmd": "quit"}\n'

    @classmethod
    async def peer(cls, name: str, role: str, config: dict[str, Any], logs: Path) -> Child:
        argv = [sys.executable, str(PEERS), role, json.dumps(config)]
        return await cls.start(name, argv, logs / f"{name}.log", control=True)


async def start_server(mode: str, most: int, logs: Path) -> tuple[Child, str]:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    if mode == "sfu":
        # Every client comes from 127.0.0.1: lift the per-address limits above the load.
        argv = [
            sys.executable, "-m", "server", "--host", LOOPBACK, "--port", str(port),
            "--data-dir", str(logs / "data"), "--max-connections-per-ip", str(most + 50),
            "--new-users-per-minute", "100000", "--join-rate", "1000", "--join-burst", "1000",
            "--max-members", str(max(200, most + 10)),
        ]  # fmt: skip
        server = await Peer.start("server", argv, logs / "server.log")
    else:
        config = {"mode": mode, "port": port, "folder": str(logs / "recording")}
        server = await Peer.peer("server", "serve", config, logs)
    await wait_healthy(server, url)
    return server, url


# --- Measurement -------------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    """One reading of every process, taken together."""

    time: float
    cpu: dict[str, tuple[float, float]]
    """(user, system) CPU seconds of each process."""
    machine: tuple[int, int]
    replies: dict[str, dict[str, Any]]


async def sample(server: Child, others: list[Child]) -> Sample:
    replies = await asyncio.gather(*(child.call({"cmd": "snapshot"}) for child in others))
    return Sample(
        time=time.monotonic(),
        cpu={child.name: child.cpu_times() for child in [server, *others]},
        machine=machine_busy(),
        replies={child.name: reply for child, reply in zip(others, replies, strict=True)},
    )


@dataclasses.dataclass
class Step:
    """One window at one N."""

    mode: str
    n: int
    server: float
    """Server CPU, in cores."""
    server_system: float
    """The part of it spent in the kernel."""
    subscribers: float
    """All subscriber processes' CPU, in cores."""
    machine: float
    """Share of the machine's CPUs busy (every process on it, ours or not)."""
    publisher_fps: float
    fps: list[float]
    """Video frame rate of each stream."""
    audio_fps: list[float]
    kbps: list[float]
    """Video bitrate of each stream."""
    first: list[float | None]
    """Join to first frame of the streams that joined in this step (None: never)."""
    connected: list[float | None]
    """Join to ``connected`` (ICE and DTLS done) of the same streams."""
    errors: list[str] = dataclasses.field(default_factory=list)
    forwarding: float = math.nan
    """Bare servers: thread CPU in the publications' receive path, the recorders' part
    excepted (packetizing, every slot's packets), in cores."""
    recording: float = math.nan
    """``record``: the recorders' thread CPU (``deliver`` and muxing), in cores."""

    @property
    def paced(self) -> bool:
        """Whether the publisher kept its pace: a starved one sends late, then in bursts."""
        return abs(self.publisher_fps - FPS) <= (1 - FULL_RATE) * FPS

    @property
    def full(self) -> bool:
        return (
            self.paced
            and not self.errors
            and len(self.fps) == self.n
            and min(self.fps) >= FULL_RATE * self.publisher_fps
            and None not in self.first
        )

    @property
    def per_core(self) -> float:
        return self.n / self.server if self.server > 0 else math.inf


def measure(mode: str, n: int, step: int, before: Sample, after: Sample) -> Step:
    wall = after.time - before.time

    def cores(name: str, part: slice = slice(None)) -> float:
        return (sum(after.cpu[name][part]) - sum(before.cpu[name][part])) / wall

    publisher = [before.replies["publisher"], after.replies["publisher"]]
    result = Step(
        mode=mode,
        n=n,
        server=cores("server"),
        server_system=cores("server", slice(1, 2)),
        subscribers=0.0,
        machine=(after.machine[0] - before.machine[0]) / (after.machine[1] - before.machine[1]),
        publisher_fps=(publisher[1]["frames"] - publisher[0]["frames"])
        / (publisher[1]["time"] - publisher[0]["time"]),
        fps=[],
        audio_fps=[],
        kbps=[],
        first=[],
        connected=[],
    )
    if "server" in after.replies:
        was, now = before.replies["server"], after.replies["server"]
        result.forwarding = (now["forwarding"] - was["forwarding"]) / wall
        result.recording = (now["recording"] - was["recording"]) / wall
    for name in [name for name in after.replies if name.startswith("subscriber")]:
        result.subscribers += cores(name)
        # Each process's own clock for its own counts.
        seconds = after.replies[name]["time"] - before.replies[name]["time"]
        old, new = before.replies[name]["streams"], after.replies[name]["streams"]
        for was, now in zip(old, new, strict=False):
            result.fps.append((now["video"] - was["video"]) / seconds)
            result.audio_fps.append((now["audio"] - was["audio"]) / seconds)
            result.kbps.append((now["video_bytes"] - was["video_bytes"]) * 8 / seconds / 1000)
            if now["step"] == step:
                result.first.append(now["first"])
                result.connected.append(now["connected"])
    return result


def spread(total: int, processes: int) -> list[int]:
    """How many sessions each subscriber process holds when ``total`` are held, balanced."""
    return [total // processes + (i < total % processes) for i in range(processes)]


async def ramp(
    mode: str, ns: list[int], args: argparse.Namespace, logs: Path, problems: list[str]
) -> list[Step]:
    """One server, one publisher, P subscriber processes; N grows through ``ns``.

    A process that fails or does not answer in time ends the ramp (the steps measured so far
    stand) with a line in ``problems``: a run on a starved machine still reports something.
    """
    await asyncio.to_thread(logs.mkdir, parents=True)
    children: list[Child] = []
    steps: list[Step] = []
    n = ns[0]
    try:
        server, url = await start_server(mode, max(ns), logs)
        children.append(server)
        publisher = await Peer.peer("publisher", "publisher", {"mode": mode, "url": url}, logs)
        children.append(publisher)
        room = (await publisher.call({"cmd": "start"}, 2 * WAIT)).get("room")
        processes = min(args.processes, max(ns))
        subscribers = []
        for index in range(processes):
            config = {"mode": mode, "url": url, "room": room, "index": index}
            subscribers.append(await Peer.peer(f"subscriber-{index}", "subscriber", config, logs))
            children.append(subscribers[-1])
        held = [0] * processes
        for step, n in enumerate(ns):
            wanted = spread(n, processes)
            replies = await asyncio.gather(
                *(
                    child.call(
                        {"cmd": "join", "count": new - old, "step": step}, (new - old + 1) * WAIT
                    )
                    for child, old, new in zip(subscribers, held, wanted, strict=True)
                )
            )
            held = wanted
            await asyncio.sleep(args.warmup)
            # A bare server answers with its receive path's CPU (``BareServer.cpu``).
            probed = [publisher, *subscribers] + ([server] if mode != "sfu" else [])
            before = await sample(server, probed)
            await asyncio.sleep(args.window)
            after = await sample(server, probed)
            result = measure(mode, n, step, before, after)
            result.errors = [error for reply in replies for error in reply["errors"]]
            steps.append(result)
            log_step(result)
            if not result.full:
                break  # past the largest N at full rate: larger ones would only take longer
        return steps
    except (TimeoutError, RuntimeError) as exc:
        problem = f"{mode} ramp ended at N={n}: {type(exc).__name__} {exc} (logs: {logs})"
        print(f"  {problem}", file=sys.stderr, flush=True)
        problems.append(problem)
        return steps
    finally:
        # Subscribers hang up first, then the publisher, then the server.
        for group in (children[2:], children[1:2], children[:1]):
            await asyncio.gather(*(child.stop() for child in group))


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def log_step(step: Step) -> None:
    firsts = [f for f in step.first if f is not None]
    print(
        f"  {step.mode} N={step.n}: server {step.server:.2f} cores ({step.server_system:.2f} "
        f"system), {step.per_core:.0f} streams/core; fps min {min(step.fps, default=0):.1f} "
        f"(publisher {step.publisher_fps:.1f}); first frame p95 "
        f"{quantile(firsts, 0.95) if firsts else math.nan:.2f} s; "
        f"{step.n - len(step.fps)} missing, {step.first.count(None)} without a frame, "
        f"{len(step.errors)} errors; subscribers {step.subscribers:.2f} cores; machine "
        f"{100 * step.machine:.0f}% busy",
        file=sys.stderr,
        flush=True,
    )
    for error in step.errors[:5]:
        print(f"    {error}", file=sys.stderr)


# --- Report ------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return (
        f"{model}, {os.cpu_count()} cores ({platform.node()}), Python {platform.python_version()}"
    )


@dataclasses.dataclass
class Row:
    """The runs of one (mode, N): medians over runs, streams pooled."""

    mode: str
    n: int
    steps: list[Step]

    @property
    def full(self) -> bool:
        return all(step.full for step in self.steps)

    def median(self, value: Callable[[Step], float]) -> float:
        return statistics.median(value(step) for step in self.steps)

    def pooled(self, value: Callable[[Step], list[Any]]) -> list[Any]:
        return [item for step in self.steps for item in value(step)]

    def first(self) -> str:
        firsts = [f for f in self.pooled(lambda s: s.first) if f is not None]
        text = f"{quantile(firsts, 0.5):.2f} / {quantile(firsts, 0.95):.2f} s" if firsts else "-"
        if never := len(self.pooled(lambda s: s.first)) - len(firsts):
            text += f", {never} never"
        if connected := [c for c in self.pooled(lambda s: s.connected) if c is not None]:
            text += f" ({quantile(connected, 0.5):.2f} s)"
        return text

    def in_loop(self) -> str:
        forwarding = self.median(lambda s: s.forwarding)
        if math.isnan(forwarding):
            return "-"
        text = f"{1000 * forwarding:.1f}"
        recording = self.median(lambda s: s.recording)
        if not math.isnan(recording):
            text += f" / {1000 * recording:.2f} ({100 * recording / forwarding:.1f}%)"
        return text

    def cells(self) -> list[str]:
        fps = self.pooled(lambda s: s.fps) or [0.0]
        server = self.median(lambda s: s.server)
        return [
            self.mode,
            str(self.n),
            f"{100 * server:.0f}% ({100 * self.median(lambda s: s.server_system):.0f}% system)",
            f"{1000 * server / self.n:.1f}",
            f"{self.median(lambda s: s.per_core):,.0f}",
            f"{min(fps):.1f} / {statistics.median(fps):.1f} "
            f"({self.median(lambda s: s.publisher_fps):.1f})",
            f"{statistics.median(self.pooled(lambda s: s.audio_fps) or [0.0]):.0f}",
            f"{statistics.median(self.pooled(lambda s: s.kbps) or [0.0]):,.0f}",
            self.first(),
            f"{1000 * self.median(lambda s: s.subscribers) / self.n:.1f}",
            f"{100 * self.median(lambda s: s.machine):.0f}%",
            self.in_loop(),
            "yes" if self.full else "no" if all(s.paced for s in self.steps) else "publisher late",
        ]


HEADER = [
    "mode",
    "N",
    "server CPU",
    "server CPU ms per stream-s",
    "streams per core",
    "video fps min / median (publisher)",
    "audio fps",
    "video kbps",
    "first frame p50 / p95 (connected p50)",
    "subscriber CPU ms per stream-s",
    "machine busy",
    "thread CPU ms per s: forwarding / recording",
    "full rate",
]


def rows(ramps: list[list[Step]]) -> list[Row]:
    by_n: dict[int, list[Step]] = {}
    for steps in ramps:
        for step in steps:
            by_n.setdefault(step.n, []).append(step)
    return [Row(steps[0].mode, n, steps) for n, steps in sorted(by_n.items())]


def summary(mode: str, table: list[Row], runs: int) -> float | None:
    """Print the headline of one mode; its streams per core, if some N kept full rate."""
    full = [row for row in table if row.full and len(row.steps) == runs]
    if not full:
        print(f"{mode}: no N kept every stream at full frame rate in every run")
        return None
    best = full[-1]
    per_core = best.median(lambda s: s.per_core)
    firsts = [f for f in best.pooled(lambda s: s.first) if f is not None]
    line = (
        f"{mode}: {per_core:,.0f} streams per core at N={best.n}, the largest N at full frame "
        f"rate; first frame p95 {quantile(firsts, 0.95):.2f} s"
    )
    if len(full) > 1 and best.n - full[-2].n >= 10:  # smaller steps drown in noise
        # What one more stream costs, without the publisher's share: where it tends with N.
        low = full[-2]
        slope = (best.median(lambda s: s.server) - low.median(lambda s: s.server)) / (
            best.n - low.n
        )
        if slope > 0:
            line += f"; marginal {1000 * slope:.1f} ms per stream-s ({1 / slope:,.0f} per core)"
    print(line)
    return per_core


def report(args: argparse.Namespace, runs: dict[str, list[list[Step]]], started: str) -> None:
    import aiortc
    import av

    print(f"command: .venv/bin/python bench/sfu_forward.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}, aiortc {aiortc.__version__}, PyAV {av.__version__}")
    print(
        f"date: {started}; {args.runs} run(s); warm-up {args.warmup:g} s, window "
        f"{args.window:g} s; {args.processes} subscriber processes; publisher {WIDTH}x{HEIGHT} "
        f"VP8 at {BITRATE // 1000} kbps"
    )
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + " --- |" * len(HEADER))
    tables = {mode: rows(ramps) for mode, ramps in runs.items()}
    for table in tables.values():
        for row in table:
            print("| " + " | ".join(row.cells()) + " |")
    print()
    per_core = {mode: summary(mode, table, args.runs) for mode, table in tables.items()}
    reference = per_core.get("reference")
    for mode in ("sfu", "forward"):
        value = per_core.get(mode)
        if value is not None and reference:
            print(f"ratio {mode} / reference: {value / reference:.1f}x (target 30x)")
    if "forward" in tables and "record" in tables:
        unrecorded = {row.n: row for row in tables["forward"]}
        for row in tables["record"]:
            if (other := unrecorded.get(row.n)) is not None:
                server = row.median(lambda s: s.server) / other.median(lambda s: s.server) - 1
                in_loop = row.median(lambda s: s.recording) / row.median(lambda s: s.forwarding)
                print(
                    f"recording at N={row.n}: the server's CPU {100 * server:+.1f}% against "
                    f"forward; the recorders' own {100 * in_loop:.1f}% of the forwarding's "
                    "thread CPU in the same process (target: at most 10%)"
                )


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="sfu,reference", help=f"comma-separated, of {MODES}")
    parser.add_argument("--sfu-n", default="10,20,30,40,50,75,100", help="N steps, sfu/forward")
    parser.add_argument("--reference-n", default="1,2,4,8", help="N steps, reference")
    parser.add_argument("--processes", type=int, default=4, help="subscriber processes")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per step")
    parser.add_argument("--runs", type=int, default=1, help="ramps per mode, interleaved")
    parser.add_argument("--logs", help="folder for the processes' logs (default: a new temp one)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.sfu_n, args.reference_n = "2,4", "1,2"
        args.processes, args.warmup, args.window = 2, 2.0, 5.0
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {MODES}")
    args.sfu_n, args.reference_n = numbers(args.sfu_n), numbers(args.reference_n)
    return args


async def main(args: argparse.Namespace) -> None:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = {"sfu": args.sfu_n, "forward": args.sfu_n, "record": args.sfu_n}
    sizes["reference"] = args.reference_n
    runs: dict[str, list[list[Step]]] = {mode: [] for mode in args.modes}
    problems: list[str] = []
    logs = Path(args.logs or tempfile.mkdtemp(prefix="sfu_forward-"))
    print(f"logs in {logs}", file=sys.stderr)
    for run in range(args.runs):  # interleaved, so drift on a shared machine hits all alike
        for mode in args.modes:
            print(f"run {run + 1}/{args.runs}, {mode}:", file=sys.stderr, flush=True)
            ramped = await ramp(mode, sizes[mode], args, logs / f"{run}-{mode}", problems)
            runs[mode].append(ramped)
    report(args, runs, started)
    for problem in problems:
        print(problem)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse()))
    except KeyboardInterrupt:
        sys.exit("interrupted; every process this benchmark started is stopped")
