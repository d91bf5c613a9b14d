"""The archive on its own, one suite for both backends (SQLite and PostgreSQL): group commit,
idempotency, paging, search, room state, reopening."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from server.archive import (
    Archive,
    Challenge,
    NewLogin,
    NoSuchRoom,
    Purpose,
    Query,
    RoomState,
    Series,
    StoredPasskey,
    StoredRoom,
    Wish,
)
from server.archive import changes as rules
from server.archive import postgres as postgres_archive
from server.archive import sqlite as sqlite_archive
from server.archive.postgres import PostgresArchive, ts_query
from server.archive.sqlite import SqliteArchive, fts_query
from server.protocol import CardField, How, Phase, RoomBrief, RoomKind, User, Version

ANN = User(id="ann", name="Ann")


def new_login(token_digest: str, at: int = 1) -> NewLogin:
    return NewLogin(id=f"s-{token_digest}", token_digest=token_digest, label="Firefox", at=at)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an archive lives: a SQLite file, or a fresh database of a private cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "a.db")
    cluster = request.getfixturevalue("postgres_server")
    return str(await cluster.new_database())


def open_archive(database: str) -> Archive:
    if database.startswith("postgresql://"):
        return PostgresArchive(database)
    return SqliteArchive(Path(database))


@pytest.fixture
async def archive(database: str) -> AsyncIterator[Archive]:
    archive = open_archive(database)
    await archive.open()
    yield archive
    await archive.close()


async def test_many_concurrent_appends_get_gapless_seqs(archive: Archive) -> None:
    results = await asyncio.gather(
        *(archive.append("lobby", ANN, f"m{i}", f"id{i}") for i in range(500))
    )
    assert all(r.created for r in results)
    # Group commit keeps the order of arrival.
    assert [r.message.seq for r in results] == list(range(1, 501))
    history = await archive.history("lobby", before=None, after=None, limit=1000)
    assert [m.text for m in history] == [f"m{i}" for i in range(500)]


async def test_a_duplicate_in_the_same_batch_is_stored_once(archive: Archive) -> None:
    (first, created1, _), (second, created2, _) = await asyncio.gather(
        archive.append("lobby", ANN, "hello", "same"),
        archive.append("lobby", ANN, "hello", "same"),
    )
    assert first == second and (created1, created2) == (True, False)


async def test_appending_to_an_unknown_room_fails_alone(archive: Archive) -> None:
    results = await asyncio.gather(
        archive.append("lobby", ANN, "ok", "1"),
        archive.append("nowhere", ANN, "lost", "2"),
        archive.append("lobby", ANN, "ok too", "3"),
        return_exceptions=True,
    )
    assert isinstance(results[1], NoSuchRoom)
    assert [r[0].seq for r in (results[0], results[2])] == [1, 2]  # type: ignore[index]


async def test_reopening_keeps_everything(database: str) -> None:
    archive = open_archive(database)
    await archive.open()
    user = await archive.create_user("Ann", new_login("digest"))
    room = StoredRoom(
        id="r1",
        title="R",
        kind=RoomKind.COFFEE,
        private=True,
        created_at=1,
        passcode_hash="scrypt$x$y",
    )
    await archive.create_room(room)
    message, _, _ = await archive.append("r1", user, "kept", "k")
    await archive.close()

    again = open_archive(database)
    await again.open()  # migrations run once only
    try:
        assert (await again.login_by_token("digest")).user == user  # type: ignore[union-attr]
        assert await again.get_room("r1") == room
        assert await again.history("r1", before=None, after=None, limit=10) == [message]
        assert [r.id for r in await again.public_rooms(10)] == ["lobby"]
    finally:
        await again.close()


async def test_an_archive_from_before_the_words_table_finds_half_typed_words(
    tmp_path: Path,
) -> None:
    # The schema as it was before prefixes became words (``_expand``), with messages in it.
    path = tmp_path / "old.db"
    migrations = sqlite_archive._MIGRATIONS
    before = next(i for i, script in enumerate(migrations) if "CREATE TABLE words" in script)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.create_function("casefold", 1, str.casefold)
        for number, script in enumerate(migrations[:before], start=1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        db.execute("INSERT INTO rooms (id, title, kind, private, created_at) "
                   "VALUES ('lobby', 'Lobby', 'open', 0, 0)")  # fmt: skip
        db.execute("INSERT INTO messages (id, room, seq, user_id, user_name, text, ts, "
                   "client_msg_id) VALUES ('m1', 'lobby', 1, 'ann', 'Ann', "
                   "'Accountants wanted', 1, 'c1')")  # fmt: skip
    archive = SqliteArchive(path)
    await archive.open()
    try:
        found = await archive.search_readable("ann", Query(words=("accou",)), 20)
        assert [hit.message.text for hit in found] == ["Accountants wanted"]
    finally:
        await archive.close()


async def test_logins_are_listed_marked_seen_and_revoked_by_their_owner_only(
    archive: Archive,
) -> None:
    ann = await archive.create_user("Ann", new_login("d-ann", at=10))
    bob = await archive.create_user("Bob", new_login("d-bob", at=10))
    await archive.add_login(ann.id, new_login("d-ann-phone", at=20))  # a sign-in elsewhere
    phone = await archive.login_by_token("d-ann-phone")
    assert phone is not None and (phone.user, phone.label, phone.seen_at) == (ann, "Firefox", 20)
    assert [x.id for x in await archive.logins(ann.id, 10)] == ["s-d-ann-phone", "s-d-ann"]
    await archive.touch_logins(["s-d-ann"], 30)
    assert [x.id for x in await archive.logins(ann.id, 10)] == ["s-d-ann", "s-d-ann-phone"]
    # Bob's session is not Ann's to revoke: nothing happens, and she learns nothing.
    assert await archive.revoke_logins(ann.id, 40, ["s-d-bob"]) == []
    assert await archive.revoke_logins(ann.id, 40, ["s-d-ann-phone"]) == ["s-d-ann-phone"]
    assert await archive.revoke_logins(ann.id, 41, ["s-d-ann-phone"]) == []  # already
    gone = await archive.login_by_token("d-ann-phone")
    assert gone is not None and gone.revoked_at == 40
    assert [x.id for x in await archive.logins(ann.id, 10)] == ["s-d-ann"]
    await archive.add_login(bob.id, new_login("d-bob-2", at=50))
    assert await archive.revoke_logins(bob.id, 60, None, keep="s-d-bob") == ["s-d-bob-2"]
    assert [x.id for x in await archive.logins(bob.id, 10)] == ["s-d-bob"]


def _passkey(passkey_id: str, user_id: str, at: int) -> StoredPasskey:
    return StoredPasskey(
        id=passkey_id,
        credential_id=f"cred-{passkey_id}",
        user_id=user_id,
        public_key=b"\xa5\x01\x02",
        sign_count=0,
        name="Chrome on Linux",
        transports=("hybrid", "internal"),
        created_at=at,
    )


async def test_passkeys_are_their_owners_and_counted_up_once(archive: Archive) -> None:
    ann = await archive.create_user("Ann", new_login("d-ann", at=10))
    bob = await archive.create_user("Bob", new_login("d-bob", at=10))
    assert await archive.add_passkey(_passkey("k1", ann.id, 20))
    assert await archive.add_passkey(_passkey("k2", ann.id, 30))
    assert await archive.add_passkey(_passkey("k3", bob.id, 30))
    # One credential, one passkey: attaching it again (to anybody) stores nothing.
    assert not await archive.add_passkey(_passkey("k1", bob.id, 40))
    assert [k.id for k in await archive.passkeys(ann.id)] == ["k1", "k2"]
    assert await archive.passkey_by_credential("cred-k1") == _passkey("k1", ann.id, 20)
    # An authenticator that counts: each sign-in must raise the count, and only one of two
    # with the same count gets through.
    assert await archive.use_passkey("k1", 5, 50)
    assert not await archive.use_passkey("k1", 5, 51)
    used = await archive.passkey_by_credential("cred-k1")
    assert used is not None and (used.sign_count, used.used_at) == (5, 50)
    # One that counts nothing (always 0) signs in any number of times.
    assert await archive.use_passkey("k2", 0, 60) and await archive.use_passkey("k2", 0, 61)
    # Bob can neither rename nor remove Ann's.
    assert not await archive.rename_passkey(bob.id, "k1", "mine")
    assert not await archive.remove_passkey(bob.id, "k1")
    assert await archive.rename_passkey(ann.id, "k1", "Laptop")
    assert [k.name for k in await archive.passkeys(ann.id)] == ["Laptop", "Chrome on Linux"]
    assert await archive.remove_passkey(ann.id, "k2")
    assert await archive.passkey_by_credential("cred-k2") is None
    # Erasing an identity takes all of its passkeys, nobody else's.
    assert await archive.remove_passkeys(ann.id) == 1
    assert await archive.passkeys(ann.id) == []
    assert [k.id for k in await archive.passkeys(bob.id)] == ["k3"]
    # So does an erase (account:erase), and nobody finds the erased person any more.
    assert await archive.add_passkey(_passkey("k4", ann.id, 70))
    await archive.erase_user(ann.id, "delete", 80)
    assert await archive.passkeys(ann.id) == []
    assert await archive.passkey_by_credential("cred-k4") is None
    assert [k.id for k in await archive.passkeys(bob.id)] == ["k3"]
    assert await archive.get_user(ann.id) is None
    assert await archive.known_users([ann.id, bob.id]) == {bob.id}


async def test_a_challenge_is_taken_once_and_expired_ones_are_forgotten(
    archive: Archive,
) -> None:
    await archive.add_challenge(Challenge("old", Purpose.SIGN_IN, 100), now=50)
    await archive.add_challenge(Challenge("c1", Purpose.REGISTER, 500, "u1", "s1"), now=200)
    # Adding at 200 forgot the one that expired at 100.
    assert await archive.take_challenge("old") is None
    assert await archive.take_challenge("c1") == Challenge("c1", Purpose.REGISTER, 500, "u1", "s1")
    assert await archive.take_challenge("c1") is None


async def _schema_before_sessions(database: str) -> None:
    """The archive as it was before sessions, with Ann and her token's digest in it."""
    if database.startswith("postgresql://"):
        migrations = postgres_archive._MIGRATIONS
        before = next(i for i, script in enumerate(migrations) if "TABLE sessions" in script)
        db = await asyncpg.connect(database)
        try:
            await db.execute("CREATE TABLE percolate_schema (version INTEGER NOT NULL)")
            for number, script in enumerate(migrations[:before], start=1):
                await db.execute(script)
                await db.execute("INSERT INTO percolate_schema (version) VALUES ($1)", number)
            await db.execute("INSERT INTO users (id, name, token_digest, created_at) "
                             "VALUES ('uann', 'Ann', 'd-ann', 5)")  # fmt: skip
        finally:
            await db.close()
        return
    migrations = sqlite_archive._MIGRATIONS
    before = next(i for i, script in enumerate(migrations) if "TABLE sessions" in script)
    with sqlite3.connect(database, isolation_level=None) as conn:
        conn.create_function("casefold", 1, str.casefold)
        for number, script in enumerate(migrations[:before], start=1):
            conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        conn.execute("INSERT INTO users (id, name, token_digest, created_at) "
                     "VALUES ('uann', 'Ann', 'd-ann', 5)")  # fmt: skip


