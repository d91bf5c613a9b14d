"""Child processes of the chat benchmarks: starting, stopping and reading them from /proc.

Every child runs in a process group of its own, so a Ctrl-C in the terminal reaches only the
benchmark, which then stops the children in order (``Interrupt``); it dies with the benchmark
anyway (``PR_SET_PDEATHSIG``) should that be killed. Children inherit a file-descriptor limit
raised to the hard limit, so thousands of connections fit. ``stop`` ends a child's whole
group, politely first, then by force.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
LOOPBACK = "127.0.0.1"
WAIT = 30.0
"""Seconds a child may take to start, or to answer a command that is not a bulk one."""


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def die_with_parent() -> None:
    """In a child before exec: SIGKILL it if this process dies without cleaning up (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of all the threads of ``pid``, in seconds (proc(5): fields 14, 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """utime + stime of all the threads of ``pid``, in seconds."""
    return sum(cpu_times(pid))


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
    return {
        "cpu": model,
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "kernel": platform.release(),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def ensure_node_modules() -> None:
    """``npm ci`` in bench/node the first time: socket.io and socket.io-client, as locked."""
    if (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        return
    if shutil.which("npm") is None:
        sys.exit("npm is not installed: the load generator and the reference server need Node")
    print("installing bench/node's packages (npm ci)", file=sys.stderr, flush=True)
    subprocess.run(
        ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
        check=True,
        timeout=600,
    )


class Child:
    """A process this benchmark started; ``stop`` ends it, politely first."""

    quit = b""
    """What ``stop`` writes to a controlled child's stdin before closing it."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls,
        name: str,
        argv: Sequence[str],
        log: Path,
        control: bool = False,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start ``argv`` in the checkout; with ``control``, its stdin/stdout carry commands."""
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=ROOT,
                # This checkout's server package, whatever the virtualenv has installed.
                env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                stdin=subprocess.PIPE if control else subprocess.DEVNULL,
                stdout=subprocess.PIPE if control else out,
                stderr=out,
                preexec_fn=die_with_parent,
                start_new_session=True,
                limit=64 * 1024 * 1024,  # a crowd's reply can be a long line
            )
        return cls(name, proc, log)

    async def call(self, command: dict[str, Any], within: float = WAIT) -> dict[str, Any]:
        """Send one command line and read its one reply line."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {command['cmd']}: {reply['error']}")
        return reply

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def cpu_times(self) -> tuple[float, float]:
        return cpu_times(self.pid)

    def rss(self) -> int:
        return rss_kib(self.pid)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                if self.quit:
                    self.proc.stdin.write(self.quit)
                self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 3)
        for end in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.returncode is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, end)  # its own group (start_new_session): only its own
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)


class Interrupt:
    """Ctrl-C or SIGTERM: cancel the measurement under way, whose cleanup stops its children.

    The benchmark runs each measurement as a task (``run``) and stops measuring once
    ``received``, reporting what it has.
    """

    def __init__(self) -> None:
        self.received = False
        self._current: asyncio.Task[Any] | None = None
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, self._interrupt)

    def _interrupt(self) -> None:
        if not self.received:
            print("interrupted: stopping every process started", file=sys.stderr, flush=True)
        self.received = True
        if self._current is not None:
            self._current.cancel()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` as a task that an interrupt cancels (CancelledError)."""
        self._current = asyncio.create_task(coroutine)
        try:
            return await self._current
        finally:
            self._current = None


async def wait_healthy(child: Child, url: str) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            if child.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)  # polling a process that is starting up
    raise RuntimeError(f"{child.name} did not start:\n{child.tail()}")


async def wait_redis(child: Child, port: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
            writer.write(b"PING\r\n")
            reply = await reader.readline()
            writer.close()
            if reply.startswith(b"+PONG"):
                return
        if child.proc.returncode is not None:
            break
        await asyncio.sleep(0.1)  # polling a process that is starting up
    raise RuntimeError(f"{child.name} did not start:\n{child.tail()}")
