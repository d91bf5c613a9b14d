"""A message as both backends read it: one SELECT (with the quote of a reply), one decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol import (
    QUOTE_MAX,
    AuditEntry,
    Encounter,
    How,
    Message,
    Met,
    Quote,
    Reaction,
    Report,
    ReportAction,
    RoomBrief,
    User,
    Version,
)

SELECT_FROM = (
    "SELECT m.id, m.seq, m.room, m.user_id, m.user_name, m.text, m.ts, m.client_msg_id, "
    "m.reply_to, m.replies, m.last_reply_at, m.edited_at, m.deleted, m.reactions, m.mentions, "
    f"m.rev, q.user_id, q.user_name, substr(q.text, 1, {QUOTE_MAX}), q.deleted, "
    "m.pinned_at, m.pinned_by_id, m.pinned_by_name "
    "FROM {source} LEFT JOIN messages q ON q.room = m.room AND q.seq = m.reply_to"
)
"""Columns of a message and its quote from ``source`` (which names the messages ``m``)."""
SELECT = SELECT_FROM.format(source="messages m")

_reactions = msgspec.json.Decoder(list[Reaction])
ids = msgspec.json.Decoder(list[str])
_versions = msgspec.json.Decoder(list[str | Version])


def versions(column: str | None) -> list[Version]:
    """The ``earlier`` column: a message's earlier texts, oldest first. Kept before the edit
    time was, a version is a bare string (read as replaced at an unknown time)."""
    texts = _versions.decode(column) if column else []
    return [Version(text=t, replaced_at=None) if isinstance(t, str) else t for t in texts]


def with_version(column: str | None, version: Version) -> str | None:
    """The ``earlier`` column with one more version."""
    return to_json([*versions(column), version])


def message(row: Sequence[Any]) -> Message:
    """A message from a row of ``SELECT``."""
    quote = None
    if row[8] is not None and row[16] is not None:
        quote = Quote(user=User(id=row[16], name=row[17]), text=row[18], deleted=bool(row[19]))
    return Message(
        id=row[0],
        seq=row[1],
        room=row[2],
        user=User(id=row[3], name=row[4]),
        text=row[5],
        ts=row[6],
        client_msg_id=row[7],
        reply_to=row[8],
        quote=quote,
        replies=row[9],
        last_reply_at=row[10],
        edited_at=row[11],
        deleted=bool(row[12]),
        reactions=_reactions.decode(row[13]) if row[13] else [],
        mentions=ids.decode(row[14]) if row[14] else [],
        rev=row[15],
        pinned_at=row[20],
        pinned_by=User(id=row[21], name=row[22]) if row[21] is not None else None,
    )


def to_json(values: Sequence[Any]) -> str | None:
    """A JSON column: None for an empty list."""
    return msgspec.json.encode(values).decode() if values else None


REPORT_FROM = SELECT_FROM.format(
    source="reports r JOIN messages m ON m.room = r.room AND m.seq = r.seq"
).replace(
    "SELECT ",
    "SELECT r.id, r.reporter_id, r.reporter_name, r.reason, r.at, r.outcome, "
    "r.resolved_by_id, r.resolved_by_name, ",
    1,
)
"""A report (8 columns) and its message (``SELECT``'s columns)."""


def report(row: Sequence[Any]) -> Report:
    values = list(row)
    return Report(
        id=values[0],
        room=values[8 + 2],
        message=message(values[8:]),
        reporter=User(id=values[1], name=values[2]),
        reason=values[3],
        at=values[4],
        outcome=ReportAction(values[5]) if values[5] else None,
        resolved_by=User(id=values[6], name=values[7]) if values[6] else None,
    )


AUDIT_COLUMNS = "at, by_id, by_name, action, target_id, target_name, seq, detail"


def audit(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        at=row[0],
        by=User(id=row[1], name=row[2]),
        action=row[3],
        target=User(id=row[4], name=row[5]) if row[4] else None,
        seq=row[6],
        detail=row[7],
    )


def audit_values(room: str, entry: AuditEntry) -> tuple[Any, ...]:
    target = entry.target
    return (
        room, entry.at, entry.by.id, entry.by.name, entry.action,
        target.id if target else None, target.name if target else None, entry.seq, entry.detail,
    )  # fmt: skip


_PERSON = "SELECT {who}, users.name, {room}, rooms.title, {at} FROM wishes AS {wish} "
_NAMED = "JOIN users ON users.id = {who} LEFT JOIN rooms ON rooms.id = {room} "
_BLOCKS = (
    "NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.user_id = $1 AND b.blocked = {who}) "
    "OR (b.user_id = {who} AND b.blocked = $1))"
)


def _people_sql(who: str, wish: str, at: str, joins: str, where: str, room: str = "") -> str:
    room = room or f"{wish}.room"
    named = _NAMED.format(who=who, room=room)
    return (
        _PERSON.format(who=who, wish=wish, at=at, room=room) + joins + named + "WHERE " + where
        + " ORDER BY 5 DESC LIMIT $2"
    )  # fmt: skip


PEOPLE_SQL = {
    # Both said "stay in touch": contacts.
    "met": _people_sql(
        "mine.to_user", "mine",
        "CASE WHEN mine.at > theirs.at THEN mine.at ELSE theirs.at END",
        "JOIN wishes AS theirs ON theirs.from_user = mine.to_user "
        "AND theirs.to_user = mine.from_user ",
        "mine.from_user = $1 AND " + _BLOCKS.format(who="mine.to_user"),
        # Where either asked from: one may have said yes from the People page.
        room="CASE WHEN mine.room != '' THEN mine.room ELSE theirs.room END",
    ),
    # Asked by somebody, not answered: not declined, nobody blocking.
    "asked": _people_sql(
        "theirs.from_user", "theirs", "theirs.at", "",
        "theirs.to_user = $1 AND NOT theirs.declined AND NOT EXISTS (SELECT 1 FROM wishes AS "
        "mine WHERE mine.from_user = $1 AND mine.to_user = theirs.from_user) AND "
        + _BLOCKS.format(who="theirs.from_user"),
    ),
    # Asked by the user, not (yet) returned: whether declined is never said.
    "asking": _people_sql(
        "mine.to_user", "mine", "mine.at", "",
        "mine.from_user = $1 AND NOT EXISTS (SELECT 1 FROM wishes AS theirs WHERE "
        "theirs.from_user = mine.to_user AND theirs.to_user = $1) AND NOT EXISTS (SELECT 1 "
        "FROM blocks b WHERE b.user_id = $1 AND b.blocked = mine.to_user)",
    ),
    # Everybody met (the export's): where and when they last did.
    "everyone_met": "SELECT users.id, users.name, e.room, rooms.title, e.at FROM encounters AS e "
        "JOIN users ON users.id = (CASE WHEN e.user_a = $1 THEN e.user_b ELSE e.user_a END) "
        "LEFT JOIN rooms ON rooms.id = e.room WHERE $1 IN (e.user_a, e.user_b) "
        "ORDER BY 5 DESC LIMIT $2",
}  # fmt: skip
"""People of a user (``$1``), latest first, at most ``$2``: (id, name, room, title, at).

A block hides a contact from both (what either shares with the other goes with it), and a
request from who was asked; the asker keeps seeing their request (a block is never told)."""

ENCOUNTERS_SQL = (
    "SELECT e.who, users.name, e.room, rooms.title, e.at, e.how FROM ("
    "SELECT user_b AS who, room, at, how FROM encounters WHERE user_a = $1 UNION ALL "
    "SELECT user_a, room, at, how FROM encounters WHERE user_b = $1) AS e "
    "JOIN users ON users.id = e.who LEFT JOIN rooms ON rooms.id = e.room "
    "WHERE NOT (EXISTS (SELECT 1 FROM wishes WHERE from_user = $1 AND to_user = e.who) "
    "AND EXISTS (SELECT 1 FROM wishes WHERE from_user = e.who AND to_user = $1)) AND "
    + _BLOCKS.format(who="e.who")
    + " ORDER BY e.at DESC LIMIT $2"
)
"""The people a user (``$1``) met and is not in touch with, nobody blocking, the latest first,
at most ``$2``: (id, name, room, title, at, how)."""

ENCOUNTER = (
    "INSERT INTO encounters (user_a, user_b, room, at, how) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (user_a, user_b) DO UPDATE SET room = excluded.room, at = excluded.at, "
    "how = excluded.how WHERE excluded.how != 'dm'"
)
"""One row per pair (``$1`` < ``$2``): where and when they last met. A DM only fills in for
people who never met otherwise: a table or a coffee room says more about where."""

NUDGE = (
    "INSERT INTO nudges (from_user, to_user, at) VALUES ($1, $2, $3) "
    "ON CONFLICT (from_user, to_user) DO UPDATE SET at = excluded.at WHERE nudges.at <= $4"
)
"""Remember that ``$2`` is told of ``$1``'s request at ``$3``, unless told since ``$4``."""


def encounter(
    user_id: str, name: str, room: str, title: str | None, at: int, how: str
) -> Encounter:
    """A row of ``ENCOUNTERS_SQL``."""
    return Encounter(
        user=User(id=user_id, name=name),
        how=How(how),
        room=RoomBrief(id=room, title=title or "") if room and title is not None else None,
        at=at,
    )


def met(user_id: str, name: str, room: str, title: str | None, at: int) -> Met:
    """A row of ``PEOPLE_SQL``: the room is where the wish was made, if anywhere."""
    return Met(
        user=User(id=user_id, name=name),
        room=RoomBrief(id=room, title=title or "") if room else None,
        at=at,
    )