async def test_an_archive_from_before_sessions_keeps_every_token(database: str) -> None:
    await _schema_before_sessions(database)
    archive = open_archive(database)
    await archive.open()
    try:
        login = await archive.login_by_token("d-ann")
        assert login is not None
        assert (login.user, login.created_at, login.revoked_at) == (User("uann", "Ann"), 5, None)
        assert login.seen_at > 5  # seen at the upgrade: it expires SESSION_DAYS after it
        # New users no longer clash with the old column.
        bob = await archive.create_user("Bob", new_login("d-bob"))
        assert (await archive.login_by_token("d-bob")).user == bob  # type: ignore[union-attr]
    finally:
        await archive.close()


async def _schema_before_cards(database: str) -> None:
    """The archive as it was before contact cards: Ann in touch with Bob, and Ann and Cleo
    at one table of the lobby."""
    rows = [
        "INSERT INTO wishes (from_user, to_user, room, at) VALUES ('uann', 'ubob', '', 2), "
        "('ubob', 'uann', '', 3)",
        "INSERT INTO encounters (user_a, user_b, room, at) VALUES ('uann', 'ucleo', 'lobby', 4)",
        "INSERT INTO rooms (id, title, kind, private, created_at) "
        "VALUES ('lobby', 'Lobby', 'open', false, 0)",
    ]
    users = [f"('u{name.lower()}', '{name}', 1)" for name in ("Ann", "Bob", "Cleo")]
    if database.startswith("postgresql://"):
        migrations = postgres_archive._MIGRATIONS
        before = next(i for i, script in enumerate(migrations) if "TABLE cards" in script)
        db = await asyncpg.connect(database)
        try:
            await db.execute("CREATE TABLE percolate_schema (version INTEGER NOT NULL)")
            for number, script in enumerate(migrations[:before], start=1):
                await db.execute(script)
                await db.execute("INSERT INTO percolate_schema (version) VALUES ($1)", number)
            await db.execute(f"INSERT INTO users (id, name, created_at) VALUES {', '.join(users)}")
            for row in rows:
                await db.execute(row)
        finally:
            await db.close()
        return
    migrations = sqlite_archive._MIGRATIONS
    before = next(i for i, script in enumerate(migrations) if "TABLE cards" in script)
    with sqlite3.connect(database, isolation_level=None) as conn:
        conn.create_function("casefold", 1, str.casefold)
        for number, script in enumerate(migrations[:before], start=1):
            conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        # SQLite keeps the old token column, UNIQUE and NOT NULL (written with the id since).
        for user in users:
            conn.execute(
                "INSERT INTO users (id, name, created_at, token_digest) "
                f"SELECT *, column1 FROM (VALUES {user})"
            )
        for row in rows:
            conn.execute(row.replace("false", "0"))


