"""What a member publishes, and what a client is told it receives.

These are the package's own types; ``server.media`` translates them to the protocol's
(``server.protocol.Source`` and ``Track``), whose values and fields they share.
"""

from __future__ import annotations

import dataclasses
import enum


class Source(enum.StrEnum):
    """A member's published source; each has its own received m-line in a media session."""

    MIC = "mic"
    CAMERA = "camera"
    SCREEN = "screen"


KINDS: dict[Source, str] = {Source.MIC: "audio", Source.CAMERA: "video", Source.SCREEN: "video"}
"""The received m-lines, in order (mids 0, 1, 2), and their kinds."""


@dataclasses.dataclass(frozen=True, slots=True)
class Track:
    """A forwarded source in a media session: which member's source arrives on which m-line."""

    mid: str
    user: str
    source: Source
