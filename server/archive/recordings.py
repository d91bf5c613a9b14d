"""Recordings as both archives store them: a row of ``recordings`` per recording of a workshop.

A row is written when a recording starts (state ``recording``) and again when it stops
(``done``, with its files), or when the server finds it was left running by a process that is
gone (``interrupted``: its files hold what was written up to the end; ``server.recordings``).
The files' facts are kept as JSON, one object per file (``signaling.recorder.Recorded``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol import RecordingView, User


class State(enum.StrEnum):
    RECORDING = "recording"
    DONE = "done"
    INTERRUPTED = "interrupted"


class OnAir(msgspec.Struct, frozen=True):
    """A workshop's recording running now, in its ``RoomState`` (so a join sees it)."""

    id: str
    by: User
    started_at: int

    def view(self) -> RecordingView:
        return RecordingView(on=True, by=self.by, started_at=self.started_at)


class RecordedFile(msgspec.Struct, frozen=True):
    """One file of a recording: one source from its first frame to its last."""

    name: str
    """The file's name in the recording's folder."""
    label: str
    """``<user id>-<source>``."""
    kind: str
    """``video`` or ``audio``."""
    codec: str
    offset_ms: int
    """From the recording's start to the file's first frame."""
    duration_ms: int
    frames: int
    bytes: int


class StoredRecording(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    """Unguessable (``keys.new_token``-sized): it will name the recording in URLs."""
    room: str
    title: str
    started_by: User
    started_at: int
    """ms since the epoch."""
    stopped_by: User | None = None
    """None: not stopped by a person (the longest recording, the disk, a process gone)."""
    stopped_at: int | None = None
    state: State = State.RECORDING
    guests_may_watch: bool = False
    folder: str
    """Where its files are, as the recording process saw it (``RECORDINGS_DIR``)."""
    process: str
    """The process that recorded it (``Placement.process``)."""
    files: tuple[RecordedFile, ...] = ()


COLUMNS = (
    "id, room, title, started_by, started_at, stopped_by, stopped_at, state, "
    "guests_may_watch, folder, process, files"
)


def values(recording: StoredRecording) -> tuple[Any, ...]:
    """The row of ``COLUMNS``: users and files as JSON."""
    stopped_by = recording.stopped_by
    return (
        recording.id,
        recording.room,
        recording.title,
        msgspec.json.encode(recording.started_by).decode(),
        recording.started_at,
        None if stopped_by is None else msgspec.json.encode(stopped_by).decode(),
        recording.stopped_at,
        recording.state.value,
        recording.guests_may_watch,
        recording.folder,
        recording.process,
        msgspec.json.encode(recording.files).decode(),
    )


def recording_of(row: Sequence[Any]) -> StoredRecording:
    """A recording from its row (``COLUMNS``)."""
    return StoredRecording(
        id=row[0],
        room=row[1],
        title=row[2],
        started_by=msgspec.json.decode(row[3], type=User),
        started_at=row[4],
        stopped_by=None if row[5] is None else msgspec.json.decode(row[5], type=User),
        stopped_at=row[6],
        state=State(row[7]),
        guests_may_watch=bool(row[8]),
        folder=row[9],
        process=row[10],
        files=msgspec.json.decode(row[11], type=tuple[RecordedFile, ...]),
    )
