"""Tables: breakout tables in workshops and speed-networking rounds, one mechanism.

A *sitting* is a set of tables running now in a room (``RoomState.sitting``): breakout tables
a host opened, or one round of a *series* (``RoomState.series``). Each table is a room of its
own, of kind ``table`` (video and chat like a small coffee room), made by the server; its
members stay joined to the room itself and join their table beside it (docs/protocol.md,
"Tables and speed networking").

Everything lives in the room's state in the archive and nowhere else: seats, deadlines, the
series and the pairs who met. So every process sees the same tables, and a process that
restarts or dies loses nobody's seat. Time is kept the same way: each state says when it is
next due (``RoomState.due``, stored beside it), and every process looks for due rooms every
``tables_tick`` seconds (``tick``). Whichever process gets there first moves the room on;
each change is one ``change_room_state``, which re-checks that the step is still due, so
two processes never both do it.

A step that needs more than one write (a new round: the sitting, then its tables' rooms) is
stored first with ``made`` false; if the process dies before the rooms exist, the sitting
stays due and another process makes them (``_MAKE_GRACE`` later).

A process that just started does not know yet who is present: embedded presence starts empty,
and people come back within their reconnect grace. So for that long it seats nobody (and ends
no series for want of people); a round that fell due while it was down starts after that.

Who may call which event is in ``server.authz``; the rules about targets and tables are here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TypeVar

from . import keys, seating, wire
from .archive import Archive, RoomState, Series, Sitting, StoredRoom, TableRecord
from .authz import HOSTS, MODERATORS
from .catalog import Catalog
from .clock import now_ms
from .config import Settings
from .errors import Unavailable, bad_request, forbidden, not_found
from .presence import Presence
from .protocol import (
    Assign,
    Phase,
    RoomKind,
    RoomRef,
    RoundsStart,
    SittingKind,
    TablesChoose,
    TablesMove,
    TablesNotice,
    TablesOpen,
    User,
)
from .replies import Done, TablesReply
from .roster import Roster
from .sessions import Session
from .tasks import Tasks

log = logging.getLogger(__name__)

T = TypeVar("T")

_TABLE_ID_BYTES = 16  # a table's room is private: its id is its secret
_MAKE_GRACE = 5000
"""Milliseconds after which another process makes a sitting's rooms if its maker did not."""
_BREAK_MAX = 600
"""Longest break of a series, in seconds."""
_DUE_BATCH = 100
_GATHER = 0.25
"""Seconds over which changes to who takes part are told to the room in one ``tables``."""

CLOSED = "table_closed"
MOVED = "table_moved"


def _warn_at(ends_at: int, seconds: int, lead: int) -> int | None:
    """When to say "``lead`` seconds left" of something ``seconds`` long (None: never)."""
    return ends_at - lead * 1000 if lead > 0 and seconds > lead else None


