"""Contact cards as both archives store them (docs/protocol.md, "Contact cards").

``cards`` holds one row per owner: the fields and which of them new contacts see. ``card_shares``
holds one row per (owner, contact): which fields that contact sees, written with the owner's
default when the two come in touch (``Archive.stay``), changed by ``card:share``, and deleted
with the contact (``Archive.unstay``). A contact with no row (in touch before cards existed)
sees the owner's default. A user with no ``cards`` row has an empty card shared in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol import Card, CardField, OwnCard

EVERY_FIELD = tuple(CardField)
DEFAULT_SHARE = ",".join(EVERY_FIELD)
"""The default of a user who never said: every field (an empty field shows nothing)."""


class StoredCard(msgspec.Struct, frozen=True, kw_only=True):
    email: str = ""
    phone: str = ""
    link: str = ""
    share: tuple[CardField, ...] = EVERY_FIELD
    """What new contacts see."""

    def own(self) -> OwnCard:
        return OwnCard(email=self.email, phone=self.phone, link=self.link, share=list(self.share))

    def shown(self, fields: Sequence[CardField]) -> Card:
        """The card as a contact who sees ``fields`` sees it."""
        return Card(**{field.value: getattr(self, field.value) for field in fields})


COLUMNS = "user_id, email, phone, link, share, updated_at"


def values(user_id: str, card: StoredCard, at: int) -> tuple[Any, ...]:
    """The row of ``COLUMNS``; ``share`` as the field names joined by commas."""
    return (user_id, card.email, card.phone, card.link, joined(card.share), at)


def card_of(row: Sequence[Any]) -> StoredCard:
    """A card from its row (``COLUMNS`` from ``email`` on)."""
    return StoredCard(email=row[0], phone=row[1], link=row[2], share=fields_of(row[3]))


def joined(fields: Sequence[CardField]) -> str:
    return ",".join(field.value for field in fields)


def fields_of(column: str) -> tuple[CardField, ...]:
    return tuple(CardField(name) for name in column.split(",") if name)


SHARE_ON_MEETING = (
    "INSERT INTO card_shares (owner, viewer, fields) "
    "SELECT $1, $2, COALESCE((SELECT share FROM cards WHERE user_id = $1), $3) "
    # SQLite reads ON CONFLICT after a bare SELECT as a join's: WHERE true parts them.
    "WHERE true ON CONFLICT (owner, viewer) DO NOTHING"
)
"""What ``$1`` shares with ``$2``, who just came in touch: ``$1``'s default (``$3`` if none)."""

UNSHARE = (
    "DELETE FROM card_shares WHERE (owner = $1 AND viewer = $2) OR (owner = $2 AND viewer = $1)"
)

SHARE = (
    "INSERT INTO card_shares (owner, viewer, fields) SELECT $1, $2, $3 "
    "WHERE EXISTS (SELECT 1 FROM wishes WHERE from_user = $1 AND to_user = $2) "
    "AND EXISTS (SELECT 1 FROM wishes WHERE from_user = $2 AND to_user = $1) "
    "AND NOT EXISTS (SELECT 1 FROM blocks WHERE (user_id = $1 AND blocked = $2) "
    "OR (user_id = $2 AND blocked = $1)) "
    "ON CONFLICT (owner, viewer) DO UPDATE SET fields = excluded.fields"
)
"""``$1`` lets ``$2`` see the fields ``$3``, if the two are in touch (nobody blocking)."""