async def test_an_archive_from_before_cards_keeps_who_met_and_who_is_in_touch(
    database: str,
) -> None:
    await _schema_before_cards(database)
    archive = open_archive(database)
    await archive.open()
    try:
        # The table from before is a table; the contact from before sees the default.
        (cleo,) = await archive.encounters("uann", 10)
        assert (cleo.user.id, cleo.how, cleo.room, cleo.at) == (
            "ucleo", How.TABLE, RoomBrief(id="lobby", title="Lobby"), 4
        )  # fmt: skip
        assert await archive.have_sat_together("ucleo", "uann") == "lobby"
        assert [m.user.id for m in await archive.people_met("uann", 10)] == ["ubob"]
        assert await archive.card_shares([("uann", "ubob")]) == {}
        assert await archive.share_card("uann", "ubob", [CardField.EMAIL]) is True
        assert await archive.share_card("uann", "ucleo", [CardField.EMAIL]) is False
        assert await archive.card_shares([("uann", "ubob"), ("uann", "ucleo")]) == {
            ("uann", "ubob"): (CardField.EMAIL,)
        }
        # A DM says where they met only for who never met otherwise.
        await archive.encounter([("uann", "ucleo"), ("ubob", "ucleo")], "", How.DM, 5)
        assert [(e.user.id, e.how) for e in await archive.encounters("ucleo", 10)] == [
            ("ubob", How.DM), ("uann", How.TABLE)
        ]  # fmt: skip
    finally:
        await archive.close()


