"""Staying in touch with anybody (``people:stay``, ``people:decline``, ``people:remove``,
``people:list``), with real clients on SQLite and PostgreSQL: asked people are told, both asking
makes contacts, a declined or blocked request tells the asker nothing, removal ends it on both
sides. (At tables: tests/test_tables.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from .support.client import Client
from .support.servers import Running


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server  # each test on SQLite, then PostgreSQL


@pytest.fixture
def backend() -> str:
    return "memory"


async def lists(client: Client) -> dict[str, list[str]]:
    """``people:list`` as names: in touch, asked by, asking."""
    listed = await client.ok("people:list")
    return {key: [p["user"]["name"] for p in listed[key]] for key in ("people", "asked", "asking")}


async def settled(client: Client) -> None:
    """A round trip: whatever the server sent this client before now has arrived."""
    await client.ok("people:list")


async def test_asking_anybody_tells_them_and_asking_back_makes_contacts(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    # Asked from the lobby's member list: no table needed.
    await ann.ok("room:join", {"room": "lobby"})
    assert await ann.ok("people:stay", {"user": bob.user_id, "room": "lobby"}) == {"ok": True}
    asked = (await bob.wait("people:asked"))["person"]
    assert asked["user"] == {"id": ann.user_id, "name": "Ann"}
    assert asked["room"] == {"id": "lobby", "title": "Lobby"}
    assert await lists(ann) == {"people": [], "asked": [], "asking": ["Bob"]}
    assert await lists(bob) == {"people": [], "asked": ["Ann"], "asking": []}
    # Asking twice tells nobody twice.
    await ann.ok("people:stay", {"user": bob.user_id})
    await settled(bob)
    assert not bob.events("people:asked")  # the first was consumed by ``wait``

    await bob.ok("people:stay", {"user": ann.user_id})
    met = (await ann.wait("people:met"))["person"]
    assert met["user"] == {"id": bob.user_id, "name": "Bob"}
    assert (await bob.wait("people:met"))["person"]["user"]["id"] == ann.user_id
    assert await lists(ann) == {"people": ["Bob"], "asked": [], "asking": []}
    assert await lists(bob) == {"people": ["Ann"], "asked": [], "asking": []}


async def test_a_declined_request_tells_the_asker_nothing_and_stays_declined(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("people:stay", {"user": bob.user_id})
    await bob.wait("people:asked")
    await bob.ok("people:decline", {"user": ann.user_id})
    assert await lists(bob) == {"people": [], "asked": [], "asking": []}
    # Ann sees what she saw before: still asking, nothing said.
    assert await lists(ann) == {"people": [], "asked": [], "asking": ["Bob"]}
    assert not [name for name, _ in ann.received if name.startswith("people:")]
    # Asking again does not bring it back to Bob.
    await ann.ok("people:stay", {"user": bob.user_id})
    await settled(bob)
    assert not bob.events("people:asked")  # the first was consumed by ``wait``
    assert (await lists(bob))["asked"] == []
    # Bob changes his mind and asks: they are in touch.
    await bob.ok("people:stay", {"user": ann.user_id})
    await ann.wait("people:met")
    assert (await lists(bob))["people"] == ["Ann"]


async def test_somebody_blocked_asks_in_vain_and_is_not_told_so(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await bob.ok("user:block", {"user": ann.user_id, "on": True})
    await ann.ok("people:stay", {"user": bob.user_id})
    await settled(bob)
    assert not bob.events("people:asked")
    assert (await lists(bob))["asked"] == []
    assert (await lists(ann))["asking"] == ["Bob"]


async def test_either_removes_a_contact_and_both_are_strangers_again(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("people:stay", {"user": bob.user_id})
    await bob.ok("people:stay", {"user": ann.user_id})
    await ann.wait("people:met")
    await bob.ok("people:remove", {"user": ann.user_id})
    assert (await ann.wait("people:removed")) == {"user": bob.user_id}
    assert (await bob.wait("people:removed")) == {"user": ann.user_id}
    empty: dict[str, list[str]] = {"people": [], "asked": [], "asking": []}
    assert await lists(ann) == empty
    assert await lists(bob) == empty
    # Removing nobody is not an error, and tells nobody.
    await bob.ok("people:remove", {"user": ann.user_id})
    await settled(ann)
    assert not ann.events("people:removed")  # the first was consumed by ``wait``


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"user": "SELF"}, ("bad_request", "that is you")),
        ({"user": "u-nobody"}, ("not_found", "no such user")),
        ({"user": "OTHER", "room": "lobby"}, ("forbidden", "you are not in this room")),
        ({"user": 7}, ("bad_request", None)),
        ({}, ("bad_request", None)),
    ],
)
async def test_bad_requests_get_a_clear_error_and_store_nothing(
    server: Running, connect, payload: dict[str, Any], error: tuple[str, str | None]
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    swap = {"SELF": ann.user_id, "OTHER": bob.user_id}
    sent = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    ack = await ann.call("people:stay", sent)
    assert ack["ok"] is False and ack["error"]["code"] == error[0]
    if error[1] is not None:
        assert ack["error"]["message"] == error[1]
    assert (await lists(ann))["asking"] == []
    await settled(bob)
    assert not bob.events("people:asked")


async def met(client: Client) -> list[tuple[str, str, str | None]]:
    """``people:list``'s people met as (name, how, room title)."""
    listed = await client.ok("people:list")
    return [
        (e["user"]["name"], e["how"], e["room"]["title"] if e["room"] else None)
        for e in listed["encounters"]
    ]


