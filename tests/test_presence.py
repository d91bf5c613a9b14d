"""The presence backends, one behaviour: every test runs against memory and Redis."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from server.presence import ONLINE, Attachment, Change, Presence
from server.presence.memory import MemoryPresence
from server.presence.redis import RedisPresence
from server.protocol import Member, Role

ANN = Member(id="ann", name="Ann", role=Role.MEMBER)
BOB = Member(id="bob", name="Bob", role=Role.MEMBER)
_prefixes = itertools.count()


@pytest.fixture
async def presence(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    p: Presence
    if backend == "redis":
        url = request.getfixturevalue("redis_server").url
        p = RedisPresence(url, prefix=f"p{next(_prefixes)}")
    else:
        p = MemoryPresence()
    await p.start()
    yield p
    await p.close()


async def reap_until(presence: Presence, seconds: float = 5.0) -> list[Change]:
    """Reap until something expires (deadlines are what is under test here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = await presence.reap()
        if left:
            return left
        await asyncio.sleep(0.02)
    return []


async def test_first_connection_joins_and_last_one_leaves(presence: Presence) -> None:
    assert await presence.attach([Attachment("r", ANN, "c1")], 30, merge=True) == [Change("r", ANN)]
    assert await presence.attach([Attachment("r", ANN, "c2")], 30, merge=True) == []
    assert await presence.members("r") == [ANN]
    assert await presence.counts(["r", "empty"]) == [1, 0]
    assert await presence.remove("r", "ann", "c1") is None
    assert await presence.remove("r", "ann", "c1") is None  # twice is harmless
    assert await presence.remove("r", "ann", "c2") == ANN
    assert await presence.members("r") == []
    assert await presence.member("r", "ann") is None


async def test_join_merges_name_and_role_but_keeps_media(presence: Presence) -> None:
    await presence.attach([Attachment("r", ANN, "c1")], 30, merge=True)
    await presence.update("r", "ann", camera=True, mic=True, screen=False)
    host = Member(id="ann", name="Ann (host)", role=Role.HOST)
    await presence.attach([Attachment("r", host, "c2")], 30, merge=True)
    assert await presence.member("r", "ann") == Member(
        id="ann", name="Ann (host)", role=Role.HOST, camera=True, mic=True
    )
    # A heartbeat (merge=False) changes nothing of an existing member.
    await presence.attach([Attachment("r", ANN, "c1")], 30, merge=False)
    assert (await presence.member("r", "ann")).role is Role.HOST  # type: ignore[union-attr]


async def test_update_changes_only_what_is_given(presence: Presence) -> None:
    await presence.attach([Attachment("r", ANN, "c1")], 30, merge=True)
    await presence.update("r", "ann", camera=True, mic=True)
    changed = await presence.update("r", "ann", mic=False, role=Role.PRESENTER)
    assert changed == Member(id="ann", name="Ann", role=Role.PRESENTER, camera=True, mic=False)
    assert await presence.member("r", "ann") == changed


async def test_evict_detaches_every_connection_of_a_user(presence: Presence) -> None:
    await presence.attach(
        [Attachment("r", ANN, "c1"), Attachment("r", ANN, "c2"), Attachment("r", BOB, "c3")],
        30,
        merge=True,
    )
    assert await presence.evict("r", "ann") == ANN
    assert await presence.members("r") == [BOB]
    assert await presence.rooms_of("ann") == []
    assert await presence.evict("r", "ann") is None
    # Nothing of Ann is left to expire later and be announced again.
    await presence.expire("r", "bob", "c3", 0.1)
    assert await reap_until(presence) == [Change("r", BOB)]


async def test_update_of_someone_absent_is_none(presence: Presence) -> None:
    assert await presence.update("r", "ghost", camera=True, mic=True, screen=True) is None


async def test_an_attachment_without_heartbeat_expires(presence: Presence) -> None:
    await presence.attach([Attachment("r", ANN, "c1"), Attachment("r", BOB, "c2")], 30, merge=True)
    await presence.expire("r", "bob", "c2", 0.2)
    assert await reap_until(presence) == [Change("r", BOB)]
    assert await presence.members("r") == [ANN]
    assert await presence.rooms_of("bob") == []


async def test_reattaching_within_the_grace_keeps_the_member(presence: Presence) -> None:
    await presence.attach([Attachment("r", BOB, "old")], 30, merge=True)
    await presence.expire("r", "bob", "old", 0.2)
    assert await presence.attach([Attachment("r", BOB, "new")], 30, merge=True) == []
    # The old connection runs out; Bob stays, so nobody is told he left.
    await asyncio.sleep(0.3)  # let the old deadline pass: time is what is tested here
    assert await presence.reap() == []
    assert await presence.member("r", "bob") == BOB


async def test_a_silent_process_loses_its_members_after_the_ttl(presence: Presence) -> None:
    await presence.attach([Attachment("r", ANN, "c1")], 0.3, merge=True)
    assert await reap_until(presence) == [Change("r", ANN)]


async def test_heartbeats_keep_members_alive(presence: Presence) -> None:
    await presence.attach([Attachment("r", ANN, "c1")], 0.4, merge=True)
    for _ in range(4):
        await asyncio.sleep(0.2)
        assert await presence.attach([Attachment("r", ANN, "c1")], 0.4, merge=False) == []
        assert await presence.reap() == []
    assert await presence.member("r", "ann") == ANN


async def test_rooms_of_a_user_leave_out_the_online_room(presence: Presence) -> None:
    await presence.attach(
        [Attachment(ONLINE, ANN, "c1"), Attachment("b", ANN, "c1"), Attachment("a", ANN, "c1")],
        30,
        merge=True,
    )
    assert await presence.rooms_of("ann") == ["a", "b"]
    assert await presence.member(ONLINE, "ann") == ANN


async def test_redis_presence_recovers_what_a_redis_restart_lost(private_redis) -> None:
    presence = RedisPresence(private_redis.url, prefix="restart")
    await presence.start()
    try:
        await presence.attach([Attachment("r", ANN, "c1")], 30, merge=True)
        private_redis.stop()
        assert not await presence.healthy()
        private_redis.start()  # empty: it keeps nothing on disk
        assert await presence.healthy()
        assert await presence.members("r") == []
        # The next heartbeat re-creates the member and reports it, to be announced again.
        readded = await presence.attach([Attachment("r", ANN, "c1")], 30, merge=False)
        assert readded == [Change("r", ANN)]
        assert await presence.members("r") == [ANN]
    finally:
        await presence.close()
