"""Logins as both backends store them: the rows behind resume tokens.

The protocol calls a login a *session* (``sessions:list``); inside the server ``Session`` is
one Socket.IO connection, so the stored kind is a ``Login``. Each new identity gets one, and
so will each sign-in (a passkey on another device: ``Archive.add_login``). A login lives
until it is revoked or has not been seen for ``SESSION_DAYS`` (``server/logins.py``); the
archive keeps only its token's digest.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..protocol import User

SELECT = (
    "SELECT s.id, s.label, s.created_at, s.seen_at, s.revoked_at, u.id, u.name "
    "FROM sessions s JOIN users u ON u.id = s.user_id"
)
"""Columns of a login and its user (``login``)."""


class NewLogin(msgspec.Struct, frozen=True):
    """A login about to be stored: what ``create_user`` and ``add_login`` write."""

    id: str
    token_digest: str
    """SHA-256 of the resume token (``keys.digest``): never the token."""
    label: str
    """What it was made from, for its owner: "Chrome on Linux" (``logins.label``)."""
    at: int
    """Made (and so last seen) then, ms since the epoch."""


class Login(msgspec.Struct, frozen=True):
    id: str
    user: User
    label: str
    created_at: int
    seen_at: int
    """When a connection last used it, to within an hour (``Logins.touch``)."""
    revoked_at: int | None = None


def login(row: Any) -> Login:
    """A row of ``SELECT``."""
    return Login(
        id=row[0],
        label=row[1],
        created_at=row[2],
        seen_at=row[3],
        revoked_at=row[4],
        user=User(id=row[5], name=row[6]),
    )
