"""The embedded archive: SQLite in WAL mode, full-text search with FTS5.

SQLite is synchronous, so it runs in threads: one writer connection (SQLite allows one writer
at a time anyway) and one reader connection, which WAL lets read while the writer writes. The
few reads of a join or a connect, each some rows by key, run on the event loop's own
connection instead (``_peek``): it never waits, and handing them to a thread cost more than
reading them.
Chat messages are written by group commit: every ``append`` waiting when the writer becomes
free goes into one transaction and one fsync, so a busy room costs one fsync per batch rather
than per message, and each caller is answered only after that commit.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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
    Term,
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
from .commit import GroupCommit, Item, Pending, Result, Work
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
    audit_values,
    encounter,
    met,
    versions,
    with_version,
)
from .rows import SELECT as _SELECT
from .rows import SELECT_FROM as _SELECT_FROM
from .rows import audit as audit_of
from .rows import message as _message
from .rows import report as report_of
from .rows import to_json as _json
from .yourdata import FORMER, Erased, Erasure, Page, Revised, without_reactions

log = logging.getLogger(__name__)

T = TypeVar("T")

_BATCH = 256
_LOBBY = StoredRoom(id="lobby", title="Lobby", kind=RoomKind.OPEN, private=False, created_at=0)

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
_MIGRATIONS = [
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_digest TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        private INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        passcode_hash TEXT,
        host_key_hash TEXT,
        created_by TEXT,
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_at INTEGER NOT NULL DEFAULT 0
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
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        client_msg_id TEXT NOT NULL,
        UNIQUE (room, seq),
        UNIQUE (room, user_id, client_msg_id)
    );
    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text, content = 'messages', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    """,
    """
    ALTER TABLE rooms ADD COLUMN state BLOB;
    """,
    """
    ALTER TABLE rooms ADD COLUMN parent TEXT;
    ALTER TABLE rooms ADD COLUMN due_at INTEGER;
    CREATE INDEX rooms_due ON rooms (due_at) WHERE due_at IS NOT NULL;
    CREATE TABLE encounters (
        user_a TEXT NOT NULL,
        user_b TEXT NOT NULL,
        room TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (user_a, user_b)
    );
    CREATE TABLE wishes (
        from_user TEXT NOT NULL,
        to_user TEXT NOT NULL,
        room TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (from_user, to_user)
    );
    """,
    """
    ALTER TABLE rooms ADD COLUMN last_rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    ALTER TABLE messages ADD COLUMN replies INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN last_reply_at INTEGER;
    ALTER TABLE messages ADD COLUMN edited_at INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN reactions TEXT;
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    ALTER TABLE messages ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN earlier TEXT;
    CREATE INDEX messages_rev ON messages (room, rev) WHERE rev > 0;
    CREATE INDEX messages_thread ON messages (room, reply_to, seq) WHERE reply_to IS NOT NULL;
    CREATE TABLE mentions (
        user_id TEXT NOT NULL,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (user_id, room, seq)
    );
    CREATE INDEX mentions_recent ON mentions (user_id, at);
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    """,
    """
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        reporter_id TEXT NOT NULL,
        reporter_name TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL,
        outcome TEXT,
        resolved_by_id TEXT,
        resolved_by_name TEXT,
        resolved_at INTEGER,
        UNIQUE (room, seq, reporter_id)
    );
    CREATE INDEX reports_open ON reports (room, at) WHERE outcome IS NULL;
    CREATE TABLE audit (
        room TEXT NOT NULL,
        at INTEGER NOT NULL,
        by_id TEXT NOT NULL,
        by_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target_id TEXT,
        target_name TEXT,
        seq INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_room ON audit (room, at);
    """,
    """
    CREATE TABLE blocks (
        user_id TEXT NOT NULL,
        blocked TEXT NOT NULL,
        at INTEGER NOT NULL,
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
    ALTER TABLE messages ADD COLUMN link INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET author = casefold(user_name),
        link = instr(lower(text), 'http://') > 0 OR instr(lower(text), 'https://') > 0;
    UPDATE messages SET pinned = 1 WHERE (room, seq) IN (
        SELECT id, json_extract(CAST(state AS TEXT), '$.pinned.seq') FROM rooms
        WHERE state IS NOT NULL AND json_extract(CAST(state AS TEXT), '$.pinned.seq') IS NOT NULL
    );
    CREATE INDEX messages_user ON messages (user_id);
    CREATE INDEX messages_author ON messages (author);
    CREATE INDEX messages_ts ON messages (ts);
    CREATE INDEX messages_link ON messages (ts) WHERE link;
    CREATE INDEX messages_pinned ON messages (room) WHERE pinned;
    CREATE TABLE readers (
        user_id TEXT NOT NULL,
        room TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (user_id, room)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO readers (user_id, room, at)
        SELECT m.user_id, m.room, min(m.ts) FROM messages m JOIN rooms r ON r.id = m.room
        WHERE r.private AND r.kind != 'dm' GROUP BY m.user_id, m.room;
    INSERT OR IGNORE INTO readers (user_id, room, at)
        SELECT j.value, r.id, r.created_at FROM rooms r, json_each(CAST(r.state AS TEXT), '$.sat') j
        WHERE r.kind = 'table' AND r.state IS NOT NULL;
    """,
    # Every word of the searchable texts, once: a search's prefix (``acc*``) becomes the
    # words it begins, since FTS5 reads every match of a prefix (``_expand``).
    """
    CREATE TABLE words (word TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE VIRTUAL TABLE temp.messages_vocab USING fts5vocab (main, messages_fts, 'row');
    INSERT INTO words SELECT term FROM temp.messages_vocab;
    DROP TABLE temp.messages_vocab;
    """,
    # Pins in every room (docs/protocol.md, "chat:pin"): who pinned and when, beside the flag
    # search reads; a workshop's pin from before counts as pinned when it was sent.
    """
    ALTER TABLE messages ADD COLUMN pinned_at INTEGER;
    ALTER TABLE messages ADD COLUMN pinned_by_id TEXT;
    ALTER TABLE messages ADD COLUMN pinned_by_name TEXT;
    UPDATE messages SET pinned_at = ts WHERE pinned;
    """,
    # "Stay in touch" with anybody: a request can be declined, never saying so (people:decline).
    """
    ALTER TABLE wishes ADD COLUMN declined INTEGER NOT NULL DEFAULT 0;
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
        invisible INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    """,
    # Sessions instead of eternal tokens (docs/security.md, "Sessions"): every token becomes a
    # login, seen at the upgrade. users.token_digest is no longer read, but SQLite cannot drop
    # a UNIQUE column: it is overwritten with the user's id (``create_user`` writes that too).
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        token_digest TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    INSERT INTO sessions (id, user_id, token_digest, label, created_at, seen_at)
        SELECT 's' || lower(hex(randomblob(9))), id, token_digest, '', created_at,
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM users;
    UPDATE users SET token_digest = id;
    """,
    # Passkeys (docs/security.md, "Passkeys"): WebAuthn credentials of a user, and the
    # challenges of ceremonies under way, which any process may be asked to finish.
    """
    CREATE TABLE passkeys (
        id TEXT PRIMARY KEY,
        credential_id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        public_key BLOB NOT NULL,
        sign_count INTEGER NOT NULL,
        name TEXT NOT NULL,
        transports TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        used_at INTEGER
    );
    CREATE INDEX passkeys_user ON passkeys (user_id);
    CREATE TABLE passkey_challenges (
        value TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        user_id TEXT,
        login_id TEXT
    );
    CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
    """,
    """
    -- An erased person (account:erase): the row stays, so that their old tokens are refused,
    -- but nobody can open a conversation with them or ask them to stay in touch.
    ALTER TABLE users ADD COLUMN erased_at INTEGER;
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
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE card_shares (
        owner TEXT NOT NULL,
        viewer TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (owner, viewer)
    ) WITHOUT ROWID;
    CREATE INDEX card_shares_viewer ON card_shares (viewer);
    ALTER TABLE encounters ADD COLUMN how TEXT NOT NULL DEFAULT 'table';
    CREATE INDEX encounters_b ON encounters (user_b);
    CREATE TABLE nudges (
        from_user TEXT NOT NULL,
        to_user TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (from_user, to_user)
    ) WITHOUT ROWID;
    """,
    # Workshop recordings (server/recordings.py): a row per recording, written at its start
    # and its stop; its files' facts as JSON.
    """
    CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        title TEXT NOT NULL,
        started_by TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        stopped_by TEXT,
        stopped_at INTEGER,
        state TEXT NOT NULL,
        guests_may_watch INTEGER NOT NULL DEFAULT 0,
        folder TEXT NOT NULL,
        process TEXT NOT NULL,
        files TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recordings_room ON recordings (room, started_at);
    CREATE INDEX recordings_state ON recordings (state);
    """,
]

_MESSAGE_COLUMNS = "id, seq, room, user_id, user_name, text, ts, client_msg_id"
_ROOM_COLUMNS = (
    "id, title, kind, private, created_at, passcode_hash, host_key_hash, created_by, parent"
)
_ROOM_SELECT = _ROOM_COLUMNS + ", description, slow_seconds"
"""A room as read (``describe_room`` and ``slow_room`` write the last two, never an insert)."""


# Errors of the storage, not of our SQL: the request may succeed later.
_UNAVAILABLE = {
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOMEM",
}


def _unavailable(exc: sqlite3.Error) -> bool:
    # Extended codes (SQLITE_IOERR_FSYNC) belong to their primary code (SQLITE_IOERR).
    name = getattr(exc, "sqlite_errorname", "") or ""
    return "_".join(name.split("_")[:2]) in _UNAVAILABLE


def _failure(exc: Exception) -> Exception:
    """What the callers of a failed batch are told."""
    if isinstance(exc, sqlite3.Error) and _unavailable(exc):
        return Unavailable(str(exc))
    return exc


def _rev(conn: Callable[[], sqlite3.Connection], room: str) -> int:
    row = conn().execute("SELECT last_rev FROM rooms WHERE id = ?", (room,)).fetchone()
    if row is None:
        raise NoSuchRoom(room)
    return int(row[0])


def _message_at(conn: sqlite3.Connection, room: str, seq: int) -> Message | None:
    row = conn.execute(_SELECT + " WHERE m.room = ? AND m.seq = ?", (room, seq)).fetchone()
    return _message(row) if row else None


def _at(conn: sqlite3.Connection, room: str, seq: int) -> Message:
    message = _message_at(conn, room, seq)
    if message is None:
        raise NoSuchMessage("no such message")
    return message


def _store_change(conn: sqlite3.Connection, change: Change) -> Message:
    """Store a changed message at the room's next revision; the message as stored."""
    m, by = change.message, change.message.pinned_by
    (text, earlier) = conn.execute(
        "SELECT text, earlier FROM messages WHERE room = ? AND seq = ?", (m.room, m.seq)
    ).fetchone()
    if m.text != text:
        _add_words(conn, m.text)
    (rev,) = conn.execute(
        "UPDATE rooms SET last_rev = last_rev + 1 WHERE id = ? RETURNING last_rev", (m.room,)
    ).fetchone()
    conn.execute(
        "UPDATE messages SET text = ?, edited_at = ?, deleted = ?, reactions = ?, mentions = ?, "
        "replies = ?, last_reply_at = ?, rev = ?, link = ?, pinned = ?, pinned_at = ?, "
        "pinned_by_id = ?, pinned_by_name = ? WHERE room = ? AND seq = ?",
        (m.text, m.edited_at, int(m.deleted), _json(m.reactions), _json(m.mentions), m.replies,
         m.last_reply_at, rev, has_link(m.text), m.pinned_at is not None, m.pinned_at,
         by.id if by else None, by.name if by else None, m.room, m.seq),
    )  # fmt: skip
    if change.earlier is not None:
        conn.execute(
            "UPDATE messages SET earlier = ? WHERE room = ? AND seq = ?",
            (with_version(earlier, change.earlier), m.room, m.seq),
        )
    if change.purge:
        conn.execute(
            "UPDATE messages SET earlier = NULL WHERE room = ? AND seq = ?", (m.room, m.seq)
        )
        _forget_words(conn, [text, *(version.text for version in versions(earlier))])
    # Mentions that the text no longer makes are no longer listed.
    conn.execute(
        "DELETE FROM mentions WHERE room = ? AND seq = ? AND user_id NOT IN "
        "(SELECT value FROM json_each(?))",
        (m.room, m.seq, _json(m.mentions) or "[]"),
    )
    return _at(conn, m.room, m.seq)


