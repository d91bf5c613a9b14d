"""The processes ``bench/sfu_forward.py`` runs: a publisher, subscribers, a bare media server.

    python bench/sfu_peers.py publisher|subscriber|serve CONFIG_JSON

Not run by hand: ``sfu_forward.py`` starts them, sends each JSON commands on stdin (one a
line) and reads one JSON answer a line on stdout; a command's failure is answered as
``{"error": ...}``. Everything binds and connects to 127.0.0.1 only.

* ``publisher`` sends VP8 (640x360, 30 fps, the encoder pinned at 1 Mbps) and Opus (a tone) on
  the publish m-lines of the session its server offers (mid 0: mic, 1: camera).
* ``subscriber`` holds any number of subscriber sessions. It never decodes: each receiver's
  receiver is tapped (``signaling.transport.tap``), as the server's publications are, and
  counts the complete frames the jitter buffer reassembles. So subscribers stay cheap
  (no libvpx), and a frame counts only once all its packets arrived.
* ``serve`` is a bare media server (offer/answer over HTTP, one publisher, no rooms) that
  either forwards with a ``signaling.publication.Publication`` and a ``signaling.slot.Slot``
  per subscriber m-line (``forward``: the SFU's forwarding without the server around it:
  Socket.IO, rooms, sessions), does the same and records both publications to WebM files
  (``record``: ``signaling.recorder.Recording``, in the ``folder`` of its config), or relays
  decoded frames
  through ``aiortc.contrib.media.MediaRelay`` to a normal sender per subscriber, which encodes
  them again (``reference``, the naive design).

With ``mode: sfu`` the publisher and subscribers talk to the Percolate server instead, over
Socket.IO with the ``sfu:*`` events of docs/sfu-design.md section 2.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import av
import socketio
import uvloop
from aiohttp import web
from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling import codecs, transport
from signaling.publication import Publication
from signaling.recorder import Recording
from signaling.slot import Slot

LOOPBACK = "127.0.0.1"
WIDTH, HEIGHT = 640, 360
FPS = 30
"""The frame rate of aiortc's ``VideoStreamTrack`` pacing, which ``Texture`` uses."""
BITRATE = 1_000_000
WAIT = 20.0
"""Bound on any one step of setting up: a join, a start, an answer."""
PUBLISH_MIDS = {"0": "audio", "1": "video"}
"""The publish m-lines every SFU session has (docs/sfu-design.md section 2.1)."""


