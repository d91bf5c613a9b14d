"""Recording through the SFU's input: real aiortc publishers, WebM files decoded with PyAV.

The publishers' own encoders make the VP8 and Opus (aiortc, from a moving test pattern and
silence); the server side never decodes them, the recorder muxes them as they come, and the
files are then decoded as a player would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import AudioStreamTrack

from signaling.publication import EncodedFrame, Publication
from signaling.recorder import Recorder, Recording
from signaling.webm import vp8_size

from .support import WAIT
from .support.media import HEIGHT, WIDTH, Pattern, Published, until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
FPS = 30
"""aiortc's video tracks run at 30 frames per second (``VIDEO_PTIME``)."""


@pytest.fixture
async def published() -> AsyncIterator[list[Published]]:
    made: list[Published] = []
    yield made
    for one in made:
        await one.close()


async def publish(made: list[Published], track: Any, **options: Any) -> Publication:
    made.append(Published(track, **options))
    return await made[-1].start()


def decode(path: Path) -> tuple[Any, list[Any]]:
    """The file's one stream and all its decoded frames."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        return stream, list(container.decode(stream))


async def test_a_camera_and_a_microphone_are_written_as_webm_without_reencoding(
    tmp_path: Path, published: list[Published]
) -> None:
    camera, mic = await publish(published, Pattern()), await publish(published, AudioStreamTrack())
    pattern = published[0].track
    assert isinstance(pattern, Pattern)
    recording = Recording(tmp_path / "workshop")
    video = recording.add("host-camera", camera)
    sent_from, replayed = pattern.count, video.stats.frames
    audio = recording.add("host-mic", mic)
    await asyncio.sleep(5)  # media time: what is recorded
    stopped = time.time()  # the recording's clock: Unix time
    sent = pattern.count - sent_from + replayed
    files = recording.stop()
    assert not camera.sinks and not mic.sinks
    assert [f.path.name for f in files] == ["01-host-camera.webm", "02-host-mic.webm"]
    assert [(f.label, f.kind, f.codec) for f in files] == [
        ("host-camera", "video", "vp8"),
        ("host-mic", "audio", "opus"),
    ]

    stream, frames = decode(files[0].path)
    assert (stream.codec_context.name, stream.width, stream.height) == ("vp8", WIDTH, HEIGHT)
    assert all((f.width, f.height) == (WIDTH, HEIGHT) for f in frames)
    assert len(frames) == files[0].frames == video.stats.frames
    assert abs(len(frames) - sent) <= 0.1 * sent, (len(frames), sent)
    # The file spans what was recorded: from its first frame (placed by its offset) to stop.
    span = stopped - (recording.started + files[0].offset_ms / 1000)
    assert abs(frames[-1].time - frames[0].time - span) < 0.5, (frames[-1].time, span)
    assert frames[0].time == 0 and -600 <= files[0].offset_ms <= 500
    assert video.stats.skipped == video.stats.dropped == video.stats.failed == 0

    stream, sound = decode(files[1].path)
    assert stream.codec_context.extradata[:8] == b"OpusHead"  # browsers need it
    assert (stream.sample_rate, stream.codec_context.channels) == (48000, 2)
    assert len(sound) == files[1].frames and sound[0].samples == 960  # 20 ms each
    assert abs(sound[-1].time - files[1].duration_ms / 1000) < 0.001
    assert audio.stats.frames == len(sound) and audio.stats.skipped == 0
    assert abs(files[1].duration_ms - files[0].duration_ms - files[0].offset_ms) < 500
    assert 0 <= files[1].offset_ms < 500


async def test_sources_that_come_and_go_get_files_of_their_own_with_their_offsets(
    tmp_path: Path, published: list[Published]
) -> None:
    camera = await publish(published, Pattern())
    recording = Recording(tmp_path)
    recording.add("host-camera", camera)
    await asyncio.sleep(1.5)  # media time: the camera alone
    screen = await publish(published, Pattern(160, 120))
    shared_at = time.time()
    recording.add("host-screen", screen)
    await asyncio.sleep(1)
    # The screen share ends: its file is finished at once, the recording goes on.
    await screen.stop()
    assert "host-screen" not in recording.recorders
    again = await publish(published, Pattern(160, 120))
    reshared_at = time.time()
    recording.add("host-screen", again)
    await until(lambda: recording.recorders["host-screen"].stats.frames > 10)
    files = recording.stop()

    assert [f.path.name for f in files] == [
        "01-host-camera.webm",
        "02-host-screen.webm",
        "03-host-screen.webm",
    ]
    camera_file, screen_file, again_file = files
    for file, at in ((screen_file, shared_at), (again_file, reshared_at)):
        offset = (at - recording.started) * 1000
        # A replayed keyframe starts the file up to 0.5 s before it was added.
        assert offset - 600 <= file.offset_ms <= offset + 300, (file, offset)
    assert 900 <= screen_file.duration_ms <= 1500
    for file, size in ((camera_file, (WIDTH, HEIGHT)), (screen_file, (160, 120))):
        stream, frames = decode(file.path)
        assert (stream.width, stream.height) == size and len(frames) == file.frames
    assert camera_file.offset_ms + camera_file.duration_ms >= again_file.offset_ms


class Collected:
    """A frame sink keeping what a publication hands it: real frames to replay by hand."""

    def __init__(self) -> None:
        self.frames: list[EncodedFrame] = []

    def deliver(self, frame: EncodedFrame) -> None:
        self.frames.append(frame)

    @property
    def wants_keyframe(self) -> bool:
        return False

    def ended(self, publication: Publication) -> None:
        pass


async def test_video_starts_at_the_first_keyframe_and_bad_timestamps_are_dropped(
    tmp_path: Path, published: list[Published]
) -> None:
    camera = await publish(published, Pattern(), catch_up=0.0)
    collected = Collected()
    camera.add(collected)
    await until(lambda: len(collected.frames) >= 10)
    camera.request_keyframe()
    await until(lambda: sum(f.keyframe for f in collected.frames[1:]) >= 1)
    await until(lambda: len(collected.frames) >= 40)
    camera.discard(collected)

    frames = collected.frames
    first_key = next(i for i, f in enumerate(frames) if f.keyframe and i > 0)
    start = next(i for i, f in enumerate(frames) if not f.keyframe)  # mid-stream: a delta
    recorder = Recorder(camera, tmp_path / "camera.webm")
    assert recorder.wants_keyframe
    for frame in frames[start : first_key + 10]:
        recorder.deliver(frame)
    assert recorder.stats.skipped == first_key - start and not recorder.wants_keyframe
    # A repeated frame, one from the past: dropped, counted, never raised.
    recorder.deliver(frames[first_key + 9])
    recorder.deliver(frames[first_key + 2])
    for frame in frames[first_key + 10 :]:
        recorder.deliver(frame)
    assert recorder.stats.dropped == 2
    recorded = recorder.close()
    assert recorded is not None and recorded.frames == len(frames) - first_key

    _, decoded = decode(recorded.path)
    assert len(decoded) == recorded.frames
    assert (decoded[0].width, decoded[0].height) == vp8_size(frames[first_key].data)
    # Timestamps from the RTP clock, from 0 at the keyframe.
    clock = frames[0].clock_rate
    assert decoded[-1].time == pytest.approx(
        (frames[-1].timestamp - frames[first_key].timestamp) / clock, abs=0.002
    )

    # A file that cannot be written: counted, logged once, never raised, no keyframe wanted.
    broken = Recorder(camera, tmp_path / "missing" / "camera.webm")
    for frame in frames[first_key:]:
        broken.deliver(frame)
    assert broken.stats.failed == len(frames) - first_key and not broken.wants_keyframe
    assert broken.close() is None


def test_a_killed_process_leaves_files_that_play_up_to_the_last_second(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.recording_child", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        written = [-1, -1]
        started = time.monotonic()
        while min(written) < 4000:  # both files hold 4 s
            assert time.monotonic() - started < 3 * WAIT, written
            line = child.stdout.readline()  # every 0.2 s
            assert line.startswith("written "), line
            written = [int(ms) for ms in line.split()[1:]]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    camera, mic = sorted(tmp_path.glob("*.webm"))
    for path, at_kill in ((camera, written[0]), (mic, written[1])):
        _, frames = decode(path)  # no cues, no duration: a player reads it as it comes
        # The last line read said at_kill ms were written; a second's cluster may be lost.
        assert frames[-1].time >= at_kill / 1000 - 2, (path, at_kill, frames[-1].time)
