"""Recording: publications' encoded frames written to WebM files as they come.

A ``Recorder`` is a frame sink (``signaling.publication.FrameSink``) that writes one
publication to one file (``signaling.webm.WebmFile``), without decoding or encoding. A
``Recording`` is a set of them, one file per source and per appearance of it: a source that
stops and comes back gets a new file. ``Recording.stop`` closes every file and returns what
each holds (``Recorded``), for the manifest the caller writes.

Timestamps: a file's timestamps are the publisher's RTP timestamps (``EncodedFrame.timestamp``,
in ``clock_rate`` units), in milliseconds from the file's first frame. Frames lost on the way
leave gaps of their length; a frame whose timestamp repeats or goes back is dropped (the muxer
would refuse it). Video starts at a keyframe: the recorder wants one until then, so the
publication replays its latest one or asks the publisher (a PLI); delta frames before it are
skipped. Each file's start is placed on the recording's clock (``Recorded.offset_ms``) by the
NTP arrival time of its first frame that came straight from the network, less the RTP time
since the file's first frame: a replayed keyframe came in before the recorder started, so a
file that starts with one may start up to ``Publication``'s ``catch_up`` (0.5 s) before the
recording did, with a negative offset.

Frames are muxed on the event loop, a batch at a time: ``deliver`` keeps a frame, and the
frames of the last ``BATCH`` seconds are muxed together. Muxing one frame alone between the
loop's other work costs about 50 microseconds, nearly all of it cache misses (libavformat's
code and data are cold again by the next frame); a batch costs that once, and 3 microseconds
a frame (docs/sfu-design.md, "Recording"). The muxer writes to the OS once per cluster (a
second), into the page cache, so no thread is needed; a batch adds its length to what a
killed process loses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from . import transport
from .publication import EncodedFrame, Publication
from .webm import WebmFile

log = logging.getLogger(__name__)

BATCH = 0.2
"""Seconds of frames muxed together (see the module)."""

NTP_EPOCH = 2208988800
"""Seconds from the NTP epoch (1900) to the Unix epoch (1970)."""


def ntp_seconds(ntp: int) -> float:
    """A 64-bit NTP timestamp (``transport.ntp_now``) as Unix time in seconds."""
    return (ntp >> 32) - NTP_EPOCH + (ntp & 0xFFFFFFFF) / (1 << 32)


@dataclasses.dataclass(frozen=True, slots=True)
class Recorded:
    """One file of a recording: one source, from its first written frame to its last."""

    path: Path
    label: str
    """The caller's name for the source (``Recording.add``)."""
    kind: str
    """``video`` or ``audio``."""
    codec: str
    """The WebM codec: ``vp8`` or ``opus``."""
    offset_ms: int
    """From the recording's start to the file's first frame (negative: see the module)."""
    duration_ms: int
    """The first frame's timestamp to the last's."""
    frames: int
    bytes: int
    """The frames' encoded bytes (the file adds the container's few per cent)."""


@dataclasses.dataclass(slots=True)
class RecorderStats:
    frames: int = 0
    """Frames taken: written, or to be within ``BATCH``."""
    bytes: int = 0
    skipped: int = 0
    """Video frames before the first keyframe, not written (they would not decode)."""
    dropped: int = 0
    """Frames whose timestamp repeated or went back, not written."""
    failed: int = 0
    """Frames not written because writing failed (the recorder stops at the first)."""
    cpu_seconds: float = 0.0
    """Thread CPU time spent in ``deliver`` and muxing, with each cluster's write to the OS."""
    muxing_seconds: float = 0.0
    """The part of ``cpu_seconds`` spent muxing batches, outside the publication's receive
    path (``Publication.stats.cpu_seconds`` has the rest)."""


