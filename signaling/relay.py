"""What a relayed ``signal`` may carry.

``offer`` and ``answer`` carry an ``RTCSessionDescriptionInit`` (``{"type", "sdp"}``);
``candidate`` carries an ``RTCIceCandidateInit`` (``{"candidate", "sdpMid", "sdpMLineIndex"}``)
or ``null`` for the end of candidates (W3C webrtc-pc, sections 4.8 and 4.8.1.2). The server
checks the shape and size and passes the rest through untouched.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from .errors import Refusal, SignalingError, invalid


class Kind(enum.StrEnum):
    """What a relayed signal carries."""

    OFFER = "offer"
    ANSWER = "answer"
    CANDIDATE = "candidate"


_DESCRIPTION_TYPES = {"offer", "answer", "pranswer", "rollback"}


def check(kind: Kind, data: Any, max_bytes: int) -> None:
    """Raise ``SignalingError`` unless ``data`` fits ``kind`` and ``max_bytes``."""
    if len(msgspec.json.encode(data)) > max_bytes:
        raise SignalingError(Refusal.TOO_LARGE, f"signal data must be at most {max_bytes} bytes")
    if kind is Kind.CANDIDATE:
        if data is None:
            return
        if not isinstance(data, dict) or not isinstance(data.get("candidate", ""), str):
            raise invalid("data: a candidate must be an object with a string candidate")
        return
    if (
        not isinstance(data, dict)
        or data.get("type") not in _DESCRIPTION_TYPES
        or not isinstance(data.get("sdp", ""), str)
    ):
        raise invalid(f"data: an {kind.value} must be an object with type and sdp strings")