def loopback_only() -> None:
    """ICE on 127.0.0.1 only: aioice leaves loopback out of its host candidates."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]


def pin_bitrate(bitrate: int) -> None:
    """Every VP8 encoder of this process targets ``bitrate`` whatever REMB says.

    aiortc follows the receiver's REMB estimate (up to 1.5 Mbps); pinned, the publisher sends
    what the benchmark says and the reference's encoders send the same as the SFU forwards.
    """
    init = Vp8Encoder.__init__

    def pinned_init(self: Vp8Encoder) -> None:
        init(self)
        self._Vp8Encoder__target_bitrate = bitrate  # type: ignore[attr-defined]

    Vp8Encoder.__init__ = pinned_init  # type: ignore[method-assign]
    Vp8Encoder.target_bitrate = property(  # type: ignore[assignment,method-assign]
        lambda self: self._Vp8Encoder__target_bitrate, lambda self, value: None
    )


def peer() -> RTCPeerConnection:
    # No STUN: loopback only. max-bundle, as the server's sessions use (signaling/session.py):
    # with aiortc's default policy, a later m-line of a kind (an SFU slot) would be left on a
    # transport that BUNDLE stops, and receive nothing.
    configuration = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    return RTCPeerConnection(configuration)


class Texture(VideoStreamTrack):
    """A low-contrast random texture drifting diagonally: about 1 Mbps of VP8 at 640x360.

    (The tests' grey bars compress to 0.3 Mbps; full-range noise overshoots to 2.6 Mbps.)
    """

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.size = (width, height)
        self.frames = 0
        contrast = bytes(112 + value % 32 for value in range(256))
        self._luma = os.urandom(2 * width * height).translate(contrast)
        self._chroma = bytes([128]) * (width * height // 4)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        width, height = self.size
        start = (self.frames * (2 * width + 3)) % (width * height)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(self._luma[start : start + width * height])
        for plane in frame.planes[1:]:
            plane.update(self._chroma[: plane.buffer_size])
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


class Tone(AudioStreamTrack):
    """aiortc's paced 8 kHz audio track, playing 440 Hz instead of silence."""

    def __init__(self) -> None:
        super().__init__()
        # One second holds exactly 440 periods, so the loop has no seam.
        self._samples = array.array(
            "h", (round(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000))
        ).tobytes()

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        assert frame.pts is not None
        start = 2 * (frame.pts % 8000)
        frame.planes[0].update(self._samples[start : start + frame.planes[0].buffer_size])
        return frame


@dataclasses.dataclass(slots=True)
class Stream:
    """What one subscriber session received."""

    step: int
    """The ramp step this session joined in."""
    joined: float = 0.0
    """``time.monotonic()`` when the session was asked for."""
    first: float | None = None
    """Seconds from ``joined`` to the first keyframe."""
    connected: float | None = None
    """Seconds from ``joined`` to the peer connection's ``connected`` (ICE and DTLS done)."""
    video: int = 0
    """Complete video frames from the first keyframe on."""
    audio: int = 0
    video_bytes: int = 0

    def frame(self, kind: str, mime_type: str, data: bytes) -> None:
        if kind == "audio":
            self.audio += 1
            return
        if self.first is None:
            if not codecs.is_keyframe(mime_type, data):
                return
            self.first = time.monotonic() - self.joined
        self.video += 1
        self.video_bytes += len(data)

    def counts(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tap(pc: RTCPeerConnection, track: MediaStreamTrack, stream: Stream) -> None:
    """Count ``track``'s frames into ``stream`` (in the ``track`` event, before it starts).

    The receiver's bandwidth estimator goes too: aiortc runs it in Python on every video
    packet (about a sixth of a subscriber's CPU), browsers natively. All it sends is REMB,
    every 0.5 s or so, which neither server mode acts on (forwarding has no encoder to steer;
    the reference's encoders are pinned to the publisher's bitrate).
    """
    kind = track.kind

    def count(mime_type: str, clock_rate: int, data: bytes, timestamp: int) -> None:
        stream.frame(kind, mime_type, data)

    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if receiver.track is track:
            transport.tap(receiver, count, lambda: None)
            receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]


# --- Signalling: how a peer gets its offers and sends its answers ----------------------------


class BareSignal:
    """Offer/answer over HTTP with the bare server of this file; one offer per session."""

    def __init__(self, http: aiohttp.ClientSession, url: str, role: str) -> None:
        self.http = http
        self.url = url
        self.role = role
        self.on_offer: Callable[[dict[str, Any], int], Awaitable[None]] | None = None
        self._id = ""

    async def prepare(self) -> dict[str, Any]:
        return {}

    async def join(self) -> tuple[dict[str, Any], int]:
        async with self.http.post(f"{self.url}/{self.role}") as response:
            response.raise_for_status()
            body = await response.json()
        self._id = body["id"]
        return body["offer"], 1

    async def answer(self, answer: dict[str, Any], version: int) -> None:
        async with self.http.post(
            f"{self.url}/answer", json={"id": self._id, "answer": answer}
        ) as response:
            response.raise_for_status()

    async def close(self) -> None:
        pass


class SfuSignal:
    """The ``sfu:*`` events of docs/sfu-design.md section 2 over one Socket.IO connection.

    ``prepare`` connects, creates the workshop when asked to (the publisher), joins it (as
    host with the host key, else as a guest) and turns camera and mic on for the host.
    """

    def __init__(self, url: str, name: str, room: str | None, host_key: str | None = None):
        self.url = url
        self.name = name
        self.room = room
        self.host_key = host_key
        self.on_offer: Callable[[dict[str, Any], int], Awaitable[None]] | None = None
        self.closed: str | None = None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("sfu:offer", self._offer)
        self.sio.on("sfu:closed", self._closed)
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        ack = await self.sio.call(event, payload, timeout=WAIT)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"{self.name}: {event} -> {ack!r}")
        return ack

    async def prepare(self) -> dict[str, Any]:
        await self.sio.connect(
            self.url, auth={"name": self.name}, transports=["websocket"], wait_timeout=WAIT
        )
        if self.room is None:
            created = await self.call("room:create", {"title": "SFU bench", "kind": "workshop"})
            self.room, self.host_key = created["room"]["id"], created["host_key"]
        await self.call("room:join", {"room": self.room, "host_key": self.host_key})
        if self.host_key is not None:
            await self.call("media:state", {"room": self.room, "camera": True, "mic": True})
        return {"room": self.room}

    async def join(self) -> tuple[dict[str, Any], int]:
        ack = await self.call("sfu:join", {"room": self.room})
        return ack["offer"], int(ack["version"])

    async def answer(self, answer: dict[str, Any], version: int) -> None:
        await self.call("sfu:answer", {"room": self.room, "version": version, "answer": answer})

    async def _offer(self, data: dict[str, Any]) -> None:
        # Answered in a task of its own: the handler must not hold up the client's events.
        if self.on_offer is not None:
            task = asyncio.create_task(self.on_offer(data["offer"], int(data["version"])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _closed(self, data: dict[str, Any]) -> None:
        self.closed = str(data.get("reason"))
        print(f"{self.name}: sfu:closed {data!r}", file=sys.stderr)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 2)


Signalling = BareSignal | SfuSignal


class Peer:
    """One aiortc peer connection answering every offer its server makes.

    A publisher puts its sources on the publish m-lines (mid 0: mic, 1: camera) and sets them
    sendonly; a subscriber taps every track the server sends it.
    """

    def __init__(
        self,
        signalling: Signalling,
        stream: Stream | None = None,
        sources: dict[str, MediaStreamTrack] | None = None,
    ) -> None:
        self.pc = peer()
        self.signalling = signalling
        self.stream = stream
        self.sources = sources or {}
        self._lock = asyncio.Lock()
        signalling.on_offer = self.answer
        if stream is not None:
            self.pc.on("track", lambda track: tap(self.pc, track, stream))
            self.pc.on("connectionstatechange", self._state)

    def _state(self) -> None:
        if self.stream is not None and self.pc.connectionState == "connected":
            self.stream.connected = time.monotonic() - self.stream.joined

    async def join(self) -> dict[str, Any]:
        joined = await self.signalling.prepare()
        if self.stream is not None:
            self.stream.joined = time.monotonic()
        offer, version = await self.signalling.join()
        await self.answer(offer, version)
        return joined

    async def answer(self, offer: dict[str, Any], version: int) -> None:
        async with self._lock:  # one negotiation at a time
            await self.pc.setRemoteDescription(RTCSessionDescription(**offer))
            for transceiver in self.pc.getTransceivers():
                source = self.sources.get(transceiver.mid or "")
                if source is not None and transceiver.sender.track is not source:
                    transceiver.sender.replaceTrack(source)
                    transceiver.direction = "sendonly"
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            answer = self.pc.localDescription
            await self.signalling.answer({"type": answer.type, "sdp": answer.sdp}, version)

    async def connected(self) -> None:
        while self.pc.connectionState != "connected":
            if self.pc.connectionState in ("failed", "closed"):
                raise RuntimeError(f"peer connection {self.pc.connectionState}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.signalling.close()
        await self.pc.close()


def make_signalling(
    config: dict[str, Any], http: aiohttp.ClientSession, name: str, role: str
) -> Signalling:
    if config["mode"] == "sfu":
        return SfuSignal(config["url"], name, config.get("room"))
    return BareSignal(http, config["url"], role)


# --- Child processes: each reads JSON commands on stdin and answers one line each -------------


async def serve_commands(handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """Answer the parent's commands until it says ``quit`` or goes away (EOF)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        try:
            reply = await handle(command)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


async def publisher_main(config: dict[str, Any]) -> None:
    pin_bitrate(BITRATE)
    video = Texture()
    async with aiohttp.ClientSession() as http:
        publisher = Peer(
            make_signalling(config, http, "publisher", "publish"), sources={"0": Tone(), "1": video}
        )

        async def handle(command: dict[str, Any]) -> dict[str, Any]:
            if command["cmd"] == "start":
                joined = await asyncio.wait_for(publisher.join(), WAIT)
                await asyncio.wait_for(publisher.connected(), WAIT)
                return joined
            return {"time": time.monotonic(), "frames": video.frames}

        try:
            await serve_commands(handle)
        finally:
            await publisher.close()


async def subscriber_main(config: dict[str, Any]) -> None:
    viewers: list[Peer] = []
    async with aiohttp.ClientSession() as http:

        async def handle(command: dict[str, Any]) -> dict[str, Any]:
            if command["cmd"] == "join":
                # One join at a time per process: the first-frame time is the server's, not
                # this process's queue of handshakes.
                errors = []
                for _ in range(command["count"]):
                    name = f"viewer-{config['index']}-{len(viewers)}"
                    viewer = Peer(
                        make_signalling(config, http, name, "subscribe"), Stream(command["step"])
                    )
                    viewers.append(viewer)
                    try:
                        await asyncio.wait_for(viewer.join(), WAIT)
                    except Exception as exc:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                return {"errors": errors}
            streams = [viewer.stream.counts() for viewer in viewers if viewer.stream is not None]
            return {"time": time.monotonic(), "streams": streams}

        try:
            await serve_commands(handle)
        finally:
            await asyncio.gather(*(viewer.close() for viewer in viewers), return_exceptions=True)


class BareServer:
    """The bare media server: one publisher, subscribers offered ``forward`` or ``reference``."""

    def __init__(self, mode: str, folder: str | None = None) -> None:
        self.mode = mode
        self.forwards = mode in ("forward", "record")
        self.recording = Recording(Path(folder)) if mode == "record" and folder else None
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.publications: dict[str, Publication] = {}
        self.relay = MediaRelay()
        self.ready = asyncio.Event()
        self._drains: list[asyncio.Task[None]] = []

    async def offer(self, pc: RTCPeerConnection) -> web.Response:
        key = str(len(self.pcs))
        self.pcs[key] = pc
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription
        return web.json_response({"id": key, "offer": {"type": offer.type, "sdp": offer.sdp}})

    async def publish(self, request: web.Request) -> web.Response:
        pc = peer()
        for kind in PUBLISH_MIDS.values():
            codecs.prefer(pc.addTransceiver(kind, direction="recvonly"))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.forwards:
                self.publications[track.kind] = Publication.for_track(pc, track)
                if self.recording is not None:
                    self.recording.add(track.kind, self.publications[track.kind])
            else:
                self.tracks[track.kind] = track
                # Decoding starts now and runs for good, as once-per-publisher work: a relay
                # proxy nobody sends is read here (an unread receiver track would pile up).
                self._drains.append(asyncio.create_task(drain(self.relay.subscribe(track))))
            if len(self.tracks) + len(self.publications) == len(PUBLISH_MIDS):
                self.ready.set()

        return await self.offer(pc)

    async def subscribe(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.ready.wait(), WAIT)
        pc = peer()
        for kind in PUBLISH_MIDS.values():
            if self.forwards:
                Slot(pc, kind).assign(self.publications[kind])
            else:
                track = self.relay.subscribe(self.tracks[kind], buffered=False)
                codecs.prefer(pc.addTransceiver(track, direction="sendonly"))
        return await self.offer(pc)

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.pcs[body["id"]].setRemoteDescription(RTCSessionDescription(**body["answer"]))
        return web.json_response({})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": self.ready.is_set()})

    def cpu(self) -> dict[str, Any]:
        """Thread CPU seconds so far: the publications' receive path but the recorders'
        ``deliver`` (forwarding: packetizing, every slot's packets), and the recorders'
        (``deliver``, and muxing their batches)."""
        recorders = self.recording.recorders.values() if self.recording is not None else ()
        recording = sum(recorder.stats.cpu_seconds for recorder in recorders)
        muxing = sum(recorder.stats.muxing_seconds for recorder in recorders)
        total = sum(p.stats.cpu_seconds for p in self.publications.values())
        return {
            "forwarding": total - (recording - muxing),  # the rest of it is in the receive path
            "recording": recording if self.recording is not None else math.nan,
            "recorded_frames": sum(recorder.stats.frames for recorder in recorders),
        }

    async def close(self, app: web.Application) -> None:
        if self.recording is not None:
            for recorded in self.recording.stop():
                print(f"recorded: {recorded}", file=sys.stderr)
        for task in self._drains:
            task.cancel()
        for publication in self.publications.values():
            await publication.stop()
        await asyncio.gather(*(pc.close() for pc in self.pcs.values()), return_exceptions=True)


async def drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


async def bare_server_main(config: dict[str, Any]) -> None:
    if config["mode"] == "reference":
        pin_bitrate(BITRATE)
    server = BareServer(config["mode"], config.get("folder"))
    app = web.Application()
    app.router.add_post("/publish", server.publish)
    app.router.add_post("/subscribe", server.subscribe)
    app.router.add_post("/answer", server.answer)
    app.router.add_get("/healthz", server.healthz)
    app.on_shutdown.append(server.close)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, config["port"]).start()

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        return server.cpu() if command["cmd"] == "snapshot" else {}

    try:
        await serve_commands(handle)  # until the parent says quit
    finally:
        await runner.cleanup()


def main() -> None:
    role, config = sys.argv[1], json.loads(sys.argv[2])
    # Ctrl-C reaches the whole process group; the parent decides how its children end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loopback_only()
    mains = {"publisher": publisher_main, "subscriber": subscriber_main, "serve": bare_server_main}
    uvloop.run(mains[role](config))  # the server's loop (server/__main__.py), here too


if __name__ == "__main__":
    main()