async def cameras(client: Client, room: str, on: bool) -> None:
    """What the web client sends when its camera goes on or off."""
    await client.ok("media:state", {"room": room, "camera": on, "mic": False})


async def test_a_coffee_room_counts_as_met_only_with_both_cameras_on(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    room = (await ann.ok("room:create", {"title": "Friday coffee", "kind": "coffee"}))["room"]
    for client in (ann, bob, cleo):
        await client.ok("room:join", {"room": room["id"]})
    # Ann's camera on, Bob's off, Cleo's mic only: nobody met anybody.
    await cameras(ann, room["id"], True)
    await cleo.ok("media:state", {"room": room["id"], "camera": False, "mic": True})
    assert await met(ann) == await met(bob) == await met(cleo) == []
    # Bob's goes on: Ann and Bob met, both ways; Cleo still met nobody.
    await cameras(bob, room["id"], True)
    assert await met(ann) == [("Bob", "camera", "Friday coffee")]
    assert await met(bob) == [("Ann", "camera", "Friday coffee")]
    assert await met(cleo) == []
    # Toggling again records nothing new, and a contact is listed as a contact, not here.
    await cameras(bob, room["id"], False)
    await cameras(bob, room["id"], True)
    assert await met(bob) == [("Ann", "camera", "Friday coffee")]
    await ann.ok("people:stay", {"user": bob.user_id})
    await bob.ok("people:stay", {"user": ann.user_id})
    await ann.wait("people:met")
    assert await met(ann) == []
    # Asked with no room given, the room where they met is where it was asked from.
    await cleo.ok("media:state", {"room": room["id"], "camera": True, "mic": True})
    await cleo.ok("people:stay", {"user": ann.user_id})
    assert (await ann.wait("people:asked"))["person"]["room"]["title"] == "Friday coffee"


async def test_direct_messages_count_as_met_once_both_have_written(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    await ann.ok("room:join", {"room": dm})
    await ann.ok("chat:send", {"room": dm, "text": "Hi Bob!", "client_msg_id": "c1"})
    await ann.ok("chat:send", {"room": dm, "text": "Are you there?", "client_msg_id": "c2"})
    # Written to, never answered: not met (a stranger's message puts nobody on the list).
    assert await met(ann) == await met(bob) == []
    await bob.ok("room:join", {"room": dm})
    await bob.ok("chat:send", {"room": dm, "text": "Hello Ann", "client_msg_id": "c3"})
    assert await met(ann) == [("Bob", "dm", None)]
    assert await met(bob) == [("Ann", "dm", None)]
    (encounter,) = (await ann.ok("people:list"))["encounters"]
    assert encounter["user"] == {"id": bob.user_id, "name": "Bob"} and encounter["at"] > 0


async def test_blocked_people_are_in_no_list(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    dan = await connect(server.url, "Dan")
    room = (await ann.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    for client in (ann, bob, cleo):
        await client.ok("room:join", {"room": room})
        await cameras(client, room, True)
    await ann.ok("people:stay", {"user": bob.user_id})
    await bob.ok("people:stay", {"user": ann.user_id})
    await ann.ok("people:stay", {"user": dan.user_id})
    assert await lists(ann) == {"people": ["Bob"], "asked": [], "asking": ["Dan"]}
    assert [name for name, *_ in await met(ann)] == ["Cleo"]

    for blocked in (bob, cleo, dan):
        await ann.ok("user:block", {"user": blocked.user_id, "on": True})
    assert await lists(ann) == {"people": [], "asked": [], "asking": []}
    assert await met(ann) == []
    # Nor is the blocker in theirs: Bob's contact and Cleo's meeting are gone too.
    assert (await lists(bob))["people"] == []
    assert await met(cleo) == [("Bob", "camera", "Coffee")]
    # Unblocked, they are back.
    await ann.ok("user:block", {"user": bob.user_id, "on": False})
    assert (await lists(ann))["people"] == ["Bob"]


async def test_withdrawing_and_asking_again_does_not_tell_twice(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    await ann.ok("people:stay", {"user": bob.user_id})
    await bob.wait("people:asked")
    for _ in range(3):
        await ann.ok("people:remove", {"user": bob.user_id})
        await bob.wait("people:removed")
        await ann.ok("people:stay", {"user": bob.user_id})
    # Cleo's request comes after: what Bob heard by then is all he hears of Ann's.
    await cleo.ok("people:stay", {"user": bob.user_id})
    await bob.wait("people:asked", lambda e: e["person"]["user"]["id"] == cleo.user_id)
    assert not bob.events("people:asked")
    # The request is there all the same, on his list.
    assert (await lists(bob))["asked"] == ["Cleo", "Ann"]


async def test_every_list_shows_a_public_headline(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await bob.ok("profile:set", {"headline": "Web designer"})
    await ann.ok("profile:set", {"headline": "Baker", "public": []})  # kept to herself
    await bob.ok("people:stay", {"user": ann.user_id})
    assert (await ann.wait("people:asked"))["person"]["headline"] == "Web designer"
    assert (await ann.ok("people:list"))["asked"][0]["headline"] == "Web designer"
    assert (await bob.ok("people:list"))["asking"][0]["headline"] == ""
    await ann.ok("people:stay", {"user": bob.user_id})
    assert (await ann.wait("people:met"))["person"]["headline"] == "Web designer"
