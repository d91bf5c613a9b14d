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

ROLES: dict[RoomKind, frozenset[Role]] = {
    RoomKind.OPEN: MEMBER,
    RoomKind.COFFEE: MEMBER,
    RoomKind.DM: MEMBER,
    RoomKind.WORKSHOP: WORKSHOP,
    RoomKind.TABLE: MEMBER,
}
"""The roles a member can have in each kind of room (at a table everybody is equal)."""


def _everywhere() -> dict[RoomKind, frozenset[Role]]:
    return dict(ROLES)


def _video() -> dict[RoomKind, frozenset[Role]]:
    return {RoomKind.COFFEE: MEMBER, RoomKind.WORKSHOP: WORKSHOP, RoomKind.TABLE: MEMBER}


def _workshop(roles: frozenset[Role]) -> dict[RoomKind, frozenset[Role]]:
    return {RoomKind.WORKSHOP: roles}


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
    "signal": {RoomKind.COFFEE: MEMBER, RoomKind.TABLE: MEMBER},  # workshops: always the SFU
    "sfu:join": _video(),
    "sfu:answer": _video(),
    "sfu:candidate": _video(),
    "sfu:leave": _video(),
    "hand:raise": _workshop(frozenset({Role.GUEST})),
    "hand:lower": _workshop(WORKSHOP),
    "stage:invite": _workshop(HOSTS),
    "stage:remove": _workshop(STAGE),
    "member:mute": _workshop(HOSTS),
    "member:remove": _workshop(HOSTS),
    "member:allow": _workshop(HOSTS),
    "member:role": _workshop(frozenset({Role.HOST})),
    "host:handover": _workshop(frozenset({Role.HOST})),
    "room:lock": _workshop(HOSTS),
    "room:waiting": _workshop(HOSTS),
    "waiting:admit": _workshop(HOSTS),
    "waiting:decline": _workshop(HOSTS),
    "chat:enable": _workshop(HOSTS),
    "chat:pin": _workshop(HOSTS),
    "workshop:end": _workshop(frozenset({Role.HOST})),
    "tables:open": _workshop(HOSTS),
    "tables:move": _workshop(HOSTS),
    "tables:choose": _workshop(frozenset({Role.GUEST, Role.PRESENTER})),
    "tables:notice": _workshop(HOSTS),
    "tables:close": _workshop(HOSTS),
    # Anybody in a coffee room starts a series (and only who started it stops it: the
    # handler checks); in a workshop the hosts run them.
    "rounds:start": {RoomKind.COFFEE: MEMBER, RoomKind.WORKSHOP: HOSTS},
    "rounds:join": {RoomKind.COFFEE: MEMBER, RoomKind.WORKSHOP: WORKSHOP},
    "rounds:leave": {RoomKind.COFFEE: MEMBER, RoomKind.WORKSHOP: WORKSHOP},
    "rounds:stop": {RoomKind.COFFEE: MEMBER, RoomKind.WORKSHOP: HOSTS},
}


def allowed(event: str, kind: RoomKind, role: Role) -> bool:
    return role in POLICY[event].get(kind, frozenset())
