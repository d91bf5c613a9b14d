"""The media of one room in this process: its sessions, and what each one forwards.

A source is forwarded while its publisher sends it (its first frame came) and may publish it
(``may_publish``: the member's flag is on and, in a workshop, their role is on stage; the
glue in ``server.media`` decides). Every other member's session then has a slot assigned to
it; nobody receives their own sources. ``reconcile`` brings every session in line after any
change, and tells each client what changed: ``sfu:offer`` when its session grew m-lines,
``sfu:tracks`` when only the assignment of existing ones did. One offer is outstanding per
session at a time; changes meanwhile make one more offer after the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCIceServer

from .errors import invalid
from .packets import BACKLOG_BYTES
from .recorder import Recording
from .session import Key, PeerSession
from .sources import Source, Track

log = logging.getLogger(__name__)

Send = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""How the room talks to a client: (sid, event, payload)."""

MayPublish = Callable[[str, Source], bool]
"""Whether the user may publish the source now (flags and role)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    keyframe_interval: float = 0.5
    backlog: int = BACKLOG_BYTES
    """Bytes unsent to a subscriber before it counts as fallen behind (``PacketWriter``)."""
    max_slots: int = 48
    """Sent m-lines per session; past it, a source without a free slot is not sent there."""
    answer_timeout: float = 15.0
    """Seconds a client has to answer an offer before its session is closed."""


@dataclasses.dataclass(slots=True)
class RoomStats:
    sessions: int = 0
    publishers: int = 0
    """Sources being forwarded."""
    subscribers: int = 0
    """Slots assigned: one per source per receiving session."""
    frames: int = 0
    forwarded: int = 0
    dropped: int = 0
    keyframe_requests: int = 0
    packets: int = 0
    bytes: int = 0
    cpu_seconds: float = 0.0


class MediaRoom:
    def __init__(
        self,
        room: str,
        *,
        may_publish: MayPublish,
        send: Send,
        options: Options | None = None,
    ) -> None:
        self.room = room
        self.may_publish = may_publish
        self.send = send
        self.options = options or Options()
        self.sessions: dict[str, PeerSession] = {}
        self._offered_at: dict[str, float] = {}
        self._reconciling: asyncio.Task[None] | None = None
        self._again = False
        self._retired = RoomStats()
        """What closed sessions counted, so that totals never go down."""
        self.closed = False
        self.recording: Recording | None = None
        """While set, every forwarded source is recorded in it (``follow``)."""

    def __repr__(self) -> str:
        return f"MediaRoom(room={self.room} sessions={len(self.sessions)})"

    # -- what the glue calls -------------------------------------------------------------------

    async def join(
        self, sid: str, user: str, ice_servers: list[RTCIceServer]
    ) -> tuple[int, dict[str, str], list[Track]]:
        """Open (or reopen) ``sid``'s session: its first offer, with what it will receive."""
        while sid in self.sessions:  # another sfu:join of this connection may get in meanwhile
            await self.leave(sid)
        session = PeerSession(
            sid,
            user,
            ice_servers=ice_servers,
            keyframe_interval=self.options.keyframe_interval,
            backlog=self.options.backlog,
            on_start=self._started,
        )
        self.sessions[sid] = session
        async with session.lock:
            self._align(session, self._forwarded())
            offer = await session.offer()
            if self.sessions.get(sid) is not session:
                # Left (or replaced) while the offer was being made: nothing to answer.
                await session.close()
                raise invalid("the media session was closed; send sfu:join")
            self._offered_at[sid] = time.monotonic()
        log.info("%r: %r joined", self, session)
        return session.version, offer, session.tracks()

    async def answer(self, sid: str, version: int, answer: dict[str, Any]) -> None:
        session = self._session(sid)
        async with session.lock:
            try:
                await session.answer(version, answer)
            except Exception:
                if session.outstanding is not None and version == session.outstanding:
                    await self.leave(sid)  # the offer cannot be answered: start again
                raise
            self._offered_at.pop(sid, None)
        if session.unoffered or session.untold:
            self.reconcile()

    async def candidate(self, sid: str, candidate: Any) -> None:
        await self._session(sid).add_candidate(candidate)

    async def leave(self, sid: str) -> None:
        session = self.sessions.pop(sid, None)
        self._offered_at.pop(sid, None)
        if session is None:
            return
        for other in self.sessions.values():
            for source in session.publications:
                if other.unassign((sid, source)):
                    other.untold = True
        await self._count(session, self._retired)
        await session.close()
        self.reconcile()

    def reconcile(self) -> None:
        """Bring every session in line with who may publish what; soon, in one task."""
        if self.closed:
            return
        if self._reconciling is not None and not self._reconciling.done():
            self._again = True
            return
        self._reconciling = asyncio.create_task(self._reconcile(), name=f"{self!r} reconcile")

    def follow(self) -> None:
        """Make the recording hold what is forwarded now: a file for each source (labelled
        ``<user>-<source>``) that is not being recorded from its current publication, and
        the files of sources no longer forwarded finished."""
        recording = self.recording
        if recording is None:
            return
        wanted = {
            f"{publisher.user}-{source.value}": publisher.publications[source]
            for (_, source), publisher in self._forwarded().items()
        }
        for label, recorder in recording.recorders.items():
            if wanted.get(label) is not recorder.publication:
                recording.remove(label)
        for label, publication in wanted.items():
            if label not in recording.recorders:
                recording.add(label, publication)

    async def close(self) -> None:
        self.closed = True
        if self.recording is not None:
            self.recording.stop()  # its files finished; the glue notices the room is gone
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.wait([self._reconciling])
        for sid in list(self.sessions):
            session = self.sessions.pop(sid)
            await session.close()
        self._offered_at.clear()

    @property
    def empty(self) -> bool:
        return not self.sessions

    async def stats(self) -> RoomStats:
        """Totals since the room opened (sessions that closed included), and gauges now."""
        stats = dataclasses.replace(self._retired)
        for session in self.sessions.values():
            await self._count(session, stats)
            stats.subscribers += sum(line.key is not None for line in session.lines)
        stats.publishers = len(self._forwarded())
        stats.sessions = len(self.sessions)
        return stats

    @staticmethod
    async def _count(session: PeerSession, stats: RoomStats) -> None:
        for publication in session.publications.values():
            stats.frames += publication.stats.frames
            stats.keyframe_requests += publication.stats.keyframe_requests
            stats.cpu_seconds += publication.stats.cpu_seconds
            stats.dropped += publication.stats.dropped
        for line in session.lines:
            stats.forwarded += line.slot.stats.forwarded
            for report in (await line.slot.transceiver.sender.getStats()).values():
                if report.type == "outbound-rtp":
                    stats.packets += report.packetsSent
                    stats.bytes += report.bytesSent

    def overdue(self) -> list[str]:
        """Sessions whose client let an offer go unanswered too long."""
        limit = time.monotonic() - self.options.answer_timeout
        return [sid for sid, at in self._offered_at.items() if at < limit]

    # -- inside ----------------------------------------------------------------------------

    def _session(self, sid: str) -> PeerSession:
        session = self.sessions.get(sid)
        if session is None:
            raise invalid("no media session; send sfu:join")
        return session

    def _started(self, session: PeerSession, source: Source) -> None:
        log.info("%r: user=%s started sending %s", self, session.user, source.value)
        self.reconcile()

    def _forwarded(self) -> dict[Key, PeerSession]:
        """Every source to forward now, and whose session publishes it."""
        forwarded: dict[Key, PeerSession] = {}
        for sid, session in self.sessions.items():
            for source, publication in session.publications.items():
                if publication.mime_type is not None and self.may_publish(session.user, source):
                    forwarded[(sid, source)] = session
        return forwarded

    def _align(self, session: PeerSession, forwarded: dict[Key, PeerSession]) -> bool:
        """Assign and free ``session``'s slots; True if anything changed."""
        wanted = {
            key: publisher for key, publisher in forwarded.items() if publisher.user != session.user
        }
        assigned = session.assigned
        changed = False
        for key in assigned.keys() - wanted.keys():
            session.unassign(key)
            changed = True
        for key, publisher in wanted.items():
            if key in assigned:
                continue
            if len(session.lines) >= self.options.max_slots and not any(
                line.key is None and line.kind == publisher.publications[key[1]].kind
                for line in session.lines
            ):
                log.warning("%r: %r has no room for another slot", self, session)
                continue
            session.assign(key, publisher.user, publisher.publications[key[1]])
            changed = True
        return changed

    async def _reconcile(self) -> None:
        while True:
            self._again = False
            forwarded = self._forwarded()
            for sid, session in list(self.sessions.items()):
                if self.sessions.get(sid) is not session:
                    continue
                try:
                    await self._update(session, forwarded)
                except Exception:
                    log.exception("%r: updating %r failed; closing it", self, session)
                    await self.leave(sid)
                    await self._tell(sid, "sfu:closed", {"room": self.room, "reason": "failed"})
            if not self._again:
                self.follow()
                return

    async def _update(self, session: PeerSession, forwarded: dict[Key, PeerSession]) -> None:
        async with session.lock:
            if session.closed:
                return
            changed = self._align(session, forwarded) or session.untold
            if session.outstanding is not None:
                # Told after this offer's answer (``answer`` reconciles again).
                session.untold = changed
                return
            session.untold = False
            if session.unoffered:
                offer = await session.offer()
                self._offered_at[session.sid] = time.monotonic()
                payload = {
                    "room": self.room,
                    "version": session.version,
                    "offer": offer,
                    "tracks": session.tracks(),
                }
                await self._tell(session.sid, "sfu:offer", payload)
            elif changed:
                await self._tell(
                    session.sid, "sfu:tracks", {"room": self.room, "tracks": session.tracks()}
                )

    async def _tell(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        try:
            await self.send(sid, event, payload)
        except Exception:
            log.exception("%r: sending %s to sid=%s failed", self, event, sid)
