"""SFU forwarding: server CPU per subscriber stream, against a re-encoding reference.

    .venv/bin/python bench/sfu_forward.py [--modes sfu,reference] [--sfu-n 10,25,50,100]
        [--reference-n 1,2,4,8] [--processes 4] [--warmup 5] [--window 20] [--runs 1] [--quick]

One publisher process sends VP8 (640x360, 30 fps, encoder pinned at 1 Mbps) and Opus (a tone)
to a media server process; P subscriber processes hold the N subscriber peer connections
between them. Subscribers never decode: each receiver's decoder queue is tapped, as
``signaling.sfu._FrameTap`` does on the server, to count the complete frames its jitter buffer
reassembles, so the subscribers stay cheap and the server is what is measured. Server modes:

* ``sfu``: the Percolate server (``python -m server``), driven over Socket.IO with the
  ``sfu:*`` events of docs/sfu-design.md section 2, subscribers joining a workshop as guests;
* ``forward``: a bare server in this file (offer/answer over HTTP, no rooms) forwarding with
  ``signaling.sfu.Publication``: the SFU's forwarding alone, without the server around it;
* ``reference``: the same bare server with ``aiortc.contrib.media.MediaRelay`` feeding a normal
  sender per subscriber (the publisher's video decoded once, encoded again per subscriber at
  the publisher's bitrate; ``buffered=False``, so an encoder that falls behind drops frames).

Within one server process the subscribers join in steps (N grows). At each step, after the
warm-up, the server's CPU time (utime + stime of ``/proc/<pid>/stat``, all its threads) is
read over the window, with each stream's received frame rate. Streams per core is
N / (server CPU seconds / wall seconds); it counts where every stream kept 95% of the
publisher's frame rate. Join to first frame: from the request for a session (``sfu:join``, or
the HTTP offer) to the first keyframe at the subscriber's tap.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import ctypes
import dataclasses
import datetime
import json
import math
import os
import platform
import queue
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import av
import socketio
from aiohttp import web
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling import sfu

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
WIDTH, HEIGHT = 640, 360
BITRATE = 1_000_000
FULL_RATE = 0.95
"""A stream runs at full frame rate while it gets this share of the publisher's frames."""
WAIT = 20.0
"""Bound on any one step of setting up: a join, a start, an answer."""
MODES = ("sfu", "forward", "reference")
PUBLISH_MIDS = {"0": "audio", "1": "video"}
"""The publish m-lines every SFU session has (docs/sfu-design.md section 2.1)."""


# --- Media, in the publisher, subscriber and bare server processes ---------------------------


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
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: loopback only


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
    video: int = 0
    """Complete video frames from the first keyframe on."""
    audio: int = 0
    video_bytes: int = 0

    def frame(self, kind: str, mime_type: str, data: bytes) -> None:
        if kind == "audio":
            self.audio += 1
            return
        if self.first is None:
            if not sfu.is_keyframe(mime_type, data):
                return
            self.first = time.monotonic() - self.joined
        self.video += 1
        self.video_bytes += len(data)

    def row(self) -> list[Any]:
        return [self.step, self.video, self.audio, self.video_bytes, self.first]


class Tap(queue.Queue[Any]):
    """Stands in for a receiver's decoder queue, like ``signaling.sfu._FrameTap``: frames are
    counted, never decoded; the stop sentinel ``None`` still reaches the decoder thread."""

    def __init__(self, stream: Stream, kind: str) -> None:
        super().__init__()
        self.stream = stream
        self.kind = kind

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)
        else:
            codec, frame = item
            self.stream.frame(self.kind, codec.mimeType, frame.data)


def tap(pc: RTCPeerConnection, track: MediaStreamTrack, stream: Stream) -> None:
    """Count ``track``'s frames into ``stream`` (in the ``track`` event, before it starts)."""
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if receiver.track is track and not getattr(receiver, sfu._RECEIVER_STARTED):
            setattr(receiver, sfu._DECODER_QUEUE, Tap(stream, track.kind))


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


Signal = BareSignal | SfuSignal


