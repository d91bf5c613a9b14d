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
