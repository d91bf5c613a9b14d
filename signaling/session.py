"""One client connection's media session in one room: a peer connection the server offers.

The server is always the offerer and the client only answers (docs/protocol.md, "Media through
the server"): aiortc is fragile as the answerer of a re-offer, and cannot remove m-lines, so
m-lines are only ever appended, by the server. A session's m-lines, in order:

* ``0`` audio, ``1`` video, ``2`` video, received: the client's microphone, camera and screen.
  Every session has them from the start, so that publishing (or being invited on stage later)
  never needs a renegotiation; the client attaches its tracks with ``replaceTrack``.
* ``3`` onwards, sent: *slots*, each forwarding one source of another member. A slot outlives
  what it forwards (``signaling.slot.Slot``): when a publisher goes, its slots go idle and are
  reused for the next publisher of the same kind, without a new m-line.

What is forwarded where is decided by ``signaling.room``; this module owns the peer
connection, its publications and slots, and the offer/answer sequence.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from . import sdp as sdp_check
from .codecs import prefer
from .errors import invalid
from .publication import Publication
from .slot import Slot
from .sources import KINDS, Source, Track

log = logging.getLogger(__name__)

_APPLYING = (
    *sdp_check.PARSING,
    RuntimeError,  # a StopIteration inside aiortc's coroutine
    InvalidAccessError,
    InvalidStateError,
    OperationError,
)
"""What aiortc raises when it cannot apply an answer that ``signaling.sdp`` let through."""

Key = tuple[str, Source]
"""A published source: (the publishing session's id, which source)."""


@dataclasses.dataclass(slots=True, eq=False)
class Line:
    """One sent m-line: its slot, and whose source the client is told it carries."""

    slot: Slot
    key: Key | None = None
    user: str | None = None
    """The publisher of ``key``, for the client's track list."""

    @property
    def kind(self) -> str:
        return self.slot.kind

    @property
    def mid(self) -> str | None:
        return self.slot.transceiver.mid


class PeerSession:
    """The server's peer connection with one client connection (``sid``) in one room.

    Not safe for concurrent use: the room runs one operation at a time per session.
    """

    def __init__(
        self,
        sid: str,
        user: str,
        *,
        ice_servers: list[RTCIceServer],
        keyframe_interval: float,
        backlog: int,
        on_start: Callable[[PeerSession, Source], None],
    ) -> None:
        self.sid = sid
        self.user = user
        self.backlog = backlog
        """Bytes unsent to this client before a slot counts as fallen behind."""
        # max-bundle: every m-line on the first one's transport from the start. aiortc's
        # default (balanced) shares one transport per kind at creation and then moves only
        # the first of each kind onto the BUNDLE transport, leaving later m-lines of that
        # kind on a transport it stops (aiortc 1.16, RTCPeerConnection.__createTransceiver).
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.publications: dict[Source, Publication] = {}
        self.lines: list[Line] = []
        self.version = 0
        """The number of the latest offer."""
        self.outstanding: int | None = None
        """The version of the offer that waits for its answer, if any."""
        self.untold = False
        """The slots' assignment changed since the client was last told."""
        self.lock = asyncio.Lock()
        self.closed = False
        for source, kind in KINDS.items():
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            prefer(transceiver)
            publication = Publication(self.pc, transceiver, keyframe_interval=keyframe_interval)
            publication.on_start = lambda source=source: on_start(self, source)
            self.publications[source] = publication

    def __repr__(self) -> str:
        return f"PeerSession(sid={self.sid} user={self.user} lines={len(self.lines)})"

    # -- sent m-lines -----------------------------------------------------------------------

    @property
    def assigned(self) -> dict[Key, Line]:
        return {line.key: line for line in self.lines if line.key is not None}

    def assign(self, key: Key, user: str, publication: Publication) -> bool:
        """Forward ``publication`` on a free line of its kind; True if a new m-line was added."""
        added = False
        line = next((s for s in self.lines if s.key is None and s.kind == publication.kind), None)
        if line is None:
            line = Line(Slot(self.pc, publication.kind, backlog=self.backlog))
            self.lines.append(line)
            added = True
        line.key, line.user = key, user
        line.slot.assign(publication)
        return added

    def unassign(self, key: Key) -> bool:
        """Stop forwarding ``key`` here; True if it was."""
        for line in self.lines:
            if line.key == key:
                line.slot.assign(None)
                line.key = line.user = None
                return True
        return False

    def tracks(self) -> list[Track]:
        """What the client receives, on m-lines it has been offered."""
        return [
            Track(mid=line.mid, user=line.user, source=line.key[1])
            for line in self.lines
            if line.key is not None and line.user is not None and line.mid is not None
        ]

    @property
    def unoffered(self) -> bool:
        """Whether some sent m-line has not been in an offer yet."""
        return any(line.mid is None for line in self.lines)

    # -- negotiation ------------------------------------------------------------------------

    async def offer(self) -> dict[str, str]:
        """A new offer (all candidates included: aiortc gathers before it returns)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.version += 1
        self.outstanding = self.version
        description = self.pc.localDescription
        return {"type": description.type, "sdp": description.sdp}

    async def answer(self, version: int, answer: dict[str, Any]) -> None:
        """Apply the client's answer to the outstanding offer numbered ``version``."""
        if self.outstanding is None or version != self.outstanding:
            expected = "none" if self.outstanding is None else str(self.outstanding)
            raise invalid(f"stale answer: expected version {expected}")
        if answer.get("type") != "answer":
            raise invalid("answer: type must be answer")
        sdp = answer.get("sdp", "")
        sdp_check.answer(sdp, self.pc.localDescription.sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except _APPLYING as exc:
            # Checked, yet aiortc cannot use it: still the client's answer, not our failure.
            log.info("%r: the answer does not fit the offer: %r", self, exc)
            raise invalid("the answer does not fit the offer") from None
        self.outstanding = None

    async def add_candidate(self, init: Any) -> None:
        """A trickled client candidate (an ``RTCIceCandidateInit``), or None: no more."""
        if init is None:
            await self.pc.addIceCandidate(None)
            return
        if not isinstance(init, dict) or not isinstance(init.get("candidate"), str):
            raise invalid("candidate: must be an object with a string candidate, or null")
        mid, index = init.get("sdpMid"), init.get("sdpMLineIndex")
        if mid is not None and not isinstance(mid, str):
            raise invalid("candidate: sdpMid must be a string or null")
        if index is not None and (type(index) is not int or not 0 <= index <= 65535):
            raise invalid("candidate: sdpMLineIndex must be an integer from 0 to 65535, or null")
        line = init["candidate"].removeprefix("candidate:")
        if not line:
            await self.pc.addIceCandidate(None)  # an empty candidate also ends them
            return
        candidate = sdp_check.candidate(line)
        candidate.sdpMid, candidate.sdpMLineIndex = mid, index
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMid = "0"  # BUNDLE: every m-line shares the first one's transport
        try:
            await self.pc.addIceCandidate(candidate)
        except OSError as exc:
            # aioice could not open its mDNS socket to resolve a .local name: a good
            # candidate this server cannot use (ICE goes on with the others).
            log.info("%r: an mDNS candidate not used: %r", self, exc)

    async def close(self) -> None:
        """End the publications, the slots and the peer connection."""
        if self.closed:
            return
        self.closed = True
        for publication in self.publications.values():
            await publication.stop()
        for line in self.lines:
            line.slot.stop()
        try:
            await self.pc.close()
        except Exception:
            # Ours or aiortc's bug: logged, and the session is gone all the same, so that its
            # client can start a new one (sfu:join replaces a session by closing it first).
            log.exception("%r: closing the peer connection failed", self)
            return
        log.info("%r closed", self)
