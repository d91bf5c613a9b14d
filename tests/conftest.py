"""Fixtures: real servers on free ports, a private redis-server, real Socket.IO clients."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from server.app import make_app
from server.config import Settings

WAIT = 10.0  # seconds any single expected event may take before a test fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A private ``redis-server`` on a free port that a test may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (the test command installs it)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=WAIT)
            self.proc = None


class PostgresProcess:
    """A private PostgreSQL cluster on a free port that a test may stop and start again.

    ``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
    user (Debian's packages create it) and every command runs as that user.
    """

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self._databases = itertools.count()

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        binaries = _postgres_bin()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._run(str(binaries / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(_postgres_bin() / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(_postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """A fresh, empty database of this cluster: one per test."""
        import asyncpg

        name = f"t{next(self._databases)}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.url(name)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed (the test command installs it)")
    return found[-1].parent


@contextlib.contextmanager
def _cluster() -> Iterator[PostgresProcess]:
    # Not under pytest's temporary folder: that one is private to root, and the cluster's
    # files belong to the postgres user.
    workdir = Path(tempfile.mkdtemp(prefix="percolate-pg-"))
    cluster = PostgresProcess(workdir)
    try:
        cluster.init()
        yield cluster
        cluster.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresProcess]:
    with _cluster() as cluster:
        yield cluster


@pytest.fixture
def private_postgres() -> Iterator[PostgresProcess]:
    """A cluster of this test's own, for tests that stop and restart it."""
    with _cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    redis = RedisProcess(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, for tests that stop and restart it."""
    redis = RedisProcess(tmp_path)
    redis.start()
    yield redis
    redis.stop()


_prefixes = itertools.count()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one test: its own data folder and, with Redis, its own key prefix."""
    redis_url = None
    if backend == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    return Settings(
        host="127.0.0.1",
        port=0,
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        redis_prefix=f"t{next(_prefixes)}",
        reconnect_grace=0.5,
        presence_ttl=3.0,
        heartbeat_interval=0.5,
        reap_interval=0.1,
        # Every test client comes from 127.0.0.1: limits per address are for their own tests.
        chat_rate=1000.0,
        chat_burst=1000,
        join_rate=1000.0,
        join_burst=1000,
        rooms_per_hour=100_000,
        max_connections_per_ip=10_000,
        new_users_per_minute=10_000,
    )


@dataclasses.dataclass
class Running:
    server: TestServer
    settings: Settings

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def close(self) -> None:
        await self.server.close()


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start a real Percolate on a free port; several may run, each closed at the end."""
    running: list[Running] = []

    async def start(settings: Settings, **changes: Any) -> Running:
        settings = dataclasses.replace(settings, **changes)
        server = TestServer(make_app(settings), host="127.0.0.1", port=0)
        await server.start_server()
        running.append(Running(server, settings))
        return running[-1]

    yield start
    for item in reversed(running):
        await item.close()


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[Running]], settings: Settings) -> Running:
    return await start_server(settings)


ROOT = Path(__file__).resolve().parent.parent


class Process:
    """``python -m server`` in a process of its own; its output goes to a file (a pipe
    nobody reads would fill up and stall a chatty server)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        await self.wait_ready()

    async def wait_ready(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(int(WAIT / 0.05)):
                try:
                    async with http.get(self.url + "healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                if self.proc is None or self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)  # polling a process that is starting up
        raise AssertionError(f"server did not start:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def finish(self) -> str:
        """Wait for the process to end (after a signal); its whole output."""
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), WAIT)
        return self.output

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM, as an operator would; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), WAIT)
        except TimeoutError:
            await self.kill()


@pytest.fixture
async def run_server(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Process]]]:
    """Start ``python -m server`` with flags; every process is killed at the end."""
    started: list[Process] = []

    async def run(*args: str, env: dict[str, str] | None = None, port: int = 0) -> Process:
        log = tmp_path / f"server-{len(started)}.log"
        process = Process(list(args), {**os.environ, **(env or {})}, log, port or free_port())
        started.append(process)
        await process.start()
        return process

    yield run
    for process in started:
        if process.proc is not None and process.proc.returncode is None:
            await process.kill()


class Client:
    """A python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        # Our own HTTP session, closed by close() even when connecting failed half-way.
        self.http = aiohttp.ClientSession()
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.session: dict[str, Any] = {}
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        if event == "session":
            self.session = data
        async with self._arrived:
            self.received.append((event, data))
            self._arrived.notify_all()

    @property
    def user_id(self) -> str:
        return str(self.session["user"]["id"])

    async def connect(self, url: str, auth: Any) -> Client:
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        await self.wait("session")
        return self

    async def call(self, event: str, payload: Any = None) -> Any:
        if payload is None:
            return await self.sio.call(event, timeout=WAIT)
        return await self.sio.call(event, payload, timeout=WAIT)

    async def ok(self, event: str, payload: Any = None) -> dict[str, Any]:
        """Call, and fail the test unless the ack is ``ok``."""
        ack = await self.call(event, payload)
        assert ack.get("ok") is True, f"{event} {payload!r} -> {ack!r}"
        return dict(ack)

    async def wait(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, within: float = WAIT
    ) -> Any:
        """The first not yet consumed ``event`` that matches, waiting for it if need be."""

        def find() -> int | None:
            for i, (name, data) in enumerate(self.received):
                if name == event and match(data):
                    return i
            return None

        async with self._arrived:
            index = await asyncio.wait_for(
                self._arrived.wait_for(lambda: find() is not None), within
            )
            del index
            i = find()
            assert i is not None
            return self.received.pop(i)[1]

    def events(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def drop(self) -> None:
        """Lose the connection the way a network failure does: no goodbye, just gone."""
        await self.sio.eio.ws.close()
        await self.sio.wait()

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.http.close()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """Connect a new client: ``await connect(server.url, "Ann")``."""
    clients: list[Client] = []

    async def make(url: str, name: str = "Ann", **auth: Any) -> Client:
        client = Client()
        clients.append(client)
        return await client.connect(url, {"name": name, **auth})

    yield make
    for client in clients:
        await client.close()