class Recorder:
    """The frame sink writing ``publication`` to ``path`` from the next usable frame on.

    ``started`` is the recording's start (Unix time, seconds); ``on_closed`` hears when the file
    is finished, by ``close`` or because the publication ended. ``batch``: seconds of frames
    muxed together.
    """

    def __init__(
        self,
        publication: Publication,
        path: Path,
        *,
        label: str = "",
        started: float = 0.0,
        on_closed: Callable[[Recorder], None] | None = None,
        batch: float = BATCH,
    ) -> None:
        self.publication = publication
        self.path = path
        self.label = label or path.stem
        self.kind = publication.kind
        self.stats = RecorderStats()
        self._started = started
        self._on_closed = on_closed
        self._file: WebmFile | None = None
        self._batch = batch
        self._pending: list[tuple[bytes, int, bool]] = []
        """Frames taken, not yet muxed: (data, milliseconds, keyframe)."""
        self._muxing: asyncio.TimerHandle | None = None
        self._closed = False
        self._first = 0
        """The file's first frame's timestamp (publication's units)."""
        self._last: int | None = None
        self._last_ms = 0
        self._start: float | None = None
        """When the file's first frame arrived (Unix time): see the module on offsets."""
        self._live = False
        """``_start`` comes from a frame that came straight from the network."""

    def __repr__(self) -> str:
        return f"Recorder({self.label}, {self.publication!r})"

    @property
    def wants_keyframe(self) -> bool:
        """Video waits for its first keyframe; audio frames stand alone."""
        waiting = self._file is None and not (self._closed or self.stats.failed)
        return self.kind == "video" and waiting

    @property
    def closed(self) -> bool:
        return self._closed

    def deliver(self, frame: EncodedFrame) -> None:
        """Write ``frame``, or count why not: never raises into the publication."""
        if self._closed:
            return
        if self.stats.failed:
            self.stats.failed += 1  # stopped at the first failure
            return
        started = time.thread_time()
        try:
            self._write(frame)
        except Exception:
            self.stats.failed += 1  # the file stays as it is, up to its last cluster
            log.exception("%r: writing a frame failed, recording stops", self)
        self.stats.cpu_seconds += time.thread_time() - started

    def _write(self, frame: EncodedFrame) -> None:
        if self._file is None:
            if self.kind == "video" and not frame.keyframe:
                self.stats.skipped += 1
                return
            mime_type = self.publication.mime_type or ""
            self._file = WebmFile(self.path, mime_type, frame.data)
            self._first = frame.timestamp
            log.info("%r: writing %s from timestamp=%d", self, self.path.name, frame.timestamp)
        elif self._last is not None and frame.timestamp <= self._last:
            self.stats.dropped += 1
            if self.stats.dropped == 1:  # once: a publisher that does it, does it often
                log.warning(
                    "%r: dropped a frame whose timestamp=%d is not after %d",
                    self,
                    frame.timestamp,
                    self._last,
                )
            return
        milliseconds = (frame.timestamp - self._first) * 1000 // frame.clock_rate
        self._pending.append((frame.data, milliseconds, frame.keyframe))
        self._last, self._last_ms = frame.timestamp, milliseconds
        self.stats.frames += 1
        self.stats.bytes += len(frame.data)
        if not self._live:
            self._place(frame)
        if self._muxing is None:
            self._muxing = asyncio.get_running_loop().call_later(self._batch, self._mux)

    def _mux(self) -> None:
        """Mux the frames taken since the last time (on the loop, by ``call_later``)."""
        self._muxing = None
        pending, self._pending = self._pending, []
        if self._file is None or self.stats.failed:
            return
        started = time.thread_time()
        written = 0
        try:
            for data, milliseconds, keyframe in pending:
                self._file.write(data, milliseconds, keyframe)
                written += 1
        except Exception:
            lost = pending[written:]  # the file stays as it is, up to its last cluster
            self.stats.failed += len(lost)
            self.stats.frames -= len(lost)
            self.stats.bytes -= sum(len(data) for data, _, _ in lost)
            log.exception("%r: writing a frame failed, recording stops", self)
        spent = time.thread_time() - started
        self.stats.cpu_seconds += spent
        self.stats.muxing_seconds += spent

    def _place(self, frame: EncodedFrame) -> None:
        # The arrival of a live frame, less the RTP time since the file's first, is when the
        # first arrived; a replayed frame (ntp 0) only gives an estimate, the present.
        self._live = bool(frame.ntp)
        arrival = ntp_seconds(frame.ntp or transport.ntp_now())
        self._start = arrival - (frame.timestamp - self._first) / frame.clock_rate

    def ended(self, publication: Publication) -> None:
        """The publication stopped: the file ends here."""
        self.close()

    def close(self) -> Recorded | None:
        """Finish the file (cues, duration) and stop taking frames; what it holds, if any."""
        if not self._closed:
            self._closed = True
            self.publication.discard(self)
            if self._muxing is not None:
                self._muxing.cancel()
            self._mux()
            if self._file is not None:
                try:
                    self._file.close()
                except Exception:
                    log.exception("%r: closing %s failed", self, self.path.name)
                log.info("%r: %s closed, %s", self, self.path.name, self.stats)
            if self._on_closed is not None:
                self._on_closed(self)
        return self.recorded()

    def recorded(self) -> Recorded | None:
        """What the file holds so far (``None``: nothing written)."""
        if self._file is None or self._start is None:
            return None
        return Recorded(
            path=self.path,
            label=self.label,
            kind=self.kind,
            codec=self._file.codec,
            offset_ms=round((self._start - self._started) * 1000),
            duration_ms=self._last_ms,
            frames=self.stats.frames,
            bytes=self.stats.bytes,
        )