async def test_close_waits_for_queued_appends(database: str) -> None:
    archive = open_archive(database)
    await archive.open()
    pending = [asyncio.ensure_future(archive.append("lobby", ANN, "x", str(i))) for i in range(50)]
    await asyncio.sleep(0)  # let them queue
    await archive.close()
    assert [r.message.seq for r in await asyncio.gather(*pending)] == list(range(1, 51))


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("accountant", '"accountant"*'),
        ("good accountant", '"good" "accountant"*'),
        ("acc* good", '"acc"* "good"*'),
        ('say "hi"', '"say" "hi"'),
        ("NEAR(a b)", '"near" "a" "b"'),
        ("go", '"go"'),
        ("go*", '"go"*'),
        ("-- ; DROP", '"drop"*'),
        ("* ?*", None),
        ("???", None),
    ],
)
def test_what_people_type_becomes_a_safe_fts_query(typed: str, query: str | None) -> None:
    assert fts_query(typed) == query


async def test_the_lobby_heads_the_public_list_however_many_rooms(
    archive: Archive,
) -> None:
    for i in range(205):
        await archive.create_room(
            StoredRoom(id=f"r{i}", title="R", kind=RoomKind.OPEN, private=False, created_at=i + 1)
        )
    listed = await archive.public_rooms(200)
    assert len(listed) == 200
    assert [r.id for r in listed[:3]] == ["lobby", "r204", "r203"]


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("Accountant", "'accountant':*"),
        ("café crème", "'cafe' & 'creme':*"),
        ("it's", "'it' & 's'"),
        ("acc* ça", "'acc':* & 'ca'"),
        ("???", None),
    ],
)
def test_what_people_type_becomes_a_safe_postgres_query(typed: str, query: str | None) -> None:
    assert ts_query(typed) == query


