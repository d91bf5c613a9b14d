"""A process that records a camera and a microphone until it is killed (tests/test_recorder.py).

    python -m tests.support.recording_child FOLDER

An aiortc publisher sends both to a publication each, in this process; a ``Recording`` writes
them to FOLDER. Every 0.2 s a line on stdout says how much each file holds:
``written <camera ms> <microphone ms>``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiortc import AudioStreamTrack

from signaling.recorder import Recording

from .media import Pattern, Published


async def main(folder: Path) -> None:
    camera, mic = Published(Pattern()), Published(AudioStreamTrack())
    recording = Recording(folder)
    video = recording.add("camera", await camera.start())
    audio = recording.add("mic", await mic.start())
    while True:
        written = [r.recorded() for r in (video, audio)]
        durations = [r.duration_ms if r is not None else -1 for r in written]
        print("written", *durations, flush=True)
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
