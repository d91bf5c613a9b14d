"""What the signalling package refuses, and why, in its own words.

``server.media`` turns a ``SignalingError`` into the protocol's error ack: the kind picks the
code the client sees, the message goes to the client as it is. Anything else raised here is a
failure of ours, not a refusal.
"""

from __future__ import annotations

import enum


class Refusal(enum.Enum):
    INVALID = "invalid"
    """The request has the wrong shape, or does not fit the session's state."""
    TOO_LARGE = "too_large"
    """The request is over its size limit."""


class SignalingError(Exception):
    """A request of the client that the package refuses, with a message for the client."""

    def __init__(self, kind: Refusal, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def invalid(message: str) -> SignalingError:
    return SignalingError(Refusal.INVALID, message)
