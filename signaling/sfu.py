"""Selective forwarding: a publisher's encoded frames, sent on to subscribers without re-encoding.

aiortc (1.16) has no public hook for encoded media, so this module uses three private seams,
each checked by ``check_aiortc`` when a publication starts (and by ``tests/test_sfu.py``):

* ``RTCRtpReceiver.__decoder_queue``: the receiver reassembles each complete encoded frame in
  its jitter buffer and puts ``(codec, JitterFrame)`` on this queue for its decoder thread.
  ``Publication`` swaps in a queue that keeps the frames for itself, so the server never
  decodes them (and the receiver's own track, which nobody reads, never fills up).
* ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``: how the receiver asks its publisher for a
  keyframe (RFC 4585 section 6.3.1).
* ``RTCRtpSender._send_keyframe()``: what a subscriber's PLI or FIR calls. It only sets a flag
  that the packet path ignores, so ``ForwardedTrack`` wraps it on its own sender instance to
  relay the request to the publisher.

On the sending side nothing private is needed: a track whose ``recv()`` returns ``av.Packet``
is only packetized by ``RTCRtpSender`` (``Encoder.pack``), never encoded. That requires each
subscriber's transceiver to negotiate the publisher's codec, hence ``prefer``.

A sender stops for good when its track raises ``MediaStreamError`` and takes its RTP
timestamps from ``pts``, so a subscriber's sender reads a long-lived ``SlotTrack`` instead of a
``ForwardedTrack``: the slot is reassigned from one publication to the next (or left idle)
without ending, and rebases ``pts`` so that timestamps keep increasing across publishers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fractions
import functools
import inspect
import itertools
import logging
import queue
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription

from server.tasks import cancel

from .packets import BACKLOG_BYTES, PacketWriter, Written

log = logging.getLogger(__name__)

CODECS = {"video": "video/VP8", "audio": "audio/opus"}
"""The one codec per kind the SFU negotiates, publishers and subscribers alike: frames are
forwarded as they are, so a subscriber must take exactly what the publisher sends."""

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_STARTED = "_RTCRtpReceiver__started"
_ids = itertools.count(1)


def check_aiortc() -> None:
    """Raise ``RuntimeError`` unless aiortc still has the private seams this module uses."""
    problems = []
    pli = getattr(RTCRtpReceiver, "_send_rtcp_pli", None)
    if not (
        inspect.iscoroutinefunction(pli)
        and list(inspect.signature(pli).parameters)
        == [
            "self",
            "media_ssrc",
        ]
    ):
        problems.append("RTCRtpReceiver._send_rtcp_pli(self, media_ssrc) coroutine")
    keyframe = getattr(RTCRtpSender, "_send_keyframe", None)
    if not (callable(keyframe) and list(inspect.signature(keyframe).parameters) == ["self"]):
        problems.append("RTCRtpSender._send_keyframe(self)")
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    if "__decoder_queue.put((codec, encoded_frame))" not in handle:
        problems.append("RTCRtpReceiver._handle_rtp_packet puts (codec, frame) on its queue")
    if problems:
        raise RuntimeError(f"aiortc {_version()} lacks what the SFU relies on: {problems}")


def _version() -> str:
    import aiortc

    return str(getattr(aiortc, "__version__", "?"))


def prefer(transceiver: RTCRtpTransceiver) -> None:
    """Restrict ``transceiver`` to the SFU's codec for its kind (and its RTX)."""
    wanted = CODECS[transceiver.kind].lower()
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    transceiver.setCodecPreferences(
        [c for c in capabilities if c.mimeType.lower() in (wanted, f"{transceiver.kind}/rtx")]
    )


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a subscriber can start decoding at this frame."""
    mime_type = mime_type.lower()
    if mime_type == "video/vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame, which also
        # carries the start code 9d 01 2a.
        return len(data) >= 6 and not data[0] & 1 and data[3:6] == b"\x9d\x01\x2a"
    if mime_type == "video/h264":
        # aiortc depayloads to Annex B; an IDR slice (5) or a sequence parameter set (7)
        # starts a decodable picture (RFC 6184 section 1.3).
        return any(nal[0] & 0x1F in (5, 7) for nal in data.split(b"\x00\x00\x01")[1:] if nal)
    return not mime_type.startswith("video/")  # audio frames stand alone


PACKET_MAX = 1300
"""Largest RTP payload, as aiortc's own packetizer makes them (``aiortc.codecs.vpx``)."""


