"""Where a server's time goes: py-spy recording a process, and a summary of its samples.

py-spy samples the Python stacks of every thread from outside the process (``--nonblocking``:
without pausing it, so the figures move little). Its ``raw`` output is one collapsed stack a
line, root first, with the sample count last; ``--threads`` makes the thread the root frame.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import shutil
import signal
import sys
from pathlib import Path

from children import Child

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
_SITE = "site-packages/"

# Self time by where the leaf frame's file is, in this order (first match wins). A sample
# whose innermost Python frame is the one that started the loop was in the loop's own C code
# (uvloop: polling, running callbacks, socket writes), which py-spy does not see into.
LOOP = "event loop (uvloop's C code, socket I/O)"
_LOOP_FUNCTIONS = ("run_app", "run_until_complete", "run_forever", "asyncio.run", "Runner.run")
AREAS = (
    ("engineio", "engineio (Engine.IO packets, sockets, queues)"),
    ("socketio", "socketio (Socket.IO packets, rooms, emit)"),
    ("aiohttp", "aiohttp (HTTP, WebSocket frames)"),
    ("msgspec", "msgspec (JSON)"),
    ("json/", "json (stdlib)"),
    ("zlib", "zlib (permessage-deflate)"),
    ("server/archive", "server.archive (SQLite)"),
    ("sqlite3", "sqlite3"),
    ("server/", "server (Percolate's own code)"),
    ("redis", "redis client"),
    ("concurrent/futures", "thread pool (concurrent.futures)"),
    ("asyncio", "asyncio (tasks, queues, event loop)"),
    ("uvloop", "uvloop"),
)


async def record(pid: int, seconds: float, output: Path, logs: Path) -> Child | None:
    """Start py-spy on ``pid`` for ``seconds``; None (with a note) if py-spy is missing."""
    # On PATH, or beside this Python (pip install py-spy into the virtualenv).
    binary = shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent)
    if binary is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return None
    argv = [
        binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", "200", "--nonblocking", "--threads", "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    return await Child.start(f"py-spy-{pid}", argv, logs / f"py-spy-{pid}.log")


async def finish(recorder: Child) -> None:
    """Stop a recording now (py-spy writes what it has on SIGINT)."""
    with contextlib.suppress(ProcessLookupError):
        recorder.proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(recorder.proc.wait(), 30)
    finally:
        await recorder.stop()


def _frame(text: str) -> tuple[str, str]:
    """(``function (short file)``, full file) of one collapsed frame."""
    match = _FRAME.match(text)
    if not match:
        return text, ""
    path = match["file"]
    short = path.split(_SITE, 1)[1] if _SITE in path else "/".join(path.split("/")[-2:])
    return f"{match['function']} ({short})", path


def summarise(raw: Path, top: int = 15) -> str:
    """A text summary: samples per thread, self time by area, top functions (self, total)."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(count for _, count in stacks)
    if not total:
        return f"{raw.name}: no samples"
    threads: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        thread, calls = frames[0], [_frame(frame) for frame in frames[1:]]
        threads[re.sub(r" \(0x[0-9a-f]+\)", "", thread)] += count
        if not calls:
            continue
        leaf, path = calls[-1]
        own[leaf] += count
        if leaf.startswith(_LOOP_FUNCTIONS):
            area = LOOP
        else:
            area = next((name for key, name in AREAS if key in path), "other")
        areas[area] += count
        for name in {name for name, _ in calls}:
            inclusive[name] += count

    def share(counter: collections.Counter[str], limit: int) -> list[str]:
        return [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]

    return "\n".join(
        [
            f"{raw.name}: {total} samples (busy only)",
            "threads:",
            *share(threads, 5),
            "self time by area (leaf frame's package):",
            *share(areas, len(AREAS) + 1),
            "top functions, self time:",
            *share(own, top),
            "top functions, total time (inclusive):",
            *share(inclusive, top),
        ]
    )
