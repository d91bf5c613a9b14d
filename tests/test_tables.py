"""Tables: breakout tables in workshops and speed-networking rounds, as the people at them
notice them: who sits with whom, what they can see and say there, and the server's clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .support.client import Client
from .support.servers import Running

FAST = {"round_min_seconds": 1, "break_min_seconds": 1, "tables_tick": 0.05}


@pytest.fixture
async def fast(start_server, settings) -> Running:
    """A server whose rounds and breaks may last a second."""
    return await start_server(settings, **FAST)


async def coffee(server: Running, connect, *names: str) -> tuple[str, list[Client]]:
    clients = [await connect(server.url, name) for name in names]
    room = (await clients[0].ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]
    for client in clients:
        joined = await client.ok("room:join", {"room": room["id"]})
        assert joined["tables"]["sitting"] is None and joined["tables"]["series"] is None
    return room["id"], clients


def seats(view: dict[str, Any]) -> dict[str, list[str]]:
    """Table id -> the user ids seated there."""
    return {t["id"]: sorted(u["id"] for u in t["seats"]) for t in view["sitting"]["tables"]}


def table_of(view: dict[str, Any], user: str) -> str | None:
    return next((table for table, users in seats(view).items() if user in users), None)


def pairs(view: dict[str, Any]) -> set[frozenset[str]]:
    return {
        frozenset(pair)
        for users in seats(view).values()
        for pair in itertools.combinations(users, 2)
    }


def fewest_repeats(people: list[str], sizes: list[int], met: set[frozenset[str]]) -> int:
    """The fewest pairs who met before any seating of ``people`` at ``sizes`` can have."""
    best = len(people) ** 2

    def go(rest: list[str], left: list[int], repeats: int) -> None:
        nonlocal best
        if not left:
            best = min(best, repeats)
            return
        for group in itertools.combinations(rest, left[0]):
            again = sum(frozenset(p) in met for p in itertools.combinations(group, 2))
            go([p for p in rest if p not in group], left[1:], repeats + again)

    go(people, sizes, 0)
    return best


async def round_view(client: Client, room: str, number: int) -> dict[str, Any]:
    event = await client.wait(
        "tables",
        lambda e: (
            e["room"] == room
            and (s := e["state"]["series"]) is not None
            and s["phase"] == "round"
            and s["round"] == number
            and e["state"]["sitting"] is not None
        ),
        within=15,
    )
    return dict(event["state"])


async def test_five_people_run_three_rounds_of_pairs_and_meet_new_people_each_round(
    fast: Running, connect
) -> None:
    room, people = await coffee(fast, connect, "Ann", "Bob", "Cyd", "Dee", "Eve")
    ann, others = people[0], people[1:]
    started = await ann.ok(
        "rounds:start",
        {"room": room, "size": 2, "round_seconds": 2, "rounds": 3, "break_seconds": 1},
    )
    assert started["tables"]["series"]["phase"] == "gathering"
    assert [u["name"] for u in started["tables"]["series"]["participants"]] == ["Ann"]
    for person in others:
        await person.ok("rounds:join", {"room": room})
    ids = sorted(p.user_id for p in people)
    met: set[frozenset[str]] = set()
    for number in (1, 2, 3):
        views = [await round_view(p, room, number) for p in people]
        view = views[0]
        assert all(seats(v) == seats(view) for v in views)  # everybody sees the same tables
        # Everybody at exactly one table; an odd one out makes a table of three.
        assert sorted(u for users in seats(view).values() for u in users) == ids
        assert sorted(len(users) for users in seats(view).values()) == [2, 3]
        assert len(pairs(view) & met) == fewest_repeats(ids, [3, 2], met)
        met |= pairs(view)
        # Each person joins their own table, sees who sits there, and cannot join another.
        for person in people:
            mine = table_of(view, person.user_id)
            assert mine is not None
            joined = await person.ok("room:join", {"room": mine})
            assert joined["room"]["kind"] == "table" and joined["room"]["parent"] == room
            assert joined["media"]["mode"] == "mesh"
            other = next(t for t in seats(view) if t != mine)
            refused = await person.call("room:join", {"room": other})
            assert refused["error"] == {
                "code": "forbidden",
                "message": "you are not seated at this table",
            }
        # A table's chat reaches its people only.
        mine = table_of(view, ann.user_id)
        text = {"room": mine, "text": f"hello round {number}", "client_msg_id": f"r{number}"}
        said = (await ann.ok("chat:send", text))["message"]
        for person in people[1:]:
            if table_of(view, person.user_id) == mine:
                got = await person.wait("chat:message", lambda m, t=mine: m["room"] == t)
                assert got["id"] == said["id"]
        # "30 seconds left" comes at half a short round, then everybody is sent back.
        warning = await ann.wait("tables:warning", lambda e: e["room"] == room, within=15)
        assert warning["seconds"] == 1
        for person in people:
            gone = table_of(view, person.user_id)
            removed = await person.wait("room:removed", lambda e, t=gone: e["room"] == t, within=15)
            assert removed["reason"] == "table_closed"
        # Nobody received a message of a table they did not sit at.
        for person in people:
            if table_of(view, person.user_id) != mine:
                assert all(m["room"] != mine for m in person.events("chat:message"))
    done = await ann.wait("tables", lambda e: e["state"]["series"]["phase"] == "done", within=15)
    assert done["state"]["sitting"] is None
    assert {frozenset(u["id"] for u in t["seats"]) for t in done["state"]["series"]["last"]}


async def test_staying_in_touch_needs_both_and_tells_nobody_who_did_not_ask(
    fast: Running, connect
) -> None:
    room, (ann, bob) = await coffee(fast, connect, "Ann", "Bob")
    await ann.ok(
        "rounds:start",
        {"room": room, "round_seconds": 1, "rounds": 1, "break_seconds": 1},
    )
    refused = await ann.call("people:stay", {"user": bob.user_id})
    assert refused["error"]["code"] == "forbidden"  # not yet sat together
    await bob.ok("rounds:join", {"room": room})
    await ann.wait("tables", lambda e: e["state"]["series"]["phase"] == "done", within=15)

    assert (await ann.ok("people:stay", {"user": bob.user_id})) == {"ok": True}
    assert (await ann.ok("people:list"))["people"] == []
    assert not bob.events("people:met")
    await bob.ok("people:stay", {"user": ann.user_id})
    met = (await ann.wait("people:met"))["person"]
    assert met["user"] == {"id": bob.user_id, "name": "Bob"}
    assert met["room"] == {"id": room, "title": "Coffee"}
    assert (await bob.wait("people:met"))["person"]["user"]["id"] == ann.user_id
    listed = (await bob.ok("people:list"))["people"]
    assert [p["user"]["name"] for p in listed] == ["Ann"]
