"""The running server: settings, backends and the Socket.IO server, wired into aiohttp.

The one place that builds the parts and hands each the collaborators it uses; no other
module of ``server`` imports this one (docs/architecture.md, "Modules").
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from signaling.ice import IceConfig

from . import api, wire
from .archive import Archive
from .archive.postgres import PostgresArchive
from .archive.sqlite import SqliteArchive
from .budget import Budget
from .cards import Cards
from .catalog import Catalog
from .chat import Chat
from .config import Settings
from .control import Control
from .encounters import Encounters
from .errors import Unavailable
from .events import Events, client_address, table
from .limits import Limits
from .logins import Logins
from .media import Media
from .metrics import Metrics
from .moderation import Moderation
from .passkeys import Passkeys
from .people import Contacts
from .placement import MemoryPlacement, Placement, RedisPlacement, new_process_id
from .presence import ONLINE, Attachment, Presence, online_member
from .presence.memory import MemoryPresence
from .presence.redis import RedisPresence
from .profiles import Profiles
from .recordings import Recordings
from .replays import Replays
from .rooms import Rooms
from .roster import Roster
from .search import Search
from .sessions import Sessions
from .tables import Tables
from .tasks import Tasks, cancel
from .workshop import Workshop
from .yourdata import YourData

log = logging.getLogger(__name__)

APP_KEY: web.AppKey[Percolate] = web.AppKey("percolate")


def _origins(extra: tuple[str, ...]) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's origin check: the page's own origin, and the configured extra ones."""
    allowed = {origin.rstrip("/") for origin in extra}

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: CORS does not apply
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in allowed

    return check


