"""Who may send which event in which kind of room: the one table that decides.

Events that name a room (``{"room": ...}``) are checked here before their handler runs: the
connection must have joined the room, and its role there must be listed for the event and
the room's kind. Events without a room (listing, creating, joining, direct messages) are
open to every connection. A few rules depend on more than the role and stay with their
handlers, documented in ``docs/security.md``: in a workshop, turning a camera, microphone or
screen on needs a stage role, and the SFU forwards only what stage members publish; a coffee
room refuses ``signal`` once its media goes through the SFU; when a host turned chat off only
hosts and co-hosts may send.
"""

from __future__ import annotations

from .protocol import Role, RoomKind

HOSTS = frozenset({Role.HOST, Role.COHOST})
STAGE = frozenset({Role.HOST, Role.COHOST, Role.PRESENTER})
WORKSHOP = frozenset({Role.HOST, Role.COHOST, Role.PRESENTER, Role.GUEST})
MEMBER = frozenset({Role.MEMBER})
LOOKS_AFTER = frozenset({Role.OWNER, Role.MODERATOR})
"""Who looks after an open room or coffee morning."""
OPEN_ROOM = frozenset({Role.MEMBER, Role.OWNER, Role.MODERATOR})
MODERATORS = HOSTS | LOOKS_AFTER
"""Who moderates a room of any kind: deletes anybody's message, removes people, answers
reports (the hosts' Socket.IO room of each room, ``audiences.host_room``)."""

ROLES: dict[RoomKind, frozenset[Role]] = {
    RoomKind.OPEN: OPEN_ROOM,
    RoomKind.COFFEE: OPEN_ROOM,
    RoomKind.DM: MEMBER,
    RoomKind.WORKSHOP: WORKSHOP,
    RoomKind.TABLE: MEMBER,
}
"""The roles a member can have in each kind of room (at a table everybody is equal)."""


def _everywhere() -> dict[RoomKind, frozenset[Role]]:
    return dict(ROLES)


def _video() -> dict[RoomKind, frozenset[Role]]:
    return {RoomKind.COFFEE: OPEN_ROOM, RoomKind.WORKSHOP: WORKSHOP, RoomKind.TABLE: MEMBER}


def _workshop(roles: frozenset[Role]) -> dict[RoomKind, frozenset[Role]]:
    return {RoomKind.WORKSHOP: roles}


def _moderated(
    workshop: frozenset[Role], open_room: frozenset[Role]
) -> dict[RoomKind, frozenset[Role]]:
    """Open rooms and coffee mornings (their owner, moderators), and workshops (hosts)."""
    return {RoomKind.OPEN: open_room, RoomKind.COFFEE: open_room, RoomKind.WORKSHOP: workshop}


POLICY: dict[str, dict[RoomKind, frozenset[Role]]] = {
    "room:leave": _everywhere(),
    "chat:send": _everywhere(),
    "chat:history": _everywhere(),
    "chat:search": _everywhere(),
    "chat:typing": _everywhere(),
    "chat:edit": _everywhere(),
    "chat:delete": _everywhere(),
    "chat:react": _everywhere(),
    "chat:changes": _everywhere(),
    "chat:thread": _everywhere(),
    "media:state": _video(),
    "signal": {RoomKind.COFFEE: OPEN_ROOM, RoomKind.TABLE: MEMBER},  # workshops: always the SFU
    "sfu:join": _video(),
    "sfu:answer": _video(),
    "sfu:candidate": _video(),
    "sfu:leave": _video(),
    "hand:raise": _workshop(frozenset({Role.GUEST})),
    "hand:lower": _workshop(WORKSHOP),
    "stage:invite": _workshop(HOSTS),
    "stage:remove": _workshop(STAGE),
    "member:mute": _workshop(HOSTS),
    "member:remove": _moderated(HOSTS, LOOKS_AFTER),
    "member:allow": _moderated(HOSTS, LOOKS_AFTER),
    "member:role": _workshop(frozenset({Role.HOST})),
    "host:handover": _workshop(frozenset({Role.HOST})),
    "room:lock": _workshop(HOSTS),
    "room:waiting": _workshop(HOSTS),
    "waiting:admit": _workshop(HOSTS),
    "waiting:decline": _workshop(HOSTS),
    "chat:enable": _workshop(HOSTS),
    # Pins: those who look after a room (private ones too), a workshop's hosts, both people
    # of a DM; a table lasts minutes and has none.
    "chat:pin": {**_moderated(HOSTS, LOOKS_AFTER), RoomKind.DM: MEMBER},
    "chat:pins": _everywhere(),
    "workshop:end": _workshop(frozenset({Role.HOST})),
    "recording:start": _workshop(HOSTS),
    "recording:stop": _workshop(HOSTS),
    "room:slow": _moderated(HOSTS, LOOKS_AFTER),
    "room:edit": _moderated(HOSTS, LOOKS_AFTER),
    "room:moderator": {
        RoomKind.OPEN: frozenset({Role.OWNER}),
        RoomKind.COFFEE: frozenset({Role.OWNER}),
    },
    "chat:report": _everywhere(),
    "reports:list": _moderated(HOSTS, LOOKS_AFTER),
    "report:resolve": _moderated(HOSTS, LOOKS_AFTER),
    "chat:versions": _moderated(HOSTS, LOOKS_AFTER),
    "audit:list": _moderated(frozenset({Role.HOST}), frozenset({Role.OWNER})),
    "tables:open": _workshop(HOSTS),
    "tables:move": _workshop(HOSTS),
    "tables:choose": _workshop(frozenset({Role.GUEST, Role.PRESENTER})),
    "tables:notice": _workshop(HOSTS),
    "tables:close": _workshop(HOSTS),
    # Anybody in a coffee room starts a series (and only who started it stops it: the
    # handler checks); in a workshop the hosts run them.
    "rounds:start": {RoomKind.COFFEE: OPEN_ROOM, RoomKind.WORKSHOP: HOSTS},
    "rounds:join": {RoomKind.COFFEE: OPEN_ROOM, RoomKind.WORKSHOP: WORKSHOP},
    "rounds:leave": {RoomKind.COFFEE: OPEN_ROOM, RoomKind.WORKSHOP: WORKSHOP},
    "rounds:stop": {RoomKind.COFFEE: OPEN_ROOM, RoomKind.WORKSHOP: HOSTS},
}


def allowed(event: str, kind: RoomKind, role: Role) -> bool:
    return role in POLICY[event].get(kind, frozenset())