async def test_paging_and_search_behave_alike(archive: Archive) -> None:
    for i, text in enumerate(
        [
            "Who knows an accountant in Leeds?",
            "Our bakery opens Monday",
            "Accountants: Café Numbers",
        ]
    ):
        await archive.append("lobby", ANN, text, f"s{i}")
    assert [m.seq for m in await archive.search("lobby", "accountant", 10)] == [3, 1]
    assert [m.seq for m in await archive.search("lobby", "cafe", 10)] == [3]
    assert [m.seq for m in await archive.search("lobby", "accountant leeds", 10)] == [1]
    assert await archive.search("lobby", 'NEAR(" OR *', 10) == []
    assert [m.seq for m in await archive.history("lobby", before=3, after=None, limit=1)] == [2]
    assert [m.seq for m in await archive.history("lobby", before=None, after=1, limit=5)] == [2, 3]
    first = (await archive.history("lobby", before=None, after=None, limit=1))[0]
    assert await archive.message("lobby", first.id) == first
    assert await archive.message("elsewhere", first.id) is None


async def test_history_around_a_message_centres_it(archive: Archive) -> None:
    for i in range(10):
        await archive.append("lobby", ANN, f"m{i}", f"a{i}")

    async def around(seq: int, limit: int) -> list[int]:
        page = await archive.history("lobby", before=None, after=None, limit=limit, around=seq)
        return [m.seq for m in page]

    assert await around(5, 5) == [3, 4, 5, 6, 7]
    assert await around(5, 4) == [3, 4, 5, 6]
    assert await around(1, 4) == [1, 2, 3, 4]  # the room begins: more after
    assert await around(10, 4) == [7, 8, 9, 10]  # the room ends: more before
    assert await around(5, 100) == list(range(1, 11))


def room(room_id: str, *, kind: RoomKind = RoomKind.OPEN, private: bool = False) -> StoredRoom:
    return StoredRoom(id=room_id, title=room_id.title(), kind=kind, private=private, created_at=1)


