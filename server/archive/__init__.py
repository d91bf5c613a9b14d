"""The archive: the durable store of users, rooms and chat messages.

One interface, backends behind it: SQLite (embedded default, ``server.archive.sqlite``) and,
for several processes, a shared database. Every backend passes ``tests/test_archive.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol, TypeVar

import msgspec

from ..protocol import (
    Assign,
    AuditEntry,
    CardField,
    Encounter,
    HostsView,
    How,
    Mentioned,
    Message,
    Met,
    Phase,
    RecordingView,
    Report,
    ReportAction,
    Role,
    Room,
    RoomKind,
    SeriesView,
    SittingKind,
    SittingView,
    Table,
    TablesView,
    User,
    Version,
    WorkshopView,
)
from .cards import StoredCard
from .changes import Appended, Change, MessageDeleted, NoSuchMessage, NotYours, TooManyPins
from .logins import Login, NewLogin
from .passkeys import Challenge, Purpose, StoredPasskey
from .profiles import StoredProfile
from .recordings import OnAir, StoredRecording
from .yourdata import FORMER, Erased, Erasure, Page, Revised

__all__ = [
    "FORMER",
    "Appended",
    "Challenge",
    "Change",
    "Erased",
    "Erasure",
    "Login",
    "MessageDeleted",
    "NewLogin",
    "NoSuchMessage",
    "NotYours",
    "Page",
    "Purpose",
    "Revised",
    "StoredCard",
    "StoredPasskey",
    "StoredProfile",
    "TooManyPins",
]

T = TypeVar("T")


RANK_AMONG = 500
"""Search ranks the newest this many matches of a query (``Archive.search_readable``)."""


class Query(msgspec.Struct, frozen=True):
    """What ``Archive.search_readable`` looks for: every field given must hold.

    Values are as the user typed them; each backend folds case its own way, the same for
    what is stored and what is asked.
    """

    words: tuple[str, ...] = ()
    """Every word (``terms``); case and diacritics ignored."""
    users: tuple[str, ...] = ()
    """Sent by one of these user ids, or (``names``) under one of these names."""
    names: tuple[str, ...] = ()
    """Names a message was sent under, case ignored."""
    rooms: tuple[str, ...] = ()
    """In one of these rooms: a room id, or a title (case ignored)."""
    since: int | None = None
    """Stored at or after this time (ms)."""
    until: int | None = None
    """Stored before this time (ms)."""
    link: bool = False
    """Holding ``http://`` or ``https://``."""
    pinned: bool = False

    @property
    def impossible(self) -> bool:
        """Dates that no time satisfies (``after:`` a day later than ``before:``)."""
        return self.since is not None and self.until is not None and self.since >= self.until


class Wish(NamedTuple):
    """What ``Archive.stay`` did."""

    new: bool
    """Asked for the first time (not again)."""
    mutual: bool
    """The other had asked too: they are in touch now."""


class Hit(msgspec.Struct, frozen=True):
    """A message found, with the room it is in."""

    message: Message
    title: str
    kind: RoomKind


def fold(text: str) -> str:
    """Lower case without accents: what is indexed and what is searched for."""
    if text.isascii():
        return text.lower()  # the same, without the work
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Term(NamedTuple):
    """A word searched for, folded, and whether it also finds the words it begins."""

    word: str
    prefix: bool
    asked: bool = False
    """The person wrote ``*`` after it (``acc*``): the prefix matters whatever it costs."""


_TERM = re.compile(r"([^\W_]+)(\*)?")
"""A word as the full-text indexes make them (letters and digits), and an optional ``*``."""


PREFIX_MIN = 3
"""A half-typed last word this long or longer also finds the words it begins."""


def terms(typed: str) -> list[Term]:
    """The words a search looks for (at most 20): whole words, except the last, which may be
    half typed (if ``PREFIX_MIN`` letters or more: ``go`` says too little), and a word followed
    by ``*``: those match every word they begin. Everything else (quotes, ``-``, ``NEAR``) is
    plain text."""
    found = [Term(m[1], bool(m[2]), bool(m[2])) for m in _TERM.finditer(fold(typed))][:20]
    if found and len(found[-1].word) >= PREFIX_MIN:
        found[-1] = found[-1]._replace(prefix=True)
    return found


def has_link(text: str) -> bool:
    """What ``Query.link`` looks for (stored beside each message)."""
    folded = text.casefold()
    return "http://" in folded or "https://" in folded


