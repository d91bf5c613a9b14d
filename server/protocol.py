"""The wire protocol as types: one Struct per client request and per value the server sends.

``docs/protocol.md`` is the source of truth; this module mirrors it. Requests are validated
once, at the edge (``decode``), and nothing past that point handles raw dicts.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import Annotated, Any, TypeVar

import msgspec

from .errors import bad_request, too_large

# Ids are url-safe tokens we mint ourselves; anything else cannot name a room or user.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]

NAME_MAX = 40
TITLE_MAX = 80
PASSCODE_MIN = 4
PASSCODE_MAX = 128
QUERY_MAX = 200
KEY_MAX = 128
# Zero-width joiner builds emoji sequences; every other format character (bidi overrides,
# invisible separators) in a name only serves to impersonate or confuse.
_ALLOWED_FORMAT = {"\u200d"}
_TEXT_WHITESPACE = {"\n", "\r", "\t"}


class RoomKind(enum.StrEnum):
    OPEN = "open"
    """Text chat, archived and searchable; no video."""
    COFFEE = "coffee"
    """Video and chat, no organiser."""
    WORKSHOP = "workshop"
    """Hosted: a host presents, guests watch and chat."""
    DM = "dm"
    """A private two-person chat (made by ``dm:open``, never by ``room:create``)."""
    TABLE = "table"
    """A few people of a coffee room or workshop face to face (made by the server's tables)."""


class Role(enum.StrEnum):
    HOST = "host"
    """Holds the workshop's host key: every power, including ending it and handing it on."""
    COHOST = "cohost"
    """Made by the host: moderates like the host, but cannot end the workshop or hand it on."""
    PRESENTER = "presenter"
    """A guest the host brought on stage: may publish camera, microphone and screen."""
    GUEST = "guest"
    """The audience of a workshop: watches, chats, raises a hand."""
    MEMBER = "member"
    """Everybody in an open room, a coffee morning or a direct message: all equal."""
    OWNER = "owner"
    """Made an open room or coffee morning: appoints moderators, reads the audit log."""
    MODERATOR = "moderator"
    """Looks after an open room or coffee morning (appointed by its owner, or named in the
    settings for the lobby): deletes messages, removes people, sets slow mode, answers
    reports."""


class MediaMode(enum.StrEnum):
    """How a room's video flows."""

    MESH = "mesh"
    """Peer to peer between the members' browsers (``signal``)."""
    SFU = "sfu"
    """Through the server, which forwards each publisher's media (``sfu:*``)."""
    NONE = "none"
    """No video: open rooms and direct messages."""


class Source(enum.StrEnum):
    """What a member publishes; each has its own m-line in a media session."""

    MIC = "mic"
    CAMERA = "camera"
    SCREEN = "screen"


class SignalType(enum.StrEnum):
    OFFER = "offer"
    ANSWER = "answer"
    CANDIDATE = "candidate"


def clean_name(value: object, field: str = "name", limit: int = NAME_MAX) -> str:
    """A display name or title: trimmed, 1..limit characters, no control characters."""
    if not isinstance(value, str):
        raise bad_request(f"{field} must be a string")
    value = value.strip()
    if not value:
        raise bad_request(f"{field} must not be empty")
    if len(value) > limit:
        raise too_large(f"{field} must be at most {limit} characters")
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" or (category == "Cf" and ch not in _ALLOWED_FORMAT):
            raise bad_request(f"{field} must not contain control characters")
    return value


def check_text(value: str, limit: int) -> str:
    """A chat message: not blank, at most ``limit`` characters, no control characters."""
    if not value.strip():
        raise bad_request("text must not be empty")
    if len(value) > limit:
        raise too_large(f"text must be at most {limit} characters")
    for ch in value:
        if unicodedata.category(ch) == "Cc" and ch not in _TEXT_WHITESPACE:
            raise bad_request("text must not contain control characters")
    return value


# ---------------------------------------------------------------------------------------------
# Values the server sends.


class User(msgspec.Struct, frozen=True):
    id: str
    name: str


class Member(msgspec.Struct, frozen=True):
    """Somebody in a room, as everybody in the room sees them."""

    id: str
    name: str
    role: Role
    camera: bool = False
    mic: bool = False
    screen: bool = False


class Room(msgspec.Struct, frozen=True):
    id: str
    title: str
    kind: RoomKind
    private: bool
    has_passcode: bool
    created_at: int
    """Milliseconds since the Unix epoch."""
    parent: str | None = None
    """A table's room: the coffee room or workshop it belongs to."""
    description: str = ""
    """What the room is for, in a few lines (``room:edit``)."""


class RoomInfo(Room, frozen=True, kw_only=True):
    """A room as ``room:list`` shows it: with the number of people in it now."""

    members: int


EMOJI = ("👍", "❤️", "😂", "🎉", "🤔", "👀", "🙏", "✅")
"""The reactions a message can carry, in the order they are shown."""

QUOTE_MAX = 200
"""Characters of a thread's first message quoted in each reply."""

MENTIONS_MAX = 20


class Quote(msgspec.Struct, frozen=True):
    """A reply's thread-first message, as it is now."""

    user: User
    text: str
    """At most ``QUOTE_MAX`` characters; empty once deleted."""
    deleted: bool = False


class Reaction(msgspec.Struct, frozen=True):
    emoji: str
    users: list[User]
    """First to react first."""


class Message(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    seq: int
    """Position in the room's archive: 1, 2, 3... with no gaps."""
    room: str
    user: User
    text: str
    ts: int
    """Milliseconds since the Unix epoch, when the server stored it."""
    client_msg_id: str
    reply_to: int | None = None
    """A reply: the ``seq`` of its thread's first message (threads are one level deep)."""
    quote: Quote | None = None
    replies: int = 0
    last_reply_at: int | None = None
    edited_at: int | None = None
    deleted: bool = False
    """A tombstone: its text is gone from every store."""
    reactions: list[Reaction] = []
    mentions: list[str] = []
    """User ids the text names."""
    rev: int = 0
    """The room's revision of this message's latest change (0: never changed)."""
    pinned_at: int | None = None
    """Pinned (``chat:pin``): when; None while not pinned."""
    pinned_by: User | None = None
    """Who pinned it (None for a pin older than this field)."""


class WorkshopView(msgspec.Struct, frozen=True):
    """A workshop's state as everybody in it sees it (``workshop`` event, ``room:join``)."""

    locked: bool
    waiting_room: bool
    chat_enabled: bool
    pinned: Message | None
    ended: bool
    hands: list[User]
    """Raised hands, first raised first."""


class RecordingView(msgspec.Struct, frozen=True):
    """Whether a workshop is being recorded (the ``recording`` event, ``room:join``)."""

    on: bool
    by: User | None = None
    """Who started it (null when off)."""
    started_at: int | None = None
    """ms since the epoch (null when off)."""


class MediaPlace(msgspec.Struct, frozen=True):
    """Where a video room's media goes (``room:join``, ``media:state``, the ``media`` event)."""

    mode: MediaMode
    url: str | None = None
    """Socket.IO URL of the server process holding the room's media (null: this one)."""
    epoch: int = 0
    """Changes with every change of mode or owner; a client acts when it differs from the one
    it holds (a Redis that restarted empty counts again from 1)."""


class Track(msgspec.Struct, frozen=True):
    """A forwarded source in a media session: which member's source arrives on which m-line."""

    mid: str
    user: str
    source: Source


class HostsView(msgspec.Struct, frozen=True):
    """What only hosts and co-hosts see (``workshop:hosts`` event, ``room:join``)."""

    knocking: list[User]
    """Who waits in the waiting room, first come first."""
    banned: list[User]
    """Removed users, who cannot come back until allowed."""


class SittingKind(enum.StrEnum):
    BREAKOUT = "breakout"
    """Breakout tables a workshop's host opened."""
    ROUND = "round"
    """One round of a speed-networking series."""


class Assign(enum.StrEnum):
    """How people get their seats at breakout tables."""

    RANDOM = "random"
    MANUAL = "manual"
    CHOOSE = "choose"


class Phase(enum.StrEnum):
    GATHERING = "gathering"
    """Asking everybody to take part; the first round starts at the phase's end."""
    ROUND = "round"
    BREAK = "break"
    DONE = "done"
    """Over; kept until the next series, so people can still ask to stay in touch."""


class Table(msgspec.Struct, frozen=True):
    id: str
    """The table's room id."""
    name: str
    seats: list[User]


class SittingView(msgspec.Struct, frozen=True):
    id: str
    kind: SittingKind
    tables: list[Table]
    assign: Assign
    size: int | None
    started_at: int
    ends_at: int | None


class SeriesView(msgspec.Struct, frozen=True):
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
    last: list[Table]


class TablesView(msgspec.Struct, frozen=True):
    """The tables of a room as everybody in it sees them (``tables`` event, ``room:join``)."""

    sitting: SittingView | None
    series: SeriesView | None
    now: int
    """The server's clock when the view was made, in ms since the epoch."""


class RoomBrief(msgspec.Struct, frozen=True):
    id: str
    title: str


class Report(msgspec.Struct, frozen=True):
    """A message reported to a room's moderators (``chat:report``)."""

    id: str
    room: str
    message: Message
    reporter: User
    reason: str
    at: int
    outcome: ReportAction | None = None
    """How a moderator answered it; None while open."""
    resolved_by: User | None = None


class AuditEntry(msgspec.Struct, frozen=True):
    """One thing a moderator did (``audit:list``)."""

    at: int
    by: User
    action: str
    """``delete``, ``remove``, ``allow``, ``moderator``, ``slow``, ``report``, ``pin``,
    ``unpin``."""
    target: User | None = None
    seq: int | None = None
    detail: str = ""


class Version(msgspec.Struct, frozen=True):
    """A text an edited message had before (``chat:versions``)."""

    text: str
    replaced_at: int | None
    """ms: when an edit replaced it; None for a text kept before the server recorded that."""


class SessionInfo(msgspec.Struct, frozen=True):
    """One of the user's sessions (logins), as ``sessions:list`` shows it to its owner."""

    id: str
    label: str
    created: int
    last_seen: int
    expires: int
    current: bool
    """The session of the connection that asked."""


class Mentioned(msgspec.Struct, frozen=True):
    """A message that names somebody (``mention`` event, ``mentions:list``)."""

    message: Message
    room: RoomBrief


class RoomFound(msgspec.Struct, frozen=True):
    """The room of a group of search results."""

    id: str
    title: str
    """A DM's is the other user's name."""
    kind: RoomKind


class Found(msgspec.Struct, frozen=True):
    """One room's messages found by ``search``, best first."""

    room: RoomFound
    messages: list[Message]


class CardField(enum.StrEnum):
    """A field of a contact card: shown only to contacts, each as its owner chooses."""

    EMAIL = "email"
    PHONE = "phone"
    LINK = "link"


class Card(msgspec.Struct, frozen=True, kw_only=True):
    """A contact card as a contact sees it: the fields shared with them (the others empty)."""

    email: str = ""
    phone: str = ""
    link: str = ""


class Met(msgspec.Struct, frozen=True, kw_only=True):
    """Somebody who said "stay in touch", or was told it (``people:list``, ``people:asked``)."""

    user: User
    room: RoomBrief | None
    """Where it was said: the table they shared, or the room it was asked from; None if from
    nowhere in particular."""
    at: int
    headline: str = ""
    """Their public headline (empty if none)."""
    card: Card | None = None
    """A contact's card as shared with the user; None for a request."""
    sharing: list[CardField] | None = None
    """Which of the user's own card fields this contact sees; None for a request."""


class How(enum.StrEnum):
    """How two people met (``Encounter``)."""

    TABLE = "table"
    """At one table of speed networking or a breakout."""
    CAMERA = "camera"
    """In one coffee room, both cameras on."""
    DM = "dm"
    """In direct messages, both having written."""


class Encounter(msgspec.Struct, frozen=True, kw_only=True):
    """Somebody the user met and is not in touch with (``people:list``'s ``encounters``)."""

    user: User
    how: How
    room: RoomBrief | None
    """The table's or coffee room's; None for a DM (or a room gone)."""
    at: int
    """When they last met so (a DM: when both had written)."""
    headline: str = ""


# ---------------------------------------------------------------------------------------------
# Requests clients send. Unknown fields are ignored so that newer clients keep working.


class Empty(msgspec.Struct):
    pass


class RoomCreate(msgspec.Struct):
    title: str
    kind: RoomKind
    private: bool = False
    passcode: str | None = None

    def __post_init__(self) -> None:
        self.title = clean_name(self.title, "title", TITLE_MAX)
        if self.kind is RoomKind.DM:
            raise bad_request("direct message rooms are made with dm:open")
        if self.kind is RoomKind.TABLE:
            raise bad_request("tables are made with tables:open and rounds:start")
        if self.passcode is not None:
            if len(self.passcode) > PASSCODE_MAX:
                raise too_large(f"passcode must be at most {PASSCODE_MAX} characters")
            if len(self.passcode) < PASSCODE_MIN:
                raise bad_request(f"passcode must be at least {PASSCODE_MIN} characters")


class RoomJoin(msgspec.Struct):
    room: Id
    passcode: str | None = None
    host_key: str | None = None

    def __post_init__(self) -> None:
        if self.passcode is not None and len(self.passcode) > PASSCODE_MAX:
            raise too_large(f"passcode must be at most {PASSCODE_MAX} characters")
        if self.host_key is not None and len(self.host_key) > KEY_MAX:
            raise too_large(f"host_key must be at most {KEY_MAX} characters")


class RoomRef(msgspec.Struct):
    room: Id


Mentions = Annotated[list[Id], msgspec.Meta(max_length=4 * MENTIONS_MAX)]


def check_mentions(mentions: list[str] | None) -> list[str]:
    """Mentioned user ids without repeats, in order; at most ``MENTIONS_MAX``."""
    unique = list(dict.fromkeys(mentions or ()))
    if len(unique) > MENTIONS_MAX:
        raise too_large(f"at most {MENTIONS_MAX} mentions")
    return unique


class ChatSend(msgspec.Struct):
    room: Id
    text: str
    client_msg_id: ClientMsgId
    reply_to: Annotated[int, msgspec.Meta(ge=1, le=2**53)] | None = None
    mentions: Mentions | None = None


class MessageRef(msgspec.Struct):
    """``chat:delete``, ``chat:versions``: one message of a room."""

    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]


class ChatEdit(msgspec.Struct):
    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    text: str
    mentions: Mentions | None = None


class ChatReact(msgspec.Struct):
    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    emoji: Annotated[str, msgspec.Meta(max_length=8)]
    on: bool

    def __post_init__(self) -> None:
        if self.emoji not in EMOJI:
            raise bad_request(f"emoji must be one of {' '.join(EMOJI)}")


class ChatChanges(msgspec.Struct):
    room: Id
    after: Seq
    limit: Limit | None = None


class ChatThread(msgspec.Struct):
    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    after: Seq | None = None
    limit: Limit | None = None


class MentionsList(msgspec.Struct):
    before: Annotated[int, msgspec.Meta(ge=0, le=2**53)] | None = None
    limit: Limit | None = None


class ChatHistory(msgspec.Struct):
    room: Id
    before: Seq | None = None
    after: Seq | None = None
    limit: Limit | None = None
    around: Seq | None = None
    """The messages centred on this ``seq`` (a search result opened)."""

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.before, self.after, self.around)) > 1:
            raise bad_request("give one of before, after and around")