class Peer:
    """One aiortc peer connection answering every offer its server makes.

    A publisher puts its sources on the publish m-lines (mid 0: mic, 1: camera) and sets them
    sendonly; a subscriber taps every track the server sends it.
    """

    def __init__(
        self,
        signal: Signal,
        stream: Stream | None = None,
        sources: dict[str, MediaStreamTrack] | None = None,
    ) -> None:
        self.pc = peer()
        self.signal = signal
        self.stream = stream
        self.sources = sources or {}
        self._lock = asyncio.Lock()
        signal.on_offer = self.answer
        if stream is not None:
            self.pc.on("track", lambda track: tap(self.pc, track, stream))

    async def join(self) -> dict[str, Any]:
        joined = await self.signal.prepare()
        if self.stream is not None:
            self.stream.joined = time.monotonic()
        offer, version = await self.signal.join()
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
            await self.signal.answer({"type": answer.type, "sdp": answer.sdp}, version)

    async def connected(self) -> None:
        while self.pc.connectionState != "connected":
            if self.pc.connectionState in ("failed", "closed"):
                raise RuntimeError(f"peer connection {self.pc.connectionState}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.signal.close()
        await self.pc.close()


def make_signal(
    config: dict[str, Any], http: aiohttp.ClientSession, name: str, role: str
) -> Signal:
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
            make_signal(config, http, "publisher", "publish"), sources={"0": Tone(), "1": video}
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
                        make_signal(config, http, name, "subscribe"), Stream(command["step"])
                    )
                    viewers.append(viewer)
                    try:
                        await asyncio.wait_for(viewer.join(), WAIT)
                    except Exception as exc:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                return {"errors": errors}
            streams = [viewer.stream.row() for viewer in viewers if viewer.stream is not None]
            return {"time": time.monotonic(), "streams": streams}

        try:
            await serve_commands(handle)
        finally:
            await asyncio.gather(*(viewer.close() for viewer in viewers), return_exceptions=True)


