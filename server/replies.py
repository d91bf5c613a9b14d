"""The acks the server answers requests with: one Struct per shape (``docs/protocol.md``).

Every ack that succeeds is ``{"ok": true, ...}``; the fields a request sometimes has no value
for are left out of the JSON, not sent as null (they default to ``UNSET``). A refused request
gets ``{"ok": false, "error": ...}`` instead (``server.errors``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .protocol import (
    AuditEntry,
    CardField,
    Encounter,
    Found,
    HostsView,
    MediaPlace,
    Member,
    Mentioned,
    Message,
    Met,
    Online,
    OwnCard,
    Profile,
    RecordingView,
    Report,
    Room,
    RoomInfo,
    SessionInfo,
    TablesView,
    Track,
    User,
    Version,
    WorkshopView,
)


class Reply(msgspec.Struct, kw_only=True):
    """What every successful ack has; each kind of ack adds its fields after ``ok``."""

    ok: bool = True


class Done(Reply, kw_only=True):
    """Nothing to say but yes."""


class RoomList(Reply, kw_only=True):
    """``room:list``."""

    rooms: list[RoomInfo]


class RoomCreated(Reply, kw_only=True):
    """``room:create``."""

    room: Room
    host_key: str | UnsetType = UNSET
    """A workshop's host key, shown this once."""


class Joined(Reply, kw_only=True):
    """``room:join``, let in."""

    room: Room
    you: Member
    members: list[Member]
    history: list[Message]
    rev: int
    """The room's revision: changes after it come as ``chat:change`` (``chat:changes``)."""
    ice_servers: list[dict[str, Any]]
    media: MediaPlace | UnsetType = UNSET
    """Video rooms only."""
    workshop: WorkshopView | UnsetType = UNSET
    """Workshops only."""
    hosts: HostsView | UnsetType = UNSET
    """Workshops only, for hosts and co-hosts."""
    tables: TablesView | UnsetType = UNSET
    """Coffee rooms and workshops: their tables and round series."""
    slow_seconds: int = 0
    """Slow mode: one message per this many seconds per person (0: off)."""
    recording: RecordingView | UnsetType = UNSET
    """Workshops only: whether it is being recorded now."""


class RecordingChanged(Reply, kw_only=True):
    """``recording:start`` and ``recording:stop``."""

    id: str
    """The recording (its archive row)."""
    recording: RecordingView


class Waiting(Reply, kw_only=True):
    """``room:join`` of a workshop whose waiting room holds the newcomer."""

    room: Room
    waiting: bool = True


class DmOpened(Reply, kw_only=True):
    """``dm:open``."""

    room: Room
    user: User


class Dm(msgspec.Struct, kw_only=True):
    """One of the user's direct-message rooms, with the other user."""

    room: Room
    user: User
    online: bool


class DmList(Reply, kw_only=True):
    """``dm:list``."""

    dms: list[Dm]


class Sent(Reply, kw_only=True):
    """``chat:send``."""

    message: Message


class Messages(Reply, kw_only=True):
    """``chat:history`` and ``chat:search``."""

    messages: list[Message]


class Changed(Reply, kw_only=True):
    """``chat:edit``, ``chat:delete``, ``chat:react``: the message as it is now."""

    message: Message


class Changes(Reply, kw_only=True):
    """``chat:changes``: messages changed after a revision, and the room's revision."""

    messages: list[Message]
    rev: int


class Thread(Reply, kw_only=True):
    """``chat:thread``: a thread's first message and its replies."""

    message: Message
    messages: list[Message]


class Mentions(Reply, kw_only=True):
    """``mentions:list``."""

    mentions: list[Mentioned]


class MediaChanged(Reply, kw_only=True):
    """``media:state``."""

    member: Member
    media: MediaPlace


class Offer(Reply, kw_only=True):
    """``sfu:join``: the server's first offer of the media session."""

    version: int
    offer: dict[str, str]
    tracks: list[Track]
    ice_servers: list[dict[str, Any]]


class Hands(Reply, kw_only=True):
    """``hand:raise`` and ``hand:lower``: the raised hands, first raised first."""

    hands: list[User]


class MemberChanged(Reply, kw_only=True):
    """A host's change to one member: ``stage:*``, ``member:mute``, ``member:role``."""

    member: Member


class StateChanged(Reply, kw_only=True):
    """A change to the workshop: ``room:lock``, ``room:waiting``, ``chat:enable``."""

    state: WorkshopView


class TablesReply(Reply, kw_only=True):
    """``tables:*`` and ``rounds:*``: the room's tables as they are now."""

    tables: TablesView


class People(Reply, kw_only=True):
    """``people:list``."""

    people: list[Met]
    """In touch: both said so."""
    asked: list[Met]
    """Who asked the user, not answered yet."""
    asking: list[Met]
    """Whom the user asked, not answered yet (declined or not: that is never said)."""
    encounters: list[Encounter]
    """Whom the user met, not in touch with them."""


class OwnCardReply(Reply, kw_only=True):
    """``card:get``, ``card:set``."""

    card: OwnCard


class CardShared(Reply, kw_only=True):
    """``card:share``."""

    user: str
    fields: list[CardField]


class SlowChanged(Reply, kw_only=True):
    """``room:slow``."""

    seconds: int


class ReportFiled(Reply, kw_only=True):
    """``chat:report`` and ``report:resolve``."""

    report: Report


class Reports(Reply, kw_only=True):
    """``reports:list``: the reports nobody answered yet, oldest first."""

    reports: list[Report]


class Audit(Reply, kw_only=True):
    """``audit:list``: what moderators did, newest first."""

    entries: list[AuditEntry]


class Versions(Reply, kw_only=True):
    """``chat:versions``: the texts an edited message had before, oldest first."""

    versions: list[Version]


class SessionsListed(Reply, kw_only=True):
    """``sessions:list``: the user's sessions, the most recently used first."""

    sessions: list[SessionInfo]


class Revoked(Reply, kw_only=True):
    """``sessions:revoke_others``: how many sessions it signed out."""

    revoked: int


class Blocked(Reply, kw_only=True):
    """``user:block`` and ``blocks:list``: everybody this user blocks, most recent first."""

    blocked: list[User]


class RoomEdited(Reply, kw_only=True):
    """``room:edit``: the room with its new title and description."""

    room: Room


class Results(Reply, kw_only=True):
    """``search``: groups ordered by their best message."""

    results: list[Found]


class ProfileShown(Reply, kw_only=True):
    """``profile:get`` and ``profile:set``."""

    profile: Profile


class Headlines(Reply, kw_only=True):
    """``profile:headlines``: user id -> public headline, for those who have one."""

    headlines: dict[str, str]


class OnlineList(Reply, kw_only=True):
    """``online:list``: who is online in public rooms, at most ``ONLINE_MAX``."""

    people: list[Online]
    more: bool
    """More people are online than the list holds."""
