"""The SFU with real aiortc peers over loopback: a VP8 publisher, the server, subscribers."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import pylibsrtp
import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCRtpSender
from aiortc.codecs.base import Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpreceiver import decoder_worker
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket, RtpPacket

from signaling import codecs, packets, transport
from signaling.publication import Publication
from signaling.slot import Slot

from .support.media import HEIGHT, WIDTH, Pattern

WAIT = 10.0


pytestmark = pytest.mark.timeout(30)


async def connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    # aiortc gathers every candidate before setLocalDescription returns: no trickling.
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    both = [connected(offerer), connected(answerer)]
    await offerer.setRemoteDescription(answerer.localDescription)
    # A sender starts sending once DTLS is up: the track event comes earlier than that.
    await asyncio.wait_for(asyncio.gather(*both), WAIT)


def connected(pc: RTCPeerConnection) -> asyncio.Future[None]:
    """Resolves once ``pc`` is connected: from then on its senders' RTP tasks run."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check() -> None:
        if pc.connectionState == "connected" and not done.done():
            done.set_result(None)
        elif pc.connectionState in ("failed", "closed") and not done.done():
            done.set_exception(ConnectionError(f"peer connection {pc.connectionState}"))

    pc.on("connectionstatechange", check)
    check()
    return done


def count_keyframe_requests(sender: RTCRtpSender) -> list[float]:
    """Times at which ``sender`` (the publisher's) received a PLI or FIR over the wire."""
    seen: list[float] = []
    original = sender._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            seen.append(time.monotonic())
        await original(packet)

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]
    return seen


def encoder_of(sender: RTCRtpSender) -> Encoder | None:
    encoder: Encoder | None = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
    return encoder


async def until(condition: Callable[[], bool]) -> None:
    """Wait, bounded, for a state that only media flowing in the background can bring."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - stats counters, not events
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT)


class Subscriber:
    """A client receiving one slot: the slot is on ``out``, the server's side."""

    def __init__(self, stage: Stage, kind: str = "video") -> None:
        self.out, self.pc = stage.pc(), stage.pc()
        self.slot = Slot(self.out, kind)
        self.sender = self.slot.transceiver.sender
        self.track: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pc.on("track", lambda track: self.track.set_result(track))

    async def connect(self) -> Subscriber:
        await connect(self.out, self.pc)
        return self

    async def frame(self) -> av.VideoFrame:
        frame = await self.any_frame()
        assert isinstance(frame, av.VideoFrame)
        return frame

    async def any_frame(self) -> Any:
        track = await asyncio.wait_for(self.track, WAIT)
        return await asyncio.wait_for(track.recv(), WAIT)


class Stage:
    """A publisher sending VP8 to the server, which forwards it to any number of subscribers."""

    def __init__(self, source: MediaStreamTrack | None = None, **options: Any) -> None:
        self.options = options
        self.pcs: list[RTCPeerConnection] = []
        self.source = source or Pattern()
        self.publication: Publication | None = None

    def pc(self) -> RTCPeerConnection:
        self.pcs.append(RTCPeerConnection())
        return self.pcs[-1]

    async def start(self) -> None:
        self.publisher, self.server = self.pc(), self.pc()
        transceiver = self.publisher.addTransceiver(self.source, direction="sendonly")
        codecs.prefer(transceiver)
        self.publisher_sender = transceiver.sender
        self.pli = count_keyframe_requests(self.publisher_sender)

        @self.server.on("track")
        def on_track(track: Any) -> None:
            self.publication = Publication.for_track(self.server, track, **self.options)

        await connect(self.publisher, self.server)
        assert self.publication is not None

    async def subscribe(self) -> Subscriber:
        """A new subscriber of the publication, connected."""
        assert self.publication is not None
        subscriber = Subscriber(self, self.publication.kind)
        subscriber.slot.assign(self.publication)
        return await subscriber.connect()

    async def close(self) -> None:
        if self.publication is not None:
            await self.publication.stop()
        for pc in self.pcs:
            await pc.close()


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    stage = Stage()
    await stage.start()
    yield stage
    await stage.close()