def centred(earlier: list[Message], later: list[Message], limit: int) -> list[Message]:
    """``history(around=...)``'s page from the messages before it (newest first) and from it
    on (oldest first), each up to ``limit``: oldest first."""
    after = min(len(later), limit - min(len(earlier), limit // 2))
    before = min(len(earlier), limit - after)
    return [*reversed(earlier[:before]), *later[:after]]


class NoSuchRoom(LookupError):
    """A message was appended to a room the archive does not know."""


class StoredRoom(msgspec.Struct, frozen=True):
    """A room with what only the server may see."""

    id: str
    title: str
    kind: RoomKind
    private: bool
    created_at: int
    passcode_hash: str | None = None
    host_key_hash: str | None = None
    created_by: str | None = None
    dm_users: tuple[str, str] | None = None
    """The two users of a direct-message room, sorted."""
    parent: str | None = None
    """A table's room (the coffee room or workshop it belongs to)."""
    description: str = ""
    slow_seconds: int = 0
    """Slow mode: one message per this many seconds per person (0: off)."""

    def public(self) -> Room:
        return Room(
            id=self.id,
            title=self.title,
            kind=self.kind,
            private=self.private,
            has_passcode=self.passcode_hash is not None,
            created_at=self.created_at,
            parent=self.parent,
            description=self.description,
        )


class TableRecord(msgspec.Struct):
    """One table of a sitting: its room and who sits there now."""

    id: str
    name: str
    seats: list[User] = msgspec.field(default_factory=list)

    def view(self) -> Table:
        return Table(id=self.id, name=self.name, seats=list(self.seats))


class Sitting(msgspec.Struct):
    """Tables running now in a room: a breakout or one round of a series (``server.tables``)."""

    id: str
    kind: SittingKind
    tables: list[TableRecord]
    assign: Assign
    size: int | None
    started_at: int
    ends_at: int | None
    warn_at: int | None = None
    """When everybody is told the end is near; None once told (or never)."""
    made: bool = False
    """The tables' rooms exist in the archive (made just after the sitting is stored)."""

    def view(self) -> SittingView:
        return SittingView(
            id=self.id,
            kind=self.kind,
            tables=[table.view() for table in self.tables],
            assign=self.assign,
            size=self.size,
            started_at=self.started_at,
            ends_at=self.ends_at,
        )

    def table(self, table_id: str) -> TableRecord | None:
        return next((t for t in self.tables if t.id == table_id), None)

    def seat_of(self, user_id: str) -> TableRecord | None:
        return next((t for t in self.tables if any(u.id == user_id for u in t.seats)), None)

    def unseat(self, user_id: str) -> TableRecord | None:
        """Take the user from their table; the table they sat at, if any."""
        table = self.seat_of(user_id)
        if table is not None:
            table.seats = [u for u in table.seats if u.id != user_id]
        return table


class Series(msgspec.Struct):
    """A speed-networking series of rounds (``server.tables``)."""

    id: str
    by: User
    size: int
    round_seconds: int
    rounds: int
    break_seconds: int
    participants: list[User]
    round: int
    phase: Phase
    phase_ends_at: int | None
    last: list[TableRecord] = msgspec.field(default_factory=list)
    met: list[tuple[str, str]] = msgspec.field(default_factory=list)
    """Every pair (sorted) that sat at one table in an earlier round."""
    plan: list[list[list[str]]] = msgspec.field(default_factory=list)
    """Rounds planned ahead (pairs for an unchanged group: ``server.tables._seat``)."""

    def view(self) -> SeriesView:
        return SeriesView(
            id=self.id,
            by=self.by,
            size=self.size,
            round_seconds=self.round_seconds,
            rounds=self.rounds,
            break_seconds=self.break_seconds,
            participants=list(self.participants),
            round=self.round,
            phase=self.phase,
            phase_ends_at=self.phase_ends_at,
            last=[table.view() for table in self.last],
        )

    @property
    def running(self) -> bool:
        return self.phase is not Phase.DONE


class RoomState(msgspec.Struct):
    """What a host can change about a room, shared by every process through the archive."""

    locked: bool = False
    """No new joins, except with the host key."""
    waiting_room: bool = False
    """Newcomers knock and wait for a host to admit them."""
    chat_enabled: bool = True
    """When off, only hosts and co-hosts may send chat."""
    pinned: Message | None = None
    """A workshop's banner above the chat: its latest pin, as it was pinned (``Chat.pin``)."""
    ended: bool = False
    """The workshop is over: nobody may join any more."""
    host_key_digest: str | None = None
    """Replaces the room's creation-time host key once the host hands it on."""
    roles: dict[str, Role] = msgspec.field(default_factory=dict)
    """Roles given by a host (co-host, presenter); the host role comes from the host key."""
    banned: dict[str, str] = msgspec.field(default_factory=dict)
    """Removed users (id -> name) who may not come back until a host allows them."""
    hands: list[User] = msgspec.field(default_factory=list)
    """Raised hands, in the order they went up."""
    knocking: list[User] = msgspec.field(default_factory=list)
    """Who waits in the waiting room, first come first."""
    admitted: list[str] = msgspec.field(default_factory=list)
    """Users a host let in from the waiting room."""
    sitting: Sitting | None = None
    """Tables running now (a coffee room or workshop)."""
    series: Series | None = None
    """The speed-networking series, running or done (a coffee room or workshop)."""
    sat: list[str] = msgspec.field(default_factory=list)
    """A table's room: everybody who sat at it, who may read its chat afterwards."""
    moderators: list[str] = msgspec.field(default_factory=list)
    """An open room or coffee morning: who its owner made a moderator."""
    recording: OnAir | None = None
    """A workshop's recording running now (``server.recordings``)."""

    def due(self) -> int | None:
        """When the server must next act on its own (ms since the epoch), or None.

        Stored beside the state (``Archive.due_rooms``), so that any process finds it.
        """
        times: list[int] = []
        sitting, series = self.sitting, self.series
        if sitting is not None:
            if not sitting.made:
                return 0
            if sitting.warn_at is not None:
                times.append(sitting.warn_at)
            if sitting.ends_at is not None:
                times.append(sitting.ends_at)
        if series is not None and series.running and series.phase_ends_at is not None:
            times.append(series.phase_ends_at)
        return min(times, default=None)

    def tables_view(self, now: int) -> TablesView:
        return TablesView(
            sitting=self.sitting.view() if self.sitting is not None else None,
            series=self.series.view() if self.series is not None else None,
            now=now,
        )

    def view(self) -> WorkshopView:
        return WorkshopView(
            locked=self.locked,
            waiting_room=self.waiting_room,
            chat_enabled=self.chat_enabled,
            pinned=self.pinned,
            ended=self.ended,
            hands=list(self.hands),
        )

    def recording_view(self) -> RecordingView:
        """Whether a workshop is being recorded, as its members see it."""
        return RecordingView(on=False) if self.recording is None else self.recording.view()

    def hosts_view(self) -> HostsView:
        return HostsView(
            knocking=list(self.knocking),
            banned=[User(id=uid, name=name) for uid, name in self.banned.items()],
        )

    def forget(self, user_id: str) -> bool:
        """Take an erased user out of the state (roles, bans, hands, waiting room, tables,
        rounds, a banner of theirs); whether anything changed (``Archive.erase_user``)."""
        before = msgspec.json.encode(self)
        self.roles.pop(user_id, None)
        self.banned.pop(user_id, None)
        self.hands = [user for user in self.hands if user.id != user_id]
        self.knocking = [user for user in self.knocking if user.id != user_id]
        self.admitted = [user for user in self.admitted if user != user_id]
        self.sat = [user for user in self.sat if user != user_id]
        self.moderators = [user for user in self.moderators if user != user_id]
        if self.sitting is not None:
            self.sitting.unseat(user_id)
        series = self.series
        if series is not None:
            series.participants = [user for user in series.participants if user.id != user_id]
            series.met = [pair for pair in series.met if user_id not in pair]
            for table in series.last:
                table.seats = [user for user in table.seats if user.id != user_id]
            series.plan = [[[u for u in seats if u != user_id] for seats in r] for r in series.plan]
        if self.pinned is not None and self.pinned.user.id == user_id:
            self.pinned = None  # its message is erased: the banner goes
        return msgspec.json.encode(self) != before


class Archive(Protocol):
    async def open(self) -> None:
        """Connect and create or migrate the schema."""

    async def close(self) -> None: ...

    async def healthy(self) -> bool: ...

    async def create_user(self, name: str, login: NewLogin) -> User:
        """A new user, signed in with ``login``."""

    async def add_login(self, user_id: str, login: NewLogin) -> None:
        """Another login of an existing user (a sign-in on another device)."""

    async def login_by_token(self, token_digest: str) -> Login | None:
        """The login of a token, revoked and expired ones too; None if never issued."""

    async def logins(self, user_id: str, limit: int) -> list[Login]:
        """The user's logins not revoked, the most recently seen first."""

    async def touch_logins(self, ids: Sequence[str], at: int) -> None:
        """Mark the logins seen at ``at``."""

    async def revoke_logins(
        self, user_id: str, at: int, ids: Sequence[str] | None, keep: str | None = None
    ) -> list[str]:
        """Revoke the user's logins ``ids`` (None: all of them but ``keep``); the ids of the
        logins this revoked (others' and already revoked ones are left alone)."""

    async def add_passkey(self, passkey: StoredPasskey) -> bool:
        """Store a new passkey; False if its credential id is stored already (anybody's)."""

    # -- recordings (``server.archive.recordings``) -------------------------------------------

    async def save_recording(self, recording: StoredRecording) -> None:
        """Store the recording, or replace its row (by ``id``) with this one."""

    async def recording(self, recording_id: str) -> StoredRecording | None: ...

    async def recordings_running(self) -> list[StoredRecording]:
        """Every recording in the state ``recording``, the oldest first."""

    async def passkeys(self, user_id: str) -> list[StoredPasskey]:
        """The user's passkeys, the oldest first."""

    async def passkey_by_credential(self, credential_id: str) -> StoredPasskey | None: ...

    async def use_passkey(self, passkey_id: str, sign_count: int, at: int) -> bool:
        """Record a sign-in: the new sign count and when. False, and nothing changed, if the
        stored count has meanwhile reached ``sign_count`` (another sign-in got there first);
        an authenticator that counts nothing (0) always passes."""

    async def rename_passkey(self, user_id: str, passkey_id: str, name: str) -> bool:
        """False if the user has no such passkey."""

    async def remove_passkey(self, user_id: str, passkey_id: str) -> bool:
        """False if the user has no such passkey."""

    async def remove_passkeys(self, user_id: str) -> int:
        """Remove every passkey of the user (erasing an identity); how many there were."""

    async def add_challenge(self, challenge: Challenge, now: int) -> None:
        """Store a challenge of a ceremony under way (and forget those expired by ``now``)."""

    async def take_challenge(self, value: str) -> Challenge | None:
        """The challenge, deleted as it is read so it is used once; None if it is unknown
        (never issued, or taken already). Expired ones are returned: the caller says so."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def rename_user(self, user_id: str, name: str) -> None: ...

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, StoredProfile]:
        """The stored profiles of these users (a user without one is left out)."""

    async def set_profile(self, user_id: str, profile: StoredProfile, at: int) -> None: ...

    async def create_room(self, room: StoredRoom) -> None: ...

    async def create_rooms(
        self, rooms: list[StoredRoom], states: Mapping[str, RoomState] | None = None
    ) -> None:
        """Store several rooms in one transaction; a room whose id exists is left as it is.

        ``states`` gives some of them a first state (room id -> state).
        """

    async def get_room(self, room_id: str) -> StoredRoom | None: ...

    async def public_rooms(self, limit: int, active_since: int = 0) -> list[StoredRoom]:
        """The lobby, then public rooms with a message (or made) since ``active_since``, the
        latest active first."""

    async def room_state(self, room_id: str) -> RoomState:
        """The room's host-controlled state (the defaults for a room never changed)."""

    async def change_room_state(
        self, room_id: str, change: Callable[[RoomState], T]
    ) -> tuple[RoomState, T]:
        """Apply ``change`` to the room's state atomically (no other change interleaves).

        ``change`` runs synchronously on a copy it may mutate; its result is returned with the
        new state. If it raises, nothing is stored and the exception propagates.
        """

    async def open_dm(self, a: str, b: str, room: StoredRoom) -> StoredRoom:
        """The direct-message room of users ``a`` and ``b``; ``room`` is stored if none exists."""

    async def dm_rooms(self, user_id: str) -> list[tuple[StoredRoom, User]]:
        """The user's direct-message rooms, each with the other user."""

    async def append(
        self,
        room: str,
        user: User,
        text: str,
        client_msg_id: str,
        *,
        reply_to: int | None = None,
        mentions: Sequence[str] = (),
        notify: Sequence[str] = (),
    ) -> Appended:
        """Store a message and give it the room's next ``seq``.

        Returns only once the message is durable. A second call with the same room, user and
        ``client_msg_id`` returns the message stored the first time (``created`` False),
        storing nothing. Raises ``NoSuchRoom`` for a room the archive does not know.

        ``reply_to``: the message answered (``changes.thread_of``: ``NoSuchMessage``,
        ``MessageDeleted``); its thread's first message counts the reply, at the room's next
        revision (``Appended.first``). ``mentions``: user ids the text names; ``notify``:
        those of them who get it in ``mentions`` (who may read the room).
        """

    async def room_rev(self, room: str) -> int:
        """The room's latest revision (0 before any change; ``NoSuchRoom``)."""

    async def latest(self, room: str, limit: int) -> tuple[int, list[Message]]:
        """The room's revision, then its latest ``limit`` messages, oldest first, in one
        read (a join's): a change made in between is in both, never in neither."""

    async def change_message(
        self,
        room: str,
        seq: int,
        change: Callable[[Message], Change | None],
        notify: Sequence[str] = (),
    ) -> tuple[Message, bool]:
        """Change one message (``server.archive.changes``), atomically, durably.

        The message as stored now and whether ``change`` changed it (then at the room's next
        revision). ``notify``: who of its mentions get it in ``mentions`` from now on.
        Raises ``NoSuchMessage``, and whatever ``change`` raises (nothing is stored then).
        """

    async def changes(self, room: str, after: int, limit: int) -> list[Message]:
        """Messages whose latest change is after revision ``after``, lowest ``rev`` first."""

    async def thread(
        self, room: str, seq: int, after: int | None, limit: int
    ) -> tuple[Message, list[Message]]:
        """A thread's first message (``seq`` or a reply in it) and its replies, oldest first."""

    async def mentions(self, user_id: str, before: int | None, limit: int) -> list[Mentioned]:
        """Messages that mention the user (and that the user was told of), newest first."""

    async def message_at(self, room: str, seq: int) -> Message | None:
        """The message at ``seq`` in the room (a tombstone if deleted), or None."""

    async def earlier(self, room: str, seq: int) -> list[Version]:
        """The texts an edited message had before and when each was replaced, oldest first
        (for moderators, ``chat:versions``); none once it is deleted."""

    async def known_users(self, user_ids: Sequence[str]) -> set[str]:
        """Which of these ids are users."""

    async def describe_room(self, room_id: str, title: str, description: str) -> None:
        """Give a room a new title and description (``room:edit``)."""

    async def slow_room(self, room_id: str, seconds: int) -> None:
        """Set a room's slow mode (``room:slow``; 0 turns it off)."""

    async def block(self, user_id: str, other: str, on: bool, at: int) -> None:
        """``user_id`` blocks ``other`` (or no longer does)."""

    async def blocked(self, user_id: str, limit: int) -> list[User]:
        """Everybody ``user_id`` blocks, most recent first."""

    async def blocking(self, a: str, b: str) -> bool:
        """Whether either of the two blocks the other."""

    async def blockers(self, author: str, users: Sequence[str]) -> set[str]:
        """Which of ``users`` block ``author``."""

    async def last_sent(self, room: str, user_id: str) -> int | None:
        """When the user last sent a message in the room (ms), if ever (slow mode)."""

    async def report(self, room: str, seq: int, reporter: User, reason: str, at: int) -> Report:
        """Store a report of a message (``NoSuchMessage``); the same reporter's second report
        of one message is the first one."""

    async def reports(self, room: str, limit: int, report: str | None = None) -> list[Report]:
        """The room's open reports, oldest first; with ``report``, only that one if open."""

    async def resolve_report(
        self, room: str, report_id: str, by: User, outcome: ReportAction, at: int
    ) -> Report | None:
        """Answer an open report; None if there is no such open report."""

    async def audit(self, room: str, entry: AuditEntry) -> None:
        """Write down what a moderator did."""

    async def audit_log(self, room: str, before: int | None, limit: int) -> list[AuditEntry]:
        """What moderators did in the room, newest first."""

    async def history(
        self,
        room: str,
        *,
        before: int | None,
        after: int | None,
        limit: int,
        around: int | None = None,
    ) -> list[Message]:
        """Messages oldest first: the latest ``limit``, or those just before/after a ``seq``.

        ``around``: ``limit`` messages centred on that ``seq`` (``limit // 2`` before it when
        the room has them, the rest from it on; more before when the room ends sooner).
        """

    async def message(self, room: str, message_id: str) -> Message | None:
        """One message of ``room`` by its id."""

    async def search(self, room: str, query: str, limit: int) -> list[Message]:
        """Messages of ``room`` matching every word of ``query``, newest first."""

    async def search_readable(self, user_id: str, query: Query, limit: int) -> list[Hit]:
        """Messages matching ``query`` in the rooms the user may read, best first.

        The rooms the user may read: public rooms of kind open, coffee or workshop, the
        user's DMs, and the private rooms and tables the user joined (``add_reader``).
        Deleted messages are never found. With words, the newest ``RANK_AMONG`` matches are
        ranked by relevance (SQLite's bm25, PostgreSQL's ts_rank), ties newest first; with
        filters only, newest first. At most ``limit`` hits.
        """

    async def add_reader(self, user_id: str, room: str, at: int) -> None:
        """Remember that the user joined this private room or table (the first time counts)."""

    async def pins(self, room: str, limit: int) -> list[Message]:
        """The room's pinned messages (``Message.pinned_at``), the latest pinned first.

        Pins are changes (``changes.pin``, through ``change_message``); ``Query.pinned``
        finds them.
        """

    async def due_rooms(self, now: int, limit: int) -> list[str]:
        """Rooms whose state is due (``RoomState.due`` at or before ``now``), soonest first."""

    async def sat_together(self, pairs: list[tuple[str, str]], room: str, at: int) -> None:
        """Remember that each pair (of user ids) sat at one of ``room``'s tables."""

    async def have_sat_together(self, a: str, b: str) -> str | None:
        """The room where users ``a`` and ``b`` last met (``encounter``), or None."""

    async def encounter(
        self, pairs: Sequence[tuple[str, str]], room: str, how: How, at: int
    ) -> None:
        """Remember that each pair (of user ids) met in ``room`` (a DM: ``""``): one row per
        pair, where and when they last met; a DM is kept only if they never met otherwise."""

    async def encounters(self, user: str, limit: int) -> list[Encounter]:
        """Whom ``user`` met, not in touch with them and nobody blocking, latest first."""

    async def nudge(self, user: str, other: str, at: int, quiet_since: int) -> bool:
        """Whether ``other`` is to be told now of ``user``'s request: not if told of it (an
        earlier request, since withdrawn) after ``quiet_since``; if so, remember ``at``."""

    async def stay(self, user: str, other: str, room: str | None, at: int) -> Wish:
        """Store that ``user`` wants to stay in touch with ``other`` (asked from ``room``);
        once both did, each shares their card's default fields with the other."""

    async def decline(self, user: str, other: str) -> None:
        """``user`` declines what ``other`` asked: no longer shown to ``user``, never told."""

    async def unstay(self, user: str, other: str) -> bool:
        """Forget what either asked of the other (a contact removed), and what either shared
        with the other; False if nothing was asked."""

    async def cards(self, user_ids: Sequence[str]) -> dict[str, StoredCard]:
        """The stored contact cards of these users (a user without one is left out)."""

    async def set_card(self, user_id: str, card: StoredCard, at: int) -> None: ...

    async def card_shares(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[CardField, ...]]:
        """For (owner, contact) pairs, what the owner chose the contact sees; pairs with no
        choice stored are left out (the owner's default applies)."""

    async def share_card(self, owner: str, viewer: str, fields: Sequence[CardField]) -> bool:
        """Let contact ``viewer`` see these fields of ``owner``'s card; False (and nothing
        stored) if the two are not in touch."""

    async def people_met(self, user: str, limit: int) -> list[Met]:
        """Everybody with whom ``user`` and they both said "stay in touch", latest first."""

    async def wishes(self, user: str, limit: int) -> tuple[list[Met], list[Met]]:
        """Who asked ``user`` and was not answered, and whom ``user`` asked and was not
        answered by (declined or not: that is never said), latest first."""

    async def everyone_met(self, user: str, limit: int) -> list[Met]:
        """Everybody ``user`` met (a table, cameras on, a DM), contacts and blocked people too,
        where and when they last did, latest first (the export's)."""

    # -- your data (docs/security.md, "Your data"; ``server.archive.yourdata``) -------------

    async def written(self, user_id: str, after: str | None, limit: int) -> Page:
        """Up to ``limit`` messages the user wrote, in any room, oldest first, from the mark
        ``after`` (None: from the first); tombstones too."""

    async def erase_user(self, user_id: str, messages: Erasure, at: int) -> Erased:
        """Take the user out of the archive, in one transaction: profile, contacts and
        requests both ways, encounters, blocks both ways, mentions of them, their place in
        private rooms and in rooms' states, their reactions; their logins revoked (kept, so
        that their tokens are refused), their name ``FORMER`` everywhere it is kept (the
        user row, audit rows, reports, pins); rooms they made left without owner. Their
        messages become tombstones (``delete``: text, versions and search words gone) or
        stay under ``FORMER`` (``anonymise``); either way each takes its room's next
        revision."""