class ChatSearch(msgspec.Struct):
    room: Id
    query: str
    limit: Limit | None = None

    def __post_init__(self) -> None:
        if len(self.query) > QUERY_MAX:
            raise too_large(f"query must be at most {QUERY_MAX} characters")
        if not self.query.strip():
            raise bad_request("query must not be empty")


class SearchRequest(msgspec.Struct):
    """``search``: every room the user may read (``server.search``)."""

    query: str
    limit: Limit | None = None

    def __post_init__(self) -> None:
        if len(self.query) > QUERY_MAX:
            raise too_large(f"query must be at most {QUERY_MAX} characters")
        if not self.query.strip():
            raise bad_request("query must not be empty")


class DmOpen(msgspec.Struct):
    user: Id


class Block(msgspec.Struct):
    user: Id
    on: bool


class SessionRef(msgspec.Struct):
    id: Id


class AccountErase(msgspec.Struct):
    """``account:erase``: the person's own name, typed, says they mean it."""

    confirm: Annotated[str, msgspec.Meta(max_length=NAME_MAX * 4)]


class MediaState(msgspec.Struct):
    room: Id
    camera: bool
    mic: bool
    screen: bool = False


class Signal(msgspec.Struct):
    room: Id
    to: Id
    type: SignalType
    data: Any = None
    """Opaque to the server: an SDP description or an ICE candidate (``null`` ends them)."""