def test_aiortc_still_has_the_seams_the_sfu_uses() -> None:
    # Fails loudly when an aiortc or aioice upgrade moves what signaling/transport.py uses.
    transport.check()
    assert all(seam.present() for seam in transport.SEAMS)
    # The public ground the seams stand on: the decoder thread ends at the None sentinel
    # the tap lets through; a frame is (data, timestamp); a connection starts each sender
    # through its (instance) send method; our VP8 payloads are aiortc's.
    assert list(inspect.signature(decoder_worker).parameters) == [
        "loop",
        "input_q",
        "output_q",
        "decode_error",
    ]
    frame = JitterFrame(data=b"x", timestamp=1)
    assert (frame.data, frame.timestamp) == (b"x", 1)
    assert "await transceiver.sender.send(" in inspect.getsource(RTCPeerConnection)
    assert Vp8Encoder._packetize(b"x" * 3000, 5) == codecs.packetize("video/VP8", b"x" * 3000, 5)


@pytest.mark.parametrize(
    ("cls", "name", "seam"),
    [
        (RTCRtpSender, "_retransmit", "aiortc {} no longer has RTCRtpSender._retransmit"),
        (RTCRtpSender, "_send_keyframe", "aiortc {} no longer has RTCRtpSender._send_keyframe"),
    ],
)
def test_a_missing_seam_is_named_with_its_library_and_version(
    monkeypatch: pytest.MonkeyPatch, cls: type, name: str, seam: str
) -> None:
    monkeypatch.delattr(cls, name)
    with pytest.raises(transport.MissingSeam) as raised:
        transport.check()
    assert str(raised.value).startswith(seam.format(importlib.metadata.version("aiortc")))


async def test_seams_exist_on_live_objects() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        frames: list[Any] = []
        transport.tap(transceiver.receiver, lambda *frame: frames.append(frame), lambda: None)
        with pytest.raises(RuntimeError, match="already tapped"):
            transport.tap(transceiver.receiver, lambda *frame: None, lambda: None)
        # An Outbound checks its sender's SSRC and report counters when it is made.
        outbound = transport.Outbound(
            pc,
            "video",
            on_negotiated=lambda negotiated: None,
            on_ready=lambda: None,
            on_nack=lambda sequence: None,
            on_keyframe_request=lambda: None,
        )
        assert outbound.ssrc == outbound.sender._ssrc
        assert encoder_of(outbound.sender) is None
    finally:
        await pc.close()


async def test_subscribers_decode_forwarded_frames_without_an_encoder(stage: Stage) -> None:
    subscribers = [await stage.subscribe() for _ in range(3)]
    for subscriber in subscribers:
        first = await subscriber.frame()
        assert (first.width, first.height) == (WIDTH, HEIGHT)
    # Frames keep flowing to everyone, in order.
    for subscriber in subscribers:
        last = -1
        for _ in range(15):
            frame = await subscriber.frame()
            assert (frame.width, frame.height) == (WIDTH, HEIGHT)
            assert frame.pts is not None and frame.pts > last
            last = frame.pts
    publisher_encoder = encoder_of(stage.publisher_sender)
    assert isinstance(publisher_encoder, Vp8Encoder) and publisher_encoder.codec is not None
    for subscriber in subscribers:
        # The slot wrote the packets: the subscriber's sender never had anything to encode.
        assert encoder_of(subscriber.sender) is None
        assert subscriber.slot.stats.forwarded >= 16
    assert stage.publication is not None
    assert stage.publication.sinks == {subscriber.slot for subscriber in subscribers}
    # The server decoded nothing: its receiver's own track never got a frame.
    assert stage.server.getReceivers()[0].track._queue.qsize() == 0  # type: ignore[attr-defined]


async def test_keyframe_requests_are_throttled_per_publication() -> None:
    stage = Stage(keyframe_interval=0.5)
    try:
        await stage.start()
        publication = stage.publication
        assert publication is not None
        subscriber = await stage.subscribe()
        await subscriber.frame()
        await until(lambda: not any(s.wants_keyframe for s in publication.sinks))
        await asyncio.sleep(0.6)  # let the interval of the first request pass
        before, started = len(stage.pli), time.monotonic()
        for _ in range(20):  # many subscribers asking, for about one second
            publication.request_keyframe()
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)  # the last PLI's way to the publisher
        sent = len(stage.pli) - before
        assert 1 <= sent <= int(elapsed / 0.5) + 1
        gaps = [b - a for a, b in zip(stage.pli[before:], stage.pli[before + 1 :], strict=False)]
        assert all(gap > 0.4 for gap in gaps), gaps
    finally:
        await stage.close()


