"""A published source: one publisher's encoded frames, received once and handed on.

A ``Publication`` takes the complete encoded frames of one received track from its receiver
before they are decoded (``signaling.transport.tap``), so the server never decodes them,
packetizes each once (``EncodedFrame.payloads``) and hands it to its frame sinks. A sink is
whatever takes a publication's frames: a subscriber slot that writes them as RTP packets
(``signaling.slot.Slot``), or a recorder that writes them to a file
(``signaling.recorder.Recorder``): a sink sees whole frames with their timestamps and
keyframe flags, not packets.

The publication also looks after keyframes, for every sink at once: it asks the publisher for
one (a PLI) when a sink needs it, at most once per interval however many ask, and keeps the
latest keyframe and the frames after it for a while, so a sink that starts now can begin
decoding at once (``catch_up``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack

from . import transport
from .codecs import is_keyframe, packetize

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One complete encoded frame of the publisher, as its receiver reassembled it."""

    data: bytes
    """The codec's bitstream, RTP payload headers removed."""
    timestamp: int
    """In ``clock_rate`` units, counted from the publication's first frame."""
    clock_rate: int
    keyframe: bool
    payloads: Sequence[bytes] = ()
    """The frame as RTP payloads (``packetize``), made once for every subscriber."""
    ntp: int = 0
    """When it arrived, as an NTP timestamp (``transport.ntp_now``); 0: sent later than
    it arrived (a replayed frame), so the sender takes the present time."""


class FrameSink(Protocol):
    """What a publication hands its frames to."""

    def deliver(self, frame: EncodedFrame) -> None:
        """Take one frame, on the event loop, straight from the receiver's path: never raise."""

    @property
    def wants_keyframe(self) -> bool:
        """Waiting for a keyframe that it could use now (the publication asks for one)."""

    def ended(self, publication: Publication) -> None:
        """``publication`` stopped: no more frames come from it."""


@dataclasses.dataclass(slots=True)
class PublicationStats:
    frames: int = 0
    """Complete frames received from the publisher."""
    keyframes: int = 0
    keyframe_requests: int = 0
    """PLIs sent to the publisher."""
    dropped: int = 0
    """Frames thrown away because a subscriber fell behind (all subscribers together)."""
    cpu_seconds: float = 0.0
    """Thread CPU time spent packetizing frames and handing them to the sinks (for slots:
    all of the forwarding, encryption and ``sendto`` included)."""