class SfuAnswer(msgspec.Struct):
    room: Id
    version: Annotated[int, msgspec.Meta(ge=1, le=2**31)]
    """The ``version`` of the offer this answers."""
    answer: Any = None
    """``{type: "answer", sdp}``, checked like ``signal`` data."""


class SfuCandidate(msgspec.Struct):
    room: Id
    candidate: Any = None
    """An ``RTCIceCandidateInit`` (``{candidate, sdpMid, sdpMLineIndex}``); null ends them."""


class Toggle(msgspec.Struct):
    """``room:lock``, ``room:waiting`` and ``chat:enable``."""

    room: Id
    enabled: bool


class Target(msgspec.Struct):
    """A host's action on one member: stage, removal, waiting room, hands, hand-over."""

    room: Id
    user: Id


class OptionalTarget(msgspec.Struct):
    """``hand:lower`` and ``stage:remove``: oneself when ``user`` is left out."""

    room: Id
    user: Id | None = None


class Mute(msgspec.Struct):
    room: Id
    user: Id
    camera: bool = False
    """True turns the member's camera off; False leaves it as it is."""
    mic: bool = False
    screen: bool = False


class SetRole(msgspec.Struct):
    room: Id
    user: Id
    role: Role

    def __post_init__(self) -> None:
        if self.role not in (Role.COHOST, Role.GUEST):
            raise bad_request("role must be cohost or guest (use stage:invite and host:handover)")