def packetize(mime_type: str, data: bytes, picture_id: int) -> list[bytes]:
    """``data`` as RTP payloads: VP8 split with payload descriptors (RFC 7741), else whole.

    Every VP8 payload has a descriptor with a 15-bit picture id (``X``, ``I`` and ``M`` set,
    as aiortc sends them); the first also has ``S``, the start of partition 0.
    """
    if mime_type.lower() != "video/vp8":
        return [data]
    rest = bytes([0x80, 0x80, 0x80 | (picture_id >> 8) & 0x7F, picture_id & 0xFF])
    first = b"\x90" + rest[1:]
    size = PACKET_MAX - len(rest)
    payloads = [first + data[:size]]
    payloads.extend(rest + data[pos : pos + size] for pos in range(size, len(data), size))
    return payloads


@functools.cache
def _time_base(clock_rate: int) -> fractions.Fraction:
    # One Fraction per clock rate, not one per frame per subscriber (they are immutable).
    return fractions.Fraction(1, clock_rate)


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
    """When it arrived, as an NTP timestamp (``aiortc.clock``)."""

    def packet(self) -> av.Packet[Any]:
        packet = av.Packet(self.data)
        packet.pts = self.timestamp
        packet.time_base = _time_base(self.clock_rate)
        return packet


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
    """Thread CPU time spent packetizing frames and handing them to subscribers: with slots
    that write packets (``SlotTrack(packets=True)``) all of the forwarding, encryption and
    ``sendto`` included; with queued tracks, not the senders' packetizing."""


@dataclasses.dataclass(slots=True)
class TrackStats:
    forwarded: int = 0
    """Frames handed to the subscriber's sender."""
    skipped: int = 0
    """Delta frames not sent while waiting for a keyframe."""
    dropped: int = 0
    """Frames queued but thrown away because the subscriber fell behind."""


class _FrameTap(queue.Queue[Any]):
    """Stands in for a receiver's decoder queue: frames go to the publication, not the decoder.

    ``put`` is called on the event loop by ``RTCRtpReceiver._handle_rtp_packet``; the stop
    sentinel ``None`` still reaches the decoder thread, so the receiver stops as it would.
    """

    def __init__(self, publication: Publication) -> None:
        super().__init__()
        self.publication: Publication | None = publication

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        publication = self.publication
        if item is None:
            super().put(None, block, timeout)
            if publication is not None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    publication.loop.call_soon_threadsafe(publication.end_tracks)
        elif publication is not None:
            codec, frame = item
            publication.receive(codec.mimeType, codec.clockRate, frame.data, frame.timestamp)


class ForwardedTrack(MediaStreamTrack):
    """What one subscriber's sender reads: the publisher's frames, as ``av.Packet``."""

    def __init__(self, publication: Publication, backlog: int) -> None:
        super().__init__()
        self.kind = publication.kind
        self.publication = publication
        self.stats = TrackStats()
        self.waiting = True
        """Set until a keyframe comes: delta frames before one would not decode."""
        self.slot: SlotTrack | None = None
        """The slot that writes this track's frames as packets itself (``SlotTrack.write``);
        None: the frames wait in a queue for a sender's ``recv``."""
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue(backlog)

    def __repr__(self) -> str:
        return f"ForwardedTrack({self.publication.name}, {self.id[:8]})"

    def deliver(self, frame: EncodedFrame) -> None:
        if self.waiting and not frame.keyframe:
            self.stats.skipped += 1
            return
        slot = self.slot
        if slot is not None:
            self._write(slot, frame)
            return
        if self._queue.full():
            # The subscriber fell behind: old frames are worth nothing to it now, and a
            # delta frame after a gap would not decode, so start again at a keyframe.
            self._fell_behind(self._clear())
            if not frame.keyframe:
                self.stats.skipped += 1
                return
        self.waiting = False
        self._queue.put_nowait(frame)

    @property
    def wants_keyframe(self) -> bool:
        """Waiting for a keyframe that could be sent now (its slot, if any, is connected)."""
        return self.waiting and (self.slot is None or self.slot.connected)

    def _write(self, slot: SlotTrack, frame: EncodedFrame) -> None:
        # The packet path: nothing is queued here; the socket's buffer is the backlog.
        written = slot.write(self, frame)
        if written is Written.SENT:
            self.stats.forwarded += 1
            self.waiting = False
        elif written is Written.BEHIND:
            self._fell_behind(1)
        else:
            self.waiting = True  # not connected yet (or the slot skipped a delta frame)

    def _fell_behind(self, dropped: int) -> None:
        self.stats.dropped += dropped
        self.publication.stats.dropped += dropped
        log.info("%r fell behind: dropped %d frames, waiting for a keyframe", self, dropped)
        self.waiting = True
        self.publication.request_keyframe()

    def end(self) -> None:
        """End the track now; a sender waiting in ``recv`` wakes up and ends its loop."""
        slot, self.slot = self.slot, None
        if slot is not None:
            slot.release(self)
        self._clear()
        self._queue.put_nowait(None)
        self.stop()

    def _clear(self) -> int:
        count = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            count += 1
        return count

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        self.stats.forwarded += 1
        return frame.packet()

    def stop(self) -> None:
        super().stop()
        self.publication.discard(self)

    def relay_keyframe_requests(self, sender: RTCRtpSender) -> None:
        """Pass the PLI/FIR a subscriber sends to ``sender`` on to the publisher.

        ``sender`` handles them by setting a flag for its encoder, which a track of packets
        never uses; the wrap is on this one sender instance, never on the class.
        """
        original: Callable[[], None] = sender._send_keyframe

        def send_keyframe() -> None:
            original()
            self.publication.request_keyframe()

        sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