class Percolate:
    """One server process: its Socket.IO server, backends, sessions and background loops."""

    def __init__(self, settings: Settings, archive: Archive, presence: Presence) -> None:
        self.settings = settings
        self.archive = archive
        self.presence = presence
        self.ice = IceConfig(
            stun_urls=settings.stun_urls,
            turn_urls=settings.turn_urls,
            turn_secret=settings.turn_secret,
            turn_ttl=settings.turn_ttl,
        )
        self.fanout = (
            wire.Fanout(settings.redis_url, f"{settings.redis_prefix}:fanout")
            if settings.redis_url
            else None
        )
        self.sio = wire.Server(
            client_manager=self.fanout or wire.Broadcast(),
            max_http_buffer_size=settings.max_packet_bytes,
            bounds=wire.Bounds(depth=settings.max_depth, elements=settings.max_elements),
            max_strikes=settings.max_strikes,
            backlog=settings.max_backlog_kib * 1024,
            connect_timeout=settings.connect_timeout,
            address=functools.partial(client_address, trusted=settings.trusted_proxies),
            max_per_address=settings.max_connections_per_ip,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            cors_allowed_origins=_origins(settings.cors_origins) if settings.cors_origins else None,
        )
        self._redis = presence.redis if isinstance(presence, RedisPresence) else None
        self.placement: Placement = (
            RedisPlacement(
                self._redis,
                settings.redis_prefix,
                new_process_id(),
                settings.media_url,
                settings.media_ttl,
            )
            if self._redis is not None
            else MemoryPlacement(new_process_id(), settings.media_url, settings.media_ttl)
        )
        self.stopping = False
        """Set while shutting down: connections closed then keep their place for the grace."""
        self.tasks = Tasks()
        self._loops: list[asyncio.Task[None]] = []
        self.limits = Limits(self._redis, settings.redis_prefix)
        sio, limits = self.sio, self.limits
        # Each part gets what it uses; the order is the one direction of their dependencies.
        self.sessions = Sessions(settings, archive, limits)
        self.control = Control(self.fanout)
        self.catalog = Catalog(archive, self.control)
        self.roster = Roster(sio, presence, self.control)
        encounters = Encounters(archive)
        self.chat = Chat(settings, sio, archive, self.catalog, presence, encounters)
        self.media = Media(
            settings,
            sio,
            presence,
            self.placement,
            self.catalog,
            self.roster,
            self.control,
            self.ice,
            encounters,
        )
        self.workshop = Workshop(sio, archive, presence, self.roster)
        self.recordings = Recordings(settings, sio, archive, self.catalog, self.media)
        self.replays = Replays(settings, archive, self.sessions)
        self.tables = Tables(
            settings, sio, archive, presence, self.catalog, self.roster, self.tasks
        )
        self.rooms = Rooms(
            settings,
            sio,
            archive,
            presence,
            self.catalog,
            self.sessions,
            self.roster,
            self.media,
            self.workshop,
            self.tables,
            self.control,
            limits,
            self.ice,
        )
        self.metrics = Metrics(settings, sio, self.sessions, self.media, self.placement.process)
        self.events = Events(
            settings,
            sio,
            presence,
            self.sessions,
            self.catalog,
            self.roster,
            self.rooms,
            self.media,
            Budget(settings, limits),
            self.tasks,
            lambda: self.stopping,
        )
        self.moderation = Moderation(
            sio, archive, presence, self.roster, self.chat, self.workshop, self.catalog
        )
        self.search = Search(settings, archive)
        self.cards = Cards(sio, archive)
        self.contacts = Contacts(sio, archive, self.cards)
        self.logins = Logins(sio, archive, self.sessions, self.control, self.tasks)
        self.passkeys = Passkeys(settings, archive, self.sessions, limits)
        self.yourdata = YourData(
            settings,
            archive,
            self.sessions,
            self.catalog,
            self.chat,
            self.control,
            limits,
            self.tasks,
        )
        self.events.register(
            table(
                self.rooms,
                self.chat,
                self.media,
                self.workshop,
                self.tables,
                self.moderation,
                self.search,
                self.contacts,
                self.cards,
                Profiles(sio, archive, presence, self.rooms),
                self.logins,
                self.yourdata,
                self.recordings,
            )
        )

    def __repr__(self) -> str:
        return f"Percolate(archive={self.archive!r}, presence={self.presence.name})"

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        wire.check()
        wire.install()  # aiohttp's own error answers (wire.http), once the check passed
        await self.archive.open()
        try:
            await self.presence.start()
        except Unavailable as exc:
            # Keep serving: the heartbeat re-announces everyone once the backend is back.
            log.warning("presence=%s is not reachable at start: %s", self.presence.name, exc)
        if self.fanout is not None:
            await self.fanout.start()
        self.media.start()
        await self.recordings.start_up()
        await self.metrics.start()
        self._loops = [
            asyncio.create_task(
                self._every(self.settings.heartbeat_interval, self.heartbeat), name="heartbeat"
            ),
            asyncio.create_task(self._every(self.settings.reap_interval, self.reap), name="reap"),
            asyncio.create_task(
                self._every(self.settings.tables_tick, self.tables.tick), name="tables"
            ),
            asyncio.create_task(
                self._every(self.settings.heartbeat_interval, self.logins.touch), name="seen"
            ),
        ]

    async def hang_up(self) -> None:
        """Close every connection, keeping their places for the reconnect grace.

        Runs first on shutdown: aiohttp waits for open connections before it cleans up, and
        clients move to another process sooner when told at once.
        """
        self.stopping = True
        for sid in list(self.sessions.by_sid):
            await self.sio.disconnect(sid)
        # Engine.IO connections that have no session yet (a client half-way through
        # connecting) would hold aiohttp's shutdown for its whole timeout. Close them without
        # waiting for their queues: a long-polling client may never come to fetch its CLOSE.
        for socket in list(self.sio.eio.sockets.values()):
            await socket.close(wait=False)
        # WebSocket connections are no longer aiohttp's to close (one still upgrading carries
        # no socket yet).
        self.sio.eio.hang_up()

    async def stop(self) -> None:
        self.stopping = True
        for task in self._loops:
            await cancel(task, what=task.get_name())
        try:
            await self.logins.touch()  # before the connections go, with what they last used
        except Unavailable as exc:
            log.warning("sessions not marked seen: archive unavailable: %s", exc)
        await self.hang_up()
        await self.recordings.close()
        await self.media.close()
        await self.metrics.stop()
        await self.tasks.wait()
        if self.fanout is not None:
            await self.fanout.close()
        await self.limits.close()
        await self.placement.close()
        await self.presence.close()
        await self.archive.close()
        log.info("%r stopped", self)

    async def _every(self, interval: float, step: Callable[[], Awaitable[None]]) -> None:
        # A loop that must outlive every failure of one step: it logs and carries on, until
        # the server stops (checked too, in case a step swallowed the cancellation).
        while not self.stopping:
            await asyncio.sleep(interval)
            try:
                await step()
            except Unavailable as exc:
                log.warning(
                    "%s: presence=%s unavailable: %s", step.__name__, self.presence.name, exc
                )
            except Exception:
                log.exception("%s failed", step.__name__)

    async def heartbeat(self) -> None:
        """Push forward the deadline of every attachment this process holds.

        Attachments the backend lost (say, Redis restarted empty) are re-created, and the
        members that re-creates are announced again.
        """
        entries: list[Attachment] = []
        for session in self.sessions.by_sid.values():
            user = session.user
            entries.append(Attachment(ONLINE, online_member(user), session.sid))
            entries.extend(
                Attachment(room, member, session.sid) for room, member in session.rooms.items()
            )
        added = await self.presence.attach(entries, self.settings.presence_ttl, merge=False)
        await self.roster.announce_all("join", added)

    async def reap(self) -> None:
        await self.roster.announce_all("leave", await self.presence.reap())


def make_archive(settings: Settings) -> Archive:
    if settings.database_url:
        return PostgresArchive(settings.database_url)
    return SqliteArchive(settings.data_dir / "percolate.db")


def make_app(settings: Settings) -> web.Application:
    archive = make_archive(settings)
    presence: Presence = (
        RedisPresence(settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else MemoryPresence()
    )
    server = Percolate(settings, archive, presence)
    # An HTTP connection idle for as long as a session may go unheard (a ping interval and
    # timeout) is closed: a long-polling client polls again at once, so one whose session was
    # declared gone leaves no connection behind (aiohttp: 75 s under run_app, an hour under
    # its test server).
    app = web.Application(
        handler_args={"keepalive_timeout": settings.ping_interval + settings.ping_timeout}
    )
    app[APP_KEY] = server
    server.sio.attach(app)
    api.add_routes(
        app,
        settings,
        archive,
        presence,
        server.fanout,
        server.sessions,
        server.rooms,
        server.yourdata,
    )
    server.passkeys.add_routes(app)
    server.replays.add_routes(app)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await server.start()
        yield
        await server.stop()

    async def shutdown(app: web.Application) -> None:
        await server.hang_up()

    app.cleanup_ctx.append(lifetime)
    app.on_shutdown.append(shutdown)
    return app