REASON_MAX = 500
SLOW_MAX = 3600
DESCRIPTION_MAX = 500


class RoomEdit(msgspec.Struct):
    room: Id
    title: str
    description: str = ""

    def __post_init__(self) -> None:
        self.title = clean_name(self.title, "title", TITLE_MAX)
        self.description = self.description.strip()
        if len(self.description) > DESCRIPTION_MAX:
            raise too_large(f"description must be at most {DESCRIPTION_MAX} characters")
        for ch in self.description:
            if unicodedata.category(ch) == "Cc" and ch not in _TEXT_WHITESPACE:
                raise bad_request("description must not contain control characters")


class SlowMode(msgspec.Struct):
    room: Id
    seconds: Annotated[int, msgspec.Meta(ge=0, le=SLOW_MAX)]
    """One message per this many seconds per person; 0 turns slow mode off."""


class ModeratorSet(msgspec.Struct):
    room: Id
    user: Id
    on: bool


class ChatReport(msgspec.Struct):
    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    reason: Annotated[str, msgspec.Meta(max_length=4 * REASON_MAX)]

    def __post_init__(self) -> None:
        if len(self.reason) > REASON_MAX:
            raise too_large(f"reason must be at most {REASON_MAX} characters")
        if not self.reason.strip():
            raise bad_request("reason must not be empty")


