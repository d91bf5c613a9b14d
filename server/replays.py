"""Replays over HTTP: a recording's facts and its files, for those who may watch it.

``GET /api/recordings/{id}`` answers what a replay page needs (title, room, who started and
stopped it, when, its files, the chat's span from ``manifest.json``); ``GET
/api/recordings/{id}/files/{name}`` one WebM file, with ``Range`` for seeking (aiohttp's
``FileResponse`` answers ``Range`` and ``If-Range`` itself). docs/protocol.md, "Recordings".

Who may: the person who started the recording, the room's creator, its hosts and co-hosts
(``RoomState.roles``); with ``guests_may_watch``, anybody signed in (the id is 16 random bytes:
only those who were given it can ask). Everybody else hears 404, exactly as for a recording
that does not exist, a name that is not one of its files, or one still being recorded, so a
refusal tells nothing. A file is never found by a path made from the request: its name is
looked up among the recording's files and the stored folder's file served, if it lies inside
``RECORDINGS_DIR``.

A ``<video>`` element cannot send ``Authorization``, so the file route also takes the token
as ``?token=``; those answers carry ``Cache-Control: private, no-store`` and (as every answer)
``Referrer-Policy: no-referrer`` (docs/security.md, "Recordings").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from aiohttp import web

from .archive import Archive
from .archive.recordings import RecordedFile, State, StoredRecording
from .authz import HOSTS
from .config import Settings
from .errors import Code, ProtocolError, not_found
from .protocol import User
from .recordings import Manifest
from .sessions import Sessions

log = logging.getLogger(__name__)

_STATUS = {Code.UNAUTHORIZED: 401, Code.NOT_FOUND: 404}
"""The HTTP status of a refusal (any other code: 400)."""

_GONE = "no such recording"
"""The one message of every 404: missing, not yours, not finished, no such file."""

_ID_MAX = 64
"""Longer than any id we make (``rec`` and 16 bytes): not looked up."""

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FileFacts(RecordedFile, frozen=True):
    """One file of a recording as ``GET /api/recordings/{id}`` lists it: as stored (whose
    ``bytes`` are the frames' encoded bytes), and its size on disk."""

    size: int | None
    """The frames and the container; None: the file is missing."""


class ChatSpan(msgspec.Struct, frozen=True):
    """The room's chat while it recorded: ``seq`` from ``first`` to ``last`` (``manifest.json``)."""

    first: int
    last: int


class RecordingFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``GET /api/recordings/{id}``."""

    id: str
    room: str
    title: str
    state: str
    started_by: User
    started_at: int
    stopped_by: User | None
    stopped_at: int | None
    guests_may_watch: bool
    files: tuple[FileFacts, ...]
    chat: ChatSpan | None
    """None: no manifest (an interrupted recording's process died before writing it)."""


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "private, no-store"},
    )


def _disposition(kind: str, recording: StoredRecording, file: RecordedFile) -> str:
    # The stored name is ours (``<label>.webm``, letters, digits, dashes and dots), so it
    # needs no quoting beyond the quotes (RFC 6266, section 4.1).
    return f'{kind}; filename="{recording.id}-{file.name}"'


class Replays:
    def __init__(self, settings: Settings, archive: Archive, sessions: Sessions) -> None:
        self._archive = archive
        self._sessions = sessions
        self._root = settings.recordings_folder.resolve()

    def add_routes(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/api/recordings/{id}", self._route(self.facts))
        router.add_get("/api/recordings/{id}/files/{name}", self._route(self.file))
        # Any other path below (``/api/recordings/<id>/``, ``.../files/``, what a ``..`` left):
        # the same 404 as a recording that is not there.
        router.add_get("/api/recordings/{rest:.*}", self._route(self.gone))

    def _route(self, handler: Route) -> Route:
        """A refusal as ``{"error": {code, message}}`` with its status; ``Unavailable`` passes
        on to ``api``'s middleware (503)."""

        async def route(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ProtocolError as exc:
                response = _json(
                    {"error": {"code": exc.code.value, "message": exc.message}},
                    _STATUS.get(exc.code, 400),
                )
                if exc.code is Code.UNAUTHORIZED:
                    response.headers["WWW-Authenticate"] = 'Bearer realm="percolate"'
                return response

        return route

    # -- routes ----------------------------------------------------------------------------

    async def facts(self, request: web.Request) -> web.StreamResponse:
        user = await self._user(request.headers.get("Authorization"))
        recording = await self._watchable(request.match_info["id"], user)
        return _json(
            RecordingFacts(
                id=recording.id,
                room=recording.room,
                title=recording.title,
                state=recording.state.value,
                started_by=recording.started_by,
                started_at=recording.started_at,
                stopped_by=recording.stopped_by,
                stopped_at=recording.stopped_at,
                guests_may_watch=recording.guests_may_watch,
                files=tuple(self._facts(recording, file) for file in recording.files),
                chat=self._chat(recording),
            )
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        token = request.query.get("token")
        if authorization is None and token is not None:
            authorization = f"Bearer {token}"  # a <video> cannot send the header
        user = await self._user(authorization)
        recording = await self._watchable(request.match_info["id"], user)
        name = request.match_info["name"]
        file = next((f for f in recording.files if f.name == name), None)
        if file is None:
            raise not_found(_GONE)
        path = self._inside(Path(recording.folder) / file.name)
        if path is None:
            log.warning("recording=%s file=%s is outside RECORDINGS_DIR", recording.id, name)
            raise not_found(_GONE)
        kind = "attachment" if request.query.get("download") == "1" else "inline"
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "video/webm",
                "Content-Disposition": _disposition(kind, recording, file),
                "Cache-Control": "private, no-store",
            },
        )

    async def gone(self, request: web.Request) -> web.StreamResponse:
        raise not_found(_GONE)

    # -- parts -----------------------------------------------------------------------------

    async def _user(self, authorization: str | None) -> User:
        return (await self._sessions.bearer(authorization)).user

    async def _watchable(self, recording_id: str, user: User) -> StoredRecording:
        """The recording if ``user`` may watch it now; else 404, whatever the reason."""
        if len(recording_id) > _ID_MAX:
            raise not_found(_GONE)
        recording = await self._archive.recording(recording_id)
        if recording is None or recording.state is State.RECORDING:
            raise not_found(_GONE)
        if recording.guests_may_watch or recording.started_by.id == user.id:
            return recording
        room = await self._archive.get_room(recording.room)
        if room is not None and room.created_by == user.id:
            return recording
        state = await self._archive.room_state(recording.room)
        if state.roles.get(user.id) in HOSTS:
            return recording
        raise not_found(_GONE)

    def _facts(self, recording: StoredRecording, file: RecordedFile) -> FileFacts:
        path = self._inside(Path(recording.folder) / file.name)
        size = None if path is None else path.stat().st_size
        return FileFacts(**msgspec.structs.asdict(file), size=size)

    def _inside(self, path: Path) -> Path | None:
        """``path``, resolved, if it lies inside ``RECORDINGS_DIR`` and is a file."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root) or not resolved.is_file():
            return None
        return resolved

    def _chat(self, recording: StoredRecording) -> ChatSpan | None:
        path = self._inside(Path(recording.folder) / "manifest.json")
        if path is None:
            return None
        try:
            manifest = msgspec.json.decode(path.read_bytes(), type=Manifest)
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("recording=%s: its manifest cannot be read: %s", recording.id, exc)
            return None
        return ChatSpan(first=manifest.chat_from, last=manifest.chat_to)