async def test_search_everywhere_reads_only_the_rooms_a_user_may_read(archive: Archive) -> None:
    ann = await archive.create_user("Ann", new_login("d-ann"))
    bob = await archive.create_user("Bob", new_login("d-bob"))
    for made in (room("garden"), room("secret", private=True), room("club", private=True)):
        await archive.create_room(made)
    dm = await archive.open_dm(ann.id, bob.id, room("dm", kind=RoomKind.DM, private=True))
    for where in ("lobby", "garden", "secret", "club", dm.id):
        await archive.append(where, bob, f"tomatoes in {where}", f"t-{where}")
    await archive.add_reader(ann.id, "club", 1)
    await archive.add_reader(ann.id, "club", 2)  # the first join counts, a second is no error
    found = await archive.search_readable(ann.id, Query(words=("tomatoes",)), 20)
    assert sorted(h.message.room for h in found) == sorted(["lobby", "garden", "club", dm.id])
    assert {h.message.room: (h.title, h.kind) for h in found}["garden"] == ("Garden", "open")
    carol = await archive.create_user("Carol", new_login("d-carol"))
    found = await archive.search_readable(carol.id, Query(words=("tomato",)), 20)
    assert sorted(h.message.room for h in found) == ["garden", "lobby"]


async def test_search_everywhere_filters(archive: Archive) -> None:
    ann = await archive.create_user("Ann", new_login("d-ann"))
    bob = await archive.create_user("Émile", new_login("d-bob"))
    await archive.create_room(room("garden"))
    texts = [
        (ann, "lobby", "seeds at https://shop.example"),
        (bob, "lobby", "seeds are late"),
        (ann, "garden", "seeds seeds seeds"),
        (bob, "garden", "no link here: http"),
    ]
    stored = [
        (await archive.append(where, user, text, f"f{i}")).message
        for i, (user, where, text) in enumerate(texts)
    ]

    async def find(limit: int = 20, **fields: object) -> list[str]:
        hits = await archive.search_readable(ann.id, Query(**fields), limit)  # type: ignore[arg-type]
        return [h.message.text for h in hits]

    # Relevance first: the message that says it three times, then newest first.
    assert await find(words=("seeds",)) == [
        "seeds seeds seeds",
        "seeds are late",
        "seeds at https://shop.example",
    ]
    assert await find(words=("seeds",), limit=1) == ["seeds seeds seeds"]
    assert await find(words=("seeds",), names=("émile",)) == ["seeds are late"]
    assert await find(users=(ann.id,)) == ["seeds seeds seeds", "seeds at https://shop.example"]
    assert await find(words=("seeds",), rooms=("GARDEN",)) == ["seeds seeds seeds"]
    assert await find(rooms=("garden",), names=("Émile",)) == ["no link here: http"]
    assert await find(link=True) == ["seeds at https://shop.example"]
    assert await find(rooms=("nowhere",)) == []
    ts = stored[2].ts
    # "until" is exclusive; messages stored in the same millisecond as the third fall out too.
    earlier = [t for (_, _, t), m in zip(texts[:2], stored[:2], strict=True) if m.ts < ts]
    assert await find(words=("seeds",), until=ts) == earlier[::-1]
    assert await find(words=("seeds",), until=ts + 1) == [
        "seeds seeds seeds",
        "seeds are late",
        "seeds at https://shop.example",
    ]
    assert "seeds seeds seeds" in await find(since=ts)
    assert await find(since=ts + 10**9) == []
    assert await find(pinned=True) == []
    await archive.change_message("garden", stored[3].seq, lambda m: rules.pin(m, ann, True, ts))
    assert await find(pinned=True) == ["no link here: http"]
    await archive.change_message("garden", stored[3].seq, lambda m: rules.pin(m, ann, False, ts))
    await archive.change_message("garden", stored[2].seq, lambda m: rules.pin(m, ann, True, ts))
    assert await find(pinned=True) == ["seeds seeds seeds"]
    await archive.change_message(
        "garden", stored[2].seq, lambda m: rules.delete(m, ann.id, moderator=False)
    )
    assert await find(words=("seeds",)) == ["seeds are late", "seeds at https://shop.example"]
    assert await find(pinned=True) == []
    await archive.change_message(
        "lobby", stored[0].seq, lambda m: rules.edit(m, ann.id, "seeds, no link", [], ts)
    )
    assert await find(link=True) == []