class ReportAction(enum.StrEnum):
    DISMISS = "dismiss"
    DELETE = "delete"
    BAN = "ban"


class ReportResolve(msgspec.Struct):
    room: Id
    report: Id
    action: ReportAction


class AuditList(msgspec.Struct):
    room: Id
    before: Annotated[int, msgspec.Meta(ge=0, le=2**53)] | None = None
    limit: Limit | None = None


class Pin(msgspec.Struct):
    """``chat:pin``: pin one message of a room, or unpin it."""

    room: Id
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    on: bool


NOTICE_MAX = 500


class TablesOpen(msgspec.Struct):
    room: Id
    tables: int | None = None
    size: int | None = None
    assign: Assign = Assign.RANDOM
    seconds: int | None = None

    def __post_init__(self) -> None:
        if (self.tables is None) == (self.size is None):
            raise bad_request("give tables or size")


class TablesMove(msgspec.Struct):
    room: Id
    user: Id
    table: Id | None


class TablesChoose(msgspec.Struct):
    room: Id
    table: Id


class TablesNotice(msgspec.Struct):
    room: Id
    text: str

    def __post_init__(self) -> None:
        self.text = check_text(self.text, NOTICE_MAX).strip()


class RoundsStart(msgspec.Struct):
    room: Id
    size: int = 2
    round_seconds: int = 300
    rounds: int = 3
    break_seconds: int = 30