@dataclasses.dataclass(slots=True)
class SlotStats:
    forwarded: int = 0
    """Frames handed to the slot's sender."""
    skipped: int = 0
    """Delta frames not sent while waiting for a keyframe after an assignment."""
    assignments: int = 0
    failed: int = 0
    """Frames the slot's writer raised on (logged once)."""


class SlotTrack(MediaStreamTrack):
    """What one subscriber slot sends, for the whole life of its sender.

    ``assign`` points the slot at a ``ForwardedTrack`` (or at nothing): the slot owns the
    tracks assigned to it and ends the one it replaces. After each assignment video starts at
    a keyframe, and timestamps continue one frame interval after the last one sent, so the
    subscriber sees one stream whose timestamps only go forward.

    Two ways to send, chosen at creation:

    * ``packets=True`` (the server's): once attached to a sender, the slot writes the frames'
      RTP packets itself (``signaling.packets.PacketWriter``), straight from the publisher's
      ``receive``; ``recv`` only waits for the slot to stop, so the sender's own RTP loop
      never sends anything.
    * ``packets=False``: frames are queued by the assigned track and ``recv`` returns them as
      ``av.Packet`` to the stock sender, which packetizes them per subscriber. ``recv`` never
      raises ``MediaStreamError`` until the slot itself is stopped: while unassigned, or once
      its track has ended (the publication stopped), it waits for the next assignment.
    """

    def __init__(self, kind: str, *, packets: bool = True, backlog: int = BACKLOG_BYTES) -> None:
        super().__init__()
        if kind not in CODECS:
            raise ValueError(f"SlotTrack: no codec for kind={kind!r}")
        self.kind = kind
        self.packets = packets
        self.backlog = backlog
        """Bytes unsent in the subscriber's socket beyond which it has fallen behind."""
        self.stats = SlotStats()
        self.writer: PacketWriter | None = None
        """Set by ``attach`` when the slot writes packets itself."""
        self._track: ForwardedTrack | None = None
        self._assigned = asyncio.Event()
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
        return f"SlotTrack({self.kind}, {self.id[:8]}, {self._track!r})"

    @property
    def track(self) -> ForwardedTrack | None:
        return self._track

    def assign(self, track: ForwardedTrack | None) -> None:
        """Forward ``track`` from its next keyframe on (``None``: nothing); ends the old one."""
        if track is not None and track.kind != self.kind:
            raise ValueError(f"{self!r}: cannot forward {track.kind} track {track!r}")
        old, self._track = self._track, track
        if old is not None and old is not track:
            old.slot = None
            old.end()  # a recv waiting on it wakes up and sees the new assignment
        if track is not None and track is not old:
            self._fresh = True
            self.stats.assignments += 1
            if self.writer is not None:
                track.slot = self
            if self.connected:
                self._start(track)
            self._assigned.set()

    def add_to(self, pc: RTCPeerConnection) -> RTCRtpSender:
        """Send this slot on ``pc`` (before its offer or answer is made)."""
        transceiver = pc.addTransceiver(self, direction="sendonly")
        self.attach(transceiver)
        return transceiver.sender

    def attach(self, transceiver: RTCRtpTransceiver) -> None:
        """Set up ``transceiver``, whose sender sends this slot, before it is negotiated."""
        prefer(transceiver)
        self.relay_keyframe_requests(transceiver.sender)
        if self.packets:
            self.writer = PacketWriter(
                transceiver.sender, on_ready=self._ready, backlog=self.backlog
            )
            if self._track is not None:
                self._track.slot = self

    def release(self, track: ForwardedTrack) -> None:
        """``track`` ended (its publication stopped): idle until the next assignment."""
        if self._track is track:
            log.info("%r: its track ended, waiting for an assignment", self)
            self._track = None

    def _ready(self) -> None:
        # The connection is up: start the assigned publisher's stream.
        if self._track is not None:
            self._start(self._track)

    def _start(self, track: ForwardedTrack) -> None:
        if self.writer is None:
            track.publication.request_keyframe()
        else:
            track.publication.catch_up(track)

    @property
    def connected(self) -> bool:
        """Whether a keyframe sent now would reach the subscriber (always, with no writer)."""
        return self.writer is None or self.writer.connected

    def relay_keyframe_requests(self, sender: RTCRtpSender) -> None:
        """Pass the PLI/FIR a subscriber sends to ``sender`` on to the assigned publisher.

        Wrapped once per sender, whatever is assigned later (see
        ``ForwardedTrack.relay_keyframe_requests``).
        """
        original: Callable[[], None] = sender._send_keyframe

        def send_keyframe() -> None:
            original()
            if self._track is not None:
                self._track.publication.request_keyframe()

        sender._send_keyframe = send_keyframe  # type: ignore[method-assign]

    def stop(self) -> None:
        super().stop()
        self.assign(None)
        self._assigned.set()  # wake a waiting recv, which then ends

    def write(self, track: ForwardedTrack, frame: EncodedFrame) -> Written:
        """Send ``frame`` of the assigned ``track`` as packets: ``SENT``, or why not."""
        writer = self.writer
        if writer is None or track is not self._track or self.readyState != "live":
            return Written.DOWN
        if self._fresh and self.kind == "video" and not frame.keyframe:
            self.stats.skipped += 1
            return Written.DOWN
        timestamp, timeline = self._place(frame.timestamp, frame.clock_rate)
        try:
            written = writer.write(frame.payloads, timestamp, frame.ntp or None)
        except Exception:  # never into the publisher's receive path
            self.stats.failed += 1
            if self.stats.failed == 1:  # once: it fails for every frame that follows
                log.exception("%r: writing a frame failed", self)
            return Written.DOWN
        if written is Written.SENT:
            self._keep(timestamp, timeline)
            self.stats.forwarded += 1
        return written

    async def recv(self) -> av.Packet[Any]:
        while self.readyState == "live":
            if self.writer is not None:
                # The slot writes its packets itself; the sender's loop only waits here.
                self._assigned.clear()
                await self._assigned.wait()
                continue
            track = self._track
            if track is None:
                self._assigned.clear()
                await self._assigned.wait()
                continue
            try:
                packet = await track.recv()
            except MediaStreamError:
                if self._track is track:  # the publication ended: idle until reassigned
                    log.info("%r: its track ended, waiting for an assignment", self)
                    self._track = None
                continue
            if self._track is not track:
                continue  # reassigned while this frame was on its way
            if self._rebase(track, packet):
                self.stats.forwarded += 1
                return packet
        raise MediaStreamError

    def _rebase(self, track: ForwardedTrack, packet: av.Packet[Any]) -> bool:
        """Set ``packet``'s pts on the slot's timeline; False to skip the packet."""
        if packet.pts is None or packet.time_base is None:
            return False
        if self._fresh and self.kind == "video":
            mime_type = track.publication.mime_type or CODECS[self.kind]
            if not is_keyframe(mime_type, bytes(packet)):
                # A track that was not new: its next keyframe starts the slot's stream.
                self.stats.skipped += 1
                track.publication.request_keyframe()
                return False
        clock_rate = packet.time_base.denominator // packet.time_base.numerator
        pts, timeline = self._place(packet.pts, clock_rate)
        self._keep(pts, timeline)
        packet.pts = pts
        packet.time_base = _time_base(self._clock_rate or clock_rate)
        return True

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


