"""The shared archive: PostgreSQL through asyncpg, for several server processes.

Same behaviour as the SQLite archive (``tests/test_archive.py`` runs against both). What is
different follows from many writers:

- A room's ``seq`` comes from its row in ``rooms``, locked (``SELECT ... FOR UPDATE``) before
  the duplicate check, so two processes appending to one room take turns: no gaps, no
  duplicate ``client_msg_id``. A batch locks its rooms in id order, so two batches never
  wait for each other in a circle.
- Search uses a ``tsvector`` (the ``simple`` configuration) of the text with accents folded
  in Python, the same folding as the query, so no database extension is needed.
- Migrations run under an advisory lock, so processes starting together migrate once.
- Every command has a timeout: a database that is down or hung answers ``unavailable``
  quickly instead of holding a chat message hostage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec

from .. import keys
from ..clock import now_ms
from ..errors import Unavailable
from ..protocol import (
    AuditEntry,
    CardField,
    Encounter,
    How,
    Mentioned,
    Message,
    Met,
    Report,
    ReportAction,
    RoomBrief,
    RoomKind,
    User,
    Version,
)
from . import (
    RANK_AMONG,
    Hit,
    NoSuchRoom,
    Query,
    RoomState,
    StoredCard,
    StoredProfile,
    StoredRoom,
    Wish,
    centred,
    fold,
    has_link,
    terms,
)
from . import cards as card_rows
from . import changes as rules
from . import passkeys as passkey_rows
from . import profiles as profile_rows
from . import recordings as recording_rows
from .changes import Appended, Change, NoSuchMessage
from .commit import GroupCommit, Item, Pending, Result
from .logins import SELECT as _LOGIN
from .logins import Login, NewLogin
from .logins import login as _login
from .passkeys import Challenge, StoredPasskey
from .recordings import State as RecordingState
from .recordings import StoredRecording
from .rows import (
    AUDIT_COLUMNS,
    ENCOUNTER,
    ENCOUNTERS_SQL,
    NUDGE,
    PEOPLE_SQL,
    REPORT_FROM,
    SELECT,
    SELECT_FROM,
    audit_values,
    encounter,
    met,
    to_json,
    versions,
    with_version,
)
from .rows import audit as audit_of
from .rows import message as message_of
from .rows import report as report_of
from .yourdata import FORMER, Erased, Erasure, Page, Revised, without_reactions

log = logging.getLogger(__name__)

T = TypeVar("T")

_BATCH = 256
_MIGRATION_LOCK = 0x5EC0_FFEE  # any constant shared by every Percolate process

_MIGRATIONS = [
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_digest TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        private BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        passcode_hash TEXT,
        host_key_hash TEXT,
        created_by TEXT,
        last_seq BIGINT NOT NULL DEFAULT 0,
        last_at BIGINT NOT NULL DEFAULT 0,
        state TEXT
    );
    CREATE INDEX rooms_public ON rooms (private, created_at);
    CREATE TABLE dms (
        user_a TEXT NOT NULL,
        user_b TEXT NOT NULL,
        room TEXT NOT NULL UNIQUE REFERENCES rooms (id),
        PRIMARY KEY (user_a, user_b)
    );
    CREATE INDEX dms_b ON dms (user_b);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        seq BIGINT NOT NULL,
        user_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        text TEXT NOT NULL,
        ts BIGINT NOT NULL,
        client_msg_id TEXT NOT NULL,
        search TSVECTOR NOT NULL,
        UNIQUE (room, seq),
        UNIQUE (room, user_id, client_msg_id)
    );
    CREATE INDEX messages_search ON messages USING GIN (search);
    """,
    """
    ALTER TABLE rooms ADD COLUMN parent TEXT;
    ALTER TABLE rooms ADD COLUMN due_at BIGINT;
    CREATE INDEX rooms_due ON rooms (due_at) WHERE due_at IS NOT NULL;
    CREATE TABLE encounters (
        user_a TEXT NOT NULL,
        user_b TEXT NOT NULL,
        room TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (user_a, user_b)
    );
    CREATE TABLE wishes (
        from_user TEXT NOT NULL,
        to_user TEXT NOT NULL,
        room TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (from_user, to_user)
    );
    """,
    """
    ALTER TABLE rooms ADD COLUMN last_rev BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN reply_to BIGINT;
    ALTER TABLE messages ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN last_reply_at BIGINT;
    ALTER TABLE messages ADD COLUMN edited_at BIGINT;
    ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
    ALTER TABLE messages ADD COLUMN reactions TEXT;
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    ALTER TABLE messages ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN earlier TEXT;
    CREATE INDEX messages_rev ON messages (room, rev) WHERE rev > 0;
    CREATE INDEX messages_thread ON messages (room, reply_to, seq) WHERE reply_to IS NOT NULL;
    CREATE TABLE mentions (
        user_id TEXT NOT NULL,
        room TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (user_id, room, seq)
    );
    CREATE INDEX mentions_recent ON mentions (user_id, at);
    """,
    """
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        seq BIGINT NOT NULL,
        reporter_id TEXT NOT NULL,
        reporter_name TEXT NOT NULL,
        reason TEXT NOT NULL,
        at BIGINT NOT NULL,
        outcome TEXT,
        resolved_by_id TEXT,
        resolved_by_name TEXT,
        resolved_at BIGINT,
        UNIQUE (room, seq, reporter_id)
    );
    CREATE INDEX reports_open ON reports (room, at) WHERE outcome IS NULL;
    CREATE TABLE audit (
        room TEXT NOT NULL,
        at BIGINT NOT NULL,
        by_id TEXT NOT NULL,
        by_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target_id TEXT,
        target_name TEXT,
        seq BIGINT,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_room ON audit (room, at);
    """,
    """
    CREATE TABLE blocks (
        user_id TEXT NOT NULL,
        blocked TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (user_id, blocked)
    );
    CREATE INDEX blocks_blocked ON blocks (blocked);
    """,
    """
    ALTER TABLE rooms ADD COLUMN description TEXT;
    ALTER TABLE rooms ADD COLUMN slow_seconds INTEGER NOT NULL DEFAULT 0;
    """,
    # Search across rooms (docs/protocol.md, "search"): who may read which private room, and
    # what the operators look for, each with an index that can drive a search alone.
    """
    ALTER TABLE messages ADD COLUMN author TEXT;
    ALTER TABLE messages ADD COLUMN link BOOLEAN NOT NULL DEFAULT false;
    ALTER TABLE messages ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false;
    UPDATE messages SET author = lower(user_name),
        link = strpos(lower(text), 'http://') > 0 OR strpos(lower(text), 'https://') > 0;
    UPDATE messages m SET pinned = true FROM rooms r
        WHERE r.state IS NOT NULL AND m.room = r.id
        AND m.seq = ((r.state::jsonb) -> 'pinned' ->> 'seq')::bigint;
    CREATE INDEX messages_user ON messages (user_id, ts);
    CREATE INDEX messages_author ON messages (author, ts);
    CREATE INDEX messages_ts ON messages (ts);
    CREATE INDEX messages_link ON messages (ts) WHERE link;
    CREATE INDEX messages_pinned ON messages (room) WHERE pinned;
    CREATE TABLE readers (
        user_id TEXT NOT NULL,
        room TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (user_id, room)
    );
    INSERT INTO readers (user_id, room, at)
        SELECT m.user_id, m.room, min(m.ts) FROM messages m JOIN rooms r ON r.id = m.room
        WHERE r.private AND r.kind <> 'dm' GROUP BY m.user_id, m.room
        ON CONFLICT DO NOTHING;
    INSERT INTO readers (user_id, room, at)
        SELECT s.value, r.id, r.created_at
        FROM rooms r, jsonb_array_elements_text((r.state::jsonb) -> 'sat') s
        WHERE r.kind = 'table' AND r.state IS NOT NULL
        ON CONFLICT DO NOTHING;
    """,
    # Pins in every room (docs/protocol.md, "chat:pin"): who pinned and when, beside the flag
    # search reads; a workshop's pin from before counts as pinned when it was sent.
    """
    ALTER TABLE messages ADD COLUMN pinned_at BIGINT;
    ALTER TABLE messages ADD COLUMN pinned_by_id TEXT;
    ALTER TABLE messages ADD COLUMN pinned_by_name TEXT;
    UPDATE messages SET pinned_at = ts WHERE pinned;
    """,
    # Every message with a link holds a lexeme of its own, so that words and has:link meet
    # inside the GIN index (``_linked``).
    """
    UPDATE messages SET search = search || array_to_tsvector(ARRAY['has:link']) WHERE link;
    """,
    # "Stay in touch" with anybody: a request can be declined, never saying so (people:decline).
    """
    ALTER TABLE wishes ADD COLUMN declined BOOLEAN NOT NULL DEFAULT false;
    """,
    # Profiles (docs/protocol.md, "Profiles"): what a person says about themselves, and
    # which of it everybody may see.
    """
    CREATE TABLE profiles (
        user_id TEXT PRIMARY KEY,
        headline TEXT NOT NULL,
        organisation TEXT NOT NULL,
        link TEXT NOT NULL,
        about TEXT NOT NULL,
        public TEXT NOT NULL,
        invisible BOOLEAN NOT NULL,
        updated_at BIGINT NOT NULL
    );
    """,
    # Sessions instead of eternal tokens (docs/security.md, "Sessions"): every token becomes a
    # login, seen at the upgrade; the users keep no token any more.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        token_digest TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seen_at BIGINT NOT NULL,
        revoked_at BIGINT
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    INSERT INTO sessions (id, user_id, token_digest, label, created_at, seen_at)
        SELECT 's' || substr(md5(random()::text || id), 1, 18), id, token_digest, '',
            created_at, (extract(epoch FROM now()) * 1000)::bigint FROM users;
    ALTER TABLE users DROP COLUMN token_digest;
    """,
    # Passkeys (docs/security.md, "Passkeys"): WebAuthn credentials of a user, and the
    # challenges of ceremonies under way, which any process may be asked to finish.
    """
    CREATE TABLE passkeys (
        id TEXT PRIMARY KEY,
        credential_id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        public_key BYTEA NOT NULL,
        sign_count BIGINT NOT NULL,
        name TEXT NOT NULL,
        transports TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        used_at BIGINT
    );
    CREATE INDEX passkeys_user ON passkeys (user_id);
    CREATE TABLE passkey_challenges (
        value TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        user_id TEXT,
        login_id TEXT
    );
    CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
    """,
    """
    -- An erased person (account:erase): the row stays, so that their old tokens are refused,
    -- but nobody can open a conversation with them or ask them to stay in touch.
    ALTER TABLE users ADD COLUMN erased_at BIGINT;
    """,
    # Contact cards (docs/protocol.md, "Contact cards"): fields shown to contacts only, which
    # of them each contact sees; how people met (a coffee room's cameras, a DM, besides
    # tables); and when somebody was last told of a request, so that asking again is quiet.
    """
    CREATE TABLE cards (
        user_id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        phone TEXT NOT NULL,
        link TEXT NOT NULL,
        share TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE card_shares (
        owner TEXT NOT NULL,
        viewer TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (owner, viewer)
    );
    CREATE INDEX card_shares_viewer ON card_shares (viewer);
    ALTER TABLE encounters ADD COLUMN how TEXT NOT NULL DEFAULT 'table';
    CREATE INDEX encounters_b ON encounters (user_b);
    CREATE TABLE nudges (
        from_user TEXT NOT NULL,
        to_user TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (from_user, to_user)
    );
    """,
    # Workshop recordings (server/recordings.py): a row per recording, written at its start
    # and its stop; its files' facts as JSON.
    """
    CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        title TEXT NOT NULL,
        started_by TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        stopped_by TEXT,
        stopped_at BIGINT,
        state TEXT NOT NULL,
        guests_may_watch BOOLEAN NOT NULL DEFAULT FALSE,
        folder TEXT NOT NULL,
        process TEXT NOT NULL,
        files TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recordings_room ON recordings (room, started_at);
    CREATE INDEX recordings_state ON recordings (state);
    """,
]

_INSERT_LOGIN = (
    "INSERT INTO sessions (id, user_id, token_digest, label, created_at, seen_at) "
    "VALUES ($3, $1, $4, $5, $2, $2)"
)
"""A login's row: $1 the user's id, $2 the time, $3-$5 the login's id, digest and label."""
_MESSAGE_COLUMNS = "id, seq, room, user_id, user_name, text, ts, client_msg_id"
_ROOM_COLUMNS = (
    "id, title, kind, private, created_at, passcode_hash, host_key_hash, created_by, parent"
)
_ROOM_SELECT = _ROOM_COLUMNS + ", description, slow_seconds"
"""A room as read (``describe_room`` and ``slow_room`` write the last two, never an insert)."""
_state_decoder = msgspec.json.Decoder(RoomState)

# What says "this connection cannot be used any more": the database went away (shut down,
# crashed, restarted, unreachable, hung past the timeout) or the connection's protocol state
# is lost. A connection that PostgreSQL's shutdown message reached while idle fails its next
# command with InternalClientError ("another operation is in progress") until the socket
# closes. Such a connection is terminated, so that the pool opens a fresh one.
_BROKEN: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and "connection was closed"
    asyncpg.OperatorInterventionError,  # class 57: admin or crash shutdown, cannot connect now
    asyncpg.InterfaceError,  # "the underlying connection is closed"
    asyncpg.InternalClientError,  # the protocol is in a state no command can use
)