class BareServer:
    """The bare media server: one publisher, subscribers offered ``forward`` or ``reference``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.publications: dict[str, sfu.Publication] = {}
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
            sfu.prefer(pc.addTransceiver(kind, direction="recvonly"))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.mode == "forward":
                self.publications[track.kind] = sfu.Publication.for_track(pc, track)
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
            if self.mode == "forward":
                self.publications[kind].add_to(pc)
            else:
                track = self.relay.subscribe(self.tracks[kind], buffered=False)
                sfu.prefer(pc.addTransceiver(track, direction="sendonly"))
        return await self.offer(pc)

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.pcs[body["id"]].setRemoteDescription(RTCSessionDescription(**body["answer"]))
        return web.json_response({})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": self.ready.is_set()})

    async def close(self, app: web.Application) -> None:
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
    server = BareServer(config["mode"])
    app = web.Application()
    app.router.add_post("/publish", server.publish)
    app.router.add_post("/subscribe", server.subscribe)
    app.router.add_post("/answer", server.answer)
    app.router.add_get("/healthz", server.healthz)
    app.on_shutdown.append(server.close)
    runner = web.AppRunner(app, handle_signals=True)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, config["port"]).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def child_main(role: str, config: dict[str, Any]) -> None:
    # Ctrl-C reaches the whole process group; the parent decides how its children end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loopback_only()
    import uvloop  # the server's loop (server/__main__.py), here too

    mains = {"publisher": publisher_main, "subscriber": subscriber_main, "serve": bare_server_main}
    uvloop.run(mains[role](config))


# --- The parent: processes, measurement, report -----------------------------------------------


def die_with_parent() -> None:
    """In a child before exec: SIGKILL it if the parent dies without cleaning up (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` (proc(5): fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total


class Child:
    """A process this benchmark started; ``stop`` ends it, politely first."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, name: str, argv: Sequence[str], log: Path, control: bool) -> Child:
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=ROOT,
                # The children import this checkout's server and signaling packages, whatever
                # the virtualenv has installed.
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.PIPE if control else subprocess.DEVNULL,
                stdout=subprocess.PIPE if control else out,
                stderr=out,
                preexec_fn=die_with_parent,
            )
        return cls(name, proc, log)

    @classmethod
    async def bench(cls, name: str, role: str, config: dict[str, Any], logs: Path) -> Child:
        argv = [sys.executable, __file__, "--role", role, "--config", json.dumps(config)]
        return await cls.start(name, argv, logs / f"{name}.log", control=True)

    async def call(self, command: dict[str, Any], within: float = WAIT) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {command['cmd']}: {reply['error']}")
        return reply

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)
        for end, grace in ((self.proc.terminate, 5), (self.proc.kill, 5)):
            if self.proc.returncode is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                end()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


async def wait_healthy(child: Child, url: str) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            if child.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)  # polling a process that is starting up
    raise RuntimeError(f"{child.name} did not start:\n{child.tail()}")


async def start_server(mode: str, most: int, logs: Path, data: Path) -> tuple[Child, str]:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    if mode == "sfu":
        # Every client comes from 127.0.0.1: lift the per-address limits above the load.
        argv = [
            sys.executable, "-m", "server", "--host", LOOPBACK, "--port", str(port),
            "--data-dir", str(data), "--max-connections-per-ip", str(most + 50),
            "--new-users-per-minute", "100000", "--join-rate", "1000", "--join-burst", "1000",
            "--max-members", str(max(200, most + 10)),
        ]  # fmt: skip
        server = await Child.start("server", argv, logs / "server.log", control=False)
    else:
        server = await Child.bench("server", "serve", {"mode": mode, "port": port}, logs)
    await wait_healthy(server, url)
    return server, url


@dataclasses.dataclass
class Sample:
    """One reading of every process, taken together."""

    time: float
    cpu: dict[str, float]
    machine: tuple[float, float]
    replies: dict[str, dict[str, Any]]


async def sample(server: Child, others: list[Child]) -> Sample:
    replies = await asyncio.gather(*(child.call({"cmd": "snapshot"}) for child in others))
    return Sample(
        time=time.monotonic(),
        cpu={child.name: child.cpu() for child in [server, *others]},
        machine=machine_busy(),
        replies={child.name: reply for child, reply in zip(others, replies, strict=True)},
    )


@dataclasses.dataclass
class Step:
    mode: str
    n: int
    server: float
    """Server CPU, in cores."""
    subscribers: float
    """All subscriber processes' CPU, in cores."""
    machine: float
    """Share of the machine's CPUs busy (every process on it)."""
    publisher_fps: float
    fps: list[float]
    """Video frame rate of each stream that was there all window."""
    audio_fps: list[float]
    kbps: list[float]
    first: list[float | None]
    """Join to first frame of the streams that joined in this step (None: never)."""
    errors: list[str]

    @property
    def full(self) -> bool:
        return (
            not self.errors
            and len(self.fps) == self.n
            and min(self.fps) >= FULL_RATE * self.publisher_fps
            and None not in self.first
        )

    @property
    def per_core(self) -> float:
        return self.n / self.server if self.server > 0 else math.inf


def measure(mode: str, n: int, step: int, before: Sample, after: Sample) -> Step:
    wall = after.time - before.time

    def cores(name: str) -> float:
        return (after.cpu[name] - before.cpu[name]) / wall

    pub0, pub1 = before.replies["publisher"], after.replies["publisher"]
    fps: list[float] = []
    audio: list[float] = []
    kbps: list[float] = []
    first: list[float | None] = []
    subscribers = [name for name in after.replies if name.startswith("subscriber")]
    for name in subscribers:
        seconds = after.replies[name]["time"] - before.replies[name]["time"]
        old, new = before.replies[name]["streams"], after.replies[name]["streams"]
        for (_, video0, audio0, bytes0, _), (joined, video1, audio1, bytes1, delay) in zip(
            old, new, strict=False
        ):
            fps.append((video1 - video0) / seconds)
            audio.append((audio1 - audio0) / seconds)
            kbps.append((bytes1 - bytes0) * 8 / seconds / 1000)
            if joined == step:
                first.append(delay)
    busy = after.machine[0] - before.machine[0]
    return Step(
        mode=mode,
        n=n,
        server=cores("server"),
        subscribers=sum(cores(name) for name in subscribers),
        machine=busy / (after.machine[1] - before.machine[1]),
        publisher_fps=(pub1["frames"] - pub0["frames"]) / (pub1["time"] - pub0["time"]),
        fps=fps,
        audio_fps=audio,
        kbps=kbps,
        first=first,
        errors=[],
    )


def spread(total: int, processes: int) -> list[int]:
    """How many sessions each subscriber process holds when ``total`` are held, balanced."""
    return [total // processes + (i < total % processes) for i in range(processes)]


async def ramp(mode: str, ns: list[int], args: argparse.Namespace, logs: Path) -> list[Step]:
    """One server, one publisher, P subscriber processes; N grows through ``ns``."""
    await asyncio.to_thread(logs.mkdir, parents=True)
    children: list[Child] = []
    steps: list[Step] = []
    try:
        server, url = await start_server(mode, max(ns), logs, logs / "data")
        children.append(server)
        publisher = await Child.bench("publisher", "publisher", {"mode": mode, "url": url}, logs)
        children.append(publisher)
        room = (await publisher.call({"cmd": "start"}, 2 * WAIT)).get("room")
        processes = min(args.processes, max(ns))
        subscribers = []
        for index in range(processes):
            config = {"mode": mode, "url": url, "room": room, "index": index}
            subscribers.append(await Child.bench(f"subscriber-{index}", "subscriber", config, logs))
            children.append(subscribers[-1])
        held = [0] * processes
        for step, n in enumerate(ns):
            wanted = spread(n, processes)
            replies = await asyncio.gather(
                *(
                    child.call(
                        {"cmd": "join", "count": new - old, "step": step},
                        (new - old + 1) * WAIT,
                    )
                    for child, old, new in zip(subscribers, held, wanted, strict=True)
                )
            )
            held = wanted
            await asyncio.sleep(args.warmup)
            before = await sample(server, [publisher, *subscribers])
            await asyncio.sleep(args.window)
            after = await sample(server, [publisher, *subscribers])
            result = measure(mode, n, step, before, after)
            result.errors = [error for reply in replies for error in reply["errors"]]
            steps.append(result)
            log_step(result)
            if result.fps and statistics.median(result.fps) < 0.5 * result.publisher_fps:
                break  # saturated: more subscribers would only take longer to say so
        return steps
    finally:
        # Subscribers hang up first, then the publisher, then the server.
        for group in (children[2:], children[1:2], children[:1]):
            await asyncio.gather(*(child.stop() for child in group))


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def log_step(step: Step) -> None:
    firsts = [f for f in step.first if f is not None]
    print(
        f"  {step.mode} N={step.n}: server {step.server:.2f} cores, {step.per_core:.0f} streams"
        f"/core, fps min {min(step.fps, default=0):.1f} median "
        f"{statistics.median(step.fps) if step.fps else 0:.1f} (publisher "
        f"{step.publisher_fps:.1f}), first frame p95 "
        f"{quantile(firsts, 0.95) if firsts else math.nan:.2f} s, missing "
        f"{step.n - len(step.fps)}, no first frame {step.first.count(None)}, errors "
        f"{len(step.errors)}, machine {100 * step.machine:.0f}% busy",
        file=sys.stderr,
        flush=True,
    )
    for error in step.errors[:5]:
        print(f"    {error}", file=sys.stderr)


# --- Report ------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, timeout=5
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    import aiortc

    return (
        f"{model}, {os.cpu_count()} cores, {platform.node()}, Python {platform.python_version()}, "
        f"aiortc {aiortc.__version__}, PyAV {av.__version__}"
    )


@dataclasses.dataclass
class Row:
    """The runs of one (mode, N), summed up: medians over runs, pooled streams."""

    mode: str
    n: int
    steps: list[Step]

    @property
    def full(self) -> bool:
        return all(step.full for step in self.steps)

    def median(self, value: Callable[[Step], float]) -> float:
        return statistics.median(value(step) for step in self.steps)

    def pooled(self, value: Callable[[Step], list[Any]]) -> list[Any]:
        return [item for step in self.steps for item in value(step)]

    def cells(self) -> list[str]:
        fps = self.pooled(lambda s: s.fps)
        firsts = [f for f in self.pooled(lambda s: s.first) if f is not None]
        never = len(self.pooled(lambda s: s.first)) - len(firsts)
        first = f"{quantile(firsts, 0.5):.2f} / {quantile(firsts, 0.95):.2f} s" if firsts else "-"
        if never:
            first += f" ({never} never)"
        server = self.median(lambda s: s.server)
        return [
            self.mode,
            str(self.n),
            f"{100 * server:.0f}%",
            f"{1000 * server / self.n:.1f}",
            f"{self.median(lambda s: s.per_core):,.0f}",
            f"{min(fps, default=0):.1f} / {statistics.median(fps) if fps else 0:.1f} "
            f"({self.median(lambda s: s.publisher_fps):.1f})",
            f"{statistics.median(self.pooled(lambda s: s.audio_fps)) if fps else 0:.0f}",
            f"{statistics.median(self.pooled(lambda s: s.kbps)) if fps else 0:,.0f}",
            first,
            f"{1000 * self.median(lambda s: s.subscribers) / self.n:.1f}",
            f"{100 * self.median(lambda s: s.machine):.0f}%",
            "yes" if self.full else "no",
        ]


HEADER = [
    "mode",
    "N",
    "server CPU",
    "server CPU ms per stream-s",
    "streams per core",
    "video fps min / median (publisher)",
    "audio fps",
    "video kbps",
    "first frame p50 / p95",
    "subscriber CPU ms per stream-s",
    "machine busy",
    "full rate",
]


def report(args: argparse.Namespace, runs: dict[str, list[list[Step]]], started: str) -> None:
    print(f"command: .venv/bin/python bench/sfu_forward.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    print(f"date: {started}; {args.runs} run(s), warm-up {args.warmup} s, window {args.window} s,")
    print(f"{args.processes} subscriber processes, {WIDTH}x{HEIGHT} VP8 at {BITRATE // 1000} kbps")
    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + " --- |" * len(HEADER))
    best: dict[str, Row] = {}
    for mode, ramps in runs.items():
        by_n: dict[int, list[Step]] = {}
        for steps in ramps:
            for step in steps:
                by_n.setdefault(step.n, []).append(step)
        for n, steps in sorted(by_n.items()):
            row = Row(mode, n, steps)
            print("| " + " | ".join(row.cells()) + " |")
            if row.full and len(steps) == len(ramps):
                best[mode] = row  # the largest N at full rate in every run
    print()
    for mode, row in best.items():
        firsts = [f for f in row.pooled(lambda s: s.first) if f is not None]
        print(
            f"{mode}: {row.median(lambda s: s.per_core):,.0f} streams per core at N={row.n} "
            f"(the largest N at full frame rate); first frame p95 {quantile(firsts, 0.95):.2f} s"
        )
    for mode in runs:
        if mode not in best:
            print(f"{mode}: no N kept every stream at full frame rate")
    if "reference" in best:
        reference = best["reference"].median(lambda s: s.per_core)
        for mode in ("sfu", "forward"):
            if mode in best:
                ratio = best[mode].median(lambda s: s.per_core) / reference
                print(f"ratio {mode} / reference: {ratio:.1f}x (target 30x)")


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def main(args: argparse.Namespace) -> None:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = {"sfu": args.sfu_n, "forward": args.sfu_n, "reference": args.reference_n}
    runs: dict[str, list[list[Step]]] = {mode: [] for mode in args.modes}
    logs = Path(args.logs or tempfile.mkdtemp(prefix="sfu_forward-"))
    print(f"logs in {logs}", file=sys.stderr)
    for run in range(args.runs):  # interleaved, so drift on a shared machine hits all alike
        for mode in args.modes:
            print(f"run {run + 1}/{args.runs}, {mode}:", file=sys.stderr, flush=True)
            runs[mode].append(await ramp(mode, sizes[mode], args, logs / f"{run}-{mode}"))
    report(args, runs, started)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="sfu,reference", help=f"comma-separated, of {MODES}")
    parser.add_argument("--sfu-n", default="10,25,50,100", help="subscriber counts, sfu/forward")
    parser.add_argument("--reference-n", default="1,2,4,8", help="subscriber counts, reference")
    parser.add_argument("--processes", type=int, default=4, help="subscriber processes")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per step")
    parser.add_argument("--runs", type=int, default=1, help="ramps per mode, interleaved")
    parser.add_argument("--logs", help="folder for the processes' logs (default: a temp folder)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sfu_n, args.reference_n = "2,4", "1,2"
        args.processes, args.warmup, args.window = 2, 2.0, 5.0
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {MODES}")
    args.sfu_n, args.reference_n = numbers(args.sfu_n), numbers(args.reference_n)
    return args


if __name__ == "__main__":
    arguments = parse()
    if arguments.role:
        child_main(arguments.role, json.loads(arguments.config))
    else:
        asyncio.run(main(arguments))