class PeopleStay(msgspec.Struct):
    user: Id
    room: Id | None = None
    """Where the person is asked from (a room the sender has joined), if anywhere."""


class PersonRef(msgspec.Struct):
    user: Id


# ---------------------------------------------------------------------------------------------
# Profiles (docs/protocol.md, "Profiles"): what a person says about themselves.

HEADLINE_MAX = 80
ORGANISATION_MAX = 80
LINK_MAX = 200
ABOUT_MAX = 500
HEADLINES_MAX = 100
"""Users one ``profile:headlines`` asks about."""


class ProfileField(enum.StrEnum):
    HEADLINE = "headline"
    ORGANISATION = "organisation"
    LINK = "link"
    ABOUT = "about"


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A person's profile as ``profile:get`` shows it: to others only the public fields (the
    rest empty), to its owner everything, with ``public`` and ``invisible``."""

    user: User
    headline: str = ""
    organisation: str = ""
    link: str = ""
    about: str = ""
    public: list[ProfileField] | None = None
    """Which fields everybody sees; only to the owner (null to others)."""
    invisible: bool | None = None
    """Left out of ``online:list``; only to the owner (null to others)."""


def _one_line(value: str, field: str, limit: int) -> str:
    """A short profile field: trimmed, at most ``limit`` characters, no control characters."""
    value = value.strip()
    if len(value) > limit:
        raise too_large(f"{field} must be at most {limit} characters")
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" or (category == "Cf" and ch not in _ALLOWED_FORMAT):
            raise bad_request(f"{field} must not contain control characters")
    return value


def check_link(value: str) -> str:
    """A web address that is safe to make a link of: ``https://`` or ``http://`` and a host."""
    value = _one_line(value, "link", LINK_MAX)
    if not value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("https", "http"):
        raise bad_request("link must start with https:// or http://")
    if not rest or rest[0] in "/?#" or any(ch.isspace() for ch in value):
        raise bad_request("link must be a web address such as https://example.org")
    return value


# Refused by msgspec past four times the limit, before the character checks (a payload cannot
# make the server walk a megabyte); the exact limit is checked after, with its own message.
_ShortText = Annotated[str, msgspec.Meta(max_length=4 * HEADLINE_MAX)]
_LinkText = Annotated[str, msgspec.Meta(max_length=4 * LINK_MAX)]
_AboutText = Annotated[str, msgspec.Meta(max_length=4 * ABOUT_MAX)]
_Unset = msgspec.UnsetType


class ProfileSet(msgspec.Struct):
    """``profile:set``: the fields given replace the stored ones; those left out stay."""

    headline: _ShortText | _Unset = msgspec.UNSET
    organisation: _ShortText | _Unset = msgspec.UNSET
    link: _LinkText | _Unset = msgspec.UNSET
    about: _AboutText | _Unset = msgspec.UNSET
    public: Annotated[list[ProfileField], msgspec.Meta(max_length=8)] | _Unset = msgspec.UNSET
    invisible: bool | _Unset = msgspec.UNSET

    def __post_init__(self) -> None:
        if isinstance(self.headline, str):
            self.headline = _one_line(self.headline, "headline", HEADLINE_MAX)
        if isinstance(self.organisation, str):
            self.organisation = _one_line(self.organisation, "organisation", ORGANISATION_MAX)
        if isinstance(self.link, str):
            self.link = check_link(self.link)
        if isinstance(self.about, str):
            self.about = self.about.strip()
            if len(self.about) > ABOUT_MAX:
                raise too_large(f"about must be at most {ABOUT_MAX} characters")
            for ch in self.about:
                if unicodedata.category(ch) == "Cc" and ch not in _TEXT_WHITESPACE:
                    raise bad_request("about must not contain control characters")
        if isinstance(self.public, list):
            self.public = list(dict.fromkeys(self.public))