class Recording:
    """Files of publications in ``folder``, one per source and per appearance of it.

    ``started`` is the recording's start, Unix time in seconds (now if not given): every file's
    offset counts from it.
    """

    def __init__(self, folder: Path, *, started: float | None = None) -> None:
        self.folder = folder
        self.started = ntp_seconds(transport.ntp_now()) if started is None else started
        self._recorders: dict[str, Recorder] = {}
        """The sources being recorded, by label."""
        self._finished: list[Recorded] = []
        self._numbers = itertools.count(1)
        self._stopped = False
        folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Recording({self.folder})"

    @property
    def recorders(self) -> dict[str, Recorder]:
        return dict(self._recorders)

    def add(self, label: str, publication: Publication) -> Recorder:
        """Record ``publication`` under ``label`` (e.g. ``alice-camera``) in a new file.

        The file is named by its order and the label (``03-alice-camera.webm``); the label's
        characters outside ``[A-Za-z0-9_-]`` become ``_``.
        """
        if self._stopped:
            raise RuntimeError(f"{self!r}: stopped, cannot add {label!r}")
        if label in self._recorders:
            raise ValueError(f"{self!r}: {label!r} is already being recorded")
        name = f"{next(self._numbers):02d}-{re.sub(r'[^A-Za-z0-9_-]', '_', label)[:64]}.webm"
        recorder = Recorder(
            publication,
            self.folder / name,
            label=label,
            started=self.started,
            on_closed=self._closed,
        )
        self._recorders[label] = recorder
        publication.add(recorder)
        # Starts now from the latest keyframe if it is recent, else asks for one.
        publication.catch_up(recorder)
        return recorder

    def remove(self, label: str) -> Recorded | None:
        """Stop recording ``label``: its file is finished (``None``: nothing was written)."""
        recorder = self._recorders.get(label)
        return recorder.close() if recorder is not None else None

    def _closed(self, recorder: Recorder) -> None:
        # By ``remove``, ``stop`` or the publication's end.
        if self._recorders.get(recorder.label) is recorder:
            del self._recorders[recorder.label]
        recorded = recorder.recorded()
        if recorded is not None:
            self._finished.append(recorded)

    def stop(self) -> list[Recorded]:
        """Close every file; what each file of the recording holds, in the order they began."""
        self._stopped = True
        for recorder in list(self._recorders.values()):
            recorder.close()
        return sorted(self._finished, key=lambda recorded: recorded.path.name)
