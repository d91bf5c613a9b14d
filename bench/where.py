"""Where an idle member's memory and a join's CPU go, in Percolate's own process.

    .venv/bin/python bench/where.py cpu [--members 10000]
    .venv/bin/python bench/where.py memory [--members 2000] [--top 25]

Both start ``python -m server`` as ``bench/connections.py`` does (embedded defaults, limits
raised) and have ``--members`` clients of the official ``socket.io-client`` connect as new
users and join rooms of 100 (``bench/crowd.py``).

* ``cpu``: the CPU each of the server's threads spent while everybody connected and joined
  (``/proc/<pid>/task/*/stat``): the event loop's thread (``main``) apart from the archive's
  writer and reader threads (by thread id, in the order they started).
* ``memory``: the server runs under ``tracemalloc`` (slow: start-up alone takes seconds);
  a snapshot before the clients and one after they joined, compared by the line that
  allocated: KiB and objects per member that are still held, largest first. tracemalloc
  sees Python's allocations only (not uvloop's or OpenSSL's), and its own overhead is not
  counted, so the total is below ``connections.py``'s RSS per member.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path

import children
import servers
from children import LOOPBACK, Child, free_port, raise_nofile, wait_healthy
from crowd import Crowd

ROOM_SIZE = 100
CONCURRENCY = 50
TRACED = """
import os, signal, sys, tracemalloc
tracemalloc.start(4)
done = [0]
def snapshot(*_):
    import gc
    gc.collect()
    done[0] += 1
    path = os.path.join(os.environ["WHERE_DIR"], f"snap{done[0]}")
    tracemalloc.take_snapshot().dump(path + ".bin")
    open(path + ".done", "w").close()
signal.signal(signal.SIGUSR1, snapshot)
sys.argv = ["server"] + sys.argv[1:]
from server.__main__ import main
main()
"""


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``: ``main`` for the process's first."""
    tick = os.sysconf("SC_CLK_TCK")
    spent = {}
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            name = "main" if tid == str(pid) else f"thread {tid}"
            spent[name] = (int(fields[11]) + int(fields[12])) / tick
    return spent


async def snapshot(pid: int, folder: Path, number: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    done = folder / f"snap{number}.done"
    while not done.exists():  # noqa: ASYNC110 - another process writes it, when done
        await asyncio.sleep(0.2)
    return tracemalloc.Snapshot.load(str(folder / f"snap{number}.bin"))


async def run(args: argparse.Namespace) -> None:
    raise_nofile()
    folder = Path(tempfile.mkdtemp(prefix="where-"))
    port = free_port()
    argv = servers.percolate_argv(port, folder / "data", args.members)
    env = None
    if args.mode == "memory":
        argv = [sys.executable, "-c", TRACED, *argv[3:]]  # in place of ``-m server``
        env = {"WHERE_DIR": str(folder)}
        children.WAIT = 300.0  # tracemalloc slows start-up a great deal
    server = await Child.start("percolate", argv, folder / "percolate.log", env=env)
    crowd: Crowd | None = None
    try:
        url = f"http://{LOOPBACK}:{port}"
        await wait_healthy(server, url)
        crowd = await Crowd.start(2, folder)
        rooms = await crowd.create_rooms(url, math.ceil(args.members / ROOM_SIZE))
        before = thread_cpu(server.pid)
        first = await snapshot(server.pid, folder, 1) if args.mode == "memory" else None
        joined = await crowd.connect([url], args.members, rooms, ROOM_SIZE, CONCURRENCY)
        print(f"{joined.connected} joined, median join {joined.median_join():.1f} ms")
        if first is not None:
            report_memory(first, await snapshot(server.pid, folder, 2), joined.connected, args)
        else:
            after = thread_cpu(server.pid)
            for name, seconds in after.items():
                spent = seconds - before.get(name, 0.0)
                if spent >= 0.01:
                    print(f"{spent:6.2f} s CPU  {name}")
    finally:
        if crowd is not None:
            await crowd.close()
        await server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report_memory(
    first: tracemalloc.Snapshot,
    second: tracemalloc.Snapshot,
    members: int,
    args: argparse.Namespace,
) -> None:
    lines = second.compare_to(first, "lineno")
    total = sum(line.size_diff for line in lines)
    print(f"{total / 1024 / members:.2f} KiB per member held (Python's allocations)")
    for line in lines[: args.top]:
        frame = line.traceback[0]
        where = frame.filename.split("site-packages/")[-1].replace(str(children.ROOT) + "/", "")
        print(
            f"{line.size_diff / 1024 / members:7.3f} KiB {line.count_diff / members:6.2f} "
            f"objects  {where}:{frame.lineno}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("cpu", "memory"))
    parser.add_argument("--members", type=int)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.members is None:
        args.members = 10_000 if args.mode == "cpu" else 2_000
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