# ---------------------------------------------------------------------------------------------
# Contact cards (docs/protocol.md, "Contact cards"): shown to contacts only, per contact.

EMAIL_MAX = 254
PHONE_MAX = 32
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")


def check_email(value: str) -> str:
    value = _one_line(value, "email", EMAIL_MAX)
    if value and not _EMAIL.fullmatch(value):
        raise bad_request("email must be an e-mail address such as ann@example.org")
    return value


def check_phone(value: str) -> str:
    value = _one_line(value, "phone", PHONE_MAX)
    if value and not (_PHONE.fullmatch(value) and 3 <= sum(ch.isdigit() for ch in value) <= 20):
        raise bad_request("phone must be a number: digits, spaces, + ( ) - . / only")
    return value


class CardSet(msgspec.Struct):
    """``card:set``: the fields given replace the stored ones; those left out stay."""

    email: Annotated[str, msgspec.Meta(max_length=4 * EMAIL_MAX)] | _Unset = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=4 * PHONE_MAX)] | _Unset = msgspec.UNSET
    link: _LinkText | _Unset = msgspec.UNSET
    share: Annotated[list[CardField], msgspec.Meta(max_length=8)] | _Unset = msgspec.UNSET
    """The fields new contacts see (each contact's can be changed later: ``card:share``)."""

    def __post_init__(self) -> None:
        if isinstance(self.email, str):
            self.email = check_email(self.email)
        if isinstance(self.phone, str):
            self.phone = check_phone(self.phone)
        if isinstance(self.link, str):
            self.link = check_link(self.link)
        if isinstance(self.share, list):
            self.share = list(dict.fromkeys(self.share))


class CardShare(msgspec.Struct):
    """``card:share``: which fields of one's card one contact sees."""

    user: Id
    fields: Annotated[list[CardField], msgspec.Meta(max_length=8)]

    def __post_init__(self) -> None:
        self.fields = list(dict.fromkeys(self.fields))


class OwnCard(msgspec.Struct, frozen=True, kw_only=True):
    """One's own card as ``card:get`` and ``card:set`` answer it."""

    email: str
    phone: str
    link: str
    share: list[CardField]
    """What new contacts see."""


class ProfileGet(msgspec.Struct):
    user: Id


class HeadlinesGet(msgspec.Struct):
    """``profile:headlines``: the public headlines of up to ``HEADLINES_MAX`` people."""

    users: Annotated[list[Id], msgspec.Meta(max_length=HEADLINES_MAX)]


class Online(msgspec.Struct, frozen=True):
    """Somebody online in public rooms (``online:list``)."""

    user: User
    headline: str
    """Their public headline; empty if they have none or keep it to themselves."""
    rooms: list[RoomBrief]
    """The public rooms they are in, as ``room:list`` orders them (the lobby last)."""


T = TypeVar("T", bound=msgspec.Struct)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(value: object) -> bool:
    """False if any string in ``value`` holds a lone surrogate.

    JSON may escape one ("\\ud83d", half an emoji); such a string cannot be stored or sent on,
    so it is refused at the edge rather than failing somewhere deep inside.
    """
    if isinstance(value, str):
        return _SURROGATE.search(value) is None
    if isinstance(value, dict):
        return all(valid_unicode(k) and valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(valid_unicode(item) for item in value)
    return True


def decode(payload: object, kind: type[T]) -> T:
    """Validate a client payload into its request type, or raise ``bad_request``."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise bad_request("payload must be a JSON object")
    if not valid_unicode(payload):
        raise bad_request("payload must be valid Unicode (it holds a lone surrogate)")
    try:
        return msgspec.convert(payload, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise bad_request(_plain(str(exc))) from None


def _plain(message: str) -> str:
    # msgspec says "Expected `str`, got `int` - at `$.text`"; clients want "text: expected str".
    text, _, where = message.partition(" - at `$.")
    text = text.replace("`", "")
    text = text[:1].lower() + text[1:]
    return f"{where.rstrip('`')}: {text}" if where else text
