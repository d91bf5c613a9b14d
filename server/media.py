"""Media: camera/mic/screen state, peer-to-peer signalling, and sessions with the server's SFU.

A video room's media goes one of two ways (``MediaPlace.mode``): ``mesh``, peer to peer with
``signal`` relayed between members, or ``sfu``, through the server (``sfu:*`` events, one
``signaling.room.MediaRoom`` per room in the process that holds it). Workshops always use the
SFU; a coffee room starts in mesh and switches for good when one camera more than
``mesh_max_cameras`` turns on. Where the room's media lives is the ``Placement``; every
process serves ``room:join`` and ``media:state``, and a client whose room's media lives
elsewhere is told where (``moved``, the ``media`` event).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from aiortc import RTCIceServer

from signaling import relay, sources, transport
from signaling.errors import Refusal, SignalingError
from signaling.ice import IceConfig, ice_servers
from signaling.room import MediaRoom, Options, RoomStats

from . import wire
from .audiences import member_room
from .authz import STAGE
from .catalog import Catalog
from .config import Settings
from .control import Control
from .encounters import Encounters
from .errors import Code, ProtocolError, Unavailable, bad_request, forbidden
from .placement import Claim, Placement
from .presence import Presence
from .protocol import (
    MediaMode,
    MediaPlace,
    MediaState,
    Member,
    RoomKind,
    RoomRef,
    SfuAnswer,
    SfuCandidate,
    Signal,
    Source,
    Track,
)
from .replies import Done, MediaChanged, Offer
from .roster import Recast, Roster
from .sessions import Session
from .tasks import cancel

log = logging.getLogger(__name__)

VIDEO = (RoomKind.COFFEE, RoomKind.WORKSHOP, RoomKind.TABLE)
MESHED = (RoomKind.COFFEE, RoomKind.TABLE)
"""Rooms whose media goes peer to peer until too many cameras are on (tables are small coffee
rooms)."""


class Media:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        presence: Presence,
        placement: Placement,
        catalog: Catalog,
        roster: Roster,
        control: Control,
        ice: IceConfig,
        encounters: Encounters,
    ) -> None:
        self._settings = settings
        self._encounters = encounters
        self._sio = sio
        self._presence = presence
        self._placement = placement
        self._catalog = catalog
        self._roster = roster
        self._ice = ice
        self.rooms: dict[str, MediaRoom] = {}
        """The rooms whose media this process holds."""
        self.members: dict[str, dict[str, Member]] = {}
        """Per held room, the members as last heard (flags and role decide what is forwarded)."""
        self._kinds: dict[str, RoomKind] = {}
        self._idle_since: dict[str, float] = {}
        self._loop: asyncio.Task[None] | None = None
        self.options = Options(
            keyframe_interval=settings.sfu_keyframe_interval,
            backlog=settings.sfu_backlog_kib * 1024,
        )
        self._server_ice = [RTCIceServer(urls=url) for url in settings.stun_urls]
        control.register(Recast, self._recast)

    # -- where a room's media is -------------------------------------------------------------

    async def place(self, room: str, kind: RoomKind) -> MediaPlace:
        """What ``room:join`` tells a client about the room's media."""
        if kind not in VIDEO:
            return MediaPlace(mode=MediaMode.NONE)
        claim = await self._placement.read(room)
        if claim is None:
            mode = MediaMode.SFU if kind is RoomKind.WORKSHOP else MediaMode.MESH
            return MediaPlace(mode=mode)
        return _view(claim)

    async def _claim(self, room: str, kind: RoomKind) -> Claim:
        """Claim the room's media for the SFU; whoever's claim it is, tell the room if new."""
        claim, created = await self._placement.claim(room, MediaMode.SFU)
        if created:
            log.info("room=%s media claimed by this process (epoch %d)", room, claim.epoch)
            self._hold(room, kind)
            await self._sio.emit("media", {"room": room, "media": _view(claim)}, room=room)
        return claim

    def _hold(self, room: str, kind: RoomKind) -> MediaRoom:
        media_room = self.rooms.get(room)
        if media_room is None:

            def may_publish(user: str, source: sources.Source) -> bool:
                return self._may_publish(room, user, Source(source.value))

            media_room = MediaRoom(
                room, may_publish=may_publish, send=self._tell, options=self.options
            )
            self.rooms[room] = media_room
            self.members.setdefault(room, {})
            self._kinds[room] = kind
            self._idle_since[room] = time.monotonic()
        return media_room

    def _may_publish(self, room: str, user: str, source: Source) -> bool:
        member = self.members.get(room, {}).get(user)
        if member is None or not getattr(member, source.value):
            return False
        return self._kinds.get(room) is not RoomKind.WORKSHOP or member.role in STAGE

    async def _send(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        # The session is on this process: its events must not cross the fan-out.
        await self._sio.emit(event, payload, to=sid, ignore_queue=True)

    async def _tell(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        # What a MediaRoom sends: its tracks as the protocol's.
        if "tracks" in payload:
            payload = {**payload, "tracks": _tracks(payload["tracks"])}
        await self._send(sid, event, payload)

    # -- client events -------------------------------------------------------------------------

    async def state(self, session: Session, request: MediaState) -> MediaChanged:
        role = session.rooms[request.room].role
        kind = await self._kind(request.room)
        turning_on = request.camera or request.mic or request.screen
        if turning_on and kind is RoomKind.WORKSHOP and role not in STAGE:
            raise forbidden("in a workshop only people on stage turn on camera, mic or screen")
        member = await self._roster.change(
            request.room,
            session.user.id,
            camera=request.camera,
            mic=request.mic,
            screen=request.screen,
        )
        if member is None:
            raise forbidden("you are not in this room")
        if kind in MESHED and (request.camera or request.screen):
            members = await self._presence.members(request.room)
            if kind is RoomKind.COFFEE and request.camera:
                await self._encounters.cameras_on(request.room, session.user.id, members)
            await self._maybe_switch(request.room, kind, members)
        return MediaChanged(member=member, media=await self.place(request.room, kind))

    async def _maybe_switch(
        self, room: str, kind: RoomKind, members: Sequence[Member] | None = None
    ) -> None:
        """Move a coffee room to the SFU once it has more cameras than mesh carries."""
        if members is None:
            members = await self._presence.members(room)
        cameras = sum(m.camera or m.screen for m in members)
        if cameras > self._settings.mesh_max_cameras:
            claim = await self._placement.read(room)
            if claim is None or claim.mode is not MediaMode.SFU:
                await self._claim(room, kind)

    async def signal(self, session: Session, request: Signal) -> Done:
        if request.to == session.user.id:
            raise bad_request("cannot signal yourself")
        with _refusals():
            relay.check(
                relay.Kind(request.type.value), request.data, self._settings.max_signal_bytes
            )
        kind = await self._kind(request.room)
        if (await self.place(request.room, kind)).mode is MediaMode.SFU:
            raise forbidden("this room's media goes through the server")
        target = await self._presence.member(request.room, request.to)
        if target is None:
            raise forbidden("that user is not in this room")
        await self._sio.emit(
            "signal",
            {
                "room": request.room,
                "from": session.user.id,
                "type": request.type,
                "data": request.data,
            },
            room=member_room(request.room, request.to),
        )
        return Done()

    async def sfu_join(self, session: Session, request: RoomRef) -> Offer:
        room = request.room
        kind = await self._kind(room)
        if kind in MESHED:
            claim = await self._placement.read(room)
            if claim is None:
                # The process that held the room's media went away (or let it go): if the
                # room still has more cameras than mesh carries, it goes on through the SFU.
                await self._maybe_switch(room, kind)
                claim = await self._placement.read(room)
            if claim is None or claim.mode is not MediaMode.SFU:
                raise forbidden("this room uses mesh")
        else:
            claim = await self._claim(room, kind)
        if claim.process != self._placement.process:
            raise ProtocolError(
                Code.MOVED, "this room's media is on another server", media=_view(claim)
            )
        member = await self._presence.member(room, session.user.id)
        media_room = self._hold(room, kind)
        self.members[room][session.user.id] = member or session.rooms[room]
        self._idle_since.pop(room, None)
        with _refusals():
            version, offer, tracks = await media_room.join(
                session.sid, session.user.id, self._server_ice
            )
        return Offer(
            version=version,
            offer=offer,
            tracks=_tracks(tracks),
            ice_servers=ice_servers(self._ice, session.user.id),
        )

    async def hold(self, room: str) -> MediaRoom:
        """The room's media in this process, claimed now if nobody holds it; ``moved`` (as
        ``sfu:join`` answers) if another process holds it."""
        kind = await self._kind(room)
        claim = await self._claim(room, kind)
        if claim.process != self._placement.process:
            raise ProtocolError(
                Code.MOVED, "this room's media is on another server", media=_view(claim)
            )
        return self._hold(room, kind)

    @property
    def process(self) -> str:
        """This process's id in the placement."""
        return self._placement.process

    async def holder(self, room: str) -> str | None:
        """The process holding the room's media now, if any."""
        claim = await self._placement.read(room)
        return None if claim is None else claim.process

    async def sfu_answer(self, session: Session, request: SfuAnswer) -> Done:
        with _refusals():
            relay.check(relay.Kind.ANSWER, request.answer, self._settings.max_signal_bytes)
            await self._room(request.room).answer(session.sid, request.version, request.answer)
        return Done()

    async def sfu_candidate(self, session: Session, request: SfuCandidate) -> Done:
        with _refusals():
            relay.check(relay.Kind.CANDIDATE, request.candidate, self._settings.max_signal_bytes)
            await self._room(request.room).candidate(session.sid, request.candidate)
        return Done()

    async def sfu_leave(self, session: Session, request: RoomRef) -> Done:
        await self.leave(session.sid, request.room)
        return Done()

    # -- what the rest of the server tells us ------------------------------------------------

    async def leave(self, sid: str, room: str) -> None:
        """Close the connection's session in ``room``, if it has one here."""
        media_room = self.rooms.get(room)
        if media_room is not None and sid in media_room.sessions:
            await media_room.leave(sid)
            if media_room.empty:
                self._idle_since.setdefault(room, time.monotonic())

    async def leave_all(self, sid: str) -> None:
        for room in list(self.rooms):
            await self.leave(sid, room)

    async def _recast(self, command: Recast) -> None:
        """A member's flags or role changed (on any process): forward accordingly."""
        media_room = self.rooms.get(command.room)
        if media_room is None:
            return
        self.members[command.room][command.member.id] = command.member
        media_room.reconcile()

    async def stats(self) -> dict[str, RoomStats]:
        return {room: await media_room.stats() for room, media_room in self.rooms.items()}

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        transport.check()
        settings = self._settings
        if settings.redis_url and not settings.media_url:
            log.warning(
                "REDIS_URL without MEDIA_URL: clients of other processes are not told how to "
                "reach the SFU rooms this process holds; set MEDIA_URL to its public URL"
            )
        interval = max(settings.media_ttl / 3, 0.1)
        self._loop = asyncio.create_task(self._run(interval), name="media placement")

    async def close(self) -> None:
        if self._loop is not None:
            await cancel(self._loop, what="media placement")
        for room in list(self.rooms):
            await self._drop(room, "shutdown")

    async def _drop(self, room: str, reason: str) -> None:
        media_room = self.rooms.pop(room)
        self.members.pop(room, None)
        self._kinds.pop(room, None)
        self._idle_since.pop(room, None)
        sids = list(media_room.sessions)
        await media_room.close()
        for sid in sids:
            await self._send(sid, "sfu:closed", {"room": room, "reason": reason})
        if reason != "moved":
            try:
                await self._placement.release(room)
            except Unavailable as exc:
                log.warning("room=%s: media placement not released: %s", room, exc)

    async def _run(self, interval: float) -> None:
        # Keep this process's claims alive, give up the rooms nobody uses any more, and close
        # sessions whose client never answered an offer.
        while True:
            await asyncio.sleep(interval)
            try:
                await self._tend()
            except Unavailable as exc:
                log.warning("media placement: %s", exc)  # keep serving what we hold
            except Exception:
                log.exception("media placement failed")

    async def _tend(self) -> None:
        ttl = self._settings.media_ttl
        now = time.monotonic()
        for room, since in list(self._idle_since.items()):
            if room in self.rooms and self.rooms[room].empty and now - since > ttl:
                log.info("room=%s: no media session for %.0f s; letting it go", room, ttl)
                await self._drop(room, "idle")
        for room, media_room in list(self.rooms.items()):
            for sid in media_room.overdue():
                log.info("room=%s sid=%s: offer not answered; closing the session", room, sid)
                await self.leave(sid, room)
                await self._send(sid, "sfu:closed", {"room": room, "reason": "failed"})
        for room in await self._placement.renew(list(self.rooms)):
            if room in self.rooms:
                log.warning("room=%s: media placement lost to another process", room)
                await self._drop(room, "moved")

    async def _kind(self, room: str) -> RoomKind:
        stored = await self._catalog.get(room)
        if stored is None:
            raise forbidden("you are not in this room")
        return stored.kind

    def _room(self, room: str) -> MediaRoom:
        media_room = self.rooms.get(room)
        if media_room is None:
            raise bad_request("no media session; send sfu:join")
        return media_room


def _view(claim: Claim) -> MediaPlace:
    return MediaPlace(mode=claim.mode, url=claim.url, epoch=claim.epoch)


# -- the boundary with signaling/: its types and refusals as the protocol's --------------------

_CODES = {Refusal.INVALID: Code.BAD_REQUEST, Refusal.TOO_LARGE: Code.TOO_LARGE}


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """What the signalling package refuses, as the error ack the client gets."""
    try:
        yield
    except SignalingError as exc:
        raise ProtocolError(_CODES[exc.kind], exc.message) from None


def _tracks(tracks: list[sources.Track]) -> list[Track]:
    return [Track(mid=t.mid, user=t.user, source=Source(t.source.value)) for t in tracks]