class Tables:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        archive: Archive,
        presence: Presence,
        catalog: Catalog,
        roster: Roster,
        tasks: Tasks,
    ) -> None:
        self._settings = settings
        self._sio = sio
        self._archive = archive
        self._presence = presence
        self._catalog = catalog
        self._roster = roster
        self._tasks = tasks
        self._telling: set[str] = set()
        """Rooms with a ``tables`` on its way (``publish_soon``)."""
        self._rng = random.SystemRandom()
        self._stalled = False
        """The archive was unavailable at the last tick."""
        self._settled = now_ms() + int(settings.reconnect_grace * 1000)
        """Until then, who is present is not known yet (see the module's docstring)."""

    # -- telling people ----------------------------------------------------------------------

    async def publish(self, room: str, state: RoomState) -> None:
        await self._sio.emit(
            "tables", {"room": room, "state": state.tables_view(now_ms())}, room=room
        )

    def publish_soon(self, room: str) -> None:
        """Tell the room within ``_GATHER`` seconds, once for every change made until then.

        For changes that arrive in bursts and concern mostly their author, who has the new
        state in the ack: a room of 200 saying yes to a series in the same few seconds hears
        a handful of ``tables``, not 200 of a growing list each (which cost every client
        megabytes). What the clock does (rounds, warnings, recalls) is told at once.
        """
        if room not in self._telling:
            self._telling.add(room)
            self._tasks.spawn(self._publish_later(room), name=f"tables {room}")

    async def _publish_later(self, room: str) -> None:
        await asyncio.sleep(_GATHER)
        # From here a change schedules another publish: none lands between the read and it.
        self._telling.discard(room)
        try:
            await self.publish(room, await self._archive.room_state(room))
        except Unavailable as exc:
            log.warning("room=%s: tables could not be told: %s", room, exc)

    def _reply(self, state: RoomState) -> TablesReply:
        return TablesReply(tables=state.tables_view(now_ms()))

    async def _change(self, room: str, change: Callable[[RoomState], T]) -> tuple[RoomState, T]:
        return await self._archive.change_room_state(room, change)

    async def _unseat(self, table: str, users: list[str], reason: str) -> None:
        """Take users out of a table room everywhere (they go back to the room)."""
        for user in users:
            await self._roster.evict(table, user, reason)

    async def _clear(self, sitting: Sitting) -> None:
        """A sitting ended: everybody still at its tables (visitors too) goes back."""
        for table in sitting.tables:
            present = [member.id for member in await self._presence.members(table.id)]
            await self._unseat(table.id, present, CLOSED)

    # -- admission (room:join of a table) -----------------------------------------------------

    async def admit(self, session: Session, table: StoredRoom) -> bool:
        """May the user join this table? True while its sitting runs, False to read it after.

        Raises ``forbidden`` for anybody who is neither seated there, nor a host of the
        workshop visiting, nor somebody who sat there before.
        """
        user_id = session.user.id
        if table.parent is None:
            raise forbidden("you are not seated at this table")
        parent, own = await asyncio.gather(
            self._archive.room_state(table.parent), self._archive.room_state(table.id)
        )
        if user_id in parent.banned:
            raise forbidden("a host removed you from this room")
        sitting = parent.sitting
        record = sitting.table(table.id) if sitting is not None else None
        if record is not None:
            if any(u.id == user_id for u in record.seats):
                if user_id not in own.sat:
                    await self._change(table.id, lambda s: s.sat.append(user_id))
                return True
            host = await self._presence.member(table.parent, user_id)
            if host is not None and host.role in HOSTS:
                return True
        elif user_id in own.sat:
            return False
        else:
            host = await self._presence.member(table.parent, user_id)
            if host is not None and host.role in HOSTS:
                return False
        raise forbidden("you are not seated at this table")

    # -- breakout tables ---------------------------------------------------------------------

    async def open(self, session: Session, request: TablesOpen) -> TablesReply:
        settings, room = self._settings, request.room
        if request.tables is not None and not 1 <= request.tables <= settings.tables_max:
            raise bad_request(f"tables must be 1 to {settings.tables_max}")
        if request.size is not None and not 2 <= request.size <= settings.table_size_max:
            raise bad_request(f"size must be 2 to {settings.table_size_max}")
        low, high = settings.round_min_seconds, settings.breakout_max_seconds
        if request.seconds is not None and not low <= request.seconds <= high:
            raise bad_request(f"seconds must be {low} to {high}")
        guests = [m for m in await self._presence.members(room) if m.role not in HOSTS]
        people = [User(id=m.id, name=m.name) for m in guests]
        rng = random.Random(self._rng.random())
        if request.assign is Assign.RANDOM:
            if not people:
                raise bad_request("nobody to seat")
            groups = seating.split(
                [u.id for u in people], tables=request.tables, size=request.size, rng=rng
            )
            if max(map(len, groups)) > settings.table_size_max:
                raise bad_request(
                    f"that seats more than {settings.table_size_max} at a table; open more tables"
                )
        else:
            count = request.tables or max(1, -(-len(people) // (request.size or 1)))
            groups = [[] for _ in range(min(count, settings.tables_max))]
        if len(groups) > settings.tables_max:
            raise bad_request(f"that makes more than {settings.tables_max} tables")
        by_id = {u.id: u for u in people}
        now = now_ms()
        ends_at = now + request.seconds * 1000 if request.seconds is not None else None
        sitting = Sitting(
            id=keys.new_id("", 8),
            kind=SittingKind.BREAKOUT,
            tables=[
                TableRecord(
                    id=keys.new_id("", _TABLE_ID_BYTES),
                    name=f"Table {i}",
                    seats=[by_id[uid] for uid in group],
                )
                for i, group in enumerate(groups, start=1)
            ],
            assign=request.assign,
            size=request.size if request.assign is Assign.CHOOSE else None,
            started_at=now,
            ends_at=ends_at,
            # "One minute left", unless the whole of it is hardly more.
            warn_at=ends_at - 60_000 if ends_at and (request.seconds or 0) > 120 else None,
        )

        def change(state: RoomState) -> None:
            _free(state)
            state.sitting = sitting

        await self._change(room, change)
        state = await self._made(room, sitting)
        log.info("room=%s tables opened: %d by user=%s", room, len(sitting.tables), session.user.id)
        return self._reply(state)

    async def move(self, session: Session, request: TablesMove) -> TablesReply:
        room = request.room
        target = await self._presence.member(room, request.user)
        if target is not None and target.role in HOSTS:
            raise bad_request("hosts visit tables; they are not seated")
        limit = self._settings.table_size_max

        def change(state: RoomState) -> tuple[str | None, str | None]:
            sitting = _sitting(state)
            seated = sitting.seat_of(request.user)
            if target is None and seated is None:
                raise not_found("that user is not in this room")
            destination = None
            if request.table is not None:
                destination = sitting.table(request.table)
                if destination is None:
                    raise not_found("no such table here")
                if destination is seated:
                    return None, None
                if len(destination.seats) >= limit:
                    raise bad_request("that table is full")
            user = (
                next(u for u in seated.seats if u.id == request.user)
                if seated is not None
                else User(id=request.user, name=target.name if target else request.user)
            )
            sitting.unseat(request.user)
            if destination is not None:
                destination.seats.append(user)
            if state.series is not None and destination is not None:
                _join_series(state.series, user)
            return (seated.id if seated else None), request.table

        state, (old, _new) = await self._change(room, change)
        if old is not None:
            await self._unseat(old, [request.user], MOVED)
        await self.publish(room, state)
        return self._reply(state)

    async def choose(self, session: Session, request: TablesChoose) -> TablesReply:
        user = session.user
        limit = self._settings.table_size_max

        def change(state: RoomState) -> str | None:
            sitting = _sitting(state)
            if sitting.assign is not Assign.CHOOSE:
                raise forbidden("the host seats people at these tables")
            table = sitting.table(request.table)
            if table is None:
                raise not_found("no such table here")
            seated = sitting.seat_of(user.id)
            if seated is table:
                return None
            if len(table.seats) >= min(sitting.size or limit, limit):
                raise bad_request("that table is full")
            sitting.unseat(user.id)
            table.seats.append(user)
            return seated.id if seated is not None else None

        state, old = await self._change(request.room, change)
        if old is not None:
            await self._unseat(old, [user.id], MOVED)
        self.publish_soon(request.room)
        return self._reply(state)

    async def notice(self, session: Session, request: TablesNotice) -> Done:
        state = await self._archive.room_state(request.room)
        _sitting(state)
        await self._sio.emit(
            "tables:notice",
            {"room": request.room, "by": session.user, "text": request.text},
            room=request.room,
        )
        return Done()

    async def close(self, session: Session, request: RoomRef) -> TablesReply:
        def change(state: RoomState) -> Sitting | None:
            if state.sitting is None and (state.series is None or not state.series.running):
                raise bad_request("no tables are open here")
            return _end(state, now_ms(), stop=True)

        state, ended = await self._change(request.room, change)
        await self._after_end(request.room, state, ended)
        log.info("room=%s tables closed by user=%s", request.room, session.user.id)
        return self._reply(state)

    # -- speed networking ---------------------------------------------------------------------

    async def start(self, session: Session, request: RoundsStart) -> TablesReply:
        s = self._settings
        if request.size not in seating.SIZES:
            raise bad_request("size must be 2, 3 or 4")
        if not s.round_min_seconds <= request.round_seconds <= s.round_max_seconds:
            raise bad_request(
                f"round_seconds must be {s.round_min_seconds} to {s.round_max_seconds}"
            )
        if not 1 <= request.rounds <= s.rounds_max:
            raise bad_request(f"rounds must be 1 to {s.rounds_max}")
        if not s.break_min_seconds <= request.break_seconds <= _BREAK_MAX:
            raise bad_request(f"break_seconds must be {s.break_min_seconds} to {_BREAK_MAX}")
        now = now_ms()
        series = Series(
            id=keys.new_id("", 8),
            by=session.user,
            size=request.size,
            round_seconds=request.round_seconds,
            rounds=request.rounds,
            break_seconds=request.break_seconds,
            participants=[session.user],
            round=0,
            phase=Phase.GATHERING,
            phase_ends_at=now + request.break_seconds * 1000,
        )

        def change(state: RoomState) -> None:
            _free(state)
            state.series = series

        state, _ = await self._change(request.room, change)
        log.info("room=%s round series started by user=%s", request.room, session.user.id)
        await self.publish(request.room, state)
        return self._reply(state)

    async def join(self, session: Session, request: RoomRef) -> TablesReply:
        def change(state: RoomState) -> None:
            _join_series(_series(state), session.user)

        state, _ = await self._change(request.room, change)
        self.publish_soon(request.room)
        return self._reply(state)

    async def leave(self, session: Session, request: RoomRef) -> TablesReply:
        user_id = session.user.id

        def change(state: RoomState) -> str | None:
            series = _series(state)
            series.participants = [u for u in series.participants if u.id != user_id]
            if state.sitting is not None and state.sitting.kind is SittingKind.ROUND:
                table = state.sitting.unseat(user_id)
                return table.id if table is not None else None
            return None

        state, old = await self._change(request.room, change)
        if old is not None:
            await self._unseat(old, [user_id], CLOSED)
        self.publish_soon(request.room)
        return self._reply(state)

    async def stop(self, session: Session, request: RoomRef) -> TablesReply:
        host = session.rooms[request.room].role in MODERATORS

        def change(state: RoomState) -> Sitting | None:
            series = _series(state)
            if not host and series.by.id != session.user.id:
                raise forbidden("only who started the series can stop it")
            return _end(state, now_ms(), stop=True)

        state, ended = await self._change(request.room, change)
        await self._after_end(request.room, state, ended)
        log.info("room=%s round series stopped by user=%s", request.room, session.user.id)
        return self._reply(state)

    # -- the clock ---------------------------------------------------------------------------

    async def tick(self) -> None:
        """Move on every room whose time has come (every process runs this).

        While the archive is unreachable nothing moves (the rooms stay due and move on once
        it is back); that is said once, not at every tick.
        """
        try:
            due = await self._archive.due_rooms(now_ms(), _DUE_BATCH)
        except Unavailable as exc:
            if not self._stalled:
                log.warning("tables: the archive is unavailable, rounds wait for it: %s", exc)
            self._stalled = True
            return
        if self._stalled:
            log.info("tables: the archive is back, rounds move on")
            self._stalled = False
        for room in due:
            try:
                await self.advance(room)
            except Unavailable as exc:
                log.warning("room=%s: tables could not move on: %s", room, exc)
            except Exception:
                log.exception("room=%s: tables could not move on", room)

    async def advance(self, room: str) -> None:
        """Do what is due in ``room``: make tables, warn, start or end a round, recall."""
        state = await self._archive.room_state(room)
        now = now_ms()
        due = state.due()
        if due is None or due > now:
            return
        sitting, series = state.sitting, state.series
        if sitting is not None and not sitting.made:
            if sitting.started_at + _MAKE_GRACE <= now:
                await self._made(room, sitting)
            return
        if sitting is not None and sitting.warn_at is not None and sitting.warn_at <= now:
            await self._warn(room, sitting)
        if series is not None and series.running and (series.phase_ends_at or 0) <= now:
            if series.phase is Phase.ROUND:
                await self._end_round(room, series)
            elif now >= self._settled:
                await self._next_round(room, series)
        elif sitting is not None and sitting.ends_at is not None and sitting.ends_at <= now:
            await self._end_breakout(room, sitting)

    async def _warn(self, room: str, sitting: Sitting) -> None:
        def change(state: RoomState) -> int | None:
            current = state.sitting
            if current is None or current.id != sitting.id or current.warn_at is None:
                return None
            current.warn_at = None
            return current.ends_at

        _, ends_at = await self._change(room, change)
        if ends_at is not None:
            seconds = max(0, round((ends_at - now_ms()) / 1000))
            await self._sio.emit(
                "tables:warning", {"room": room, "seconds": seconds, "ends_at": ends_at}, room=room
            )

    async def _next_round(self, room: str, series: Series) -> None:
        present = {m.id for m in await self._presence.members(room)}
        people = [u for u in series.participants if u.id in present]
        grace = int(self._settings.reconnect_grace * 1000)
        if len(people) < 2 and now_ms() < (series.phase_ends_at or 0) + grace:
            # People may be on their way back (connections that dropped, within their
            # grace): look again at the next tick, for a reconnect grace.
            return
        if len(people) < 2:

            def finish(state: RoomState) -> bool:
                current = state.series
                if current is None or current.id != series.id or current.phase != series.phase:
                    return False
                current.phase, current.phase_ends_at = Phase.DONE, None
                return True

            state, done = await self._change(room, finish)
            if done:
                log.info("room=%s round series over: fewer than two people", room)
                await self.publish(room, state)
            return
        met = {frozenset(pair) for pair in series.met}
        rng = random.Random(self._rng.random())
        groups, plan = await asyncio.to_thread(_seat, series, [u.id for u in people], met, rng)
        by_id = {u.id: u for u in people}
        now = now_ms()
        ends_at = now + series.round_seconds * 1000
        lead = 30 if series.round_seconds >= 60 else series.round_seconds // 2
        sitting = Sitting(
            id=keys.new_id("", 8),
            kind=SittingKind.ROUND,
            tables=[
                TableRecord(
                    id=keys.new_id("", _TABLE_ID_BYTES),
                    name=f"Table {i}",
                    seats=[by_id[uid] for uid in group],
                )
                for i, group in enumerate(groups, start=1)
            ],
            assign=Assign.RANDOM,
            size=None,
            started_at=now,
            ends_at=ends_at,
            warn_at=_warn_at(ends_at, series.round_seconds, lead),
        )

        def begin(state: RoomState) -> bool:
            current = state.series
            if (
                current is None
                or current.id != series.id
                or current.phase != series.phase
                or current.round != series.round
                or state.sitting is not None
            ):
                return False
            current.round += 1
            current.phase, current.phase_ends_at = Phase.ROUND, ends_at
            current.plan = plan
            state.sitting = sitting
            return True

        _, begun = await self._change(room, begin)
        if begun:
            log.info("room=%s round %d: %d tables", room, series.round + 1, len(groups))
            await self._made(room, sitting)

    async def _end_round(self, room: str, series: Series) -> None:
        def change(state: RoomState) -> Sitting | None:
            current = state.series
            if current is None or current.id != series.id or current.phase is not Phase.ROUND:
                return None
            if current.round != series.round:
                return None
            return _end(state, now_ms(), stop=False)

        state, ended = await self._change(room, change)
        await self._after_end(room, state, ended)

    async def _end_breakout(self, room: str, sitting: Sitting) -> None:
        def change(state: RoomState) -> Sitting | None:
            if state.sitting is None or state.sitting.id != sitting.id:
                return None
            return _end(state, now_ms(), stop=False)

        state, ended = await self._change(room, change)
        await self._after_end(room, state, ended)

    async def _after_end(self, room: str, state: RoomState, ended: Sitting | None) -> None:
        """What follows a sitting's end: who met whom, everybody back, everybody told."""
        if ended is not None:
            met = _pairs(ended)
            if met:
                await self._archive.sat_together(met, room, now_ms())
            await self._clear(ended)
        await self.publish(room, state)

    async def _made(self, room: str, sitting: Sitting) -> RoomState:
        """Make the rooms of a sitting's tables, mark it made, and tell everybody."""
        parent = await self._catalog.get(room)
        title = parent.title if parent is not None else ""
        made = now_ms()
        # In one write, and made again harmlessly by another process after the grace.
        await self._archive.create_rooms(
            [
                StoredRoom(
                    id=table.id,
                    title=f"{title} · {table.name}" if title else table.name,
                    kind=RoomKind.TABLE,
                    private=True,
                    created_at=made,
                    parent=room,
                )
                for table in sitting.tables
            ],
            # Who is seated may read the table's chat afterwards (``admit``): written here,
            # not by each of them joining at the same moment.
            {table.id: RoomState(sat=[u.id for u in table.seats]) for table in sitting.tables},
        )

        def change(state: RoomState) -> None:
            if state.sitting is not None and state.sitting.id == sitting.id:
                state.sitting.made = True

        state, _ = await self._change(room, change)
        await self.publish(room, state)
        return state


# -- rules on the state ----------------------------------------------------------------------


def _sitting(state: RoomState) -> Sitting:
    if state.sitting is None:
        raise bad_request("no tables are open here")
    return state.sitting


def _series(state: RoomState) -> Series:
    if state.series is None or not state.series.running:
        raise bad_request("no round series is running here")
    return state.series


def _free(state: RoomState) -> None:
    """One sitting or series at a time."""
    if state.series is not None and state.series.running:
        raise bad_request("a round series is running here")
    if state.sitting is not None:
        raise bad_request("tables are already open here")


def _seat(
    series: Series, people: list[str], met: set[frozenset[str]], rng: random.Random
) -> tuple[list[list[str]], list[list[list[str]]]]:
    """The next round's tables, and the plan of rounds still ahead.

    Pairs for an even group nobody of which has met: a round robin planned for the whole
    series (everybody meets everybody once in ``n - 1`` rounds, which no round-by-round
    choice can promise), followed while the same people are there. Otherwise, or once the
    group changed, one round at a time with the fewest repeats (``seating.seat``).
    """
    # Only the rounds still to come are kept: the plan is part of the room's state, which is
    # read at every join of a table (a round robin of 200 is 199 rounds, 700 KB).
    ahead = series.rounds - series.round - 1
    plan = [tables for tables in series.plan if seating.repeats(tables, met) == 0]
    if plan and {p for table in plan[0] for p in table} == set(people):
        return plan[0], plan[1 : 1 + ahead]
    if series.size == 2 and len(people) % 2 == 0 and not seating.repeats([people], met):
        plan = seating.round_robin(people, rng)
        return plan[0], plan[1 : 1 + ahead]
    return seating.seat(people, series.size, met, rng), []


def _pairs(sitting: Sitting) -> list[tuple[str, str]]:
    """Every pair of user ids (sorted) who sat at one of the sitting's tables."""
    out = []
    for pair in seating.pairs([[u.id for u in t.seats] for t in sitting.tables]):
        a, b = sorted(pair)
        out.append((a, b))
    return out


def _join_series(series: Series, user: User) -> None:
    if all(u.id != user.id for u in series.participants):
        series.participants.append(user)


def _end(state: RoomState, now: int, *, stop: bool) -> Sitting | None:
    """End the sitting (a round: then a break, or the series is done); the sitting ended."""
    ended, series = state.sitting, state.series
    state.sitting = None
    if ended is not None and ended.kind is SittingKind.ROUND and series is not None:
        series.last = ended.tables
        known = set(series.met)
        series.met.extend(pair for pair in _pairs(ended) if pair not in known)
    if series is not None and series.running:
        if stop or series.round >= series.rounds:
            series.phase, series.phase_ends_at = Phase.DONE, None
        elif ended is not None or series.phase is Phase.ROUND:
            series.phase = Phase.BREAK
            series.phase_ends_at = now + series.break_seconds * 1000
    return ended