async def test_a_subscribers_pli_reaches_the_publisher(stage: Stage) -> None:
    subscriber = await stage.subscribe()
    await subscriber.frame()
    await asyncio.sleep(0.6)  # past the throttle interval of the first request
    before = len(stage.pli)
    receiver = subscriber.pc.getReceivers()[0]
    # A real PLI over the subscriber's connection, as a browser sends after a loss.
    await receiver._send_rtcp_pli(subscriber.sender._ssrc)
    await until(lambda: len(stage.pli) > before)


async def test_stop_ends_its_task_and_frees_its_slots_and_closes_nothing_else(
    stage: Stage,
) -> None:
    publication = stage.publication
    assert publication is not None
    subscribers = [await stage.subscribe() for _ in range(2)]
    for subscriber in subscribers:
        await subscriber.frame()
    await publication.stop()
    assert publication._task.done()
    assert all(subscriber.slot.publication is None for subscriber in subscribers)
    assert not publication.sinks
    assert {pc.connectionState for pc in stage.pcs} == {"connected"}
    # The publisher still sends; the server's receiver simply drops what arrives.
    frames = publication.stats.frames
    await asyncio.sleep(0.2)
    assert publication.stats.frames == frames
    assert stage.source.readyState == "live"


def test_keyframes_are_recognised() -> None:
    vp8_key = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01])
    assert codecs.is_keyframe("video/VP8", vp8_key)
    assert not codecs.is_keyframe("video/VP8", bytes([0x11, 0x02, 0x00, 0, 0, 0]))
    assert codecs.is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x65\x88")
    assert not codecs.is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert codecs.is_keyframe("audio/opus", b"\xfc")


async def test_opus_is_forwarded_too() -> None:
    stage = Stage(AudioStreamTrack())
    try:
        await stage.start()
        publication = stage.publication
        assert publication is not None and publication.kind == "audio"
        subscribers = [await stage.subscribe() for _ in range(2)]
        for subscriber in subscribers:
            for _ in range(5):
                frame = await subscriber.any_frame()
                assert isinstance(frame, av.AudioFrame) and frame.sample_rate == 48000
        assert publication.mime_type == "audio/opus"
        # Audio frames stand alone: nobody waits, nothing to ask.
        assert publication.stats.keyframe_requests == 0
        assert all(subscriber.slot.stats.skipped == 0 for subscriber in subscribers)
    finally:
        await stage.close()


def rtp_running(sender: RTCRtpSender) -> bool:
    task: asyncio.Future[None] | None = sender._RTCRtpSender__rtp_task  # type: ignore[attr-defined]
    return task is not None and not task.done()


async def frames_until_size(
    subscriber: Subscriber, size: tuple[int, int], pts: list[int]
) -> av.VideoFrame:
    """Read frames (recording their pts) until one of ``size`` comes; bounded."""

    async def read() -> av.VideoFrame:
        while True:
            frame = await subscriber.frame()
            assert frame.pts is not None
            pts.append(frame.pts)
            if (frame.width, frame.height) == size:
                return frame

    return await asyncio.wait_for(read(), WAIT)


async def test_a_slot_moves_to_another_publisher_without_its_sender_stopping(
    stage: Stage,
) -> None:
    other = Stage(Pattern(160, 120))
    try:
        a = stage.publication
        assert a is not None
        subscriber = Subscriber(stage)
        slot = subscriber.slot
        slot.assign(a)
        await subscriber.connect()
        pts: list[int] = []
        for _ in range(10):
            await frames_until_size(subscriber, (WIDTH, HEIGHT), pts)
        last_a = pts[-1]
        # B starts now, so its own timestamps are well behind A's: only rebasing keeps the
        # slot's going forward (aiortc's receiver would take a step back for a wrap).
        await other.start()
        b = other.publication
        assert b is not None
        slot.assign(b)
        frame = await frames_until_size(subscriber, (160, 120), pts)
        switch = pts.index(frame.pts)
        for _ in range(10):  # B keeps coming, decodable, on the same sender
            frame = await subscriber.frame()
            assert (frame.width, frame.height) == (160, 120)
            assert frame.pts is not None
            pts.append(frame.pts)
        gaps = [y - x for x, y in itertools.pairwise(pts)]
        # Forward only, and at least half a frame (1/30 s at 90 kHz) apart: real spacing.
        assert all(gap >= 1500 for gap in gaps), gaps
        # B continues about one frame (1/30 s at 90 kHz) after A's last, whatever B's clock.
        assert 0 < pts[switch] - pts[switch - 1] <= 3 * 3000
        assert pts[switch - 1] >= last_a
        assert rtp_running(subscriber.sender)
        # A's publication no longer hands its frames to the slot.
        assert not a.sinks and b.sinks == {slot}
        assert slot.stats.assignments == 2 and slot.stats.skipped == 0
    finally:
        await other.close()


