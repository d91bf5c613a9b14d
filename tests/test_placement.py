"""The placement backends, one behaviour: every test runs against memory and Redis.

With Redis, two ``RedisPlacement`` objects with their own clients and process ids share a key
prefix: they stand for two server processes. Memory placement lives in one process only, so
there the "other process" is the same object, and the tests that need a real second owner run
against Redis only.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from server.errors import Unavailable
from server.placement import (
    Claim,
    MemoryPlacement,
    Placement,
    RedisPlacement,
    new_process_id,
)
from server.protocol import MediaMode

from .support.services import RedisProcess

pytestmark = pytest.mark.timeout(30)

SFU = MediaMode.SFU
TTL = 0.3  # seconds, for the tests about expiry
_prefixes = itertools.count()

Open = Callable[..., Placement]


def _client(url: str) -> aioredis.Redis:
    # The options presence uses for the client the app will share with placement.
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, retry_on_timeout=False
    )


@pytest.fixture
async def open_placement(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Open]:
    """``open_placement(process, url=None, ttl=30.0)``: one server process's placement.

    With memory, every call after the first returns the first object (one process only).
    """
    opened: list[Placement] = []
    clients: list[aioredis.Redis] = []
    prefix = f"pl{next(_prefixes)}"

    def make(process: str, url: str | None = None, ttl: float = 30.0) -> Placement:
        placement: Placement
        if backend == "redis":
            clients.append(_client(request.getfixturevalue("redis_server").url))
            placement = RedisPlacement(clients[-1], prefix, process, url, ttl)
        elif opened:
            return opened[0]
        else:
            placement = MemoryPlacement(process, url, ttl)
        opened.append(placement)
        return placement

    yield make
    for placement in opened:
        await placement.close()
    for client in clients:
        await client.aclose()


redis_only = pytest.mark.parametrize("backend", ["redis"])


async def gone_within(placement: Placement, room: str, seconds: float = 5.0) -> float:
    """Poll until the room has no live claim; the monotonic time it was first seen gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await placement.read(room) is None:
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise AssertionError(f"the claim of {room} is still live after {seconds} s")


async def test_the_first_claim_wins_with_epoch_1(open_placement: Open) -> None:
    a, b = open_placement("a", url="http://a.example/"), open_placement("b")
    claimed, created = await a.claim("r", SFU)
    assert (claimed, created) == (Claim(a.process, "http://a.example/", SFU, 1), True)
    assert await b.claim("r", SFU) == (claimed, False)
    assert await a.claim("r", SFU) == (claimed, False)
    assert await b.read("r") == claimed


async def test_concurrent_claims_create_exactly_one(open_placement: Open) -> None:
    a, b = open_placement("a"), open_placement("b")
    results = await asyncio.gather(*(p.claim(f"r{i}", SFU) for i in range(20) for p in (a, b)))
    for i in range(20):
        (first, first_created), (second, second_created) = results[2 * i : 2 * i + 2]
        assert first == second
        assert first.epoch == 1
        assert [first_created, second_created].count(True) == 1


async def test_a_claim_stores_what_it_is_given(open_placement: Open) -> None:
    a = open_placement("a")
    claimed, _ = await a.claim("r", MediaMode.MESH)
    assert claimed == Claim(a.process, None, MediaMode.MESH, 1)
    assert await a.read("r") == claimed


async def test_read_of_an_unknown_room_is_none(open_placement: Open) -> None:
    assert await open_placement("a").read("nowhere") is None


async def test_renew_by_the_owner_keeps_the_claim_past_its_ttl(open_placement: Open) -> None:
    a = open_placement("a", ttl=TTL)
    claimed, _ = await a.claim("r", SFU)
    start = time.monotonic()
    while time.monotonic() < start + 3 * TTL:
        assert await a.renew(["r"]) == []
        assert await a.read("r") == claimed
        await asyncio.sleep(TTL / 6)  # the heartbeat's period, well within the ttl
    # Left alone, it runs out after all.
    renewed = time.monotonic()
    assert await gone_within(a, "r") - renewed >= TTL * 0.5


async def test_renew_reports_the_rooms_no_longer_owned(open_placement: Open) -> None:
    a = open_placement("a", ttl=TTL)
    await a.claim("r", SFU)
    assert await a.renew([]) == []
    assert await a.renew(["r", "never", "r"]) == ["never"]
    await gone_within(a, "r")
    assert await a.renew(["r"]) == ["r"]
    assert await a.read("r") is None  # renewing an expired claim does not bring it back


async def test_an_expired_claim_goes_to_the_next_claimer_with_epoch_2(
    open_placement: Open,
) -> None:
    a, b = open_placement("a", ttl=TTL), open_placement("b", ttl=TTL)
    await a.claim("r", SFU)
    await gone_within(b, "r")
    assert await b.claim("r", SFU) == (Claim(b.process, None, SFU, 2), True)


async def test_release_by_the_owner_removes_the_claim_and_keeps_the_epoch(
    open_placement: Open,
) -> None:
    a = open_placement("a")
    await a.claim("r", SFU)
    await a.release("r")
    assert await a.read("r") is None
    await a.release("r")  # twice is harmless
    assert await a.claim("r", SFU) == (Claim(a.process, None, SFU, 2), True)


@redis_only
async def test_renew_by_another_process_reports_the_room_lost(open_placement: Open) -> None:
    a, b = open_placement("a", ttl=TTL), open_placement("b", ttl=30.0)
    assert isinstance(b, RedisPlacement)
    await a.claim("r", SFU)
    assert await b.renew(["r"]) == ["r"]
    await gone_within(b, "r")  # b's renew did not give a's claim b's longer ttl
    # Taken over while a was silent: a learns it lost the room and leaves b's ttl alone.
    taken, _ = await b.claim("r", SFU)
    assert await a.renew(["r"]) == ["r"]
    assert await a.read("r") == taken
    assert await b.redis.pttl(f"{b.prefix}:media:r") > 10_000


@redis_only
async def test_release_by_another_process_leaves_the_claim(open_placement: Open) -> None:
    a, b = open_placement("a"), open_placement("b")
    claimed, _ = await a.claim("r", SFU)
    await b.release("r")
    assert await b.read("r") == claimed
    await a.release("r")
    assert await b.read("r") is None


async def test_redis_down_raises_unavailable_and_recovers(private_redis: RedisProcess) -> None:
    client = _client(private_redis.url)
    placement = RedisPlacement(client, "down", new_process_id(), None, 30.0)
    try:
        private_redis.stop()
        with pytest.raises(Unavailable):
            await placement.claim("r", SFU)
        with pytest.raises(Unavailable):
            await placement.read("r")
        with pytest.raises(Unavailable):
            await placement.renew(["r"])
        with pytest.raises(Unavailable):
            await placement.release("r")
        private_redis.start()  # empty: it keeps nothing on disk
        claimed, created = await placement.claim("r", SFU)
        assert (claimed, created) == (Claim(placement.process, None, SFU, 1), True)
    finally:
        await placement.close()
        await client.aclose()


async def test_close_leaves_a_given_client_open(redis_server: RedisProcess) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        placement = RedisPlacement(client, f"pl{next(_prefixes)}", "a", "http://a/", 30.0)
        await placement.claim("r", SFU)
        await placement.close()
        assert await client.ping()
        # A client that decodes responses reads the same claims.
        assert await placement.read("r") == Claim("a", "http://a/", SFU, 1)
    finally:
        await client.aclose()


def test_process_ids_differ() -> None:
    assert len({new_process_id() for _ in range(100)}) == 100