async def test_room_state_changes_one_at_a_time(archive: Archive) -> None:
    assert await archive.room_state("lobby") == RoomState()

    def raise_hand(n: int):  # type: ignore[no-untyped-def]
        def change(state: RoomState) -> int:
            state.hands.append(User(id=f"u{n}", name=f"U{n}"))
            return len(state.hands)

        return change

    results = await asyncio.gather(
        *(archive.change_room_state("lobby", raise_hand(n)) for n in range(20))
    )
    assert sorted(count for _, count in results) == list(range(1, 21))
    assert len((await archive.room_state("lobby")).hands) == 20

    def refuse(state: RoomState) -> None:
        state.locked = True
        raise ValueError("no")

    with pytest.raises(ValueError):
        await archive.change_room_state("lobby", refuse)
    assert (await archive.room_state("lobby")).locked is False  # nothing stored
    with pytest.raises(NoSuchRoom):
        await archive.room_state("nowhere")


async def test_users_and_direct_messages(archive: Archive) -> None:
    ann = await archive.create_user("Ann", new_login("d-ann"))
    bob = await archive.create_user("Bob", new_login("d-bob"))
    assert (await archive.login_by_token("d-ann")).user == ann  # type: ignore[union-attr]
    await archive.rename_user(ann.id, "Ann B.")
    assert await archive.get_user(ann.id) == User(id=ann.id, name="Ann B.")
    fresh = StoredRoom(id="dm1", title="", kind=RoomKind.DM, private=True, created_at=1)
    other = StoredRoom(id="dm2", title="", kind=RoomKind.DM, private=True, created_at=2)
    first, again = await asyncio.gather(
        archive.open_dm(ann.id, bob.id, fresh), archive.open_dm(bob.id, ann.id, other)
    )
    assert first.id == again.id and first.dm_users == tuple(sorted((ann.id, bob.id)))
    assert (await archive.get_room(first.id)).dm_users == first.dm_users  # type: ignore[union-attr]
    [(room, partner)] = await archive.dm_rooms(bob.id)
    assert (room.id, partner.name) == (first.id, "Ann B.")


async def test_a_room_whose_time_has_come_is_found_by_any_process(
    archive: Archive, database: str
) -> None:
    def ends_at(when: int):  # type: ignore[no-untyped-def]
        def change(state: RoomState) -> None:
            state.series = Series(
                id="s", by=ANN, size=2, round_seconds=60, rounds=1, break_seconds=5,
                participants=[ANN], round=0, phase=Phase.GATHERING, phase_ends_at=when,
            )  # fmt: skip

        return change

    await archive.create_room(
        StoredRoom(id="cafe", title="Cafe", kind=RoomKind.COFFEE, private=False, created_at=1)
    )
    assert await archive.due_rooms(10_000, 10) == []
    await archive.change_room_state("cafe", ends_at(5_000))
    assert await archive.due_rooms(4_999, 10) == []
    assert await archive.due_rooms(5_000, 10) == ["cafe"]
    # A second archive on the same store (another process) sees the same.
    other = open_archive(database)
    await other.open()
    try:
        assert await other.due_rooms(6_000, 10) == ["cafe"]
    finally:
        await other.close()

    def done(state: RoomState) -> None:
        assert state.series is not None
        state.series.phase, state.series.phase_ends_at = Phase.DONE, None

    await archive.change_room_state("cafe", done)
    assert await archive.due_rooms(10**12, 10) == []


async def test_a_rounds_tables_are_made_in_one_write_with_who_sits_there(
    archive: Archive,
) -> None:
    def table(room_id: str) -> StoredRoom:
        return StoredRoom(
            id=room_id, title=room_id, kind=RoomKind.TABLE, private=True, created_at=1,
            parent="cafe",
        )  # fmt: skip

    await archive.create_room(
        StoredRoom(id="cafe", title="Cafe", kind=RoomKind.COFFEE, private=False, created_at=1)
    )
    await archive.create_rooms([table("t1"), table("t2")], {"t1": RoomState(sat=["ann", "bob"])})
    assert (await archive.room_state("t1")).sat == ["ann", "bob"]
    assert (await archive.room_state("t2")).sat == []
    # Made again (another process after the grace): what is there stays as it is.
    await archive.create_rooms([table("t1")], {"t1": RoomState(sat=["eve"])})
    assert (await archive.room_state("t1")).sat == ["ann", "bob"]
    made = await archive.get_room("t1")
    assert made is not None and made.parent == "cafe"