async def test_an_idle_slot_sends_nothing_until_assigned_and_outlives_its_publisher(
    stage: Stage,
) -> None:
    publication = stage.publication
    assert publication is not None
    subscriber = await Subscriber(stage).connect()
    slot = subscriber.slot
    remote = await asyncio.wait_for(subscriber.track, WAIT)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(remote.recv(), 0.3)  # media time: an idle slot sends nothing
    assert slot.stats.forwarded == 0 and rtp_running(subscriber.sender)

    slot.assign(publication)
    pts: list[int] = []
    await frames_until_size(subscriber, (WIDTH, HEIGHT), pts)
    for _ in range(5):
        await frames_until_size(subscriber, (WIDTH, HEIGHT), pts)

    # The publication stops: the slot goes idle instead of ending its sender.
    await publication.stop()
    assert slot.publication is None
    assert rtp_running(subscriber.sender)

    other = Stage(Pattern(160, 120))
    try:
        await other.start()
        assert other.publication is not None
        slot.assign(other.publication)
        await frames_until_size(subscriber, (160, 120), pts)
        assert all(x < y for x, y in itertools.pairwise(pts)), pts
    finally:
        await other.close()
    slot.stop()
    await until(lambda: not rtp_running(subscriber.sender))


class Heard:
    """The RTP packets a subscriber's receiver got, as aiortc parsed them.

    Made before the subscriber connects: the receiver is hooked as its track appears, before
    any packet can arrive.
    """

    def __init__(self, subscriber: Subscriber) -> None:
        self.packets: list[RtpPacket] = []
        subscriber.pc.on("track", lambda _track: self.hook(subscriber.pc.getReceivers()[0]))

    def hook(self, receiver: Any) -> None:
        original = receiver._handle_rtp_packet

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            self.packets.append(packet)
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle


async def test_written_packets_carry_this_connections_ssrc_payload_type_mid_and_clock(
    stage: Stage,
) -> None:
    a = stage.publication
    assert a is not None
    subscriber = Subscriber(stage)
    subscriber.slot.assign(a)
    heard = Heard(subscriber)
    await subscriber.connect()
    for _ in range(5):
        await subscriber.frame()
    other = Stage(Pattern(160, 120))
    try:
        await other.start()
        assert other.publication is not None
        subscriber.slot.assign(other.publication)
        await frames_until_size(subscriber, (160, 120), [])
    finally:
        await other.close()
    sender = subscriber.sender
    parameters = subscriber.out.getTransceivers()[0]
    vp8 = next(c for c in sender.getCapabilities("video").codecs if c.mimeType == "video/VP8")
    assert vp8
    received = heard.packets
    assert received and {p.ssrc for p in received} == {sender._ssrc}
    assert {p.extensions.mid for p in received} == {parameters.mid}
    assert all(p.extensions.abs_send_time is not None for p in received)
    # One sequence across both publishers, no gap, no repeat (loopback loses nothing).
    sequences = [p.sequence_number for p in received]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(sequences)), sequences
    # A frame's packets share a timestamp and the last of each has the marker bit.
    for x, y in itertools.pairwise(received):
        assert (x.timestamp == y.timestamp) == (not x.marker)
    # The sender's own loop sent nothing: no encoder, and its history of packets is empty.
    assert encoder_of(sender) is None
    assert not sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    assert subscriber.slot.writer.packets == len(received)