# What says "the database is not there right now" rather than "our SQL is wrong": a broken
# connection, or a database that cannot take the work now and may later (SQLSTATE class 53,
# out of disk, memory or connections; 58030, an I/O error; 25006, read-only during a
# failover; a deadlock or serialization failure, which a retry gets past).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    *_BROKEN,
    asyncpg.InsufficientResourcesError,
    asyncpg.PostgresIOError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def ts_query(query: str) -> str | None:
    """Every word must match (``terms``); words are quoted so operators are text."""
    words = terms(query)
    if not words:
        return None
    return " & ".join(
        "'" + t.word.replace("'", "''") + "'" + (":*" if t.prefix else "") for t in words
    )


async def _message_at(conn: asyncpg.Connection, room: str, seq: int) -> Message | None:
    row = await conn.fetchrow(SELECT + " WHERE m.room = $1 AND m.seq = $2", room, seq)
    return message_of(row) if row else None


async def _at(conn: asyncpg.Connection, room: str, seq: int) -> Message:
    found = await _message_at(conn, room, seq)
    if found is None:
        raise NoSuchMessage("no such message")
    return found


async def _store_change(conn: asyncpg.Connection, change: Change) -> Message:
    """Store a changed message at the room's next revision; the message as stored."""
    m, by = change.message, change.message.pinned_by
    rev = await conn.fetchval(
        "UPDATE rooms SET last_rev = last_rev + 1 WHERE id = $1 RETURNING last_rev", m.room
    )
    await conn.execute(
        "UPDATE messages SET text = $1, edited_at = $2, deleted = $3, reactions = $4, "
        "mentions = $5, replies = $6, last_reply_at = $7, rev = $8, "
        f"search = {vector('$9', '$10')}, link = $10, pinned = $11, pinned_at = $12, "
        "pinned_by_id = $13, pinned_by_name = $14 WHERE room = $15 AND seq = $16",
        m.text, m.edited_at, m.deleted, to_json(m.reactions), to_json(m.mentions), m.replies,
        m.last_reply_at, rev, fold(m.text), has_link(m.text), m.pinned_at is not None,
        m.pinned_at, by.id if by else None, by.name if by else None, m.room, m.seq,
    )  # fmt: skip
    if change.earlier is not None:
        earlier = await conn.fetchval(
            "SELECT earlier FROM messages WHERE room = $1 AND seq = $2", m.room, m.seq
        )
        await conn.execute(
            "UPDATE messages SET earlier = $1 WHERE room = $2 AND seq = $3",
            with_version(earlier, change.earlier), m.room, m.seq,
        )  # fmt: skip
    if change.purge:
        await conn.execute(
            "UPDATE messages SET earlier = NULL WHERE room = $1 AND seq = $2", m.room, m.seq
        )
    await conn.execute(
        "DELETE FROM mentions WHERE room = $1 AND seq = $2 AND NOT (user_id = ANY($3::text[]))",
        m.room, m.seq, list(m.mentions),
    )  # fmt: skip
    return await _at(conn, m.room, m.seq)


async def _notify(
    conn: asyncpg.Connection, room: str, seq: int, users: Sequence[str], at: int
) -> None:
    if users:
        await conn.executemany(
            "INSERT INTO mentions (user_id, room, seq, at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING",
            [(user, room, seq, at) for user in users],
        )


def _room(row: asyncpg.Record, dm_users: tuple[str, str] | None = None) -> StoredRoom:
    return StoredRoom(
        id=row["id"],
        title=row["title"],
        kind=RoomKind(row["kind"]),
        private=row["private"],
        created_at=row["created_at"],
        passcode_hash=row["passcode_hash"],
        host_key_hash=row["host_key_hash"],
        created_by=row["created_by"],
        dm_users=dm_users,
        parent=row["parent"],
        description=row["description"] or "",
        slow_seconds=row["slow_seconds"],
    )


