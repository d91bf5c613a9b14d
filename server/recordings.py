"""Recordings: a workshop's stage written to disk, started and stopped by its hosts.

``recording:start`` makes a ``signaling.recorder.Recording`` in a new folder under
``Settings.recordings_folder`` and hangs it on the room's ``MediaRoom``, which from then on
records every source it forwards, that is, the stage (``MediaRoom.follow``). Only the process
holding the room's media records: a start or stop that reaches another process is answered
``moved``, as ``sfu:join`` is, with where the media is, and the client asks there. Whoever is in
the room is told (the ``recording`` event); the room's state carries it too, so that
``room:join`` shows it to those who come later.

The archive keeps a row per recording (``server.archive.recordings``), written at start and at
stop; the stop also writes ``manifest.json`` into the recording's folder. A recording stops by
itself when it reaches ``recording_max_minutes``, when the disk's free space falls below
``recording_min_free_mb``, or when its room's media leaves this process (idle, moved, the
server stopping); hosts get a ``recording:notice`` saying why, and the meeting goes on.

A row left ``recording`` by a process that is gone is marked ``interrupted`` when a process
starts: one whose room's media is held by no process, or by another than the recording's
(in the embedded mode, every such row, since no claim outlives its process). Its files hold
what was written, up to the last cluster (docs/sfu-design.md, "Recording").
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import shutil
import time
from pathlib import Path

import msgspec

from signaling.recorder import Recorded, Recording
from signaling.room import MediaRoom

from . import keys, wire
from .archive import Archive, RoomState
from .archive.recordings import OnAir, RecordedFile, State, StoredRecording
from .audiences import host_room
from .catalog import Catalog
from .config import Settings
from .errors import Code, ProtocolError, Unavailable, bad_request
from .media import Media
from .protocol import RecordingView, RoomRef, User
from .replies import RecordingChanged
from .sessions import Session
from .tasks import cancel

log = logging.getLogger(__name__)

MIB = 1024 * 1024


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """``manifest.json`` in a recording's folder: what a replay needs without the archive."""

    id: str
    room: str
    title: str
    started_by: User
    started_at: int
    stopped_by: User | None
    stopped_at: int
    reason: str
    """Why it stopped: ``stopped`` (by a host), ``max_length``, ``disk_low``, ``media_gone``
    (the room's media left this process), ``shutdown``."""
    chat_from: int
    """The room's first chat ``seq`` of the span (the one after the last before the start)."""
    chat_to: int
    """The room's last chat ``seq`` when it stopped (``chat_from - 1``: no chat meanwhile)."""
    sources: tuple[RecordedFile, ...]


@dataclasses.dataclass(slots=True)
class Running:
    """A recording this process is making."""

    row: StoredRecording
    recording: Recording
    media_room: MediaRoom
    chat_from: int
    started: float
    """``time.monotonic()`` at the start, for the longest recording."""


def _file(recorded: Recorded) -> RecordedFile:
    return RecordedFile(
        name=recorded.path.name,
        label=recorded.label,
        kind=recorded.kind,
        codec=recorded.codec,
        offset_ms=recorded.offset_ms,
        duration_ms=recorded.duration_ms,
        frames=recorded.frames,
        bytes=recorded.bytes,
    )