async def test_a_lost_packet_is_sent_again_from_the_writers_history(stage: Stage) -> None:
    a = stage.publication
    assert a is not None
    subscriber = Subscriber(stage)
    subscriber.slot.assign(a)
    heard = Heard(subscriber)
    await subscriber.connect()
    await subscriber.frame()
    # The subscriber's network loses one packet, before decryption (as on the wire); its
    # receiver notices the gap and sends a NACK, which the writer answers.
    dtls = subscriber.pc.getReceivers()[0].transport
    lost: list[int] = []

    class Lossy:
        def __init__(self, session: Any) -> None:
            self.session = session

        def unprotect(self, data: bytes) -> bytes:
            if not lost:
                lost.append(int.from_bytes(data[2:4], "big"))  # RTP headers are not encrypted
                raise pylibsrtp.Error("lost on the way")  # dropped like undecryptable data
            return bytes(self.session.unprotect(data))

        def unprotect_rtcp(self, data: bytes) -> bytes:
            return bytes(self.session.unprotect_rtcp(data))

    dtls._rx_srtp = Lossy(dtls._rx_srtp)
    await until(lambda: bool(lost) and lost[0] in {p.sequence_number for p in heard.packets})
    sequences = [p.sequence_number for p in heard.packets]
    at = sequences.index(lost[0])
    assert at > 0 and (sequences[at - 1] - lost[0]) & 0xFFFF != 0xFFFF  # it came late
    for _ in range(3):
        frame = await subscriber.frame()
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)


async def test_sender_reports_count_the_written_packets(stage: Stage) -> None:
    a = stage.publication
    assert a is not None
    subscriber = await stage.subscribe()
    await subscriber.frame()
    receiver = subscriber.pc.getReceivers()[0]

    async def reported() -> int:
        stats = await receiver.getStats()
        remote = [s for s in stats.values() if s.type == "remote-outbound-rtp"]
        return remote[0].packetsSent if remote else 0

    async def poll() -> int:
        while not (count := await reported()):  # noqa: ASYNC110 - RTCP comes every ~1 s
            await asyncio.sleep(0.05)
        return count

    count = await asyncio.wait_for(poll(), WAIT)
    assert 0 < count <= subscriber.slot.writer.packets


async def test_a_subscriber_behind_on_its_socket_drops_frames_and_resumes_at_a_keyframe(
    stage: Stage,
) -> None:
    a = stage.publication
    assert a is not None
    subscriber = await stage.subscribe()
    slot = subscriber.slot
    await subscriber.frame()
    keyframes = a.stats.keyframes
    # Any unsent byte counts as behind: the socket of a subscriber that stopped reading.
    slot.writer.backlog = -1
    await until(lambda: slot.stats.dropped >= 3)
    assert slot.wants_keyframe and a.stats.dropped >= 3
    slot.writer.backlog = packets.BACKLOG_BYTES
    # Back under the limit, it waits for the keyframe it asked for and decodes from there.
    await until(lambda: a.stats.keyframes > keyframes and not slot.wants_keyframe)
    frame = await subscriber.frame()
    assert (frame.width, frame.height) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("catch_up", [5.0, 0.0], ids=["replayed", "asked-for"])
async def test_a_slot_that_connects_starts_from_the_latest_keyframe_or_asks_for_one(
    catch_up: float,
) -> None:
    stage = Stage(catch_up=catch_up)
    try:
        await stage.start()
        a = stage.publication
        assert a is not None
        first = await stage.subscribe()
        await first.frame()
        await until(lambda: not any(s.wants_keyframe for s in a.sinks))
        keyframes, requests = a.stats.keyframes, len(stage.pli)
        late = await stage.subscribe()
        frame = await late.frame()
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)
        if catch_up:
            # Within catch_up of the last keyframe: replayed, the publisher is not asked for
            # one. (Its encoder may still make one of its own accord: aiortc's starts afresh,
            # with a keyframe, when the bandwidth estimate moves a lot, as on a loaded box.)
            assert len(stage.pli) == requests
        else:
            # Nothing replayed: it waited for a keyframe newer than it. The PLI that brought it
            # may be one already on its way (requests within one interval are one PLI).
            assert a.stats.keyframes > keyframes and len(stage.pli) >= 1
    finally:
        await stage.close()
