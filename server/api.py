"""HTTP: health, the public room list, a person's data, and the web client's files."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec
from aiohttp import web

from .archive import Archive
from .config import Settings
from .errors import Code, ProtocolError, Unavailable
from .headers import security_headers
from .presence import Presence
from .rooms import Rooms
from .sessions import Sessions
from .yourdata import YourData

log = logging.getLogger(__name__)

_STATUS = {Code.UNAUTHORIZED: 401, Code.RATE_LIMITED: 429}
"""The HTTP status of a refusal (any other code: 400)."""


class Listener(Protocol):
    """The fan-out between processes, as far as health is concerned."""

    subscribed: asyncio.Event


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _refused(exc: ProtocolError) -> web.Response:
    response = _json(
        {"error": {"code": exc.code.value, "message": exc.message}}, _STATUS.get(exc.code, 400)
    )
    if exc.code is Code.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="percolate"'
    return response


def _filename(name: str) -> str:
    """``percolate-<name>-<date>.json``, the name in letters, digits and dashes."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "me"
    return f"percolate-{slug}-{time.strftime('%Y-%m-%d', time.gmtime())}.json"


@web.middleware
async def _unavailable(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except Unavailable:
        return _json(
            {"error": {"code": "unavailable", "message": "storage unreachable; try again"}}, 503
        )


def _secure_with(
    origins: tuple[str, ...],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    headers = security_headers(origins)

    async def secure(request: web.Request, response: web.StreamResponse) -> None:
        if response.status == 101:
            # A WebSocket's upgrade: these headers mean nothing there, and the response
            # lives as long as the connection (some 1 KiB each, times every member).
            return
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    return secure


def add_routes(
    app: web.Application,
    settings: Settings,
    archive: Archive,
    presence: Presence,
    fanout: Listener | None,
    sessions: Sessions,
    rooms: Rooms,
    yourdata: YourData,
) -> None:
    web_dir = settings.web_dir
    app.middlewares.append(_unavailable)
    app.on_response_prepare.append(_secure_with(settings.cors_origins))

    async def healthz(request: web.Request) -> web.Response:
        archive_ok = await archive.healthy()
        presence_ok = await presence.healthy()
        health: dict[str, object] = {
            "archive": {"backend": type(archive).__name__, "ok": archive_ok},
            "presence": {"backend": presence.name, "ok": presence_ok},
            "connections": len(sessions),
        }
        ok = archive_ok and presence_ok
        if fanout is not None:
            # Emits from other processes reach this one only while it is subscribed.
            listening = fanout.subscribed.is_set()
            health["fanout"] = {"backend": "redis", "ok": listening}
            ok = ok and listening
        return _json(
            {"ok": ok, **health},
            status=200 if ok else 503,
        )

    async def public_rooms(request: web.Request) -> web.Response:
        return _json({"rooms": await rooms.public()})

    async def export(request: web.Request) -> web.StreamResponse:
        try:
            user = await yourdata.bearer(request.headers.get("Authorization"))
            async with yourdata.exporting(user):
                response = web.StreamResponse(
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "Content-Disposition": f'attachment; filename="{_filename(user.name)}"',
                        "Cache-Control": "no-store",
                    }
                )
                await response.prepare(request)
                try:
                    # Each piece waits for the client to take the one before (write drains).
                    async for piece in yourdata.export(user):
                        await response.write(piece)
                except Unavailable as exc:
                    # Too late for a 503: the transfer is cut short, never ended as if whole.
                    log.warning("user=%s: export cut short: storage unavailable: %s", user.id, exc)
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                await response.write_eof()
                log.info("user=%s exported their data", user.id)
                return response
        except ProtocolError as exc:
            return _refused(exc)

    async def client(request: web.Request) -> web.StreamResponse:
        index = web_dir / "index.html"
        if not index.is_file():
            raise web.HTTPServiceUnavailable(text="The web client is not installed.")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/rooms", public_rooms)
    app.router.add_get("/api/me/export", export)
    app.router.add_get("/", client)
    # A shared room link opens the client, which joins the room named in the path.
    app.router.add_get("/r/{room}", client)
    # The built bundle (scripts/run.sh builds it with esbuild); hashed names are not used, so
    # clients revalidate rather than cache forever.
    assets = web_dir / "dist"
    assets.mkdir(parents=True, exist_ok=True)
    app.router.add_static("/assets/", assets)