def _add_words(conn: sqlite3.Connection, *texts: str) -> None:
    """Note the words of new texts (``words``, ``_expand``)."""
    words = {word for text in texts for word in _TOKEN.findall(fold(text))}
    if words:
        conn.execute(
            "INSERT OR IGNORE INTO words SELECT value FROM json_each(?)", (_json(list(words)),)
        )


def _forget_words(conn: sqlite3.Connection, texts: Sequence[str]) -> None:
    """Forget the words of deleted texts that no searchable message holds any more: a
    deleted message leaves nothing of its text behind."""
    words = {word for text in texts for word in _TOKEN.findall(fold(text))}
    conn.executemany(
        "DELETE FROM words WHERE word = ?1 AND NOT EXISTS "
        "(SELECT 1 FROM messages_fts WHERE messages_fts MATCH '\"' || ?1 || '\"')",
        [(word,) for word in words],
    )


def _room_for_a_pin(conn: sqlite3.Connection, room: str) -> None:
    (pinned,) = conn.execute(
        "SELECT count(*) FROM messages WHERE room = ? AND pinned", (room,)
    ).fetchone()
    if pinned >= rules.PINS_MAX:
        raise rules.TooManyPins(f"a room holds at most {rules.PINS_MAX} pinned messages")


def _numbered(sql: str) -> str:
    """PostgreSQL's ``$n`` parameters as SQLite's ``?n`` (the two read them alike)."""
    return re.sub(r"\$(\d)", r"?\1", sql)


def _people(conn: sqlite3.Connection, sql: str, user: str, limit: int) -> list[Met]:
    rows = conn.execute(_numbered(sql), (user, limit)).fetchall()
    return [met(*row) for row in rows]


def _notify(conn: sqlite3.Connection, room: str, seq: int, users: Sequence[str], at: int) -> None:
    conn.executemany(
        "INSERT INTO mentions (user_id, room, seq, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(user, room, seq, at) for user in users],
    )


def _room(row: tuple[Any, ...], dm_users: tuple[str, str] | None = None) -> StoredRoom:
    return StoredRoom(
        id=row[0],
        title=row[1],
        kind=RoomKind(row[2]),
        private=bool(row[3]),
        created_at=row[4],
        passcode_hash=row[5],
        host_key_hash=row[6],
        created_by=row[7],
        dm_users=dm_users,
        parent=row[8],
        description=row[9] or "",
        slow_seconds=row[10],
    )


_state_decoder = msgspec.json.Decoder(RoomState)


def _casefold(value: str | None) -> str | None:
    return value.casefold() if isinstance(value, str) else value


def fts_query(query: str) -> str | None:
    """Turn what a person typed into an FTS5 query: every word must match (``terms``).

    Words are quoted so that FTS5 operators (AND, NEAR, ``:``) in the input are just text.
    """
    return _match(terms(query)) or None


def _match(words: Sequence[Term]) -> str:
    return " ".join(f'"{t.word}"' + ("*" if t.prefix else "") for t in words)


_EXPAND_MAX = 50
"""A prefix that begins at most this many words is searched as those words (``_expand``)."""


def _expand(conn: sqlite3.Connection, words: Sequence[Term]) -> str | None:
    """``_match``, with each prefix as the words it begins (``("acc" OR "accounts")``), or
    None if a prefix begins no word at all.

    FTS5 reads every match of a prefix before it returns the first (30-60 ms for a common
    word in a million messages); a few whole words it walks incrementally, and only as far
    as needed. A last word that begins more than ``_EXPAND_MAX`` words and is one itself
    (``go``) is searched as that word: it says too little to stand for all of them. Other
    prefixes that long, and those the person asked for (``go*``), are left to FTS5
    (``_native``)
    """
    parts = []
    for term in words:
        if not term.prefix:
            parts.append(f'"{term.word}"')
            continue
        found = conn.execute(
            "SELECT word FROM words WHERE word >= ? AND word < ? LIMIT ?",
            (term.word, term.word + "\U0010ffff", _EXPAND_MAX + 1),
        ).fetchall()
        if not found:
            return None
        if len(found) <= _EXPAND_MAX:
            parts.append("(" + " OR ".join(f'"{word}"' for (word,) in found) + ")")
        elif found[0][0] == term.word and not term.asked:
            parts.append(f'"{term.word}"')
        else:
            parts.append(f'"{term.word}"*')
    return " AND ".join(parts)


def _native(match: str) -> bool:
    """The match holds a prefix FTS5 expands itself (words are quoted letters and digits)."""
    return "*" in match


