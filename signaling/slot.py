"""A subscriber slot: one sent m-line, and the frames of one publication written on it.

A slot lives as long as its m-line (aiortc cannot remove one) and is reassigned from one
publication to the next, or left idle (``assign``), so a subscriber's m-lines are reused as
publishers come and go. It is a frame sink of the publication it forwards: frames reach it
straight from the publisher's receive path and go out as RTP packets
(``signaling.packets.PacketWriter``) with nothing queued; the socket's buffer is the backlog.

After each assignment video starts at a keyframe (a delta frame before one would not decode),
and timestamps continue one frame interval after the last one sent, so the subscriber sees
one stream whose timestamps only go forward whoever publishes. A subscriber that falls behind
(its socket holds more than the backlog) drops frames until the next keyframe. A PLI or FIR
from the subscriber is passed on to the publication.

The slot is the one owner of its link to a publication: ``assign`` adds it to the
publication's sinks and takes it out of the previous one's; ``ended`` (the publication
stopped) is the only other place the link changes.
"""

from __future__ import annotations

import dataclasses
import logging

from aiortc import RTCPeerConnection, RTCRtpTransceiver

from .codecs import CODECS, prefer
from .packets import BACKLOG_BYTES, PacketWriter, Written
from .publication import EncodedFrame, Publication

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class SlotStats:
    forwarded: int = 0
    """Frames sent to the subscriber."""
    skipped: int = 0
    """Delta frames not sent while waiting for a keyframe."""
    dropped: int = 0
    """Frames not sent because the subscriber fell behind."""
    assignments: int = 0
    failed: int = 0
    """Frames the slot's writer raised on (logged once)."""


class Slot:
    """One sent m-line of ``pc``, for the whole life of its sender.

    Add it before the offer or answer is made; ``transceiver`` is its m-line.
    """

    def __init__(self, pc: RTCPeerConnection, kind: str, *, backlog: int = BACKLOG_BYTES) -> None:
        if kind not in CODECS:
            raise ValueError(f"Slot: no codec for kind={kind!r}")
        self.kind = kind
        self.stats = SlotStats()
        self.writer = PacketWriter(
            pc,
            kind,
            on_ready=self._ready,
            on_keyframe_request=self._keyframe_requested,
            backlog=backlog,
        )
        prefer(self.writer.transceiver)
        self.publication: Publication | None = None
        """What the slot forwards now."""
        self._waiting = True
        """Set until a keyframe is sent: delta frames before one would not decode."""
        self._fresh = True
        """Set by ``assign``: the next frame starts a new publisher's stream."""
        self._clock_rate: int | None = None
        self._offset = 0
        self._last: int | None = None
        """The last timestamp sent, in ``_clock_rate`` units."""
        self._step: int | None = None
        """The latest gap between two frames of one publisher: one frame interval."""
        self._limit = 1
        """The largest ``_step`` believed (0.2 s), computed once per assignment."""

    def __repr__(self) -> str:
        return f"Slot({self.kind}, {self.writer!r}, {self.publication!r})"

    @property
    def transceiver(self) -> RTCRtpTransceiver:
        return self.writer.transceiver

    @property
    def connected(self) -> bool:
        """Whether a keyframe sent now would reach the subscriber."""
        return self.writer.connected

    @property
    def wants_keyframe(self) -> bool:
        """Waiting for a keyframe that could be sent now."""
        return self._waiting and self.writer.connected

    def assign(self, publication: Publication | None) -> None:
        """Forward ``publication`` from its next keyframe on (``None``: nothing)."""
        if publication is not None and publication.kind != self.kind:
            raise ValueError(f"{self!r}: cannot forward {publication!r}")
        old = self.publication
        if publication is old:
            return
        if old is not None:
            old.discard(self)
        self.publication = publication
        self._waiting = True
        if publication is None:
            return
        self._fresh = True
        self.stats.assignments += 1
        publication.add(self)
        if self.connected:
            publication.catch_up(self)

    def ended(self, publication: Publication) -> None:
        """``publication`` stopped: idle until the next assignment."""
        if self.publication is publication:
            log.info("%r: its publication ended, waiting for an assignment", self)
            self.publication = None

    def stop(self) -> None:
        """Forward nothing more, and end the sender's RTP loop."""
        self.assign(None)
        self.writer.stop()

    def _ready(self) -> None:
        # The connection is up: start the assigned publisher's stream.
        if self.publication is not None:
            self.publication.catch_up(self)

    def _keyframe_requested(self) -> None:
        if self.publication is not None:
            self.publication.request_keyframe()

    def deliver(self, frame: EncodedFrame) -> None:
        """Send ``frame`` of the assigned publication as packets, unless it cannot be used."""
        if self._waiting and not frame.keyframe:
            self.stats.skipped += 1
            return
        written = self._write(frame)
        if written is Written.SENT:
            self.stats.forwarded += 1
            self._waiting = False
        elif written is Written.BEHIND:
            self._fell_behind()
        else:
            self._waiting = True  # not connected yet

    def _write(self, frame: EncodedFrame) -> Written:
        timestamp, timeline = self._place(frame.timestamp, frame.clock_rate)
        try:
            written = self.writer.write(frame.payloads, timestamp, frame.ntp or None)
        except Exception:  # never into the publisher's receive path
            self.stats.failed += 1
            if self.stats.failed == 1:  # once: it fails for every frame that follows
                log.exception("%r: writing a frame failed", self)
            return Written.DOWN
        if written is Written.SENT:
            self._keep(timestamp, timeline)
        return written

    def _fell_behind(self) -> None:
        self.stats.dropped += 1
        log.info("%r fell behind: dropped a frame, waiting for a keyframe", self)
        self._waiting = True
        if self.publication is not None:
            self.publication.stats.dropped += 1
            self.publication.request_keyframe()

    def _place(self, timestamp: int, clock_rate: int) -> tuple[int, tuple[int, int | None, int]]:
        """``timestamp`` (``clock_rate`` units, the publisher's) on the slot's timeline, and
        the timeline's (offset, step, limit) once it is sent: ``_keep`` takes both."""
        if self._clock_rate is None:
            self._clock_rate = clock_rate
        elif clock_rate != self._clock_rate:
            timestamp = timestamp * self._clock_rate // clock_rate
        offset, step, limit = self._offset, self._step, self._limit
        if self._fresh:
            per_second = 30 if self.kind == "video" else 50
            default = max(1, self._clock_rate // per_second)
            start = 0 if self._last is None else self._last + (step or default)
            offset = start - timestamp
            limit = max(1, self._clock_rate // 5)
        timestamp += offset
        if self._last is not None:
            if timestamp <= self._last:
                timestamp = self._last + 1  # never backwards, whatever the publisher sent
            else:
                step = min(timestamp - self._last, limit)
        return timestamp, (offset, step, limit)

    def _keep(self, timestamp: int, timeline: tuple[int, int | None, int]) -> None:
        """``timestamp``, placed by ``_place``, was sent: the slot's timeline goes on from it."""
        self._fresh = False
        self._offset, self._step, self._limit = timeline
        self._last = timestamp
