"""The servers the chat benchmarks compare, each started on free loopback ports.

* ``percolate``: ``python -m server`` with its embedded defaults (SQLite archive in a fresh
  data folder, presence in memory), limits raised above the benchmark's load;
* ``percolate-2p``: two such processes sharing a private ``redis-server`` (presence, fan-out
  and rate limits) and one SQLite data folder (docs/deployment.md: processes on one machine
  may share it; SQLite's locking serialises their writes), or a PostgreSQL URL if given;
* ``relay_sio``: ``bench/relay_sio.py``, plain python-socketio;
* ``node``: ``bench/node/relay.js``, Node.js socket.io: the reference.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
from pathlib import Path

from children import LOOPBACK, NODE_DIR, ROOT, Child, free_port, wait_healthy, wait_redis

KINDS = ("node", "relay_sio", "percolate", "percolate-2p")
UNLIMITED = 1_000_000


def percolate_argv(port: int, data: Path, members: int) -> list[str]:
    """``python -m server`` with every per-user and per-address limit above the load.

    All clients come from 127.0.0.1 as brand-new users, and senders send as fast as their
    acks return: the defaults would refuse them (docs/protocol.md, Limits).
    """
    return [
        sys.executable, "-m", "server", "--host", LOOPBACK, "--port", str(port),
        "--data-dir", str(data),
        "--max-connections-per-ip", str(members + 100),
        "--max-members", str(members + 100),
        "--new-users-per-minute", str(UNLIMITED),
        "--join-rate", str(UNLIMITED), "--join-burst", str(UNLIMITED),
        "--chat-rate", str(UNLIMITED), "--chat-burst", str(UNLIMITED),
        "--react-rate", str(UNLIMITED), "--react-burst", str(UNLIMITED),
        "--rooms-per-hour", str(UNLIMITED),
    ]  # fmt: skip


@dataclasses.dataclass
class Target:
    """One running server under test: its processes and the URLs clients connect to."""

    kind: str
    servers: list[Child]
    urls: list[str]
    helpers: list[Child] = dataclasses.field(default_factory=list)
    """Processes the servers need (Redis): their CPU counts as the server's."""

    @property
    def every(self) -> list[Child]:
        return [*self.servers, *self.helpers]

    def cpu(self) -> float:
        return sum(child.cpu() for child in self.every)

    def rss(self) -> int:
        """Resident KiB of the server processes (not Redis)."""
        return sum(child.rss() for child in self.servers)

    async def stop(self) -> None:
        await asyncio.gather(*(child.stop() for child in self.servers))
        await asyncio.gather(*(child.stop() for child in self.helpers))


async def start(kind: str, members: int, logs: Path, database_url: str | None = None) -> Target:
    """Start a ``kind`` server for up to ``members`` clients; logs and data go in ``logs``."""
    await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
    target = Target(kind, [], [])
    try:
        if kind == "node":
            port = free_port()
            argv = ["node", str(NODE_DIR / "relay.js"), "--host", LOOPBACK, "--port", str(port)]
            target.servers.append(await Child.start("node", argv, logs / "node.log"))
            target.urls.append(f"http://{LOOPBACK}:{port}")
        elif kind == "relay_sio":
            port = free_port()
            argv = [sys.executable, str(ROOT / "bench" / "relay_sio.py"), "--port", str(port)]
            target.servers.append(await Child.start("relay_sio", argv, logs / "relay_sio.log"))
            target.urls.append(f"http://{LOOPBACK}:{port}")
        elif kind == "percolate":
            port = free_port()
            argv = percolate_argv(port, logs / "data", members)
            target.servers.append(await Child.start("percolate", argv, logs / "percolate.log"))
            target.urls.append(f"http://{LOOPBACK}:{port}")
        elif kind == "percolate-2p":
            await _start_scaled(target, members, logs, database_url)
        else:
            raise ValueError(f"unknown server kind {kind!r}; choose from {KINDS}")
        for child, url in zip(target.servers, target.urls, strict=True):
            await wait_healthy(child, url)
    except BaseException:
        await target.stop()
        raise
    return target


async def _start_scaled(target: Target, members: int, logs: Path, database_url: str | None) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (scripts/test.sh installs it)")
    redis_port = free_port()
    # A private Redis on a free port, nothing saved: never the machine's own on 6379.
    argv = [
        binary, "--port", str(redis_port), "--bind", LOOPBACK, "--save", "",
        "--appendonly", "no", "--dir", str(logs),
    ]  # fmt: skip
    redis = await Child.start("redis", argv, logs / "redis.log")
    target.helpers.append(redis)
    await wait_redis(redis, redis_port)
    for index in range(2):
        port = free_port()
        argv = percolate_argv(port, logs / "data", members)
        argv += ["--redis-url", f"redis://{LOOPBACK}:{redis_port}/0", "--redis-prefix", "bench"]
        if database_url:
            argv += ["--database-url", database_url]
        name = f"percolate-{index + 1}"
        child = await Child.start(name, argv, logs / f"{name}.log")
        target.servers.append(child)
        target.urls.append(f"http://{LOOPBACK}:{port}")
        # One at a time: the first creates the schema.
        await wait_healthy(child, target.urls[-1])