def _failure(exc: Exception) -> Exception:
    return Unavailable(f"database: {exc!r}") if isinstance(exc, _UNAVAILABLE) else exc


_READABLE = (
    "((NOT r.private AND r.kind IN ('open', 'coffee', 'workshop')) "
    "OR EXISTS (SELECT 1 FROM readers x WHERE x.user_id = {user} AND x.room = r.id) "
    "OR EXISTS (SELECT 1 FROM dms d WHERE d.room = r.id AND {user} IN (d.user_a, d.user_b)))"
)
"""The rooms ``r`` that the user (parameter ``{user}``) may read (``search_readable``)."""


async def _search(conn: asyncpg.Connection, user_id: str, query: Query, limit: int) -> list[Hit]:
    """``Archive.search_readable`` on one connection."""
    if query.impossible:
        return []
    async with _planned_for_its_values(conn):
        return await _find(conn, user_id, query, limit)


@contextlib.asynccontextmanager
async def _planned_for_its_values(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Plan each statement for its own values (words, dates, rooms).

    asyncpg prepares each statement once; after five runs PostgreSQL may keep one plan for
    any values, made blind to how common a word is or how wide the dates: with such plans
    search took 35 ms to find nothing between two dates in the wrong order, and a word
    between two dates 65 ms instead of 17 (docs/benchmarks.md, "Search").
    """
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


async def _find(conn: asyncpg.Connection, user_id: str, query: Query, limit: int) -> list[Hit]:
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["NOT m.deleted"]
    if query.rooms:
        rooms = [
            row["id"]
            for row in await conn.fetch(
                "SELECT id FROM rooms r WHERE (r.id = ANY($2::text[]) OR lower(r.title) = "
                "ANY(SELECT lower(t) FROM unnest($2::text[]) t)) AND "
                + _READABLE.format(user="$1"),
                user_id,
                list(query.rooms),
            )
        ]
        if not rooms:
            return []
        where.append(f"m.room = ANY({arg(rooms)}::text[])")
    else:
        where.append(_READABLE.format(user=arg(user_id)))
    if query.users or query.names:
        where.append(
            f"(m.user_id = ANY({arg(list(query.users))}::text[]) OR "
            f"m.author = ANY({arg([n.casefold() for n in query.names])}::text[]))"
        )
    if query.since is not None:
        where.append(f"m.ts >= {arg(query.since)}")
    if query.until is not None:
        where.append(f"m.ts < {arg(query.until)}")
    if query.pinned:
        where.append("m.pinned")
    if query.link:
        where.append("m.link")
    source = "messages m JOIN rooms r ON r.id = m.room"
    match = ts_query(" ".join(query.words)) if query.words else None
    # With a filter that holds for few messages (an author, a room, the pinned ones), the
    # planner must not walk the time index backwards hoping to meet them soon: ``ts + 0``
    # is no index's order, so the filter's own index is used and its rows sorted. So too
    # for words between two dates: the words' index, then the dates, then the order.
    few = bool(query.rooms or query.users or query.names or query.pinned)
    dated = match is not None and (query.since is not None or query.until is not None)
    newest = "m.ts + 0" if few or dated else "m.ts"
    if query.words and match is None:
        return []
    if match is None:
        rows = await conn.fetch(
            f"SELECT m.room, m.seq FROM {source} WHERE {' AND '.join(where)} "
            f"ORDER BY {newest} DESC, m.room, m.seq DESC LIMIT {arg(limit)}",
            *args,
        )
        found = [(row["room"], row["seq"]) for row in rows]
    else:
        tsquery = f"to_tsquery('simple', {arg(match)})"
        if query.link and not few:
            return await _hits(conn, await _linked(conn, where, tsquery, args, limit))
        if not few:
            where.append(f"m.search @@ {tsquery}")
            candidates = f"SELECT m.room, m.seq, m.ts, m.search FROM {source} WHERE "
            candidates += " AND ".join(where)
        else:
            # The few messages first, then the words: otherwise the planner likes to AND the
            # filter's index with the words' GIN index, whose bitmap for a common word holds
            # most of the archive (docs/benchmarks.md, "Search").
            candidates = (
                f"WITH few AS MATERIALIZED (SELECT m.room, m.seq, m.ts, m.search FROM {source} "
                f"WHERE {' AND '.join(where)}) SELECT * FROM few m WHERE m.search @@ {tsquery}"
            )
        rows = await conn.fetch(
            f"SELECT room, seq, ts_rank(search, {tsquery}) AS score FROM ({candidates} "
            f"ORDER BY m.ts DESC LIMIT {RANK_AMONG}) AS newest "
            f"ORDER BY score DESC, ts DESC, room, seq DESC LIMIT {arg(limit)}",
            *args,
        )
        found = [(row["room"], row["seq"]) for row in rows]
    return await _hits(conn, found)


_LINKED_FIRST = 2000
"""How many of the newest messages with a link are read first for words and ``has:link``."""

LINKED = "array_to_tsvector(ARRAY['has:link'])"
"""A lexeme in the search vector of every message with a link (``vector``). No text makes it:
the parser splits words at ``:``, and a query's words are letters and digits (``terms``)."""


def vector(text: str, link: str) -> str:
    """SQL for the search vector of the folded text ``text`` holding a link or not (``link``)."""
    return f"to_tsvector('simple', {text}) || CASE WHEN {link} THEN {LINKED} ELSE ''::tsvector END"


async def _linked(
    conn: asyncpg.Connection, where: list[str], tsquery: str, args: list[Any], limit: int
) -> list[tuple[str, int]]:
    """Words and ``has:link``, without a filter of few messages: the best of the newest
    ``RANK_AMONG`` matches.

    Neither index alone serves every word. Walking the links newest first finds a common
    word's matches at once but a rarer word's only after most of the links (heap reads:
    60 ms); the words' GIN index reads every match of a prefix first (70 ms for a common
    word). So the newest ``_LINKED_FIRST`` links are read first, and only if they hold too
    few matches does the GIN index answer, with the link's own lexeme (``LINKED``) in the
    query so that it intersects two posting lists instead of reading rows.
    """
    conditions = " AND ".join(where)
    recent = (
        "WITH recent AS MATERIALIZED (SELECT m.room, m.seq, m.ts, m.search, m.deleted, m.link "
        f"FROM messages m WHERE m.link ORDER BY m.ts DESC LIMIT {_LINKED_FIRST}) "
        "SELECT m.room, m.seq, m.ts, m.search FROM recent m JOIN rooms r ON r.id = m.room "
        f"WHERE {conditions} AND m.search @@ {tsquery}"
    )
    marked = (
        "SELECT m.room, m.seq, m.ts, m.search FROM messages m JOIN rooms r ON r.id = m.room "
        f"WHERE {conditions} AND m.search @@ ({tsquery} && '''has:link'''::tsquery)"
    )
    for candidates in (recent, marked):
        rows = await conn.fetch(
            f"SELECT room, seq, ts, ts_rank(search, {tsquery}) AS score FROM ({candidates} "
            f"ORDER BY m.ts DESC LIMIT {RANK_AMONG}) AS newest",
            *args,
        )
        if len(rows) == RANK_AMONG:
            break
    rows = sorted(rows, key=lambda r: (-r["score"], -r["ts"], r["room"], -r["seq"]))
    return [(row["room"], row["seq"]) for row in rows[:limit]]


async def _hits(conn: asyncpg.Connection, found: list[tuple[str, int]]) -> list[Hit]:
    """The messages at these places, in this order, with their rooms."""
    if not found:
        return []
    select = SELECT_FROM.format(source="messages m JOIN rooms r ON r.id = m.room").replace(
        "SELECT ", "SELECT r.title, r.kind, ", 1
    )
    rows = await conn.fetch(
        select + " WHERE (m.room, m.seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))",
        [room for room, _ in found],
        [seq for _, seq in found],
    )
    by_place = {(row["room"], row["seq"]): row for row in rows}
    return [
        Hit(message=message_of(list(row)[2:]), title=row["title"], kind=RoomKind(row["kind"]))
        for row in (by_place[place] for place in found)
    ]


class PostgresArchive:
    def __init__(self, url: str, *, timeout: float = 5.0, batch: int = _BATCH) -> None:
        self.url = url
        self.timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._commits = GroupCommit(repr(self), self._append_batch, _failure, batch)

    def __repr__(self) -> str:
        return "PostgresArchive"

    async def _with(self, work: Callable[[asyncpg.Connection], Any]) -> Any:
        """Run ``work`` on a pooled connection; storage failures become ``Unavailable``."""
        if self._pool is None:
            raise Unavailable("archive is closed")
        try:
            async with self._pool.acquire(timeout=self.timeout) as conn:
                try:
                    return await work(conn)
                except _BROKEN:
                    conn.terminate()  # not back into the pool: the next request connects anew
                    raise
        except _UNAVAILABLE as exc:
            log.warning("%r: %r", self, exc)
            raise Unavailable(f"database: {exc!r}") from exc

    # -- life cycle ------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            # No floor of idle connections: asyncpg restores a floor in the background,
            # logging a traceback for every try while the database is down. Connections are
            # opened when a request needs one (and kept while used).
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=0,
                max_size=10,
                command_timeout=self.timeout,
                timeout=self.timeout,
            )
        except _UNAVAILABLE as exc:
            raise Unavailable(f"database: {exc!r}") from exc
        await self._with(self._migrate)
        self._commits.start()

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS percolate_schema (version INTEGER NOT NULL)"
            )
            version = await conn.fetchval("SELECT max(version) FROM percolate_schema") or 0
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                await conn.execute(script)
                await conn.execute("INSERT INTO percolate_schema (version) VALUES ($1)", number)
                log.info("%r: schema migrated to version %d", self, number)
            await conn.execute(
                f"INSERT INTO rooms ({_ROOM_COLUMNS}) VALUES ('lobby', 'Lobby', 'open', false, "
                "0, NULL, NULL, NULL, NULL) ON CONFLICT DO NOTHING"
            )

    async def close(self) -> None:
        await self._commits.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.wait_for(pool.close(), self.timeout)

    async def healthy(self) -> bool:
        try:
            return bool(await self._with(lambda c: c.fetchval("SELECT 1")))
        except Unavailable:
            return False

    # -- users -----------------------------------------------------------------------------

    async def create_user(self, name: str, login: NewLogin) -> User:
        user = User(id=keys.new_id("u"), name=name)
        # One statement, one round trip: the user and its first login.
        await self._with(
            lambda c: c.execute(
                "WITH u AS (INSERT INTO users (id, name, created_at) VALUES ($1, $6, $2)) "
                + _INSERT_LOGIN,
                user.id,
                login.at,
                login.id,
                login.token_digest,
                login.label,
                name,
            )
        )
        return user

    async def add_login(self, user_id: str, login: NewLogin) -> None:
        await self._with(
            lambda c: c.execute(
                _INSERT_LOGIN,
                user_id,
                login.at,
                login.id,
                login.token_digest,
                login.label,
            )
        )

    async def login_by_token(self, token_digest: str) -> Login | None:
        row = await self._with(
            lambda c: c.fetchrow(f"{_LOGIN} WHERE s.token_digest = $1", token_digest)
        )
        return _login(row) if row else None

    async def logins(self, user_id: str, limit: int) -> list[Login]:
        rows = await self._with(
            lambda c: c.fetch(
                f"{_LOGIN} WHERE s.user_id = $1 AND s.revoked_at IS NULL "
                "ORDER BY s.seen_at DESC, s.id LIMIT $2",
                user_id,
                limit,
            )
        )
        return [_login(row) for row in rows]

    async def touch_logins(self, ids: Sequence[str], at: int) -> None:
        await self._with(
            lambda c: c.execute(
                "UPDATE sessions SET seen_at = $1 WHERE id = ANY($2::text[])", at, list(ids)
            )
        )

    async def revoke_logins(
        self, user_id: str, at: int, ids: Sequence[str] | None, keep: str | None = None
    ) -> list[str]:
        rows = await self._with(
            lambda c: c.fetch(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL "
                "AND id IS DISTINCT FROM $3 AND ($4::text[] IS NULL OR id = ANY($4::text[])) "
                "RETURNING id",
                at,
                user_id,
                keep,
                None if ids is None else list(ids),
            )
        )
        return sorted(row["id"] for row in rows)

    # -- recordings ------------------------------------------------------------------------

    async def save_recording(self, recording: StoredRecording) -> None:
        columns = recording_rows.COLUMNS
        updates = ", ".join(
            f"{name} = EXCLUDED.{name}" for name in columns.replace(" ", "").split(",")[1:]
        )
        await self._with(
            lambda c: c.execute(
                f"INSERT INTO recordings ({columns}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                *recording_rows.values(recording),
            )
        )

    async def recording(self, recording_id: str) -> StoredRecording | None:
        row = await self._with(
            lambda c: c.fetchrow(
                f"SELECT {recording_rows.COLUMNS} FROM recordings WHERE id = $1", recording_id
            )
        )
        return recording_rows.recording_of(row) if row else None

    async def recordings_running(self) -> list[StoredRecording]:
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {recording_rows.COLUMNS} FROM recordings WHERE state = $1 "
                "ORDER BY started_at, id",
                RecordingState.RECORDING.value,
            )
        )
        return [recording_rows.recording_of(row) for row in rows]

    # -- passkeys --------------------------------------------------------------------------

    async def add_passkey(self, passkey: StoredPasskey) -> bool:
        status: str = await self._with(
            lambda c: c.execute(
                f"INSERT INTO passkeys ({passkey_rows.COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT (credential_id) DO NOTHING",
                *passkey_rows.values(passkey),
            )
        )
        return status != "INSERT 0 0"

    async def passkeys(self, user_id: str) -> list[StoredPasskey]:
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {passkey_rows.COLUMNS} FROM passkeys WHERE user_id = $1 "
                "ORDER BY created_at, id",
                user_id,
            )
        )
        return [passkey_rows.passkey_of(row) for row in rows]

    async def passkey_by_credential(self, credential_id: str) -> StoredPasskey | None:
        row = await self._with(
            lambda c: c.fetchrow(
                f"SELECT {passkey_rows.COLUMNS} FROM passkeys WHERE credential_id = $1",
                credential_id,
            )
        )
        return passkey_rows.passkey_of(row) if row else None

    async def use_passkey(self, passkey_id: str, sign_count: int, at: int) -> bool:
        status: str = await self._with(
            lambda c: c.execute(
                "UPDATE passkeys SET sign_count = $2, used_at = $3 WHERE id = $1 "
                "AND (sign_count < $2 OR ($2 = 0 AND sign_count = 0))",
                passkey_id,
                sign_count,
                at,
            )
        )
        return status != "UPDATE 0"

    async def rename_passkey(self, user_id: str, passkey_id: str, name: str) -> bool:
        status: str = await self._with(
            lambda c: c.execute(
                "UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = $1",
                user_id,
                passkey_id,
                name,
            )
        )
        return status != "UPDATE 0"

    async def remove_passkey(self, user_id: str, passkey_id: str) -> bool:
        status: str = await self._with(
            lambda c: c.execute(
                "DELETE FROM passkeys WHERE id = $2 AND user_id = $1", user_id, passkey_id
            )
        )
        return status != "DELETE 0"

    async def remove_passkeys(self, user_id: str) -> int:
        status: str = await self._with(
            lambda c: c.execute("DELETE FROM passkeys WHERE user_id = $1", user_id)
        )
        return int(status.split()[-1])

    async def add_challenge(self, challenge: Challenge, now: int) -> None:
        # One round trip: the expired ones go in the same statement.
        await self._with(
            lambda c: c.execute(
                "WITH gone AS (DELETE FROM passkey_challenges WHERE expires_at < $6) "
                f"INSERT INTO passkey_challenges ({passkey_rows.CHALLENGE_COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5)",
                *passkey_rows.challenge_values(challenge),
                now,
            )
        )

    async def take_challenge(self, value: str) -> Challenge | None:
        row = await self._with(
            lambda c: c.fetchrow(
                "DELETE FROM passkey_challenges WHERE value = $1 "
                f"RETURNING {passkey_rows.CHALLENGE_COLUMNS}",
                value,
            )
        )
        return passkey_rows.challenge_of(row) if row else None

    async def get_user(self, user_id: str) -> User | None:
        row = await self._with(
            lambda c: c.fetchrow(
                "SELECT id, name FROM users WHERE id = $1 AND erased_at IS NULL", user_id
            )
        )
        return User(id=row["id"], name=row["name"]) if row else None

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        if not user_ids:
            return {}
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {profile_rows.COLUMNS} FROM profiles WHERE user_id = ANY($1::text[])",
                list(user_ids),
            )
        )
        return {row[0]: profile_rows.profile_of(tuple(row)[1:]) for row in rows}

    async def set_profile(self, user_id: str, profile: StoredProfile, at: int) -> None:
        updates = ", ".join(
            f"{name} = EXCLUDED.{name}" for name in profile_rows.COLUMNS.split(", ")[1:]
        )
        await self._with(
            lambda c: c.execute(
                f"INSERT INTO profiles ({profile_rows.COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                f"ON CONFLICT (user_id) DO UPDATE SET {updates}",
                *profile_rows.values(user_id, profile, at),
            )
        )

    async def rename_user(self, user_id: str, name: str) -> None:
        await self._with(
            lambda c: c.execute("UPDATE users SET name = $1 WHERE id = $2", name, user_id)
        )

    # -- rooms -----------------------------------------------------------------------------

    @staticmethod
    async def _insert_room(conn: asyncpg.Connection, room: StoredRoom) -> None:
        await conn.execute(
            f"INSERT INTO rooms ({_ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            room.id,
            room.title,
            room.kind.value,
            room.private,
            room.created_at,
            room.passcode_hash,
            room.host_key_hash,
            room.created_by,
            room.parent,
        )

    async def create_room(self, room: StoredRoom) -> None:
        await self._with(lambda c: self._insert_room(c, room))

    async def create_rooms(
        self, rooms: list[StoredRoom], states: Mapping[str, RoomState] | None = None
    ) -> None:
        first = states or {}

        def state_of(room_id: str) -> tuple[str | None, int | None]:
            state = first.get(room_id)
            if state is None:
                return None, None
            return msgspec.json.encode(state).decode(), state.due()

        async def insert(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.executemany(
                    f"INSERT INTO rooms ({_ROOM_COLUMNS}, state, due_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                    "ON CONFLICT (id) DO NOTHING",
                    [
                        (r.id, r.title, r.kind.value, r.private, r.created_at, r.passcode_hash,
                         r.host_key_hash, r.created_by, r.parent, *state_of(r.id))
                        for r in rooms
                    ],
                )  # fmt: skip

        await self._with(insert)

    async def get_room(self, room_id: str) -> StoredRoom | None:
        async def select(conn: asyncpg.Connection) -> StoredRoom | None:
            row = await conn.fetchrow(f"SELECT {_ROOM_SELECT} FROM rooms WHERE id = $1", room_id)
            if row is None:
                return None
            dm_users = None
            if row["kind"] == RoomKind.DM.value:
                pair = await conn.fetchrow(
                    "SELECT user_a, user_b FROM dms WHERE room = $1", room_id
                )
                dm_users = (pair["user_a"], pair["user_b"]) if pair else None
            return _room(row, dm_users)

        result: StoredRoom | None = await self._with(select)
        return result

    async def public_rooms(self, limit: int, active_since: int = 0) -> list[StoredRoom]:
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {_ROOM_SELECT} FROM rooms WHERE NOT private "
                "AND (id = 'lobby' OR greatest(created_at, last_at) >= $2) "
                "ORDER BY id = 'lobby' DESC, greatest(created_at, last_at) DESC LIMIT $1",
                limit,
                active_since,
            )
        )
        return [_room(row) for row in rows]

    async def room_state(self, room_id: str) -> RoomState:
        async def select(conn: asyncpg.Connection) -> RoomState:
            row = await conn.fetchrow("SELECT state FROM rooms WHERE id = $1", room_id)
            if row is None:
                raise NoSuchRoom(room_id)
            return _state_decoder.decode(row["state"]) if row["state"] else RoomState()

        state: RoomState = await self._with(select)
        return state

    async def change_room_state(
        self, room_id: str, change: Callable[[RoomState], T]
    ) -> tuple[RoomState, T]:
        async def update(conn: asyncpg.Connection) -> tuple[RoomState, T]:
            async with conn.transaction():
                row = await conn.fetchrow(
                    "SELECT state FROM rooms WHERE id = $1 FOR UPDATE", room_id
                )
                if row is None:
                    raise NoSuchRoom(room_id)
                state = _state_decoder.decode(row["state"]) if row["state"] else RoomState()
                result = change(state)
                await conn.execute(
                    "UPDATE rooms SET state = $1, due_at = $2 WHERE id = $3",
                    msgspec.json.encode(state).decode(),
                    state.due(),
                    room_id,
                )
            return state, result

        changed: tuple[RoomState, T] = await self._with(update)
        return changed

    async def open_dm(self, a: str, b: str, room: StoredRoom) -> StoredRoom:
        a, b = sorted((a, b))

        async def get_or_insert(conn: asyncpg.Connection) -> StoredRoom:
            async with conn.transaction():
                # The pair's row is the lock: two processes opening the same DM make one room.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{a} {b}")
                row = await conn.fetchrow(
                    f"SELECT {', '.join('rooms.' + c.strip() for c in _ROOM_SELECT.split(','))} "
                    "FROM rooms JOIN dms ON dms.room = rooms.id WHERE user_a = $1 AND user_b = $2",
                    a,
                    b,
                )
                if row is not None:
                    return _room(row, (a, b))
                await self._insert_room(conn, room)
                await conn.execute(
                    "INSERT INTO dms (user_a, user_b, room) VALUES ($1, $2, $3)", a, b, room.id
                )
            return msgspec.structs.replace(room, dm_users=(a, b))

        found: StoredRoom = await self._with(get_or_insert)
        return found

    async def dm_rooms(self, user_id: str) -> list[tuple[StoredRoom, User]]:
        columns = ", ".join(f"rooms.{c.strip()}" for c in _ROOM_SELECT.split(","))
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {columns}, user_a, user_b, users.id AS other_id, users.name AS other_name "
                "FROM dms JOIN rooms ON rooms.id = dms.room "
                "JOIN users ON users.id = (CASE WHEN user_a = $1 THEN user_b ELSE user_a END) "
                "WHERE user_a = $1 OR user_b = $1 "
                "ORDER BY rooms.last_at DESC, rooms.created_at DESC",
                user_id,
            )
        )
        return [
            (_room(r, (r["user_a"], r["user_b"])), User(id=r["other_id"], name=r["other_name"]))
            for r in rows
        ]

    # -- messages --------------------------------------------------------------------------

    async def append(
        self,
        room: str,
        user: User,
        text: str,
        client_msg_id: str,
        *,
        reply_to: int | None = None,
        mentions: Sequence[str] = (),
        notify: Sequence[str] = (),
    ) -> Appended:
        return await self._commits.append(
            room, user, text, client_msg_id, reply_to, mentions, notify
        )

    async def _append_batch(self, items: list[Item]) -> list[Result]:
        # Only messages: a new user is a write of its own here (PostgreSQL commits
        # concurrent transactions together anyway).
        batch = [item for item in items if isinstance(item, Pending)]
        assert len(batch) == len(items), "a PostgreSQL batch carries messages only"

        async def write(conn: asyncpg.Connection) -> list[Result]:
            results: dict[int, Result] = {}
            async with conn.transaction():
                # Lock each room once, in id order (no lock cycles between processes); keep
                # the order of arrival within a room.
                for room in sorted({item.room for item in batch}):
                    seq = await conn.fetchval(
                        "SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE", room
                    )
                    for index, item in enumerate(batch):
                        if item.room != room:
                            continue
                        if seq is None:
                            results[index] = NoSuchRoom(room)
                            continue
                        result = await self._append_one(conn, item, seq + 1)
                        if isinstance(result, Appended) and result.created:
                            seq += 1
                        results[index] = result
                    if seq is not None:
                        await conn.execute(
                            "UPDATE rooms SET last_seq = $1, last_at = $2 WHERE id = $3",
                            seq,
                            now_ms(),
                            room,
                        )
            return [results[index] for index in range(len(batch))]

        results: list[Result] = await self._with(write)
        return results

    @staticmethod
    async def _append_one(conn: asyncpg.Connection, item: Pending, seq: int) -> Result:
        found = await conn.fetchval(
            "SELECT seq FROM messages WHERE room = $1 AND user_id = $2 AND client_msg_id = $3",
            item.room,
            item.user.id,
            item.client_msg_id,
        )
        if found is not None:
            return Appended(await _at(conn, item.room, found), False)
        ts = now_ms()
        first = None
        if item.reply_to is not None:
            try:
                thread = rules.thread_of(await _message_at(conn, item.room, item.reply_to))
            except (rules.NoSuchMessage, rules.MessageDeleted) as exc:
                return exc
            first = await _store_change(conn, rules.replied(await _at(conn, item.room, thread), ts))
        message_id = keys.new_id("m", 12)
        await conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}, reply_to, mentions, search, author, link) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
            f"{vector('$11', '$13')}, $12, $13)",
            message_id,
            seq,
            item.room,
            item.user.id,
            item.user.name,
            item.text,
            ts,
            item.client_msg_id,
            first.seq if first is not None else None,
            to_json(item.mentions),
            fold(item.text),
            item.user.name.casefold(),
            has_link(item.text),
        )
        await _notify(conn, item.room, seq, item.notify, ts)
        message = Message(
            id=message_id,
            seq=seq,
            room=item.room,
            user=item.user,
            text=item.text,
            ts=ts,
            client_msg_id=item.client_msg_id,
            reply_to=first.seq if first is not None else None,
            quote=rules.quote_of(first),
            mentions=list(item.mentions),
        )
        return Appended(message, True, first)

    async def history(
        self,
        room: str,
        *,
        before: int | None,
        after: int | None,
        limit: int,
        around: int | None = None,
    ) -> list[Message]:
        base = SELECT + " WHERE m.room = $1"
        if around is not None:

            async def select(conn: asyncpg.Connection) -> list[Message]:
                earlier = await conn.fetch(
                    base + " AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3", room, around, limit
                )
                later = await conn.fetch(
                    base + " AND m.seq >= $2 ORDER BY m.seq LIMIT $3", room, around, limit
                )
                return centred(
                    [message_of(row) for row in earlier], [message_of(row) for row in later], limit
                )

            page: list[Message] = await self._with(select)
            return page
        if after is not None:
            rows = await self._with(
                lambda c: c.fetch(
                    base + " AND m.seq > $2 ORDER BY m.seq LIMIT $3", room, after, limit
                )
            )
            return [message_of(row) for row in rows]
        if before is not None:
            rows = await self._with(
                lambda c: c.fetch(
                    base + " AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3", room, before, limit
                )
            )
        else:
            rows = await self._with(
                lambda c: c.fetch(base + " ORDER BY m.seq DESC LIMIT $2", room, limit)
            )
        return [message_of(row) for row in reversed(rows)]

    async def message(self, room: str, message_id: str) -> Message | None:
        row = await self._with(
            lambda c: c.fetchrow(SELECT + " WHERE m.id = $1 AND m.room = $2", message_id, room)
        )
        return message_of(row) if row else None

    async def search(self, room: str, query: str, limit: int) -> list[Message]:
        match = ts_query(query)
        if match is None:
            return []

        async def select(conn: asyncpg.Connection) -> list[Message]:
            async with _planned_for_its_values(conn):
                rows = await conn.fetch(
                    SELECT + " WHERE m.room = $1 AND m.search @@ to_tsquery('simple', $2) "
                    "AND NOT m.deleted ORDER BY m.seq DESC LIMIT $3",
                    room,
                    match,
                    limit,
                )
            return [message_of(row) for row in rows]

        found: list[Message] = await self._with(select)
        return found

    async def search_readable(self, user_id: str, query: Query, limit: int) -> list[Hit]:
        hits: list[Hit] = await self._with(lambda c: _search(c, user_id, query, limit))
        return hits

    async def add_reader(self, user_id: str, room: str, at: int) -> None:
        async def insert(conn: asyncpg.Connection) -> None:
            # A read first: only a first join writes (a conflicting insert writes too).
            if await conn.fetchval(
                "SELECT 1 FROM readers WHERE user_id = $1 AND room = $2", user_id, room
            ):
                return
            await conn.execute(
                "INSERT INTO readers (user_id, room, at) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                user_id,
                room,
                at,
            )

        await self._with(insert)

    async def pins(self, room: str, limit: int) -> list[Message]:
        rows = await self._with(
            lambda c: c.fetch(
                SELECT + " WHERE m.room = $1 AND m.pinned "
                "ORDER BY m.pinned_at DESC, m.seq DESC LIMIT $2",
                room,
                limit,
            )
        )
        return [message_of(row) for row in rows]

    # -- changes to messages -----------------------------------------------------------------

    async def room_rev(self, room: str) -> int:
        rev = await self._with(
            lambda c: c.fetchval("SELECT last_rev FROM rooms WHERE id = $1", room)
        )
        if rev is None:
            raise NoSuchRoom(room)
        return int(rev)

    async def latest(self, room: str, limit: int) -> tuple[int, list[Message]]:
        async def select(conn: asyncpg.Connection) -> tuple[int, list[Message]]:
            rev = await conn.fetchval("SELECT last_rev FROM rooms WHERE id = $1", room)
            if rev is None:
                raise NoSuchRoom(room)
            rows = await conn.fetch(
                SELECT + " WHERE m.room = $1 ORDER BY m.seq DESC LIMIT $2", room, limit
            )
            return int(rev), [message_of(row) for row in reversed(rows)]

        latest: tuple[int, list[Message]] = await self._with(select)
        return latest

    async def change_message(
        self,
        room: str,
        seq: int,
        change: Callable[[Message], Change | None],
        notify: Sequence[str] = (),
    ) -> tuple[Message, bool]:
        async def run(conn: asyncpg.Connection) -> tuple[Message, bool]:
            async with conn.transaction():
                # The room's row first, as appends lock it: one lock order, no deadlock.
                await conn.execute("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE", room)
                await conn.execute(
                    "SELECT 1 FROM messages WHERE room = $1 AND seq = $2 FOR UPDATE", room, seq
                )
                message = await _at(conn, room, seq)
                changed = change(message)
                if changed is None:
                    return message, False
                if changed.pins:
                    # Under the room's lock: two pins at once cannot both take the last place.
                    pinned = await conn.fetchval(
                        "SELECT count(*) FROM messages WHERE room = $1 AND pinned", room
                    )
                    if pinned >= rules.PINS_MAX:
                        raise rules.TooManyPins(
                            f"a room holds at most {rules.PINS_MAX} pinned messages"
                        )
                stored = await _store_change(conn, changed)
                await _notify(conn, room, seq, rules.mentioned(stored, list(notify)), now_ms())
                return stored, True

        result: tuple[Message, bool] = await self._with(run)
        return result

    async def changes(self, room: str, after: int, limit: int) -> list[Message]:
        rows = await self._with(
            lambda c: c.fetch(
                SELECT + " WHERE m.room = $1 AND m.rev > $2 ORDER BY m.rev LIMIT $3",
                room,
                after,
                limit,
            )
        )
        return [message_of(row) for row in rows]

    async def thread(
        self, room: str, seq: int, after: int | None, limit: int
    ) -> tuple[Message, list[Message]]:
        async def select(conn: asyncpg.Connection) -> tuple[Message, list[Message]]:
            found = await _at(conn, room, seq)
            first = found if found.reply_to is None else await _at(conn, room, found.reply_to)
            rows = await conn.fetch(
                SELECT + " WHERE m.room = $1 AND m.reply_to = $2 AND m.seq > $3 "
                "ORDER BY m.seq LIMIT $4",
                room,
                first.seq,
                after or 0,
                limit,
            )
            return first, [message_of(row) for row in rows]

        result: tuple[Message, list[Message]] = await self._with(select)
        return result

    async def mentions(self, user_id: str, before: int | None, limit: int) -> list[Mentioned]:
        source = (
            "mentions x JOIN messages m ON m.room = x.room AND m.seq = x.seq "
            "JOIN rooms r ON r.id = m.room"
        )
        query = SELECT_FROM.format(source=source).replace("SELECT ", "SELECT r.title, x.at, ", 1)
        rows = await self._with(
            lambda c: c.fetch(
                query + " WHERE x.user_id = $1 AND x.at < $2 AND NOT m.deleted "
                "ORDER BY x.at DESC LIMIT $3",
                user_id,
                before if before is not None else 2**62,
                limit,
            )
        )
        return [
            Mentioned(message=message_of(list(row)[2:]), room=RoomBrief(id=row[4], title=row[0]))
            for row in rows
        ]

    async def message_at(self, room: str, seq: int) -> Message | None:
        message: Message | None = await self._with(lambda c: _message_at(c, room, seq))
        return message

    async def earlier(self, room: str, seq: int) -> list[Version]:
        texts = await self._with(
            lambda c: c.fetchval(
                "SELECT earlier FROM messages WHERE room = $1 AND seq = $2", room, seq
            )
        )
        return versions(texts)

    async def known_users(self, user_ids: Sequence[str]) -> set[str]:
        if not user_ids:
            return set()
        rows = await self._with(
            lambda c: c.fetch(
                "SELECT id FROM users WHERE id = ANY($1::text[]) AND erased_at IS NULL",
                list(user_ids),
            )
        )
        return {row["id"] for row in rows}

    async def slow_room(self, room_id: str, seconds: int) -> None:
        await self._with(
            lambda c: c.execute(
                "UPDATE rooms SET slow_seconds = $1 WHERE id = $2", seconds, room_id
            )
        )

    async def describe_room(self, room_id: str, title: str, description: str) -> None:
        await self._with(
            lambda c: c.execute(
                "UPDATE rooms SET title = $1, description = $2 WHERE id = $3",
                title,
                description or None,
                room_id,
            )
        )

    # -- blocks ------------------------------------------------------------------------------

    async def block(self, user_id: str, other: str, on: bool, at: int) -> None:
        if on:
            await self._with(
                lambda c: c.execute(
                    "INSERT INTO blocks (user_id, blocked, at) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    user_id,
                    other,
                    at,
                )
            )
        else:
            await self._with(
                lambda c: c.execute(
                    "DELETE FROM blocks WHERE user_id = $1 AND blocked = $2", user_id, other
                )
            )

    async def blocked(self, user_id: str, limit: int) -> list[User]:
        rows = await self._with(
            lambda c: c.fetch(
                "SELECT users.id, users.name FROM blocks JOIN users ON users.id = blocks.blocked "
                "WHERE blocks.user_id = $1 ORDER BY blocks.at DESC LIMIT $2",
                user_id,
                limit,
            )
        )
        return [User(id=r["id"], name=r["name"]) for r in rows]

    async def blocking(self, a: str, b: str) -> bool:
        found = await self._with(
            lambda c: c.fetchval(
                "SELECT 1 FROM blocks WHERE (user_id = $1 AND blocked = $2) "
                "OR (user_id = $2 AND blocked = $1)",
                a,
                b,
            )
        )
        return found is not None

    async def blockers(self, author: str, users: Sequence[str]) -> set[str]:
        if not users:
            return set()
        rows = await self._with(
            lambda c: c.fetch(
                "SELECT user_id FROM blocks WHERE blocked = $1 AND user_id = ANY($2::text[])",
                author,
                list(users),
            )
        )
        return {row["user_id"] for row in rows}

    # -- moderation --------------------------------------------------------------------------

    async def last_sent(self, room: str, user_id: str) -> int | None:
        ts = await self._with(
            lambda c: c.fetchval(
                "SELECT max(ts) FROM messages WHERE room = $1 AND user_id = $2", room, user_id
            )
        )
        return int(ts) if ts is not None else None

    async def report(self, room: str, seq: int, reporter: User, reason: str, at: int) -> Report:
        async def run(conn: asyncpg.Connection) -> Report:
            if await _message_at(conn, room, seq) is None:
                raise NoSuchMessage("no such message")
            await conn.execute(
                "INSERT INTO reports (id, room, seq, reporter_id, reporter_name, reason, at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (room, seq, reporter_id) DO NOTHING",
                keys.new_id("r", 9), room, seq, reporter.id, reporter.name, reason, at,
            )  # fmt: skip
            row = await conn.fetchrow(
                REPORT_FROM + " WHERE r.room = $1 AND r.seq = $2 AND r.reporter_id = $3",
                room, seq, reporter.id,
            )  # fmt: skip
            return report_of(row)

        stored: Report = await self._with(run)
        return stored

    async def reports(self, room: str, limit: int, report: str | None = None) -> list[Report]:
        rows = await self._with(
            lambda c: c.fetch(
                REPORT_FROM + " WHERE r.room = $1 AND r.outcome IS NULL "
                "AND ($3::text IS NULL OR r.id = $3) ORDER BY r.at LIMIT $2",
                room,
                limit,
                report,
            )
        )
        return [report_of(row) for row in rows]

    async def resolve_report(
        self, room: str, report_id: str, by: User, outcome: ReportAction, at: int
    ) -> Report | None:
        async def run(conn: asyncpg.Connection) -> Report | None:
            done = await conn.fetchval(
                "UPDATE reports SET outcome = $1, resolved_by_id = $2, resolved_by_name = $3, "
                "resolved_at = $4 WHERE id = $5 AND room = $6 AND outcome IS NULL RETURNING id",
                outcome.value, by.id, by.name, at, report_id, room,
            )  # fmt: skip
            if done is None:
                return None
            return report_of(await conn.fetchrow(REPORT_FROM + " WHERE r.id = $1", report_id))

        resolved: Report | None = await self._with(run)
        return resolved

    async def audit(self, room: str, entry: AuditEntry) -> None:
        await self._with(
            lambda c: c.execute(
                f"INSERT INTO audit (room, {AUDIT_COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                *audit_values(room, entry),
            )
        )

    async def audit_log(self, room: str, before: int | None, limit: int) -> list[AuditEntry]:
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE room = $1 AND at < $2 "
                "ORDER BY at DESC LIMIT $3",
                room,
                before if before is not None else 2**62,
                limit,
            )
        )
        return [audit_of(row) for row in rows]

    # -- tables ----------------------------------------------------------------------------

    async def due_rooms(self, now: int, limit: int) -> list[str]:
        rows = await self._with(
            lambda c: c.fetch(
                "SELECT id FROM rooms WHERE due_at IS NOT NULL AND due_at <= $1 "
                "ORDER BY due_at LIMIT $2",
                now,
                limit,
            )
        )
        return [row["id"] for row in rows]

    async def sat_together(self, pairs: list[tuple[str, str]], room: str, at: int) -> None:
        await self.encounter(pairs, room, How.TABLE, at)

    async def encounter(
        self, pairs: Sequence[tuple[str, str]], room: str, how: How, at: int
    ) -> None:
        await self._with(
            lambda c: c.executemany(
                ENCOUNTER, [(*sorted(pair), room, at, how.value) for pair in pairs]
            )
        )

    async def encounters(self, user: str, limit: int) -> list[Encounter]:
        rows = await self._with(lambda c: c.fetch(ENCOUNTERS_SQL, user, limit))
        return [encounter(*row) for row in rows]

    async def nudge(self, user: str, other: str, at: int, quiet_since: int) -> bool:
        told = await self._with(
            lambda c: c.fetchval(NUDGE + " RETURNING 1", user, other, at, quiet_since)
        )
        return told is not None

    async def have_sat_together(self, a: str, b: str) -> str | None:
        first, second = sorted((a, b))
        room: str | None = await self._with(
            lambda c: c.fetchval(
                "SELECT room FROM encounters WHERE user_a = $1 AND user_b = $2", first, second
            )
        )
        return room

    async def stay(self, user: str, other: str, room: str | None, at: int) -> Wish:
        async def upsert(conn: asyncpg.Connection) -> Wish:
            async with conn.transaction():
                # The pair's lock: of two wishes at once, the second sees the first.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", " ".join(sorted((user, other)))
                )
                new = await conn.fetchval(
                    "INSERT INTO wishes (from_user, to_user, room, at) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (from_user, to_user) DO NOTHING RETURNING 1",
                    user,
                    other,
                    room or "",
                    at,
                )
                found = await conn.fetchval(
                    "SELECT 1 FROM wishes WHERE from_user = $1 AND to_user = $2", other, user
                )
                if found is not None:
                    for owner, viewer in ((user, other), (other, user)):
                        await conn.execute(
                            card_rows.SHARE_ON_MEETING, owner, viewer, card_rows.DEFAULT_SHARE
                        )
            return Wish(new=new is not None, mutual=found is not None)

        wish: Wish = await self._with(upsert)
        return wish

    async def decline(self, user: str, other: str) -> None:
        await self._with(
            lambda c: c.execute(
                "UPDATE wishes SET declined = true WHERE from_user = $1 AND to_user = $2",
                other,
                user,
            )
        )

    async def unstay(self, user: str, other: str) -> bool:
        async def delete(conn: asyncpg.Connection) -> str:
            async with conn.transaction():
                status: str = await conn.execute(
                    "DELETE FROM wishes WHERE (from_user = $1 AND to_user = $2) "
                    "OR (from_user = $2 AND to_user = $1)",
                    user,
                    other,
                )
                await conn.execute(card_rows.UNSHARE, user, other)
            return status

        status: str = await self._with(delete)
        return status != "DELETE 0"

    async def cards(self, user_ids: Sequence[str]) -> dict[str, StoredCard]:
        if not user_ids:
            return {}
        rows = await self._with(
            lambda c: c.fetch(
                f"SELECT {card_rows.COLUMNS} FROM cards WHERE user_id = ANY($1::text[])",
                list(user_ids),
            )
        )
        return {row[0]: card_rows.card_of(tuple(row)[1:]) for row in rows}

    async def set_card(self, user_id: str, card: StoredCard, at: int) -> None:
        updates = ", ".join(
            f"{name} = EXCLUDED.{name}" for name in card_rows.COLUMNS.split(", ")[1:]
        )
        await self._with(
            lambda c: c.execute(
                f"INSERT INTO cards ({card_rows.COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
                f"ON CONFLICT (user_id) DO UPDATE SET {updates}",
                *card_rows.values(user_id, card, at),
            )
        )

    async def card_shares(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[CardField, ...]]:
        if not pairs:
            return {}
        rows = await self._with(
            lambda c: c.fetch(
                "SELECT s.owner, s.viewer, s.fields FROM unnest($1::text[], $2::text[]) "
                "AS p (owner, viewer) JOIN card_shares s ON s.owner = p.owner "
                "AND s.viewer = p.viewer",
                [owner for owner, _ in pairs],
                [viewer for _, viewer in pairs],
            )
        )
        return {(row[0], row[1]): card_rows.fields_of(row[2]) for row in rows}

    async def share_card(self, owner: str, viewer: str, fields: Sequence[CardField]) -> bool:
        status: str = await self._with(
            lambda c: c.execute(card_rows.SHARE, owner, viewer, card_rows.joined(fields))
        )
        return status != "INSERT 0 0"

    async def people_met(self, user: str, limit: int) -> list[Met]:
        return await self._people("met", user, limit)

    async def wishes(self, user: str, limit: int) -> tuple[list[Met], list[Met]]:
        return await self._people("asked", user, limit), await self._people("asking", user, limit)

    async def _people(self, kind: str, user: str, limit: int) -> list[Met]:
        rows = await self._with(lambda c: c.fetch(PEOPLE_SQL[kind], user, limit))
        return [met(*row) for row in rows]

    async def everyone_met(self, user: str, limit: int) -> list[Met]:
        return await self._people("everyone_met", user, limit)

    # -- your data ---------------------------------------------------------------------------

    async def written(self, user_id: str, after: str | None, limit: int) -> Page:
        ts, _, message_id = (after or "-1:").partition(":")
        # By (ts, id) from the index on (user_id, ts): a page costs ``limit`` rows however
        # many the user wrote.
        rows = await self._with(
            lambda c: c.fetch(
                SELECT + " WHERE m.user_id = $1 AND m.ts >= $2 AND (m.ts, m.id) > ($2, $3) "
                "ORDER BY m.ts, m.id LIMIT $4",
                user_id,
                int(ts),
                message_id,
                limit,
            )
        )
        found = [message_of(row) for row in rows]
        mark = f"{found[-1].ts}:{found[-1].id}" if len(found) == limit else None
        return Page(found, mark)

    async def erase_user(self, user_id: str, messages: Erasure, at: int) -> Erased:
        async def erase(conn: asyncpg.Connection) -> Erased:
            async with conn.transaction():
                return await _erase(conn, user_id, messages, at)

        erased: Erased = await self._with(erase)
        return erased


