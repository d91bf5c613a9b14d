"""Profiles and "who is here" with real clients, on SQLite and PostgreSQL: what one sets, what
others see of it, the headline beside names, bad input, and ``online:list`` leaving out the
invisible, on one process and across two."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from server.config import Settings

from .support.client import Client
from .support.servers import Running

FULL = {
    "headline": "Builds solar microgrids",
    "organisation": "Sunny Co-op",
    "link": "https://sunny.example.org/about",
    "about": "Ask me about batteries.\nAnd about bikes.",
}


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server  # each test on SQLite, then PostgreSQL


@pytest.fixture
def backend() -> str:
    return "memory"  # the archive matters here; the two-process test sets Redis


async def error(client: Client, event: str, payload: Any) -> tuple[str, str]:
    ack = await client.call(event, payload)
    assert ack["ok"] is False, ack
    return ack["error"]["code"], ack["error"]["message"]


async def profile(client: Client, user: str) -> dict[str, Any]:
    return dict((await client.ok("profile:get", {"user": user}))["profile"])


async def test_one_sets_a_profile_and_others_see_only_its_public_fields(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    empty = await profile(bob, ann.user_id)
    assert empty == {
        "user": {"id": ann.user_id, "name": "Ann"},
        "headline": "",
        "organisation": "",
        "link": "",
        "about": "",
        "public": None,
        "invisible": None,
    }
    mine = (await ann.ok("profile:set", {**FULL, "public": ["headline", "link"]}))["profile"]
    assert mine == {
        "user": {"id": ann.user_id, "name": "Ann"},
        **FULL,
        "public": ["headline", "link"],
        "invisible": False,
    }
    assert await profile(ann, ann.user_id) == mine
    seen = await profile(bob, ann.user_id)
    assert (seen["headline"], seen["link"]) == (FULL["headline"], FULL["link"])
    # Hidden fields read as empty: Bob cannot tell that Ann filled them in.
    assert (seen["organisation"], seen["about"], seen["public"]) == ("", "", None)
    # A new connection (another tab) finds it stored.
    again = await connect(server.url, "Ann", token=ann.session["token"])
    assert await profile(again, ann.user_id) == mine


async def test_a_partial_update_keeps_the_fields_left_out_and_empty_clears(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    await ann.ok("profile:set", FULL)
    after = (await ann.ok("profile:set", {"headline": "  Now: wind  ", "about": ""}))["profile"]
    assert after["headline"] == "Now: wind"  # trimmed
    assert after["about"] == ""
    assert (after["organisation"], after["link"]) == (FULL["organisation"], FULL["link"])
    assert after["public"] == ["headline", "organisation", "link", "about"]  # the default
    assert (await ann.ok("profile:set", {}))["profile"] == after


BAD: dict[str, tuple[dict[str, Any], str, str]] = {
    "headline 81 characters": (
        {"headline": "h" * 81},
        "too_large",
        "headline must be at most 80 characters",
    ),
    "organisation 81 characters": (
        {"organisation": "o" * 81},
        "too_large",
        "organisation must be at most 80 characters",
    ),
    "about 501 characters": (
        {"about": "a" * 501},
        "too_large",
        "about must be at most 500 characters",
    ),
    "link 201 characters": (
        {"link": "https://e.org/" + "x" * 187},
        "too_large",
        "link must be at most 200 characters",
    ),
    "a huge headline": (
        {"headline": "h" * 100_000},
        "bad_request",
        "headline: expected str of length <= 320",
    ),
    "a javascript: link": (
        {"link": "javascript:alert(1)"},
        "bad_request",
        "link must start with https:// or http://",
    ),
    "a JavaScript: link with slashes": (
        {"link": "JavaScript://%0aalert(1)"},
        "bad_request",
        "link must start with https:// or http://",
    ),
    "a data: link": (
        {"link": "data:text/html,<script>alert(1)</script>"},
        "bad_request",
        "link must start with https:// or http://",
    ),
    "an ftp link": (
        {"link": "ftp://e.org"},
        "bad_request",
        "link must start with https:// or http://",
    ),
    "a link without a host": (
        {"link": "https:///etc/passwd"},
        "bad_request",
        "link must be a web address such as https://example.org",
    ),
    "a link with a space": (
        {"link": "https://e.org/a b"},
        "bad_request",
        "link must be a web address such as https://example.org",
    ),
    "a headline with a newline": (
        {"headline": "a\nb"},
        "bad_request",
        "headline must not contain control characters",
    ),
    "an organisation with a bidi override": (
        {"organisation": "a\u202eb"},
        "bad_request",
        "organisation must not contain control characters",
    ),
    "about with a NUL": (
        {"about": "a\x00b"},
        "bad_request",
        "about must not contain control characters",
    ),
    "a headline with half an emoji": (
        {"headline": "\ud83d"},
        "bad_request",
        "payload must be valid Unicode (it holds a lone surrogate)",
    ),
    "headline a number": ({"headline": 5}, "bad_request", "headline: expected str, got int"),
    "headline null": ({"headline": None}, "bad_request", "headline: expected str, got null"),
    "public a string": ({"public": "headline"}, "bad_request", "public: expected array, got str"),
    "public an unknown field": (
        {"public": ["phone"]},
        "bad_request",
        "public[0]: invalid enum value 'phone'",
    ),
    "invisible a string": (
        {"invisible": "yes"},
        "bad_request",
        "invisible: expected bool, got str",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_profiles_are_refused_with_a_clear_error_and_change_nothing(
    server: Running, connect, case: str
) -> None:
    ann = await connect(server.url, "Ann")
    await ann.ok("profile:set", FULL)
    payload, code, message = BAD[case]
    assert await error(ann, "profile:set", payload) == (code, message)
    assert {k: v for k, v in (await profile(ann, ann.user_id)).items() if k in FULL} == FULL


async def test_profile_get_of_nobody_and_headlines_of_many(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cy = await connect(server.url, "Cy")
    assert await error(ann, "profile:get", {"user": "u000000000000"}) == (
        "not_found",
        "no such user",
    )
    assert await error(ann, "profile:get", {"user": "no good"}) == (
        "bad_request",
        "user: expected str matching regex '^[A-Za-z0-9_-]+$'",
    )
    await bob.ok("profile:set", {"headline": "Bakes bread"})
    await cy.ok("profile:set", {"headline": "Secret", "public": ["about"]})
    users = [ann.user_id, bob.user_id, cy.user_id, "u000000000000"]
    got = await ann.ok("profile:headlines", {"users": users})
    assert got["headlines"] == {bob.user_id: "Bakes bread"}
    too_many = {"users": [f"u{i}" for i in range(101)]}
    assert (await error(ann, "profile:headlines", too_many))[0] == "bad_request"


async def test_the_room_hears_a_new_headline_at_once(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    await ann.ok("profile:set", {"headline": "Plants trees"})
    changed = await bob.wait("profile:changed")
    assert changed == {"room": "lobby", "user": ann.user_id, "headline": "Plants trees"}
    await ann.ok("profile:set", {"public": []})  # hidden: the others no longer show it
    assert (await bob.wait("profile:changed"))["headline"] == ""


async def online(client: Client) -> dict[str, dict[str, Any]]:
    listed = await client.ok("online:list")
    assert listed["more"] is False
    return {person["user"]["name"]: person for person in listed["people"]}


async def test_who_is_here_lists_the_public_rooms_people_but_not_the_invisible(
    server: Running, connect
) -> None:
    ann, bob, cy, dee = [await connect(server.url, n) for n in ("Ann", "Bob", "Cy", "Dee")]
    talk = (await bob.ok("room:create", {"title": "Talk", "kind": "open"}))["room"]["id"]
    hidden = await dee.ok("room:create", {"title": "Ours", "kind": "open", "private": True})
    for client, room in ((ann, "lobby"), (bob, talk), (bob, "lobby"), (cy, "lobby")):
        await client.ok("room:join", {"room": room})
    await dee.ok("room:join", {"room": hidden["room"]["id"]})
    await bob.ok("profile:set", {"headline": "Fixes bikes"})
    await cy.ok("profile:set", {"headline": "Hiding", "invisible": True})
    here = await online(ann)
    # Ann is not shown herself, Cy chose to be invisible, Dee is only in a private room.
    assert set(here) == {"Bob"}
    assert here["Bob"] == {
        "user": {"id": bob.user_id, "name": "Bob"},
        "headline": "Fixes bikes",
        "rooms": [{"id": talk, "title": "Talk"}, {"id": "lobby", "title": "Lobby"}],
    }
    # Invisible people are still in the member list of the room they joined, as before.
    joined = await dee.ok("room:join", {"room": "lobby"})
    assert "Cy" in {m["name"] for m in joined["members"]}
    await cy.ok("profile:set", {"invisible": False})
    assert set(await online(ann)) == {"Bob", "Cy", "Dee"}
    assert (await online(ann))["Cy"]["headline"] == "Hiding"


@pytest.mark.parametrize("backend", ["redis"])
async def test_who_is_here_counts_people_on_another_process(
    start_server: Callable[..., Awaitable[Running]], settings: Settings, connect
) -> None:
    one = await start_server(settings)
    two = await start_server(dataclasses.replace(settings))
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("profile:set", {"headline": "On the other process"})
    await bob.ok("room:join", {"room": "lobby"})
    here = await online(ann)
    assert here["Bob"]["headline"] == "On the other process"
    assert here["Bob"]["rooms"] == [{"id": "lobby", "title": "Lobby"}]
