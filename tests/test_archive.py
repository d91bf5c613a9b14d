"""The SQLite archive on its own: group commit, idempotency, search queries, reopening."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.archive import NoSuchRoom, StoredRoom
from server.archive.sqlite import SqliteArchive, fts_query
from server.protocol import RoomKind, User

ANN = User(id="ann", name="Ann")


@pytest.fixture
async def archive(tmp_path: Path) -> AsyncIterator[SqliteArchive]:
    archive = SqliteArchive(tmp_path / "a.db")
    await archive.open()
    yield archive
    await archive.close()


async def test_many_concurrent_appends_get_gapless_seqs(archive: SqliteArchive) -> None:
    results = await asyncio.gather(
        *(archive.append("lobby", ANN, f"m{i}", f"id{i}") for i in range(500))
    )
    assert all(created for _, created in results)
    # Group commit keeps the order of arrival.
    assert [m.seq for m, _ in results] == list(range(1, 501))
    history = await archive.history("lobby", before=None, after=None, limit=1000)
    assert [m.text for m in history] == [f"m{i}" for i in range(500)]


async def test_a_duplicate_in_the_same_batch_is_stored_once(archive: SqliteArchive) -> None:
    (first, created1), (second, created2) = await asyncio.gather(
        archive.append("lobby", ANN, "hello", "same"),
        archive.append("lobby", ANN, "hello", "same"),
    )
    assert first == second and (created1, created2) == (True, False)


async def test_appending_to_an_unknown_room_fails_alone(archive: SqliteArchive) -> None:
    results = await asyncio.gather(
        archive.append("lobby", ANN, "ok", "1"),
        archive.append("nowhere", ANN, "lost", "2"),
        archive.append("lobby", ANN, "ok too", "3"),
        return_exceptions=True,
    )
    assert isinstance(results[1], NoSuchRoom)
    assert [r[0].seq for r in (results[0], results[2])] == [1, 2]  # type: ignore[index]


async def test_reopening_keeps_everything(tmp_path: Path) -> None:
    archive = SqliteArchive(tmp_path / "a.db")
    await archive.open()
    user = await archive.create_user("Ann", "digest")
    room = StoredRoom(
        id="r1",
        title="R",
        kind=RoomKind.COFFEE,
        private=True,
        created_at=1,
        passcode_hash="scrypt$x$y",
    )
    await archive.create_room(room)
    message, _ = await archive.append("r1", user, "kept", "k")
    await archive.close()

    again = SqliteArchive(tmp_path / "a.db")
    await again.open()  # migrations run once only
    try:
        assert await again.user_by_token("digest") == user
        assert await again.get_room("r1") == room
        assert await again.history("r1", before=None, after=None, limit=10) == [message]
        assert [r.id for r in await again.public_rooms(10)] == ["lobby"]
    finally:
        await again.close()


async def test_close_waits_for_queued_appends(tmp_path: Path) -> None:
    archive = SqliteArchive(tmp_path / "a.db")
    await archive.open()
    pending = [asyncio.ensure_future(archive.append("lobby", ANN, "x", str(i))) for i in range(50)]
    await asyncio.sleep(0)  # let them queue
    await archive.close()
    assert [m.seq for m, _ in await asyncio.gather(*pending)] == list(range(1, 51))


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("accountant", '"accountant"*'),
        ("good accountant", '"good" "accountant"*'),
        ('say "hi"', '"say" "hi"*'),
        ("NEAR(a b)", '"NEAR" "a" "b"*'),
        ("-- ; DROP", '"DROP"*'),
        ("???", None),
    ],
)
def test_what_people_type_becomes_a_safe_fts_query(typed: str, query: str | None) -> None:
    assert fts_query(typed) == query


async def test_the_lobby_heads_the_public_list_however_many_rooms(
    archive: SqliteArchive,
) -> None:
    for i in range(205):
        await archive.create_room(
            StoredRoom(id=f"r{i}", title="R", kind=RoomKind.OPEN, private=False, created_at=i + 1)
        )
    listed = await archive.public_rooms(200)
    assert len(listed) == 200
    assert [r.id for r in listed[:3]] == ["lobby", "r204", "r203"]
