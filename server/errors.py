"""Errors sorted by audience.

A ``ProtocolError`` is the client's mistake: it becomes an error ack with a stable code and a
plain message. Anything else raised by a handler is ours: the client sees ``internal`` and the
traceback goes to the log only (see ``server.events``).
"""

from __future__ import annotations

import enum
from typing import Any


class Code(enum.StrEnum):
    BAD_REQUEST = "bad_request"
    """The payload has the wrong shape or a value out of range."""
    NOT_FOUND = "not_found"
    """The room or user named does not exist."""
    FORBIDDEN = "forbidden"
    """The sender may not do this here (not a member, wrong passcode, wrong role)."""
    UNAUTHORIZED = "unauthorized"
    """The resume token's session was signed out or expired: connect without it."""
    RATE_LIMITED = "rate_limited"
    """Too many requests; retry later."""
    TOO_LARGE = "too_large"
    """A text or payload exceeds its size limit."""
    UNAVAILABLE = "unavailable"
    """A backend the request needs is down; nothing was done, retrying later is safe."""
    MOVED = "moved"
    """The room's media is served by another server process; the error's ``media`` says where."""
    UNKNOWN_CREDENTIAL = "unknown_credential"
    """A passkey sign-in with a credential the server does not know (removed, or never
    attached here)."""
    STALE_CHALLENGE = "stale_challenge"
    """A passkey ceremony's challenge is unknown, used already (a replayed answer) or expired:
    start again."""
    BAD_ORIGIN = "bad_origin"
    """A passkey ceremony came from an origin the server does not serve (``PASSKEY_ORIGINS``)."""
    SIGN_COUNT = "sign_count"
    """A passkey's signature counter did not grow: a replayed assertion or a cloned key."""
    VERIFICATION_FAILED = "verification_failed"
    """A passkey's attestation or assertion does not verify (signature, RP ID, flags)."""
    INTERNAL = "internal"
    """The server failed; the details are in its log."""


class ProtocolError(Exception):
    """A request the server refuses, with the code and message the client will see."""

    def __init__(self, code: Code, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
        """More fields of the error object (``moved`` carries ``media``)."""

    def ack(self) -> dict[str, Any]:
        ack = error_ack(self.code, self.message)
        ack["error"].update(self.extra)
        return ack


class Unavailable(Exception):
    """A backend (archive, presence) could not be reached."""


def error_ack(code: Code, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code.value, "message": message}}


def bad_request(message: str) -> ProtocolError:
    return ProtocolError(Code.BAD_REQUEST, message)


def forbidden(message: str) -> ProtocolError:
    return ProtocolError(Code.FORBIDDEN, message)


def not_found(message: str) -> ProtocolError:
    return ProtocolError(Code.NOT_FOUND, message)


def too_large(message: str) -> ProtocolError:
    return ProtocolError(Code.TOO_LARGE, message)
