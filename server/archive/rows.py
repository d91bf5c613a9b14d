"""A message as both backends read it: one SELECT (with the quote of a reply), one decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol import QUOTE_MAX, Message, Quote, Reaction, User

SELECT_FROM = (
    "SELECT m.id, m.seq, m.room, m.user_id, m.user_name, m.text, m.ts, m.client_msg_id, "
    "m.reply_to, m.replies, m.last_reply_at, m.edited_at, m.deleted, m.reactions, m.mentions, "
    f"m.rev, q.user_id, q.user_name, substr(q.text, 1, {QUOTE_MAX}), q.deleted "
    "FROM {source} LEFT JOIN messages q ON q.room = m.room AND q.seq = m.reply_to"
)
"""Columns of a message and its quote from ``source`` (which names the messages ``m``)."""
SELECT = SELECT_FROM.format(source="messages m")

_reactions = msgspec.json.Decoder(list[Reaction])
ids = msgspec.json.Decoder(list[str])


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
    )


def to_json(values: Sequence[Any]) -> str | None:
    """A JSON column: None for an empty list."""
    return msgspec.json.encode(values).decode() if values else None