_MENTIONING = '%"{}"%'
"""A LIKE pattern of JSON holding a user's id as a string (ids are letters and digits)."""

_TOMBSTONE = (
    ", text = '', deleted = true, reactions = NULL, mentions = NULL, edited_at = NULL, "
    "earlier = NULL, link = false, pinned = false, pinned_at = NULL, pinned_by_id = NULL, "
    "pinned_by_name = NULL, search = ''::tsvector"
)
"""What ``changes.delete`` makes of a message, for all of a user's at once."""


async def _erase(conn: asyncpg.Connection, user_id: str, messages: Erasure, at: int) -> Erased:
    """``Archive.erase_user`` inside one transaction."""
    holding = _MENTIONING.format(user_id)
    # Every room whose row changes, locked in id order as a batch of appends locks them:
    # two transactions never wait for each other in a circle.
    touched = await conn.fetch(
        "SELECT DISTINCT room FROM messages WHERE user_id = $1 OR reactions LIKE $2 "
        "UNION SELECT id FROM rooms WHERE created_by = $1 OR state LIKE $2",
        user_id,
        holding,
    )
    await conn.execute(
        "SELECT 1 FROM rooms WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        sorted(row[0] for row in touched),
    )
    revised: dict[str, Revised] = {}

    async def take(room: str, n: int) -> int:
        """``n`` revisions of the room; the one before them."""
        rev = await conn.fetchval(
            "UPDATE rooms SET last_rev = last_rev + $1 WHERE id = $2 RETURNING last_rev", n, room
        )
        first = revised.get(room)
        revised[room] = Revised(room, first.after if first else rev - n, rev)
        return int(rev) - n

    for row in await conn.fetch(
        "SELECT room, seq, reactions FROM messages WHERE reactions LIKE $1 ORDER BY room, seq",
        holding,
    ):
        rev = await take(row["room"], 1) + 1
        await conn.execute(
            "UPDATE messages SET reactions = $1, rev = $2 WHERE room = $3 AND seq = $4",
            without_reactions(row["reactions"], user_id), rev, row["room"], row["seq"],
        )  # fmt: skip
    delete = messages == "delete"
    if delete:
        await conn.execute(
            "DELETE FROM mentions x USING messages m "
            "WHERE m.room = x.room AND m.seq = x.seq AND m.user_id = $1",
            user_id,
        )
    for row in await conn.fetch(
        "SELECT room, count(*) AS n FROM messages WHERE user_id = $1 GROUP BY room ORDER BY room",
        user_id,
    ):
        # Each message at a revision of its own, in seq order: chat:changes pages by them.
        base = await take(row["room"], row["n"])
        await conn.execute(
            "UPDATE messages AS m SET user_id = $1, user_name = $2, author = $3, "
            f"client_msg_id = m.id, rev = $4 + e.n {_TOMBSTONE if delete else ''} "
            "FROM (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM messages "
            "WHERE room = $5 AND user_id = $6) AS e WHERE m.id = e.id",
            FORMER.id, FORMER.name, FORMER.name.casefold(), base, row["room"], user_id,
        )  # fmt: skip
    for row in await conn.fetch(
        "SELECT id, state FROM rooms WHERE state LIKE $1 ORDER BY id", holding
    ):
        state = _state_decoder.decode(row["state"])
        if state.forget(user_id):
            await conn.execute(
                "UPDATE rooms SET state = $1, due_at = $2 WHERE id = $3",
                msgspec.json.encode(state).decode(), state.due(), row["id"],
            )  # fmt: skip
    unowned = await conn.fetch(
        "UPDATE rooms SET created_by = NULL WHERE created_by = $1 RETURNING id", user_id
    )
    name = FORMER.name
    for sql, *args in (
        ("UPDATE messages SET pinned_by_id = $2, pinned_by_name = $3 WHERE pinned_by_id = $1",
         FORMER.id, name),
        ("DELETE FROM profiles WHERE user_id = $1",),
        ("DELETE FROM wishes WHERE $1 IN (from_user, to_user)",),
        ("DELETE FROM encounters WHERE $1 IN (user_a, user_b)",),
        ("DELETE FROM blocks WHERE $1 IN (user_id, blocked)",),
        ("DELETE FROM mentions WHERE user_id = $1",),
        ("DELETE FROM readers WHERE user_id = $1",),
        ("UPDATE audit SET by_name = $2 WHERE by_id = $1", name),
        ("UPDATE audit SET target_name = $2 WHERE target_id = $1", name),
        ("UPDATE reports SET reporter_name = $2 WHERE reporter_id = $1", name),
        ("UPDATE reports SET resolved_by_name = $2 WHERE resolved_by_id = $1", name),
        ("UPDATE users SET name = $2, erased_at = $3 WHERE id = $1", name, at),
        # The logins stay, revoked and unlabelled, so that their tokens are refused rather
        # than taken for nobody's (a new identity).
        ("UPDATE sessions SET revoked_at = coalesce(revoked_at, $2), label = '' "
         "WHERE user_id = $1", at),
        ("DELETE FROM passkeys WHERE user_id = $1",),
        ("DELETE FROM cards WHERE user_id = $1",),
        ("DELETE FROM card_shares WHERE $1 IN (owner, viewer)",),
        ("DELETE FROM nudges WHERE $1 IN (from_user, to_user)",),
    ):  # fmt: skip
        await conn.execute(sql, user_id, *args)
    logins = await conn.fetch("SELECT id FROM sessions WHERE user_id = $1 ORDER BY id", user_id)
    return Erased(
        logins=[row["id"] for row in logins],
        revised=list(revised.values()),
        unowned=[row["id"] for row in unowned],
    )
