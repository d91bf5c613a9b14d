"""The whole authorisation matrix: every room event x every role x every kind of room.

The expectations below are written out again, independently of ``server/authz.py``: a change
to the policy has to be made in both places, on purpose. Each cell runs against a fresh room
(the actions change the room) and asserts the ack: ``ok`` where allowed, ``forbidden`` where
not.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from server.authz import POLICY

from .support.client import Client
from .support.servers import Running

EVERYONE = {"member", "owner", "moderator", "host", "cohost", "presenter", "guest"}
STAGE = {"host", "cohost", "presenter"}
HOSTS = {"host", "cohost"}
OPEN = {"member", "owner", "moderator"}
LOOKS_AFTER = {"owner", "moderator"}

# event -> kind -> roles that may send it
EXPECTED: dict[str, dict[str, set[str]]] = {
    **{
        event: {
            "open": OPEN,
            "coffee": OPEN,
            "dm": {"member"},
            "workshop": EVERYONE,
            "table": {"member"},
        }
        for event in (
            "room:leave",
            "chat:send",
            "chat:history",
            "chat:search",
            "chat:typing",
            "chat:edit",
            "chat:delete",
            "chat:react",
            "chat:changes",
            "chat:thread",
            "chat:report",
            "chat:pins",
        )
    },
    "media:state": {"coffee": OPEN, "workshop": EVERYONE, "table": {"member"}},
    "signal": {"coffee": OPEN, "table": {"member"}},
    **{
        event: {"coffee": OPEN, "workshop": EVERYONE, "table": {"member"}}
        for event in ("sfu:join", "sfu:answer", "sfu:candidate", "sfu:leave")
    },
    "hand:raise": {"workshop": {"guest"}},
    "hand:lower": {"workshop": EVERYONE},
    "stage:invite": {"workshop": HOSTS},
    "stage:remove": {"workshop": STAGE},
    "member:mute": {"workshop": HOSTS},
    "member:remove": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "member:allow": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "member:role": {"workshop": {"host"}},
    "host:handover": {"workshop": {"host"}},
    "room:lock": {"workshop": HOSTS},
    "room:waiting": {"workshop": HOSTS},
    "waiting:admit": {"workshop": HOSTS},
    "waiting:decline": {"workshop": HOSTS},
    "chat:enable": {"workshop": HOSTS},
    "chat:pin": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "dm": {"member"}, "workshop": HOSTS},
    "workshop:end": {"workshop": {"host"}},
    "recording:start": {"workshop": HOSTS},
    "recording:stop": {"workshop": HOSTS},
    "room:slow": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "room:edit": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "room:moderator": {"open": {"owner"}, "coffee": {"owner"}},
    "reports:list": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "report:resolve": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "chat:versions": {"open": LOOKS_AFTER, "coffee": LOOKS_AFTER, "workshop": HOSTS},
    "audit:list": {"open": {"owner"}, "coffee": {"owner"}, "workshop": {"host"}},
    "tables:open": {"workshop": HOSTS},
    "tables:move": {"workshop": HOSTS},
    "tables:choose": {"workshop": {"guest", "presenter"}},
    "tables:notice": {"workshop": HOSTS},
    "tables:close": {"workshop": HOSTS},
    "rounds:start": {"coffee": OPEN, "workshop": HOSTS},
    "rounds:join": {"coffee": OPEN, "workshop": EVERYONE},
    "rounds:leave": {"coffee": OPEN, "workshop": EVERYONE},
    "rounds:stop": {"coffee": OPEN, "workshop": HOSTS},
}
# Where the role may send the event but the handler still says no, and why.
REFUSED_BY_HANDLER = {
    ("coffee", "sfu:join"): "forbidden",  # this room uses mesh (few cameras yet)
    ("coffee", "sfu:answer"): "bad_request",  # no media session; send sfu:join
    ("coffee", "sfu:candidate"): "bad_request",
    ("workshop", "sfu:answer"): "bad_request",
    ("workshop", "sfu:candidate"): "bad_request",
    ("table", "sfu:join"): "forbidden",  # a table is meshed like a coffee room
    ("table", "sfu:answer"): "bad_request",
    ("table", "sfu:candidate"): "bad_request",
    ("workshop", "recording:stop"): "bad_request",  # nothing is being recorded
    # Allowed, but there is nothing to act on in a fresh room: no tables open, no series
    # (test_tables.py runs them).
    **{
        ("workshop", event): "bad_request"
        for event in (
            "tables:move",
            "tables:choose",
            "tables:notice",
            "tables:close",
            "rounds:join",
            "rounds:leave",
            "rounds:stop",
        )
    },
    **{
        ("coffee", event): "bad_request" for event in ("rounds:join", "rounds:leave", "rounds:stop")
    },
    # Allowed, but no such report (test_moderation.py answers real ones).
    **{(kind, "report:resolve"): "not_found" for kind in ("open", "coffee", "workshop")},
}
ROLES = {
    "open": sorted(OPEN),
    "coffee": sorted(OPEN),
    "dm": ["member"],
    "workshop": sorted(EVERYONE - OPEN),
    "table": ["member"],
}


def test_the_expectations_cover_every_room_event() -> None:
    assert set(EXPECTED) == set(POLICY)


@dataclasses.dataclass
class Scene:
    """A room with an actor in the role under test and the people the actions need."""

    room: str
    actor: Client
    peer: Client  # someone on stage (in a workshop) or any other member
    subject: Client  # a guest to act on (the peer again outside workshops)
    presenter: Client | None = None
    banned: str = ""
    knocker: str = ""
    message: str = ""


async def scene(server: Running, connect, kind: str, role: str) -> Scene:
    actor = await connect(server.url, "Actor")
    peer = await connect(server.url, "Peer")
    if kind == "dm":
        room = (await actor.ok("dm:open", {"user": peer.user_id}))["room"]["id"]
        for client in (actor, peer):
            await client.ok("room:join", {"room": room})
        return await _with_message(Scene(room, actor, peer, peer))
    if kind == "table":
        # Two people at one table of a speed-networking round in a coffee room.
        room = (await peer.ok("room:create", {"title": "R", "kind": "coffee"}))["room"]["id"]
        for client in (actor, peer):
            await client.ok("room:join", {"room": room})
        await peer.ok(
            "rounds:start",
            {"room": room, "round_seconds": 600, "rounds": 1, "break_seconds": 1},
        )
        await actor.ok("rounds:join", {"room": room})
        seated = await actor.wait("tables", lambda e: e["state"]["sitting"] is not None)
        (table,) = seated["state"]["sitting"]["tables"]
        for client in (actor, peer):
            await client.ok("room:join", {"room": table["id"]})
        return await _with_message(Scene(table["id"], actor, peer, peer))
    if kind != "workshop":
        # The owner made it; a moderator was made one by its owner (a third person).
        owner = {"owner": actor, "member": peer}.get(role) or await connect(server.url, "Owner")
        room = (await owner.ok("room:create", {"title": "R", "kind": kind}))["room"]["id"]
        for client in {owner, actor, peer}:
            await client.ok("room:join", {"room": room})
        banned = ""
        if role in LOOKS_AFTER:
            if role == "moderator":
                await owner.ok("room:moderator", {"room": room, "user": actor.user_id, "on": True})
                await actor.wait("presence", lambda e: e["member"]["role"] == "moderator")
            out = await connect(server.url, "Banned")
            await out.ok("room:join", {"room": room})
            await owner.ok("member:remove", {"room": room, "user": out.user_id})
            banned = out.user_id
        return await _with_message(Scene(room, actor, peer, peer, banned=banned))

    created = await peer.ok("room:create", {"title": "W", "kind": "workshop"})
    room, key = created["room"]["id"], created["host_key"]
    host = peer
    await host.ok("room:join", {"room": room, "host_key": key})
    subject = await connect(server.url, "Subject")
    presenter = await connect(server.url, "Presenter")
    banned = await connect(server.url, "Banned")
    for client in (subject, presenter, banned):
        await client.ok("room:join", {"room": room})
    await host.ok("stage:invite", {"room": room, "user": presenter.user_id})
    await host.ok("member:remove", {"room": room, "user": banned.user_id})
    if role == "host":
        await actor.ok("room:join", {"room": room, "host_key": key})
    else:
        await actor.ok("room:join", {"room": room})
        if role == "cohost":
            await host.ok("member:role", {"room": room, "user": actor.user_id, "role": "cohost"})
        elif role == "presenter":
            await host.ok("stage:invite", {"room": room, "user": actor.user_id})
        elif role == "guest":
            await actor.ok("hand:raise", {"room": room})
    # Somebody waits to be let in (the waiting room stays on: everyone else is in already).
    await host.ok("room:waiting", {"room": room, "enabled": True})
    knocker = await connect(server.url, "Knocker")
    assert (await knocker.ok("room:join", {"room": room}))["waiting"]
    return await _with_message(
        Scene(room, actor, host, subject, presenter, banned.user_id, knocker.user_id)
    )


async def _with_message(s: Scene) -> Scene:
    """The peer's message (seq 1), then the actor's own (seq 2)."""
    sent = await s.peer.ok("chat:send", {"room": s.room, "text": "hello", "client_msg_id": "m"})
    s.message = sent["message"]["id"]
    await s.actor.ok("chat:send", {"room": s.room, "text": "mine", "client_msg_id": "a"})
    return s


def payload(event: str, s: Scene, role: str) -> dict[str, Any]:
    room = s.room
    other = s.subject.user_id
    signal_to = s.subject.user_id if role in STAGE else s.peer.user_id
    presenter = s.presenter.user_id if s.presenter else other
    return {
        "room:leave": {"room": room},
        "chat:send": {"room": room, "text": "hi", "client_msg_id": "x"},
        "chat:history": {"room": room},
        "chat:search": {"room": room, "query": "hello"},
        "chat:typing": {"room": room},
        "chat:edit": {"room": room, "seq": 2, "text": "mine, edited"},
        "chat:delete": {"room": room, "seq": 2},
        "chat:react": {"room": room, "seq": 1, "emoji": "👍", "on": True},
        "chat:changes": {"room": room, "after": 0},
        "chat:thread": {"room": room, "seq": 1},
        "media:state": {"room": room, "camera": False, "mic": False},
        "signal": {"room": room, "to": signal_to, "type": "candidate", "data": None},
        "hand:raise": {"room": room},
        "hand:lower": {"room": room},
        "stage:invite": {"room": room, "user": other},
        # A presenter steps down; hosts send the other presenter back.
        "stage:remove": {"room": room}
        if role == "presenter"
        else {"room": room, "user": presenter},
        "member:mute": {"room": room, "user": other, "mic": True},
        "member:remove": {"room": room, "user": other},
        "member:allow": {"room": room, "user": s.banned or other},
        "member:role": {"room": room, "user": other, "role": "cohost"},
        "host:handover": {"room": room, "user": other},
        "room:lock": {"room": room, "enabled": True},
        "room:waiting": {"room": room, "enabled": True},
        "waiting:admit": {"room": room, "user": s.knocker or other},
        "waiting:decline": {"room": room, "user": s.knocker or other},
        "chat:enable": {"room": room, "enabled": False},
        "chat:pin": {"room": room, "seq": 1, "on": True},
        "chat:pins": {"room": room},
        "workshop:end": {"room": room},
        "recording:start": {"room": room},
        "recording:stop": {"room": room},
        "sfu:join": {"room": room},
        "sfu:answer": {"room": room, "version": 1, "answer": {"type": "answer", "sdp": ""}},
        "sfu:candidate": {"room": room, "candidate": None},
        "sfu:leave": {"room": room},
        "tables:open": {"room": room, "tables": 2},
        "tables:move": {"room": room, "user": other, "table": None},
        "tables:choose": {"room": room, "table": "t1"},
        "tables:notice": {"room": room, "text": "five minutes"},
        "tables:close": {"room": room},
        "rounds:start": {"room": room},
        "rounds:join": {"room": room},
        "rounds:leave": {"room": room},
        "rounds:stop": {"room": room},
        "chat:report": {"room": room, "seq": 1, "reason": "spam"},
        "room:slow": {"room": room, "seconds": 5},
        "room:edit": {"room": room, "title": "Renamed", "description": "What it is for"},
        "room:moderator": {"room": room, "user": other, "on": True},
        "reports:list": {"room": room},
        "report:resolve": {"room": room, "report": "rNoSuchReport", "action": "dismiss"},
        "chat:versions": {"room": room, "seq": 2},
        "audit:list": {"room": room},
    }[event]


@pytest.fixture
async def server(start_server, settings) -> Running:
    """Rounds may start a second after they are called (the table scene needs one)."""
    return await start_server(settings, break_min_seconds=1, tables_tick=0.05)


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.parametrize("kind", list(ROLES))
async def test_every_event_for_every_role(server: Running, connect, kind: str) -> None:
    outcomes: dict[tuple[str, str], str] = {}
    expected: dict[tuple[str, str], str] = {}
    for role in ROLES[kind]:
        for event in sorted(EXPECTED):
            s = await scene(server, connect, kind, role)
            ack = await s.actor.call(event, payload(event, s, role))
            if ack["ok"]:
                outcomes[(role, event)] = "ok"
            elif " is not for " in ack["error"]["message"]:
                outcomes[(role, event)] = "refused"  # by the policy (server/authz.py)
            else:
                outcomes[(role, event)] = ack["error"]["code"]
            allowed = role in EXPECTED[event].get(kind, set())
            expected[(role, event)] = (
                REFUSED_BY_HANDLER.get((kind, event), "ok") if allowed else "refused"
            )
            for client in {s.actor, s.peer, s.subject, s.presenter} - {None}:
                await client.close()  # type: ignore[union-attr]
    assert outcomes == expected
