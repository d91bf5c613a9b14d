"""What a relayed ``signal`` may carry.

``offer`` and ``answer`` carry an ``RTCSessionDescriptionInit`` (``{"type", "sdp"}``);
``candidate`` carries an ``RTCIceCandidateInit`` (``{"candidate", "sdpMid", "sdpMLineIndex"}``)
or ``null`` for the end of candidates (W3C webrtc-pc, sections 4.8 and 4.8.1.2). The server
checks the shape and size and passes the rest through untouched.
"""

from __future__ import annotations

from typing import Any

import msgspec

from server.errors import bad_request, too_large
from server.protocol import SignalType

_DESCRIPTION_TYPES = {"offer", "answer", "pranswer", "rollback"}


def check(kind: SignalType, data: Any, max_bytes: int) -> None:
    """Raise ``bad_request`` or ``too_large`` unless ``data`` fits ``kind``."""
    if len(msgspec.json.encode(data)) > max_bytes:
        raise too_large(f"signal data must be at most {max_bytes} bytes")
    if kind is SignalType.CANDIDATE:
        if data is None:
            return
        if not isinstance(data, dict) or not isinstance(data.get("candidate", ""), str):
            raise bad_request("data: a candidate must be an object with a string candidate")
        return
    if (
        not isinstance(data, dict)
        or data.get("type") not in _DESCRIPTION_TYPES
        or not isinstance(data.get("sdp", ""), str)
    ):
        raise bad_request(f"data: an {kind.value} must be an object with type and sdp strings")