class Publication:
    """One publisher track, received on ``pc`` through ``transceiver``, and its subscribers.

    Must be created before the receiver starts (in the ``track`` event, or before the
    answer/offer completes). ``stop`` ends the task and the tracks this object made; the peer
    connections, the receiver and the senders belong to the caller.
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        transceiver: RTCRtpTransceiver,
        *,
        keyframe_interval: float = 0.5,
        backlog: int = 64,
        catch_up: float = 0.5,
    ) -> None:
        check_aiortc()
        receiver = transceiver.receiver
        if getattr(receiver, _RECEIVER_STARTED, True) or not isinstance(
            getattr(receiver, _DECODER_QUEUE, None), queue.Queue
        ):
            raise RuntimeError("Publication: the receiver has already started, or aiortc moved")
        self.kind: str = transceiver.kind
        self.name = f"publication={next(_ids)} kind={self.kind}"
        self.loop = asyncio.get_running_loop()
        self.stats = PublicationStats()
        self.mime_type: str | None = None
        """The publisher's codec, known from its first frame."""
        self.on_start: Callable[[], None] | None = None
        """Called once, at the publisher's first frame."""
        self._pc = pc
        self._transceiver = transceiver
        self._receiver = receiver
        self._interval = keyframe_interval
        self._backlog = backlog
        self._catch_up = catch_up
        self._recent: list[EncodedFrame] = []
        """The latest keyframe and the frames after it, while it is under ``catch_up`` old."""
        self._recent_since = 0.0
        self._tracks: set[ForwardedTrack] = set()
        self._origin: int | None = None
        self._picture_id = random.randrange(1 << 15)
        self._requested = False
        self._wanted = asyncio.Event()
        self._tap = _FrameTap(self)
        setattr(receiver, _DECODER_QUEUE, self._tap)
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
    def tracks(self) -> frozenset[ForwardedTrack]:
        return frozenset(self._tracks)

    def subscribe(self, *, keyframe: bool = True) -> ForwardedTrack:
        """A new outgoing track, which starts at the next keyframe.

        With ``keyframe`` one is asked for now; a slot that writes packets asks for itself
        once its connection is up (``SlotTrack.assign``), since a keyframe that comes before
        is wasted and the throttle would hold back the one that counts.
        """
        track = ForwardedTrack(self, self._backlog)
        self._tracks.add(track)
        if keyframe:
            self.request_keyframe()
        return track

    def add_to(self, pc: RTCPeerConnection) -> RTCRtpSender:
        """Send this publication on ``pc`` (before its offer or answer is made)."""
        track = self.subscribe()
        transceiver = pc.addTransceiver(track, direction="sendonly")
        prefer(transceiver)
        track.relay_keyframe_requests(transceiver.sender)
        return transceiver.sender

    def discard(self, track: ForwardedTrack) -> None:
        self._tracks.discard(track)

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
            ntp=current_ntp_time(),
        )
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        self.stats.frames += 1
        self.stats.keyframes += frame.keyframe
        self._remember(frame)
        for track in list(self._tracks):
            track.deliver(frame)
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

    def catch_up(self, track: ForwardedTrack) -> None:
        """Start ``track`` now: replay the latest keyframe and what followed, if recent.

        A subscriber that just connected then decodes at once instead of waiting for a
        keyframe (and, when another was asked for lately, for the throttle). Without a
        recent enough keyframe, one is asked for.
        """
        if not (track.waiting and self._recent) or time.monotonic() - self._recent_since > (
            self._catch_up
        ):
            self.request_keyframe()
            return
        for frame in self._recent:
            # Sent now: the abs-send-time and the sender report take the present time.
            track.deliver(dataclasses.replace(frame, ntp=0))
        if track.waiting:
            self.request_keyframe()

    def end_tracks(self) -> None:
        for track in list(self._tracks):
            track.end()

    async def stop(self) -> None:
        self._tap.publication = None  # later frames are dropped: nobody reads them
        await cancel(self._task, what=f"{self.name} keyframes")
        self.end_tracks()
        self._tracks.clear()

    def _media_ssrcs(self) -> list[int]:
        # The publisher's media SSRC, by aiortc's own rule (the first a=ssrc of the m-line);
        # without one in the SDP, every source heard lately (RTX SSRCs are harmlessly extra).
        description = self._pc.remoteDescription
        if description is not None:
            for media in SessionDescription.parse(description.sdp).media:
                if media.rtp.muxId == self._transceiver.mid and media.ssrc:
                    return [media.ssrc[0].ssrc]
        return [source.source for source in self._receiver.getSynchronizationSources()]

    async def _run_keyframes(self) -> None:
        # One loop per publication spaces the PLIs out however many subscribers ask, and
        # asks again while a subscriber still waits, in case a PLI or the keyframe was lost.
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if not (self._requested or any(t.wants_keyframe for t in self._tracks)):
                continue
            self._requested = False
            try:
                for ssrc in self._media_ssrcs():
                    await self._receiver._send_rtcp_pli(ssrc)
                    self.stats.keyframe_requests += 1
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%r: PLI sent for ssrc=%d", self, ssrc)
            except Exception:
                log.exception("%r: sending a PLI failed", self)
            await asyncio.sleep(self._interval)
            if any(t.wants_keyframe for t in self._tracks):
                self._wanted.set()