_READABLE = (
    "((NOT r.private AND r.kind IN ('open', 'coffee', 'workshop')) "
    "OR EXISTS (SELECT 1 FROM readers x WHERE x.user_id = :user AND x.room = r.id) "
    "OR EXISTS (SELECT 1 FROM dms d WHERE d.room = r.id AND :user IN (d.user_a, d.user_b)))"
)
"""The rooms ``r`` that the user ``:user`` may read (``Archive.search_readable``)."""

_TOKEN = re.compile(r"[^\W_]+")
"""A token as FTS5's unicode61 tokenizer makes them: letters and digits."""

_DRIVE_MAX = 2000
"""A filter that holds for at most this many messages drives a search: its messages are
read (by its index) and checked, rather than the words' matches read and checked against it
(docs/benchmarks.md, "Search")."""

_WINDOWS = (64, 8, 0)
"""The newest 1/64 of the messages, then 1/8, then all (0): where matches are looked for."""

_SAMPLE = 500
"""How many of a word's newest matches estimate how common it is (``_frequency``)."""


def _listed(params: dict[str, Any], key: str, values: Sequence[Any]) -> str:
    """``(:key0, :key1, ...)`` with the values in ``params``: lists the planner can see."""
    for i, value in enumerate(values):
        params[f"{key}{i}"] = value
    return "(" + ", ".join(f":{key}{i}" for i in range(len(values))) + ")"


