"""Passkeys as both archives store them: a WebAuthn credential per row of ``passkeys``, and
the one-time challenges of ceremonies under way in ``passkey_challenges``.

Challenges live in the archive because any process may receive the second request of a
ceremony (docs/security.md, "Passkeys"): taking one deletes it in the same statement, so
two processes cannot both use it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import msgspec


class Purpose(enum.StrEnum):
    """Which ceremony a challenge was issued for."""

    REGISTER = "register"
    SIGN_IN = "sign_in"


class Challenge(msgspec.Struct, frozen=True):
    value: str
    """The challenge as the client sees it: 32 random bytes, base64url."""
    purpose: Purpose
    expires_at: int
    """ms since the epoch; taken after this, it is refused."""
    user_id: str | None = None
    """Registration: the user it was issued to."""
    login_id: str | None = None
    """Registration: the login (session) that asked; only that login may finish it."""


class StoredPasskey(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    """Ours, shown to the owner and used to rename or remove it."""
    credential_id: str
    """The authenticator's credential id, base64url."""
    user_id: str
    public_key: bytes
    """The COSE public key from the attestation (RFC 9052, WebAuthn §6.5.1.1)."""
    sign_count: int
    name: str
    transports: tuple[str, ...] = ()
    """What the browser said reaches the authenticator ("internal", "hybrid", "usb"...)."""
    created_at: int
    used_at: int | None = None
    """The last sign-in with it (ms), None if never."""


COLUMNS = (
    "id, credential_id, user_id, public_key, sign_count, name, transports, created_at, used_at"
)
CHALLENGE_COLUMNS = "value, purpose, expires_at, user_id, login_id"


def values(passkey: StoredPasskey) -> tuple[Any, ...]:
    """The row of ``COLUMNS``; ``transports`` joined by commas."""
    return (
        passkey.id,
        passkey.credential_id,
        passkey.user_id,
        passkey.public_key,
        passkey.sign_count,
        passkey.name,
        ",".join(passkey.transports),
        passkey.created_at,
        passkey.used_at,
    )


def passkey_of(row: Sequence[Any]) -> StoredPasskey:
    """A passkey from its row (``COLUMNS``)."""
    return StoredPasskey(
        id=row[0],
        credential_id=row[1],
        user_id=row[2],
        public_key=bytes(row[3]),
        sign_count=row[4],
        name=row[5],
        transports=tuple(t for t in row[6].split(",") if t),
        created_at=row[7],
        used_at=row[8],
    )


def challenge_values(challenge: Challenge) -> tuple[Any, ...]:
    return (
        challenge.value,
        challenge.purpose.value,
        challenge.expires_at,
        challenge.user_id,
        challenge.login_id,
    )


def challenge_of(row: Sequence[Any]) -> Challenge:
    return Challenge(
        value=row[0],
        purpose=Purpose(row[1]),
        expires_at=row[2],
        user_id=row[3],
        login_id=row[4],
    )
