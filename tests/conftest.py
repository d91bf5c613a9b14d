"""Fixtures: real servers on free ports, a private redis-server, real Socket.IO clients.

The pieces themselves live in ``tests/support/``; here they become fixtures.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app import make_app
from server.config import Settings

from .support.client import Client
from .support.media import SfuPeer
from .support.ports import free_port
from .support.servers import Process, Running
from .support.services import PostgresProcess, RedisProcess, postgres_cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresProcess]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def private_postgres() -> Iterator[PostgresProcess]:
    """A cluster of this test's own, for tests that stop and restart it."""
    with postgres_cluster() as cluster:
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
        # Tests send as fast as their acks come back: the budget's own tests set it.
        react_rate=1000.0,
        react_burst=1000,
        typing_rate=1000.0,
        typing_burst=1000,
        media_rate=1000.0,
        media_burst=1000,
        hand_rate=1000.0,
        hand_burst=1000,
        signal_rate=1000.0,
        signal_burst=1000,
        sfu_rate=1000.0,
        sfu_burst=1000,
        read_rate=1000.0,
        read_burst=1000,
        room_rate=1000.0,
        room_burst=1000,
        moderation_rate=1000.0,
        moderation_burst=1000,
        tables_rate=1000.0,
        tables_burst=1000,
        unknown_rate=1000.0,
        unknown_burst=1000,
        max_connections_per_ip=10_000,
        new_users_per_minute=10_000,
        passkey_requests_per_minute=10_000,
        passkey_attempts_per_minute=10_000,
    )


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


@pytest.fixture(params=["sqlite", "postgres"])
async def archived_server(
    request: pytest.FixtureRequest,
    start_server: Callable[..., Awaitable[Running]],
    settings: Settings,
) -> Running:
    """A server on each archive in turn: SQLite in its data folder, then a fresh database of
    a private PostgreSQL cluster. A test module uses it as its ``server``."""
    if request.param == "sqlite":
        return await start_server(settings)
    cluster = request.getfixturevalue("postgres_server")
    return await start_server(settings, database_url=await cluster.new_database())


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


@pytest.fixture
async def peers() -> AsyncIterator[Callable[..., Awaitable[SfuPeer]]]:
    """Make aiortc peers of the server's SFU (``SfuPeer``), joined unless ``join=False``;
    all closed at the end."""
    made: list[SfuPeer] = []

    async def make(client: Client, room: str, *, join: bool = True, **publish: Any) -> SfuPeer:
        peer = SfuPeer(client, room, **publish)
        made.append(peer)
        if join:
            await peer.join()
        return peer

    yield make
    for peer in made:
        await peer.close()