def _search(conn: sqlite3.Connection, user_id: str, query: Query, limit: int) -> list[Hit]:
    """``Archive.search_readable``, in the reader thread."""
    if query.impossible:
        return []
    params: dict[str, Any] = {"user": user_id}
    where = ["NOT m.deleted"]
    drivers: list[str] = []
    """Conditions that an index answers alone: one of them may drive the search."""
    if query.rooms:
        rows = conn.execute(
            "SELECT id FROM rooms r WHERE (r.id IN (SELECT value FROM json_each(:rooms)) OR "
            "casefold(r.title) IN (SELECT casefold(value) FROM json_each(:rooms))) AND "
            + _READABLE,
            {"user": user_id, "rooms": _json(query.rooms)},
        ).fetchall()
        if not rows:
            return []
        drivers.append(f"m.room IN {_listed(params, 'in', [row[0] for row in rows])}")
    else:
        where.append(_READABLE)
    if query.users or query.names:
        users = _listed(params, "user", query.users or [""])
        names = _listed(params, "name", [name.casefold() for name in query.names] or [""])
        drivers.append(f"(m.user_id IN {users} OR m.author IN {names})")
    if query.since is not None or query.until is not None:
        params["since"] = query.since if query.since is not None else 0
        params["until"] = query.until if query.until is not None else 2**62
        drivers.append("m.ts >= :since AND m.ts < :until")
    if query.pinned:
        drivers.append("m.pinned")
    if query.link:
        where.append("m.link")
    conditions = " AND ".join(where + drivers)
    source = "messages m CROSS JOIN rooms r ON r.id = m.room"
    words = terms(" ".join(query.words))
    if query.words and not words:
        return []

    def count(sql: str) -> int:
        (n,) = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {sql} LIMIT {_DRIVE_MAX + 1})", params
        ).fetchone()
        return int(n)

    # The filter holding for fewest messages, if few enough to read them all.
    driver, size = None, _DRIVE_MAX + 1
    for condition in drivers:
        n = count(f"messages m WHERE {condition}")
        if n < size:
            driver, size = condition, n
    if not words:
        found = conn.execute(
            f"SELECT m.rowid FROM {source} WHERE {conditions} "
            "ORDER BY m.ts DESC, m.rowid DESC LIMIT :limit",
            {**params, "limit": limit},
        ).fetchall()
        return _hits(conn, [row[0] for row in found])
    params["match"] = _expand(conn, words)
    if params["match"] is None:
        return []
    if driver is not None:
        # Few messages to check: all of them, by the filter's index.
        rows = conn.execute(
            f"SELECT m.rowid, m.ts, m.text FROM {source} WHERE {conditions}", params
        ).fetchall()
    else:
        # The words' matches, newest first, each checked. FTS5 reads a prefix's every match
        # before the first (``_expand``): then the newest part of the archive is searched
        # first, then a wider part, until enough are found.
        (last,) = conn.execute("SELECT max(rowid) FROM messages").fetchone()
        last = last or 0
        for share in _WINDOWS if _native(params["match"]) else (0,):
            rows = conn.execute(
                "SELECT m.rowid, m.ts, m.text FROM messages_fts CROSS JOIN messages m "
                "ON m.rowid = messages_fts.rowid CROSS JOIN rooms r ON r.id = m.room "
                f"WHERE messages_fts MATCH :match AND messages_fts.rowid >= :low "
                f"AND {conditions} ORDER BY messages_fts.rowid DESC LIMIT :among",
                {**params, "among": RANK_AMONG, "low": last - last // share if share else 0},
            ).fetchall()
            if len(rows) == RANK_AMONG:
                break
    ranked = _bm25(rows, words, lambda n: _frequency(conn, words[n]))
    return _hits(conn, [rowid for rowid, _ in ranked[:limit]])


def _frequency(conn: sqlite3.Connection, term: Term) -> tuple[int, int]:
    """In how many messages ``term`` is, and how many there are.

    Counting a common word's matches would read all of them (what FTS5's bm25() does on
    every query): the oldest ``_SAMPLE`` are read, and the rowids they span tell the rest.
    """
    (total,) = conn.execute("SELECT max(rowid) FROM messages").fetchone()
    total = total or 1
    match = _expand(conn, [term])
    if match is None:
        return 0, total
    rows = conn.execute(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?", (match, _SAMPLE)
    ).fetchall()
    if len(rows) < _SAMPLE:
        return len(rows), total
    return min(total, round(_SAMPLE * total / max(1, rows[-1][0]))), total


def _bm25(
    rows: list[tuple[int, int, str]],
    words: list[Term],
    frequency: Callable[[int], tuple[int, int]],
) -> list[tuple[int, float]]:
    """The rows (rowid, ts, text) holding every term, the newest ``RANK_AMONG`` of them,
    best first: (rowid, score).

    The score is FTS5's bm25 (k1 1.2, b 0.75), computed here for these rows only: bm25()
    in SQL reads every match of each word to count them, on every query (tens of ms for a
    common word in a million messages). ``frequency(i)``: term i's messages and all
    messages (``_frequency``).
    """
    # Each term counted by a regular expression over the folded text: no token lists.
    patterns = [
        re.compile(rf"(?<![^\W_]){re.escape(t.word)}" + ("" if t.prefix else r"(?![^\W_])"))
        for t in words
    ]
    counted = []
    for rowid, ts, text in rows:
        folded = fold(text)
        tf = [len(pattern.findall(folded)) for pattern in patterns]
        if all(tf):
            counted.append((rowid, ts, len(_TOKEN.findall(folded)), tf))
    counted.sort(key=lambda row: (-row[1], -row[0]))
    counted = counted[:RANK_AMONG]
    if not counted:
        return []
    average = sum(length for _, _, length, _ in counted) / len(counted)
    idf = []
    for i in range(len(words)):
        holding, total = frequency(i)
        idf.append(max(1e-6, math.log((total - holding + 0.5) / (holding + 0.5))))
    scored = []
    for rowid, ts, length, tf in counted:
        norm = 1.2 * (0.25 + 0.75 * length / average)
        score = sum(w * f * 2.2 / (f + norm) for w, f in zip(idf, tf, strict=True))
        scored.append((rowid, score, ts))
    scored.sort(key=lambda row: (-row[1], -row[2], -row[0]))
    return [(rowid, score) for rowid, score, _ in scored]


def _hits(conn: sqlite3.Connection, rowids: list[int]) -> list[Hit]:
    """The messages of these rowids, in this order, with their rooms."""
    if not rowids:
        return []
    select = _SELECT_FROM.format(source="messages m JOIN rooms r ON r.id = m.room").replace(
        "SELECT ", "SELECT m.rowid, r.title, r.kind, ", 1
    )
    rows = conn.execute(
        select + " WHERE m.rowid IN (SELECT value FROM json_each(?))", (_json(rowids),)
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    return [
        Hit(message=_message(row[3:]), title=row[1], kind=RoomKind(row[2]))
        for row in (by_id[rowid] for rowid in rowids)
    ]


class SqliteArchive:
    def __init__(self, path: Path, *, synchronous: str = "FULL", batch: int = _BATCH) -> None:
        self.path = path
        self._synchronous = synchronous
        self._thread = threading.local()
        self._writer = ThreadPoolExecutor(1, "archive-writer", self._connect)
        self._reader = ThreadPoolExecutor(1, "archive-reader", self._connect)
        self._commits = GroupCommit(repr(self), self._append_batch, _failure, batch)
        self._closed = False
        self._lock: Any = None
        """The data folder's write lock (``_exclusive``), opened by the writer thread."""

    def __repr__(self) -> str:
        return f"SqliteArchive({self.path})"

    # -- threads ---------------------------------------------------------------------------

    def _connect(self, timeout: float = 10) -> None:
        # Runs once in each of the two threads (and on the event loop's, for ``_peek``):
        # every thread keeps its own connection.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Case folded as Python folds it, for titles and names searched (``search_readable``).
        conn.create_function("casefold", 1, _casefold, deterministic=True)
        self._thread.conn = conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = self._thread.conn
        return conn

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise Unavailable("archive is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, fn, *args)
        except sqlite3.Error as exc:
            if not _unavailable(exc):
                raise
            log.warning("%r: %s", self, exc)
            raise Unavailable(str(exc)) from exc

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._writer, self._exclusive, fn, *args)

    def _exclusive(self, fn: Callable[..., T], *args: Any) -> T:
        # Processes sharing the data folder take turns to write through a lock of the
        # kernel's, which wakes a waiting writer the moment the other is done; SQLite's own
        # busy handler would sleep and retry (1, 2, 5, 10 ms...), a whole commit's time or
        # more, on every collision (docs/benchmarks.md, issue 13).
        if self._lock is None:
            self._lock = open(self.path.with_name(self.path.name + ".lock"), "w")  # noqa: SIM115
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            return fn(*args)
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._reader, fn, *args)

    async def _peek(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of a few rows by key (a join's), on the event loop's own thread.

        Handing it to the reader thread and back costs more than the read (two thread
        switches and a wait for the GIL: docs/benchmarks.md, issue 17). The loop's
        connection never waits: a read SQLite cannot start at once (``SQLITE_BUSY``, which
        WAL makes rare: a database being recovered) goes to the reader thread instead.
        """
        if self._closed:
            raise Unavailable("archive is closed")
        if getattr(self._thread, "conn", None) is None:
            self._connect(timeout=0)
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                return await self._read(fn, *args)
            if not _unavailable(exc):
                raise
            log.warning("%r: %s", self, exc)
            raise Unavailable(str(exc)) from exc

    # -- life cycle ------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._write(self._migrate)
        self._commits.start()

    def _migrate(self) -> None:
        conn = self._conn()
        # Several processes may start at once on one data folder: one migrates (holding the
        # write lock, ``_write``), the others wait for it and then find the schema current.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
            log.info("%r: schema migrated to version %d", self, number)
        conn.execute(
            f"INSERT OR IGNORE INTO rooms ({_ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_LOBBY.id, _LOBBY.title, _LOBBY.kind.value, 0, 0, None, None, None, None),
        )

    async def close(self) -> None:
        await self._commits.stop()
        self._closed = True
        for pool in (self._writer, self._reader):
            pool.submit(lambda: self._conn().close()).result()
            pool.shutdown()
        if getattr(self._thread, "conn", None) is not None:  # the loop's (``_peek``)
            self._conn().close()
            self._thread.conn = None
        if self._lock is not None:
            self._lock.close()

    async def healthy(self) -> bool:
        try:
            return bool(await self._read(lambda: self._conn().execute("SELECT 1").fetchone()))
        except Unavailable:
            return False

    # -- users -----------------------------------------------------------------------------

    async def create_user(self, name: str, login: NewLogin) -> User:
        user = User(id=keys.new_id("u"), name=name)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO users (id, name, token_digest, created_at) VALUES (?, ?, ?, ?)",
                (user.id, name, user.id, login.at),
            )
            self._insert_login(conn, user.id, login)

        # In the commit loop's next transaction: many new users, one fsync.
        await self._commits.do(insert)
        return user

    @staticmethod
    def _insert_login(conn: sqlite3.Connection, user_id: str, login: NewLogin) -> None:
        conn.execute(
            "INSERT INTO sessions (id, user_id, token_digest, label, created_at, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (login.id, user_id, login.token_digest, login.label, login.at, login.at),
        )

    async def add_login(self, user_id: str, login: NewLogin) -> None:
        await self._commits.do(lambda conn: self._insert_login(conn, user_id, login))

    async def login_by_token(self, token_digest: str) -> Login | None:
        def select() -> Login | None:
            query = f"{_LOGIN} WHERE s.token_digest = ?"
            row = self._conn().execute(query, (token_digest,)).fetchone()
            return _login(row) if row else None

        return await self._peek(select)

    async def logins(self, user_id: str, limit: int) -> list[Login]:
        def select() -> list[Login]:
            query = (
                f"{_LOGIN} WHERE s.user_id = ? AND s.revoked_at IS NULL "
                "ORDER BY s.seen_at DESC, s.id LIMIT ?"
            )
            return [_login(row) for row in self._conn().execute(query, (user_id, limit))]

        return await self._read(select)

    async def touch_logins(self, ids: Sequence[str], at: int) -> None:
        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sessions SET seen_at = ? WHERE id IN (SELECT value FROM json_each(?))",
                (at, _json(list(ids))),
            )

        await self._commits.do(update)

    async def revoke_logins(
        self, user_id: str, at: int, ids: Sequence[str] | None, keep: str | None = None
    ) -> list[str]:
        def update() -> list[str]:
            chosen = "1" if ids is None else "id IN (SELECT value FROM json_each(?))"
            rows = self._conn().execute(
                f"UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL "
                f"AND id IS NOT ? AND {chosen} RETURNING id",
                (at, user_id, keep) + (() if ids is None else (_json(list(ids)),)),
            )
            return sorted(row[0] for row in rows)

        return await self._write(update)

    # -- recordings ------------------------------------------------------------------------

    async def save_recording(self, recording: StoredRecording) -> None:
        def upsert() -> None:
            self._conn().execute(
                f"INSERT OR REPLACE INTO recordings ({recording_rows.COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                recording_rows.values(recording),
            )

        await self._write(upsert)

    async def recording(self, recording_id: str) -> StoredRecording | None:
        def select() -> StoredRecording | None:
            row = (
                self._conn()
                .execute(
                    f"SELECT {recording_rows.COLUMNS} FROM recordings WHERE id = ?",
                    (recording_id,),
                )
                .fetchone()
            )
            return recording_rows.recording_of(row) if row else None

        return await self._read(select)

    async def recordings_running(self) -> list[StoredRecording]:
        def select() -> list[StoredRecording]:
            rows = self._conn().execute(
                f"SELECT {recording_rows.COLUMNS} FROM recordings WHERE state = ? "
                "ORDER BY started_at, id",
                (RecordingState.RECORDING.value,),
            )
            return [recording_rows.recording_of(row) for row in rows]

        return await self._read(select)

    # -- passkeys --------------------------------------------------------------------------

    async def add_passkey(self, passkey: StoredPasskey) -> bool:
        def insert() -> bool:
            cursor = self._conn().execute(
                f"INSERT INTO passkeys ({passkey_rows.COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (credential_id) DO NOTHING",
                passkey_rows.values(passkey),
            )
            return bool(cursor.rowcount)

        return await self._write(insert)

    async def passkeys(self, user_id: str) -> list[StoredPasskey]:
        def select() -> list[StoredPasskey]:
            rows = self._conn().execute(
                f"SELECT {passkey_rows.COLUMNS} FROM passkeys WHERE user_id = ? "
                "ORDER BY created_at, id",
                (user_id,),
            )
            return [passkey_rows.passkey_of(row) for row in rows]

        return await self._read(select)

    async def passkey_by_credential(self, credential_id: str) -> StoredPasskey | None:
        def select() -> StoredPasskey | None:
            row = (
                self._conn()
                .execute(
                    f"SELECT {passkey_rows.COLUMNS} FROM passkeys WHERE credential_id = ?",
                    (credential_id,),
                )
                .fetchone()
            )
            return passkey_rows.passkey_of(row) if row else None

        return await self._read(select)

    async def use_passkey(self, passkey_id: str, sign_count: int, at: int) -> bool:
        def update() -> bool:
            cursor = self._conn().execute(
                "UPDATE passkeys SET sign_count = ?2, used_at = ?3 WHERE id = ?1 "
                "AND (sign_count < ?2 OR (?2 = 0 AND sign_count = 0))",
                (passkey_id, sign_count, at),
            )
            return bool(cursor.rowcount)

        return await self._write(update)

    async def rename_passkey(self, user_id: str, passkey_id: str, name: str) -> bool:
        def update() -> bool:
            cursor = self._conn().execute(
                "UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?",
                (name, passkey_id, user_id),
            )
            return bool(cursor.rowcount)

        return await self._write(update)

    async def remove_passkey(self, user_id: str, passkey_id: str) -> bool:
        def delete() -> bool:
            cursor = self._conn().execute(
                "DELETE FROM passkeys WHERE id = ? AND user_id = ?", (passkey_id, user_id)
            )
            return bool(cursor.rowcount)

        return await self._write(delete)

    async def remove_passkeys(self, user_id: str) -> int:
        def delete() -> int:
            cursor = self._conn().execute("DELETE FROM passkeys WHERE user_id = ?", (user_id,))
            return int(cursor.rowcount)

        return await self._write(delete)

    async def add_challenge(self, challenge: Challenge, now: int) -> None:
        def insert() -> None:
            conn = self._conn()
            conn.execute("DELETE FROM passkey_challenges WHERE expires_at < ?", (now,))
            conn.execute(
                f"INSERT INTO passkey_challenges ({passkey_rows.CHALLENGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?)",
                passkey_rows.challenge_values(challenge),
            )

        await self._write(insert)

    async def take_challenge(self, value: str) -> Challenge | None:
        def delete() -> Challenge | None:
            row = (
                self._conn()
                .execute(
                    f"DELETE FROM passkey_challenges WHERE value = ? "
                    f"RETURNING {passkey_rows.CHALLENGE_COLUMNS}",
                    (value,),
                )
                .fetchone()
            )
            return passkey_rows.challenge_of(row) if row else None

        return await self._write(delete)

    async def get_user(self, user_id: str) -> User | None:
        def select() -> User | None:
            row = (
                self._conn()
                .execute(
                    "SELECT id, name FROM users WHERE id = ? AND erased_at IS NULL", (user_id,)
                )
                .fetchone()
            )
            return User(id=row[0], name=row[1]) if row else None

        return await self._peek(select)

    async def rename_user(self, user_id: str, name: str) -> None:
        def update() -> None:
            self._conn().execute("UPDATE users SET name = ? WHERE id = ?", (name, user_id))

        await self._write(update)

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        if not user_ids:
            return {}

        def select() -> dict[str, StoredProfile]:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {profile_rows.COLUMNS} FROM profiles "
                    "WHERE user_id IN (SELECT value FROM json_each(?))",
                    (msgspec.json.encode(list(user_ids)).decode(),),
                )
                .fetchall()
            )
            return {row[0]: profile_rows.profile_of(row[1:]) for row in rows}

        return await self._read(select)

    async def set_profile(self, user_id: str, profile: StoredProfile, at: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO profiles ({profile_rows.COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                profile_rows.values(user_id, profile, at),
            )

        await self._commits.do(run)

    # -- rooms -----------------------------------------------------------------------------

    @staticmethod
    def _insert_room(conn: sqlite3.Connection, room: StoredRoom) -> None:
        conn.execute(
            f"INSERT INTO rooms ({_ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                room.id,
                room.title,
                room.kind.value,
                int(room.private),
                room.created_at,
                room.passcode_hash,
                room.host_key_hash,
                room.created_by,
                room.parent,
            ),
        )

    async def create_room(self, room: StoredRoom) -> None:
        await self._write(lambda: self._insert_room(self._conn(), room))

    async def create_rooms(
        self, rooms: list[StoredRoom], states: Mapping[str, RoomState] | None = None
    ) -> None:
        def insert() -> None:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for room in rooms:
                    if conn.execute("SELECT 1 FROM rooms WHERE id = ?", (room.id,)).fetchone():
                        continue
                    self._insert_room(conn, room)
                    state = (states or {}).get(room.id)
                    if state is not None:
                        conn.execute(
                            "UPDATE rooms SET state = ?, due_at = ? WHERE id = ?",
                            (msgspec.json.encode(state), state.due(), room.id),
                        )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._write(insert)

    async def get_room(self, room_id: str) -> StoredRoom | None:
        def select() -> StoredRoom | None:
            conn = self._conn()
            row = conn.execute(
                f"SELECT {_ROOM_SELECT} FROM rooms WHERE id = ?", (room_id,)
            ).fetchone()
            if row is None:
                return None
            dm_users = None
            if row[2] == RoomKind.DM.value:
                pair = conn.execute(
                    "SELECT user_a, user_b FROM dms WHERE room = ?", (room_id,)
                ).fetchone()
                dm_users = (pair[0], pair[1]) if pair else None
            return _room(row, dm_users)

        return await self._peek(select)

    async def public_rooms(self, limit: int, active_since: int = 0) -> list[StoredRoom]:
        def select() -> list[StoredRoom]:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {_ROOM_SELECT} FROM rooms WHERE private = 0 "
                    "AND (id = 'lobby' OR max(created_at, last_at) >= ?) "
                    "ORDER BY id = 'lobby' DESC, max(created_at, last_at) DESC LIMIT ?",
                    (active_since, limit),
                )
                .fetchall()
            )
            return [_room(row) for row in rows]

        return await self._read(select)

    async def room_state(self, room_id: str) -> RoomState:
        def select() -> RoomState:
            row = (
                self._conn().execute("SELECT state FROM rooms WHERE id = ?", (room_id,)).fetchone()
            )
            if row is None:
                raise NoSuchRoom(room_id)
            return _state_decoder.decode(row[0]) if row[0] else RoomState()

        return await self._peek(select)

    async def change_room_state(
        self, room_id: str, change: Callable[[RoomState], T]
    ) -> tuple[RoomState, T]:
        def update() -> tuple[RoomState, T]:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT state FROM rooms WHERE id = ?", (room_id,)).fetchone()
                if row is None:
                    raise NoSuchRoom(room_id)
                state = _state_decoder.decode(row[0]) if row[0] else RoomState()
                result = change(state)
                conn.execute(
                    "UPDATE rooms SET state = ?, due_at = ? WHERE id = ?",
                    (msgspec.json.encode(state), state.due(), room_id),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return state, result

        return await self._write(update)

    async def open_dm(self, a: str, b: str, room: StoredRoom) -> StoredRoom:
        a, b = sorted((a, b))

        def get_or_insert() -> StoredRoom:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    f"SELECT {_ROOM_SELECT} FROM rooms JOIN dms ON dms.room = rooms.id "
                    "WHERE user_a = ? AND user_b = ?",
                    (a, b),
                ).fetchone()
                if row is None:
                    self._insert_room(conn, room)
                    conn.execute(
                        "INSERT INTO dms (user_a, user_b, room) VALUES (?, ?, ?)",
                        (a, b, room.id),
                    )
                    found = room
                else:
                    found = _room(row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return msgspec.structs.replace(found, dm_users=(a, b))

        return await self._write(get_or_insert)

    async def dm_rooms(self, user_id: str) -> list[tuple[StoredRoom, User]]:
        columns = ", ".join(f"rooms.{c.strip()}" for c in _ROOM_SELECT.split(","))

        def select() -> list[tuple[StoredRoom, User]]:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {columns}, user_a, user_b, users.id, users.name "
                    "FROM dms JOIN rooms ON rooms.id = dms.room "
                    "JOIN users ON users.id = (CASE WHEN user_a = ?1 THEN user_b ELSE user_a END) "
                    "WHERE user_a = ?1 OR user_b = ?1 "
                    "ORDER BY rooms.last_at DESC, rooms.created_at DESC",
                    (user_id,),
                )
                .fetchall()
            )
            return [(_room(r[:11], (r[11], r[12])), User(id=r[13], name=r[14])) for r in rows]

        return await self._read(select)

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

    async def _append_batch(self, batch: list[Item]) -> list[Result]:
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._exclusive, self._append_batch_sync, batch
        )

    def _append_batch_sync(self, batch: list[Item]) -> list[Result]:
        conn = self._conn()
        results: list[Result] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in batch:
                if isinstance(item, Work):
                    results.append(item.run(conn))
                else:
                    results.append(self._append_one(conn, item))
            _add_words(
                conn, *(r.message.text for r in results if isinstance(r, Appended) and r.created)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    @staticmethod
    def _append_one(conn: sqlite3.Connection, item: Pending) -> Result:
        row = conn.execute(
            "SELECT seq FROM messages WHERE room = ? AND user_id = ? AND client_msg_id = ?",
            (item.room, item.user.id, item.client_msg_id),
        ).fetchone()
        if row is not None:
            return Appended(_at(conn, item.room, row[0]), False)
        ts = now_ms()
        first = None
        if item.reply_to is not None:
            if conn.execute("SELECT 1 FROM rooms WHERE id = ?", (item.room,)).fetchone() is None:
                return NoSuchRoom(item.room)
            try:
                thread = rules.thread_of(_message_at(conn, item.room, item.reply_to))
            except (rules.NoSuchMessage, rules.MessageDeleted) as exc:
                return exc
            first = _store_change(conn, rules.replied(_at(conn, item.room, thread), ts))
        seq_row = conn.execute(
            "UPDATE rooms SET last_seq = last_seq + 1, last_at = ? WHERE id = ? RETURNING last_seq",
            (ts, item.room),
        ).fetchone()
        if seq_row is None:
            return NoSuchRoom(item.room)
        message_id = keys.new_id("m", 12)
        conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}, reply_to, mentions, author, link) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                seq_row[0],
                item.room,
                item.user.id,
                item.user.name,
                item.text,
                ts,
                item.client_msg_id,
                first.seq if first is not None else None,
                _json(item.mentions),
                item.user.name.casefold(),
                has_link(item.text),
            ),
        )
        if item.notify:
            _notify(conn, item.room, seq_row[0], item.notify, ts)
        message = Message(
            id=message_id,
            seq=seq_row[0],
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
        def select() -> list[Message]:
            conn = self._conn()
            base = _SELECT + " WHERE m.room = ?"
            if around is not None:
                earlier = conn.execute(
                    base + " AND m.seq < ? ORDER BY m.seq DESC LIMIT ?", (room, around, limit)
                ).fetchall()
                later = conn.execute(
                    base + " AND m.seq >= ? ORDER BY m.seq LIMIT ?", (room, around, limit)
                ).fetchall()
                return centred(
                    [_message(row) for row in earlier], [_message(row) for row in later], limit
                )
            if after is not None:
                rows = conn.execute(
                    base + " AND m.seq > ? ORDER BY m.seq LIMIT ?", (room, after, limit)
                ).fetchall()
                return [_message(row) for row in rows]
            if before is not None:
                rows = conn.execute(
                    base + " AND m.seq < ? ORDER BY m.seq DESC LIMIT ?", (room, before, limit)
                ).fetchall()
            else:
                rows = conn.execute(base + " ORDER BY m.seq DESC LIMIT ?", (room, limit)).fetchall()
            return [_message(row) for row in reversed(rows)]

        return await self._read(select)

    async def message(self, room: str, message_id: str) -> Message | None:
        def select() -> Message | None:
            row = (
                self._conn()
                .execute(_SELECT + " WHERE m.id = ? AND m.room = ?", (message_id, room))
                .fetchone()
            )
            return _message(row) if row else None

        return await self._read(select)

    async def search(self, room: str, query: str, limit: int) -> list[Message]:
        words = terms(query)
        if not words:
            return []
        source = "messages_fts JOIN messages m ON m.rowid = messages_fts.rowid"

        def select() -> list[Message]:
            conn = self._conn()
            match = _expand(conn, words)
            if match is None:
                return []
            rows = conn.execute(
                _SELECT_FROM.format(source=source)
                + " WHERE messages_fts MATCH ? AND m.room = ? AND NOT m.deleted "
                "ORDER BY m.seq DESC LIMIT ?",
                (match, room, limit),
            ).fetchall()
            return [_message(row) for row in rows]

        return await self._read(select)

    async def search_readable(self, user_id: str, query: Query, limit: int) -> list[Hit]:
        return await self._read(lambda: _search(self._conn(), user_id, query, limit))

    async def add_reader(self, user_id: str, room: str, at: int) -> None:
        def known() -> bool:
            return (
                self._conn()
                .execute("SELECT 1 FROM readers WHERE user_id = ? AND room = ?", (user_id, room))
                .fetchone()
                is not None
            )

        # A read first: only a first join writes.
        if await self._read(known):
            return

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO readers (user_id, room, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (user_id, room, at),
            )

        # In the commit loop's next transaction, with the messages: no fsync of its own.
        await self._commits.do(insert)

    async def pins(self, room: str, limit: int) -> list[Message]:
        def select() -> list[Message]:
            rows = (
                self._conn()
                .execute(
                    _SELECT + " WHERE m.room = ? AND m.pinned "
                    "ORDER BY m.pinned_at DESC, m.seq DESC LIMIT ?",
                    (room, limit),
                )
                .fetchall()
            )
            return [_message(row) for row in rows]

        return await self._read(select)

    # -- changes to messages -----------------------------------------------------------------

    async def room_rev(self, room: str) -> int:
        return await self._peek(_rev, self._conn, room)

    async def latest(self, room: str, limit: int) -> tuple[int, list[Message]]:
        def select() -> tuple[int, list[Message]]:
            rev = _rev(self._conn, room)
            rows = (
                self._conn()
                .execute(_SELECT + " WHERE m.room = ? ORDER BY m.seq DESC LIMIT ?", (room, limit))
                .fetchall()
            )
            return rev, [_message(row) for row in reversed(rows)]

        return await self._peek(select)

    async def change_message(
        self,
        room: str,
        seq: int,
        change: Callable[[Message], Change | None],
        notify: Sequence[str] = (),
    ) -> tuple[Message, bool]:
        def run(conn: sqlite3.Connection) -> tuple[Message, bool] | Exception:
            # Inside a batch's transaction (one commit for many): a refusal is this item's
            # answer, not the batch's failure, and comes before any write.
            try:
                message = _at(conn, room, seq)
                changed = change(message)
                if changed is not None and changed.pins:
                    _room_for_a_pin(conn, room)
            except (NoSuchMessage, rules.MessageDeleted, rules.NotYours, rules.TooManyPins) as exc:
                return exc
            if changed is None:
                return message, False
            stored = _store_change(conn, changed)
            _notify(conn, room, seq, rules.mentioned(stored, list(notify)), now_ms())
            return stored, True

        result: tuple[Message, bool] = await self._commits.do(run)
        return result

    async def changes(self, room: str, after: int, limit: int) -> list[Message]:
        def select() -> list[Message]:
            rows = (
                self._conn()
                .execute(
                    _SELECT + " WHERE m.room = ? AND m.rev > ? ORDER BY m.rev LIMIT ?",
                    (room, after, limit),
                )
                .fetchall()
            )
            return [_message(row) for row in rows]

        return await self._read(select)

    async def thread(
        self, room: str, seq: int, after: int | None, limit: int
    ) -> tuple[Message, list[Message]]:
        def select() -> tuple[Message, list[Message]]:
            conn = self._conn()
            found = _at(conn, room, seq)
            first = found if found.reply_to is None else _at(conn, room, found.reply_to)
            rows = conn.execute(
                _SELECT + " WHERE m.room = ? AND m.reply_to = ? AND m.seq > ? "
                "ORDER BY m.seq LIMIT ?",
                (room, first.seq, after or 0, limit),
            ).fetchall()
            return first, [_message(row) for row in rows]

        return await self._read(select)

    async def mentions(self, user_id: str, before: int | None, limit: int) -> list[Mentioned]:
        source = (
            "mentions x JOIN messages m ON m.room = x.room AND m.seq = x.seq "
            "JOIN rooms r ON r.id = m.room"
        )

        def select() -> list[Mentioned]:
            rows = (
                self._conn()
                .execute(
                    _SELECT_FROM.format(source=source).replace(
                        "SELECT ", "SELECT r.title, x.at, ", 1
                    )
                    + " WHERE x.user_id = ? AND x.at < ? AND NOT m.deleted "
                    "ORDER BY x.at DESC LIMIT ?",
                    (user_id, before if before is not None else 2**63 - 1, limit),
                )
                .fetchall()
            )
            return [
                Mentioned(message=_message(row[2:]), room=RoomBrief(id=row[4], title=row[0]))
                for row in rows
            ]

        return await self._read(select)

    async def message_at(self, room: str, seq: int) -> Message | None:
        return await self._read(lambda: _message_at(self._conn(), room, seq))

    async def earlier(self, room: str, seq: int) -> list[Version]:
        def select() -> list[Version]:
            row = (
                self._conn()
                .execute("SELECT earlier FROM messages WHERE room = ? AND seq = ?", (room, seq))
                .fetchone()
            )
            return versions(row[0] if row else None)

        return await self._read(select)

    async def known_users(self, user_ids: Sequence[str]) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()

        def select() -> set[str]:
            rows = (
                self._conn()
                .execute(
                    "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?)) "
                    "AND erased_at IS NULL",
                    (msgspec.json.encode(ids).decode(),),
                )
                .fetchall()
            )
            return {row[0] for row in rows}

        return await self._read(select)

    async def slow_room(self, room_id: str, seconds: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE rooms SET slow_seconds = ? WHERE id = ?", (seconds, room_id))

        await self._commits.do(run)

    async def describe_room(self, room_id: str, title: str, description: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE rooms SET title = ?, description = ? WHERE id = ?",
                (title, description or None, room_id),
            )

        await self._commits.do(run)

    # -- blocks ------------------------------------------------------------------------------

    async def block(self, user_id: str, other: str, on: bool, at: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            if on:
                conn.execute(
                    "INSERT INTO blocks (user_id, blocked, at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (user_id, other, at),
                )
            else:
                conn.execute(
                    "DELETE FROM blocks WHERE user_id = ? AND blocked = ?", (user_id, other)
                )

        await self._commits.do(run)

    async def blocked(self, user_id: str, limit: int) -> list[User]:
        def select() -> list[User]:
            rows = (
                self._conn()
                .execute(
                    "SELECT users.id, users.name FROM blocks JOIN users ON users.id = "
                    "blocks.blocked WHERE blocks.user_id = ? ORDER BY blocks.at DESC LIMIT ?",
                    (user_id, limit),
                )
                .fetchall()
            )
            return [User(id=r[0], name=r[1]) for r in rows]

        return await self._read(select)

    async def blocking(self, a: str, b: str) -> bool:
        def select() -> bool:
            row = (
                self._conn()
                .execute(
                    "SELECT 1 FROM blocks WHERE (user_id = ? AND blocked = ?) "
                    "OR (user_id = ? AND blocked = ?)",
                    (a, b, b, a),
                )
                .fetchone()
            )
            return row is not None

        return await self._read(select)

    async def blockers(self, author: str, users: Sequence[str]) -> set[str]:
        if not users:
            return set()

        def select() -> set[str]:
            rows = (
                self._conn()
                .execute(
                    "SELECT user_id FROM blocks WHERE blocked = ? "
                    "AND user_id IN (SELECT value FROM json_each(?))",
                    (author, msgspec.json.encode(list(users)).decode()),
                )
                .fetchall()
            )
            return {row[0] for row in rows}

        return await self._read(select)

    # -- moderation --------------------------------------------------------------------------

    async def last_sent(self, room: str, user_id: str) -> int | None:
        def select() -> int | None:
            row = (
                self._conn()
                .execute(
                    "SELECT max(ts) FROM messages WHERE room = ? AND user_id = ?", (room, user_id)
                )
                .fetchone()
            )
            return row[0] if row else None

        return await self._read(select)

    async def report(self, room: str, seq: int, reporter: User, reason: str, at: int) -> Report:
        def run(conn: sqlite3.Connection) -> Report | Exception:
            if _message_at(conn, room, seq) is None:
                return NoSuchMessage("no such message")
            conn.execute(
                "INSERT INTO reports (id, room, seq, reporter_id, reporter_name, reason, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, seq, reporter_id) DO NOTHING",
                (keys.new_id("r", 9), room, seq, reporter.id, reporter.name, reason, at),
            )
            row = conn.execute(
                REPORT_FROM + " WHERE r.room = ? AND r.seq = ? AND r.reporter_id = ?",
                (room, seq, reporter.id),
            ).fetchone()
            return report_of(row)

        stored: Report = await self._commits.do(run)
        return stored

    async def reports(self, room: str, limit: int, report: str | None = None) -> list[Report]:
        def select() -> list[Report]:
            rows = (
                self._conn()
                .execute(
                    REPORT_FROM + " WHERE r.room = ? AND r.outcome IS NULL "
                    "AND (?3 IS NULL OR r.id = ?3) ORDER BY r.at LIMIT ?2",
                    (room, limit, report),
                )
                .fetchall()
            )
            return [report_of(row) for row in rows]

        return await self._read(select)

    async def resolve_report(
        self, room: str, report_id: str, by: User, outcome: ReportAction, at: int
    ) -> Report | None:
        def run(conn: sqlite3.Connection) -> Report | None:
            changed = conn.execute(
                "UPDATE reports SET outcome = ?, resolved_by_id = ?, resolved_by_name = ?, "
                "resolved_at = ? WHERE id = ? AND room = ? AND outcome IS NULL",
                (outcome.value, by.id, by.name, at, report_id, room),
            ).rowcount
            if not changed:
                return None
            row = conn.execute(REPORT_FROM + " WHERE r.id = ?", (report_id,)).fetchone()
            return report_of(row)

        resolved: Report | None = await self._commits.do(run)
        return resolved

    async def audit(self, room: str, entry: AuditEntry) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO audit (room, {AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                audit_values(room, entry),
            )

        await self._commits.do(run)

    async def audit_log(self, room: str, before: int | None, limit: int) -> list[AuditEntry]:
        def select() -> list[AuditEntry]:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {AUDIT_COLUMNS} FROM audit WHERE room = ? AND at < ? "
                    "ORDER BY at DESC, rowid DESC LIMIT ?",
                    (room, before if before is not None else 2**62, limit),
                )
                .fetchall()
            )
            return [audit_of(row) for row in rows]

        return await self._read(select)

    # -- tables ----------------------------------------------------------------------------

    async def due_rooms(self, now: int, limit: int) -> list[str]:
        def select() -> list[str]:
            rows = (
                self._conn()
                .execute(
                    "SELECT id FROM rooms WHERE due_at IS NOT NULL AND due_at <= ? "
                    "ORDER BY due_at LIMIT ?",
                    (now, limit),
                )
                .fetchall()
            )
            return [row[0] for row in rows]

        return await self._read(select)

    async def sat_together(self, pairs: list[tuple[str, str]], room: str, at: int) -> None:
        await self.encounter(pairs, room, How.TABLE, at)

    async def encounter(
        self, pairs: Sequence[tuple[str, str]], room: str, how: How, at: int
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                _numbered(ENCOUNTER), [(*sorted(pair), room, at, how.value) for pair in pairs]
            )

        await self._commits.do(run)

    async def encounters(self, user: str, limit: int) -> list[Encounter]:
        def select() -> list[Encounter]:
            rows = self._conn().execute(_numbered(ENCOUNTERS_SQL), (user, limit)).fetchall()
            return [encounter(*row) for row in rows]

        return await self._read(select)

    async def nudge(self, user: str, other: str, at: int, quiet_since: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute(_numbered(NUDGE), (user, other, at, quiet_since)).rowcount)

        told: bool = await self._commits.do(run)
        return told

    async def have_sat_together(self, a: str, b: str) -> str | None:
        def select() -> str | None:
            row = (
                self._conn()
                .execute(
                    "SELECT room FROM encounters WHERE user_a = ? AND user_b = ?",
                    tuple(sorted((a, b))),
                )
                .fetchone()
            )
            return row[0] if row else None

        return await self._read(select)

    async def stay(self, user: str, other: str, room: str | None, at: int) -> Wish:
        def upsert() -> Wish:
            # Under the write lock (``_write``): the other side's wish is read after ours is
            # stored, so of two wishes at once, the second sees the first.
            conn = self._conn()
            new = conn.execute(
                "INSERT INTO wishes (from_user, to_user, room, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (from_user, to_user) DO NOTHING",
                (user, other, room or "", at),
            ).rowcount
            row = conn.execute(
                "SELECT 1 FROM wishes WHERE from_user = ? AND to_user = ?", (other, user)
            ).fetchone()
            if row is not None:
                for owner, viewer in ((user, other), (other, user)):
                    conn.execute(
                        _numbered(card_rows.SHARE_ON_MEETING),
                        (owner, viewer, card_rows.DEFAULT_SHARE),
                    )
            return Wish(new=bool(new), mutual=row is not None)

        return await self._write(upsert)

    async def decline(self, user: str, other: str) -> None:
        def update() -> None:
            self._conn().execute(
                "UPDATE wishes SET declined = 1 WHERE from_user = ? AND to_user = ?", (other, user)
            )

        await self._write(update)

    async def unstay(self, user: str, other: str) -> bool:
        def delete() -> bool:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                asked = conn.execute(
                    "DELETE FROM wishes WHERE (from_user = ?1 AND to_user = ?2) "
                    "OR (from_user = ?2 AND to_user = ?1)",
                    (user, other),
                ).rowcount
                conn.execute(_numbered(card_rows.UNSHARE), (user, other))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return bool(asked)

        return await self._write(delete)

    async def cards(self, user_ids: Sequence[str]) -> dict[str, StoredCard]:
        if not user_ids:
            return {}

        def select() -> dict[str, StoredCard]:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {card_rows.COLUMNS} FROM cards "
                    "WHERE user_id IN (SELECT value FROM json_each(?))",
                    (msgspec.json.encode(list(user_ids)).decode(),),
                )
                .fetchall()
            )
            return {row[0]: card_rows.card_of(row[1:]) for row in rows}

        return await self._read(select)

    async def set_card(self, user_id: str, card: StoredCard, at: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO cards ({card_rows.COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                card_rows.values(user_id, card, at),
            )

        await self._commits.do(run)

    async def card_shares(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[CardField, ...]]:
        if not pairs:
            return {}

        def select() -> dict[tuple[str, str], tuple[CardField, ...]]:
            rows = (
                self._conn()
                .execute(
                    "SELECT s.owner, s.viewer, s.fields FROM json_each(?) AS p "
                    "JOIN card_shares s ON s.owner = json_extract(p.value, '$[0]') "
                    "AND s.viewer = json_extract(p.value, '$[1]')",
                    (msgspec.json.encode(list(pairs)).decode(),),
                )
                .fetchall()
            )
            return {(row[0], row[1]): card_rows.fields_of(row[2]) for row in rows}

        return await self._read(select)

    async def share_card(self, owner: str, viewer: str, fields: Sequence[CardField]) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    _numbered(card_rows.SHARE), (owner, viewer, card_rows.joined(fields))
                ).rowcount
            )

        shared: bool = await self._commits.do(run)
        return shared

    async def people_met(self, user: str, limit: int) -> list[Met]:
        return await self._read(lambda: _people(self._conn(), PEOPLE_SQL["met"], user, limit))

    async def wishes(self, user: str, limit: int) -> tuple[list[Met], list[Met]]:
        def select() -> tuple[list[Met], list[Met]]:
            conn = self._conn()
            return (
                _people(conn, PEOPLE_SQL["asked"], user, limit),
                _people(conn, PEOPLE_SQL["asking"], user, limit),
            )

        return await self._read(select)

    async def everyone_met(self, user: str, limit: int) -> list[Met]:
        return await self._read(
            lambda: _people(self._conn(), PEOPLE_SQL["everyone_met"], user, limit)
        )

    # -- your data ---------------------------------------------------------------------------

    async def written(self, user_id: str, after: str | None, limit: int) -> Page:
        def select() -> Page:
            # By rowid, the order stored: the index on user_id holds it, so a page costs
            # ``limit`` rows however many the user wrote.
            rows = (
                self._conn()
                .execute(
                    _SELECT.replace("SELECT ", "SELECT m.rowid, ", 1)
                    + " WHERE m.user_id = ? AND m.rowid > ? ORDER BY m.rowid LIMIT ?",
                    (user_id, int(after or 0), limit),
                )
                .fetchall()
            )
            mark = str(rows[-1][0]) if len(rows) == limit else None
            return Page([_message(row[1:]) for row in rows], mark)

        return await self._read(select)

    async def erase_user(self, user_id: str, messages: Erasure, at: int) -> Erased:
        def erase() -> Erased:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                erased = _erase(conn, user_id, messages, at)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return erased

        return await self._write(erase)


_TOMBSTONE = (
    ", text = '', deleted = 1, reactions = NULL, mentions = NULL, edited_at = NULL, "
    "earlier = NULL, link = 0, pinned = 0, pinned_at = NULL, pinned_by_id = NULL, "
    "pinned_by_name = NULL"
)
"""What ``changes.delete`` makes of a message, for all of a user's at once."""


def _erase(conn: sqlite3.Connection, user_id: str, messages: Erasure, at: int) -> Erased:
    """``Archive.erase_user`` inside the writer's transaction."""
    revised: dict[str, Revised] = {}

    def take(room: str, n: int) -> int:
        """``n`` revisions of the room; the one before them."""
        (rev,) = conn.execute(
            "UPDATE rooms SET last_rev = last_rev + ? WHERE id = ? RETURNING last_rev", (n, room)
        ).fetchone()
        first = revised.get(room)
        revised[room] = Revised(room, first.after if first else rev - n, rev)
        return int(rev) - n

    # Their reactions to anybody's messages (a user's id is letters and digits: no LIKE
    # wildcard in it).
    reacted = conn.execute(
        "SELECT room, seq, reactions FROM messages WHERE reactions LIKE ? ORDER BY room, seq",
        (f'%"{user_id}"%',),
    ).fetchall()
    for room, seq, reactions in reacted:
        rev = take(room, 1) + 1
        conn.execute(
            "UPDATE messages SET reactions = ?, rev = ? WHERE room = ? AND seq = ?",
            (without_reactions(reactions, user_id), rev, room, seq),
        )
    delete = messages == "delete"
    texts: list[str] = []
    if delete:
        for text, earlier in conn.execute(
            "SELECT text, earlier FROM messages WHERE user_id = ?", (user_id,)
        ):
            texts.append(text)
            texts.extend(version.text for version in versions(earlier))
        conn.execute(
            "DELETE FROM mentions WHERE (room, seq) IN "
            "(SELECT room, seq FROM messages WHERE user_id = ?)",
            (user_id,),
        )
    rooms = conn.execute(
        "SELECT room, count(*) FROM messages WHERE user_id = ? GROUP BY room ORDER BY room",
        (user_id,),
    ).fetchall()
    for room, n in rooms:
        # Each message at a revision of its own, in seq order: chat:changes pages by them.
        base = take(room, n)
        conn.execute(
            "UPDATE messages SET user_id = ?, user_name = ?, author = ?, "
            f"client_msg_id = messages.id, rev = ? + e.n {_TOMBSTONE if delete else ''} "
            "FROM (SELECT rowid AS r, row_number() OVER (ORDER BY seq) AS n FROM messages "
            "WHERE room = ? AND user_id = ?) AS e WHERE messages.rowid = e.r",
            (FORMER.id, FORMER.name, FORMER.name.casefold(), base, room, user_id),
        )
    if texts:
        _forget_words(conn, texts)
    conn.execute(
        "UPDATE messages SET pinned_by_id = ?, pinned_by_name = ? WHERE pinned_by_id = ?",
        (FORMER.id, FORMER.name, user_id),
    )
    for room, state in conn.execute(
        "SELECT id, state FROM rooms WHERE state IS NOT NULL AND CAST(state AS TEXT) LIKE ?",
        (f'%"{user_id}"%',),
    ).fetchall():
        decoded = _state_decoder.decode(state)
        if decoded.forget(user_id):
            conn.execute(
                "UPDATE rooms SET state = ?, due_at = ? WHERE id = ?",
                (msgspec.json.encode(decoded), decoded.due(), room),
            )
    unowned = [
        row[0]
        for row in conn.execute(
            "UPDATE rooms SET created_by = NULL WHERE created_by = ? RETURNING id", (user_id,)
        )
    ]
    named = {"user": user_id, "name": FORMER.name, "at": at}
    for sql in (
        "DELETE FROM profiles WHERE user_id = :user",
        "DELETE FROM wishes WHERE :user IN (from_user, to_user)",
        "DELETE FROM encounters WHERE :user IN (user_a, user_b)",
        "DELETE FROM blocks WHERE :user IN (user_id, blocked)",
        "DELETE FROM mentions WHERE user_id = :user",
        "DELETE FROM readers WHERE user_id = :user",
        "UPDATE audit SET by_name = :name WHERE by_id = :user",
        "UPDATE audit SET target_name = :name WHERE target_id = :user",
        "UPDATE reports SET reporter_name = :name WHERE reporter_id = :user",
        "UPDATE reports SET resolved_by_name = :name WHERE resolved_by_id = :user",
        "UPDATE users SET name = :name, erased_at = :at WHERE id = :user",
        # The logins stay, revoked and unlabelled, so that their tokens are refused rather
        # than taken for nobody's (a new identity).
        "UPDATE sessions SET revoked_at = coalesce(revoked_at, :at), label = '' "
        "WHERE user_id = :user",
        "DELETE FROM passkeys WHERE user_id = :user",
        "DELETE FROM cards WHERE user_id = :user",
        "DELETE FROM card_shares WHERE :user IN (owner, viewer)",
        "DELETE FROM nudges WHERE :user IN (from_user, to_user)",
    ):
        conn.execute(sql, named)
    logins = [
        row[0] for row in conn.execute("SELECT id FROM sessions WHERE user_id = ?", (user_id,))
    ]
    return Erased(logins=sorted(logins), revised=list(revised.values()), unowned=unowned)