async def test_staying_in_touch_is_mutual_and_remembers_the_table(archive: Archive) -> None:
    ann, bob, cy = [
        await archive.create_user(name, new_login(f"digest-{name}")) for name in ("A", "B", "C")
    ]
    assert await archive.have_sat_together(ann.id, bob.id) is None
    first, second = sorted((ann.id, bob.id))
    await archive.sat_together([(first, second)], "lobby", 1_000)
    assert await archive.have_sat_together(bob.id, ann.id) == "lobby"
    assert await archive.have_sat_together(ann.id, cy.id) is None
    assert await archive.stay(ann.id, bob.id, "lobby", 2_000) == Wish(new=True, mutual=False)
    assert await archive.stay(ann.id, bob.id, "lobby", 2_500) == Wish(new=False, mutual=False)
    assert await archive.people_met(ann.id, 10) == []
    asked, asking = await archive.wishes(bob.id, 10)
    assert ([m.user for m in asked], asking) == ([ann], [])
    assert await archive.stay(bob.id, ann.id, None, 3_000) == Wish(new=True, mutual=True)
    (met,) = await archive.people_met(ann.id, 10)
    assert met.room is not None
    assert (met.user, met.room.id, met.room.title, met.at) == (bob, "lobby", "Lobby", 3_000)
    assert [m.user for m in await archive.people_met(bob.id, 10)] == [ann]
    assert await archive.people_met(cy.id, 10) == []
    # Asked from nowhere, declined: hidden from who declined, still asking for the asker.
    assert await archive.stay(cy.id, ann.id, None, 4_000) == Wish(new=True, mutual=False)
    (request,) = (await archive.wishes(ann.id, 10))[0]
    assert (request.user, request.room) == (cy, None)
    await archive.decline(ann.id, cy.id)
    assert (await archive.wishes(ann.id, 10))[0] == []
    assert [m.user for m in (await archive.wishes(cy.id, 10))[1]] == [ann]
    # Removed: strangers again, on both sides.
    assert await archive.unstay(bob.id, ann.id) is True
    assert await archive.people_met(ann.id, 10) == await archive.people_met(bob.id, 10) == []
    assert await archive.unstay(bob.id, ann.id) is False


async def test_earlier_versions_keep_when_they_were_replaced_and_read_older_rows(
    archive: Archive, database: str
) -> None:
    await archive.append("lobby", ANN, "at six", "m")
    for text, at in (("at seven", 1_000), ("at eight", 2_000)):
        await archive.change_message(
            "lobby", 1, lambda m, t=text, at=at: rules.edit(m, ANN.id, t, [], at)
        )
    assert await archive.earlier("lobby", 1) == [
        Version(text="at six", replaced_at=1_000),
        Version(text="at seven", replaced_at=2_000),
    ]
    # A row stored before the edit time was recorded holds bare texts: read, and kept on edit.
    old = '["at five"]'
    if database.startswith("postgresql://"):
        conn = await asyncpg.connect(database)
        await conn.execute("UPDATE messages SET earlier = $1 WHERE seq = 1", old)
        await conn.close()
    else:
        with sqlite3.connect(database) as conn:
            conn.execute("UPDATE messages SET earlier = ? WHERE seq = 1", (old,))
        conn.close()
    await archive.change_message("lobby", 1, lambda m: rules.edit(m, ANN.id, "at nine", [], 3_000))
    assert await archive.earlier("lobby", 1) == [
        Version(text="at five", replaced_at=None),
        Version(text="at eight", replaced_at=3_000),
    ]