class Recordings:
    def __init__(
        self, settings: Settings, sio: wire.Server, archive: Archive, catalog: Catalog, media: Media
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._archive = archive
        self._catalog = catalog
        self._media = media
        self.running: dict[str, Running] = {}
        """The recordings this process makes, by room."""
        self._starting: set[str] = set()
        """Rooms whose recording is being started (``start`` awaits on the way)."""
        self._loop: asyncio.Task[None] | None = None

    # -- client events -------------------------------------------------------------------------

    async def start(self, session: Session, request: RoomRef) -> RecordingChanged:
        room = request.room
        media_room = await self._media.hold(room)  # ``moved`` if another process holds it
        if room in self.running or room in self._starting:
            raise bad_request("this workshop is being recorded already")
        self._starting.add(room)  # two hosts at once: one recording
        try:
            return await self._start(session, room, media_room)
        finally:
            self._starting.discard(room)

    async def _start(self, session: Session, room: str, media_room: MediaRoom) -> RecordingChanged:
        state = await self._archive.room_state(room)
        if state.recording is not None:
            # Not this process's, and this process holds the room's media now: the process
            # that recorded it is gone.
            await self._interrupt(state.recording.id)
        folder_root = self._settings.recordings_folder
        folder_root.mkdir(parents=True, exist_ok=True)
        if self._disk_low(folder_root):
            raise ProtocolError(Code.UNAVAILABLE, "not enough free disk to record")
        stored = await self._catalog.get(room)
        now = int(time.time() * 1000)
        day = datetime.datetime.fromtimestamp(now / 1000, datetime.UTC).strftime("%Y-%m-%d")
        recording_id = keys.new_id("rec", 16)
        folder = folder_root / recording_id
        row = StoredRecording(
            id=recording_id,
            room=room,
            title=f"{stored.title if stored else room} {day}",
            started_by=session.user,
            started_at=now,
            folder=str(folder),
            process=self._media.process,
        )
        await self._archive.save_recording(row)
        on_air = OnAir(id=recording_id, by=session.user, started_at=now)
        await self._archive.change_room_state(room, lambda s: setattr(s, "recording", on_air))
        recording = Recording(folder, started=now / 1000)
        self.running[room] = Running(
            row=row,
            recording=recording,
            media_room=media_room,
            chat_from=await self._last_seq(room) + 1,
            started=time.monotonic(),
        )
        media_room.recording = recording
        media_room.follow()
        log.info("room=%s recording=%s started by user=%s", room, recording_id, session.user.id)
        recording_view = on_air.view()
        await self._tell(room, recording_view)
        return RecordingChanged(id=recording_id, recording=recording_view)

    async def stop(self, session: Session, request: RoomRef) -> RecordingChanged:
        room = request.room
        running = self.running.get(room)
        if running is None:
            on_air = (await self._archive.room_state(room)).recording
            if on_air is None:
                raise bad_request("this workshop is not being recorded")
            if await self._media.holder(room) not in (None, self._media.process):
                await self._media.hold(room)  # ``moved``: the process recording it stops it
            # Nobody holds the room's media, or this process does without recording: the
            # process that recorded it is gone.
            await self._interrupt(on_air.id)
            return RecordingChanged(id=on_air.id, recording=RecordingView(on=False))
        await self._finish(room, "stopped", session.user)
        return RecordingChanged(id=running.row.id, recording=RecordingView(on=False))

    # -- stopping --------------------------------------------------------------------------------

    async def _finish(self, room: str, reason: str, by: User | None) -> None:
        """Stop the room's recording: files closed, manifest, row ``done``, everyone told."""
        running = self.running.pop(room)
        if running.media_room.recording is running.recording:
            running.media_room.recording = None
        files = tuple(_file(recorded) for recorded in running.recording.stop())
        now = int(time.time() * 1000)
        row = msgspec.structs.replace(
            running.row, stopped_by=by, stopped_at=now, state=State.DONE, files=files
        )
        manifest = Manifest(
            id=row.id,
            room=room,
            title=row.title,
            started_by=row.started_by,
            started_at=row.started_at,
            stopped_by=by,
            stopped_at=now,
            reason=reason,
            chat_from=running.chat_from,
            chat_to=await self._last_seq(room),
            sources=files,
        )
        path = Path(row.folder) / "manifest.json"
        path.write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
        await self._archive.save_recording(row)
        await self._off_air(room, row.id)
        log.info("room=%s recording=%s stopped (%s), %d files", room, row.id, reason, len(files))
        await self._tell(room, RecordingView(on=False))
        if reason != "stopped":
            await self._sio.emit(
                "recording:notice",
                {"room": room, "id": row.id, "reason": reason},
                room=host_room(room),
            )

    async def _off_air(self, room: str, recording_id: str) -> None:
        def change(state: RoomState) -> None:
            if state.recording is not None and state.recording.id == recording_id:
                state.recording = None

        await self._archive.change_room_state(room, change)

    async def _interrupt(self, recording_id: str) -> None:
        """Mark a recording whose process is gone ``interrupted``; the room is told it is off."""
        row = await self._archive.recording(recording_id)
        if row is not None and row.state is State.RECORDING:
            log.warning("room=%s recording=%s: its process is gone; interrupted", row.room, row.id)
            await self._archive.save_recording(
                msgspec.structs.replace(row, state=State.INTERRUPTED)
            )
        if row is not None:
            await self._off_air(row.room, row.id)
            await self._tell(row.room, RecordingView(on=False))

    # -- helpers -------------------------------------------------------------------------------

    async def _tell(self, room: str, recording: RecordingView) -> None:
        payload = {"room": room, **msgspec.to_builtins(recording)}
        await self._sio.emit("recording", payload, room=room)

    async def _last_seq(self, room: str) -> int:
        latest = await self._archive.history(room, before=None, after=None, limit=1)
        return latest[-1].seq if latest else 0

    def _disk_low(self, folder: Path) -> bool:
        free = shutil.disk_usage(folder).free
        return free < self._settings.recording_min_free_mb * MIB

    # -- life cycle ------------------------------------------------------------------------------

    async def start_up(self) -> None:
        """Mark recordings left running by a process that is gone ``interrupted``."""
        for row in await self._archive.recordings_running():
            if await self._media.holder(row.room) != row.process:
                await self._interrupt(row.id)  # else its process holds the media: recording
        interval = self._settings.recording_check_seconds
        self._loop = asyncio.create_task(self._run(interval), name="recordings")

    async def close(self) -> None:
        if self._loop is not None:
            await cancel(self._loop, what="recordings")
        for room in list(self.running):
            try:
                await self._finish(room, "shutdown", None)
            except Unavailable as exc:
                log.warning("room=%s: recording not finished in the archive: %s", room, exc)

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._check()
            except Exception:
                log.exception("recordings: checking failed")

    async def _check(self) -> None:
        longest = self._settings.recording_max_minutes * 60
        now = time.monotonic()
        for room, running in list(self.running.items()):
            if self._media.rooms.get(room) is not running.media_room:
                reason = "media_gone"
            elif now - running.started >= longest:
                reason = "max_length"
            elif self._disk_low(running.recording.folder):
                reason = "disk_low"
            else:
                continue
            log.warning("room=%s recording=%s stops by itself: %s", room, running.row.id, reason)
            await self._finish(room, reason, None)
