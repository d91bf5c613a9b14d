"""Media for tests: a moving test pattern, and an aiortc client of the server's SFU."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_to_sdp

from signaling import codecs
from signaling.publication import Publication

from . import WAIT
from .client import Client

WIDTH, HEIGHT = 320, 240
MIDS = {"mic": "0", "camera": "1", "screen": "2"}


class Pattern(VideoStreamTrack):
    """Moving grey bars, so that every frame differs and the encoder has work to do."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.count = 0
        self.size = (width, height)
        self._row = bytes(range(256)) * 2

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        width, height = self.size
        frame = av.VideoFrame(width, height, "yuv420p")
        shift = (self.count * 4) % 256
        frame.planes[0].update(self._row[shift : shift + width // 2] * 2 * height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


@dataclasses.dataclass
class Received:
    """What arrived on one of the client's receiving m-lines."""

    frames: int = 0
    sizes: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    first_at: float | None = None


class SfuPeer:
    """A client's media session with the server: it answers offers, publishes and receives.

    ``publish`` maps a source (``mic``, ``camera``, ``screen``) to the track it sends.
    ``tracks`` is the server's current list (mid -> Track), ``received`` counts decoded
    frames per mid.
    """

    def __init__(self, client: Client, room: str, **publish: MediaStreamTrack) -> None:
        self.client = client
        self.room = room
        self.publish = publish
        # max-bundle for the reason given in signaling/session.py.
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.tracks: dict[str, dict[str, Any]] = {}
        self.received: dict[str, Received] = {}
        self.offers = 0
        self.joined_at = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self.pc.on("track", self._on_track)

    async def join(self) -> dict[str, Any]:
        self.joined_at = time.monotonic()
        ack = await self.client.ok("sfu:join", {"room": self.room})
        await self._answer(ack["version"], ack["offer"], ack["tracks"])
        self._tasks += [
            asyncio.create_task(self._follow("sfu:offer")),
            asyncio.create_task(self._follow("sfu:tracks")),
        ]
        return ack

    async def _follow(self, event: str) -> None:
        while True:
            try:
                data = await self.client.wait(event, lambda e: e["room"] == self.room, 3600)
            except TimeoutError:
                continue
            if event == "sfu:offer":
                await self._answer(data["version"], data["offer"], data["tracks"])
            else:
                self._set_tracks(data["tracks"])

    def _set_tracks(self, tracks: list[dict[str, Any]]) -> None:
        self.tracks = {t["mid"]: t for t in tracks}

    async def respond(self, offer: dict[str, str]) -> str:
        """The SDP of this peer's answer to ``offer``, applied here but not sent."""
        await self.pc.setRemoteDescription(RTCSessionDescription(**offer))
        for transceiver in self.pc.getTransceivers():
            for source, mid in MIDS.items():
                if transceiver.mid == mid and source in self.publish:
                    transceiver.direction = "sendonly"
                    transceiver.sender.replaceTrack(self.publish[source])
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def _answer(self, version: int, offer: dict[str, str], tracks: list[Any]) -> None:
        self.offers += 1
        sdp = await self.respond(offer)
        self._set_tracks(tracks)
        await self.client.ok(
            "sfu:answer",
            {"room": self.room, "version": version, "answer": {"type": "answer", "sdp": sdp}},
        )

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        assert mid is not None
        self._tasks.append(asyncio.create_task(self._read(mid, track)))

    async def _read(self, mid: str, track: MediaStreamTrack) -> None:
        received = self.received.setdefault(mid, Received())
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if received.first_at is None:
                    received.first_at = time.monotonic()
                received.frames += 1
                if isinstance(frame, av.VideoFrame):
                    received.sizes.append((frame.width, frame.height))

    def mid_of(self, user: str, source: str) -> str | None:
        return next(
            (mid for mid, t in self.tracks.items() if t["user"] == user and t["source"] == source),
            None,
        )

    def frames_from(self, user: str, source: str = "camera") -> int:
        mid = self.mid_of(user, source)
        return self.received[mid].frames if mid is not None and mid in self.received else 0

    async def candidate(self, candidate: RTCIceCandidate | None) -> dict[str, Any]:
        init = None
        if candidate is not None:
            init = {
                "candidate": "candidate:" + candidate_to_sdp(candidate),
                "sdpMid": candidate.sdpMid,
                "sdpMLineIndex": candidate.sdpMLineIndex,
            }
        return dict(await self.client.call("sfu:candidate", {"room": self.room, "candidate": init}))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pc.close()


async def until(condition: Any, within: float = WAIT) -> None:
    """Wait, bounded, for a state that only media flowing in the background can bring."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - frame counters, not events
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), within)


class Published:
    """One aiortc publisher sending ``track`` straight to a server-side peer connection, whose
    receiver feeds a ``signaling.publication.Publication``: the SFU's input without a room."""

    def __init__(self, track: MediaStreamTrack, **options: Any) -> None:
        self.track = track
        self.options = options
        self.publisher = RTCPeerConnection()
        self.server = RTCPeerConnection()
        self.publication: Publication | None = None

    async def start(self) -> Publication:
        transceiver = self.publisher.addTransceiver(self.track, direction="sendonly")
        codecs.prefer(transceiver)

        @self.server.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.publication = Publication.for_track(self.server, track, **self.options)

        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        await self.server.setRemoteDescription(self.publisher.localDescription)
        await self.server.setLocalDescription(await self.server.createAnswer())
        await self.publisher.setRemoteDescription(self.server.localDescription)
        publication = self.publication
        assert publication is not None
        await until(lambda: publication.stats.frames > 0)
        return publication

    async def close(self) -> None:
        if self.publication is not None:
            await self.publication.stop()
        await self.publisher.close()
        await self.server.close()