class Publication:
    """One publisher track, received on ``pc`` through ``transceiver``, and its sinks.

    Must be created before the receiver starts (in the ``track`` event, or before the
    answer/offer completes). ``stop`` ends the keyframe task and tells the sinks; the peer
    connection and the receiver belong to the caller.
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        transceiver: RTCRtpTransceiver,
        *,
        keyframe_interval: float = 0.5,
        catch_up: float = 0.5,
    ) -> None:
        self.kind: str = transceiver.kind
        self.name = f"publication={next(_ids)} kind={self.kind}"
        self.stats = PublicationStats()
        self.mime_type: str | None = None
        """The publisher's codec, known from its first frame."""
        self.on_start: Callable[[], None] | None = None
        """Called once, at the publisher's first frame."""
        self._pc = pc
        self._transceiver = transceiver
        self._interval = keyframe_interval
        self._catch_up = catch_up
        self._recent: list[EncodedFrame] = []
        """The latest keyframe and the frames after it, while it is under ``catch_up`` old."""
        self._recent_since = 0.0
        self._sinks: set[FrameSink] = set()
        self._origin: int | None = None
        self._picture_id = random.randrange(1 << 15)
        self._requested = False
        self._wanted = asyncio.Event()
        self._tap = transport.tap(transceiver.receiver, self.receive, self.end)
        self._task = asyncio.create_task(self._run_keyframes(), name=f"{self.name} keyframes")

    @classmethod
    def for_track(
        cls, pc: RTCPeerConnection, track: MediaStreamTrack, **options: Any
    ) -> Publication:
        """The publication of a track ``pc`` announced in its ``track`` event."""
        for transceiver in pc.getTransceivers():
            if transceiver.receiver.track is track:
                return cls(pc, transceiver, **options)
        raise ValueError(f"track={track.id} is not received on this peer connection")

    def __repr__(self) -> str:
        return f"Publication({self.name})"

    @property
    def sinks(self) -> frozenset[FrameSink]:
        return frozenset(self._sinks)

    def add(self, sink: FrameSink) -> None:
        """Hand ``sink`` every frame from the next one on (it decides where to start)."""
        self._sinks.add(sink)

    def discard(self, sink: FrameSink) -> None:
        self._sinks.discard(sink)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe soon; requests within one interval are one PLI."""
        if self.kind != "video":
            return  # audio frames stand alone
        self._requested = True
        self._wanted.set()

    def receive(self, mime_type: str, clock_rate: int, data: bytes, timestamp: int) -> None:
        """A complete frame from the receiver's jitter buffer (timestamps from 0, unwrapped)."""
        if self.mime_type is None:
            self.mime_type = mime_type
            log.info("%r: the publisher sends %s", self, mime_type)
            if self.on_start is not None:
                self.on_start()
        if self._origin is None:
            self._origin = timestamp
        started = time.thread_time()
        frame = EncodedFrame(
            data=data,
            timestamp=timestamp - self._origin,
            clock_rate=clock_rate,
            keyframe=is_keyframe(mime_type, data),
            payloads=packetize(mime_type, data, self._picture_id),
            ntp=transport.ntp_now(),
        )
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        self.stats.frames += 1
        self.stats.keyframes += frame.keyframe
        self._remember(frame)
        for sink in list(self._sinks):
            sink.deliver(frame)
        self.stats.cpu_seconds += time.thread_time() - started

    def _remember(self, frame: EncodedFrame) -> None:
        if self.kind != "video" or not self._catch_up:
            return
        now = time.monotonic()
        if frame.keyframe:
            self._recent = [frame]
            self._recent_since = now
        elif self._recent:
            if now - self._recent_since <= self._catch_up:
                self._recent.append(frame)
            else:
                self._recent = []  # too old to replay: a joiner asks for a keyframe

    def catch_up(self, sink: FrameSink) -> None:
        """Start ``sink`` now: replay the latest keyframe and what followed, if recent.

        A subscriber that just connected then decodes at once instead of waiting for a
        keyframe (and, when another was asked for lately, for the throttle). Without a
        recent enough keyframe, one is asked for.
        """
        if not (sink.wants_keyframe and self._recent) or time.monotonic() - self._recent_since > (
            self._catch_up
        ):
            self.request_keyframe()
            return
        for frame in self._recent:
            # Sent now: the abs-send-time and the sender report take the present time.
            sink.deliver(dataclasses.replace(frame, ntp=0))
        if sink.wants_keyframe:
            self.request_keyframe()

    def end(self) -> None:
        """No more frames come (the receiver stopped, or ``stop``): tell every sink."""
        sinks, self._sinks = self._sinks, set()
        for sink in sinks:
            sink.ended(self)

    async def stop(self) -> None:
        self._tap.close()  # later frames are dropped: nobody reads them
        self._task.cancel()
        await asyncio.wait([self._task])
        self.end()

    async def _run_keyframes(self) -> None:
        # One loop per publication spaces the PLIs out however many sinks ask, and asks
        # again while a sink still waits, in case a PLI or the keyframe was lost.
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if not (self._requested or any(s.wants_keyframe for s in self._sinks)):
                continue
            self._requested = False
            try:
                for ssrc in transport.media_ssrcs(self._pc, self._transceiver):
                    await transport.send_pli(self._transceiver.receiver, ssrc)
                    self.stats.keyframe_requests += 1
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%r: PLI sent for ssrc=%d", self, ssrc)
            except Exception:
                log.exception("%r: sending a PLI failed", self)
            await asyncio.sleep(self._interval)
            if any(s.wants_keyframe for s in self._sinks):
                self._wanted.set()
