"""A person's data as both archives hand it over and erase it (docs/security.md, "Your data").

``Archive.written`` pages through everything a user wrote, in every room, for the export;
``Archive.erase_user`` takes a person out of the archive in one transaction. What erase
leaves is the same on both backends: the messages either tombstones or kept under
``FORMER`` (``Erasure``), each such change at its room's next revision like any other
(``server.archive.changes``), so connected clients and ``chat:changes`` see it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import msgspec

from ..protocol import Message, Reaction, User

FORMER = User(id="former", name="Former member")
"""Who an erased person's kept messages (and their name in audit rows) are by now: nobody in
particular, the same for every erased person, so nothing links them to one another."""

Erasure = Literal["delete", "anonymise"]
"""What erase does to the person's messages: tombstones, or the text kept under ``FORMER``
(``ERASE_MESSAGES``, server/config.py)."""

_reactions = msgspec.json.Decoder(list[Reaction])


class Page(NamedTuple):
    """A page of the messages a user wrote (``Archive.written``)."""

    messages: list[Message]
    """Oldest first (in the order stored)."""
    after: str | None
    """Where the next page starts (an opaque mark for ``written``); None after the last."""


class Revised(msgspec.Struct, frozen=True):
    """A room whose messages the erase changed: its revisions ``after + 1`` to ``rev``."""

    room: str
    after: int
    rev: int


class Erased(msgspec.Struct, frozen=True):
    """What ``Archive.erase_user`` did."""

    logins: list[str]
    """Every login of the user (all revoked now): their connections close (``Revoke``)."""
    revised: list[Revised]
    """The rooms whose messages changed, each with the revisions the erase took."""
    unowned: list[str]
    """Rooms the user had made: they have no owner now."""


def without_reactions(column: str, user_id: str) -> str | None:
    """The ``reactions`` column with the user's reactions taken away (None: none left)."""
    kept = []
    for reaction in _reactions.decode(column):
        users = [user for user in reaction.users if user.id != user_id]
        if users:
            kept.append(Reaction(emoji=reaction.emoji, users=users))
    return msgspec.json.encode(kept).decode() if kept else None
