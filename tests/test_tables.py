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


async def test_staying_in_touch_after_a_round_remembers_the_table_and_needs_both(
    fast: Running, connect
) -> None:
    room, (ann, bob) = await coffee(fast, connect, "Ann", "Bob")
    await ann.ok(
        "rounds:start",
        {"room": room, "round_seconds": 1, "rounds": 1, "break_seconds": 1},
    )
    await bob.ok("rounds:join", {"room": room})
    await ann.wait("tables", lambda e: e["state"]["series"]["phase"] == "done", within=15)

    assert (await ann.ok("people:stay", {"user": bob.user_id})) == {"ok": True}
    # Bob is asked, and learns where they met; nobody is in touch yet.
    asked = (await bob.wait("people:asked"))["person"]
    assert asked["room"] == {"id": room, "title": "Coffee"}
    assert (await ann.ok("people:list"))["people"] == []
    assert not bob.events("people:met")
    await bob.ok("people:stay", {"user": ann.user_id})
    met = (await ann.wait("people:met"))["person"]
    assert met["user"] == {"id": bob.user_id, "name": "Bob"}
    assert met["room"] == {"id": room, "title": "Coffee"}
    assert (await bob.wait("people:met"))["person"]["user"]["id"] == ann.user_id
    listed = (await bob.ok("people:list"))["people"]
    assert [p["user"]["name"] for p in listed] == ["Ann"]


async def workshop(server: Running, connect, *guests: str) -> tuple[str, Client, list[Client]]:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Pricing", "kind": "workshop"})
    room = created["room"]["id"]
    await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    clients = [await connect(server.url, name) for name in guests]
    for guest in clients:
        await guest.ok("room:join", {"room": room})
    return room, host, clients


async def test_a_workshop_of_nine_splits_into_tables_of_three_and_is_recalled(
    server: Running, connect
) -> None:
    names = ["Ada", "Ben", "Cat", "Dan", "Eli", "Fay", "Gil", "Hal", "Ida"]
    room, host, guests = await workshop(server, connect, *names)
    opened = (await host.ok("tables:open", {"room": room, "size": 3}))["tables"]
    tables = seats(opened)
    assert sorted(len(users) for users in tables.values()) == [3, 3, 3]
    # Everybody but the host is seated, once; the host visits.
    assert sorted(u for users in tables.values() for u in users) == sorted(
        g.user_id for g in guests
    )
    for guest in guests:
        view = (await guest.wait("tables", lambda e: e["state"]["sitting"] is not None))["state"]
        mine = table_of(view, guest.user_id)
        assert mine is not None
        joined = await guest.ok("room:join", {"room": mine})
        assert {m["id"] for m in joined["members"]} <= set(tables[mine])
        # Guests may use their camera at their table, though not on the workshop's stage.
        await guest.ok("media:state", {"room": mine, "camera": True, "mic": True})
    ada, ben = guests[0], guests[1]
    theirs = table_of(opened, ada.user_id)
    elsewhere = next(t for t in tables if t != theirs)
    refused = await ada.call("room:join", {"room": elsewhere})
    assert refused["error"]["code"] == "forbidden"
    refused = await ada.call("chat:history", {"room": elsewhere})
    assert refused["error"]["code"] == "forbidden"
    refused = await ada.call("tables:move", {"room": room, "user": ben.user_id, "table": None})
    assert refused["error"]["code"] == "forbidden"
    # The host visits any table, and talks to every table at once.
    visit = await host.ok("room:join", {"room": elsewhere})
    assert visit["room"]["kind"] == "table"
    await host.ok("tables:notice", {"room": room, "text": "Five more minutes"})
    for guest in guests:
        notice = await guest.wait("tables:notice")
        assert (notice["text"], notice["by"]["name"]) == ("Five more minutes", "Host")
    # Recall: everybody back in the main room, the host's visit ended too.
    closed = (await host.ok("tables:close", {"room": room}))["tables"]
    assert closed["sitting"] is None
    for guest in guests:
        removed = await guest.wait("room:removed", lambda e: e["reason"] == "table_closed")
        assert removed["room"] == table_of(opened, guest.user_id)
    assert (await host.wait("room:removed"))["room"] == elsewhere
    # What was said at a table stays readable for who sat there, not for anybody else.
    back = await ada.ok("room:join", {"room": theirs})
    assert back["room"]["id"] == theirs
    said = await ada.call("chat:send", {"room": theirs, "text": "too late", "client_msg_id": "x"})
    assert said["error"] == {"code": "forbidden", "message": "this table has closed"}
    stranger = next(g for g in guests if g.user_id not in tables[theirs])
    refused = await stranger.call("room:join", {"room": theirs})
    assert refused["error"]["code"] == "forbidden"


async def test_a_host_moves_people_places_late_joiners_and_guests_can_choose(
    server: Running, connect
) -> None:
    room, host, (ada, ben, cat) = await workshop(server, connect, "Ada", "Ben", "Cat")
    opened = (await host.ok("tables:open", {"room": room, "tables": 2, "assign": "manual"}))[
        "tables"
    ]
    first, second = [t["id"] for t in opened["sitting"]["tables"]]
    assert all(not users for users in seats(opened).values())  # nobody seated yet
    moved = (await host.ok("tables:move", {"room": room, "user": ada.user_id, "table": first}))[
        "tables"
    ]
    assert seats(moved)[first] == [ada.user_id]
    await ada.ok("room:join", {"room": first})
    # Moved to the other table: out of the first at once, in the second after a join.
    await host.ok("tables:move", {"room": room, "user": ada.user_id, "table": second})
    removed = await ada.wait("room:removed")
    assert (removed["room"], removed["reason"]) == (first, "table_moved")
    assert (await ada.call("room:join", {"room": first}))["error"]["code"] == "forbidden"
    await ada.ok("room:join", {"room": second})
    # Somebody who arrives late lands in the main room, and the host seats them.
    dee = await connect(server.url, "Dee")
    joined = await dee.ok("room:join", {"room": room})
    assert table_of(joined["tables"], dee.user_id) is None
    await host.ok("tables:move", {"room": room, "user": dee.user_id, "table": second})
    await dee.ok("room:join", {"room": second})
    # Back to the main room.
    await host.ok("tables:move", {"room": room, "user": dee.user_id, "table": None})
    assert (await dee.wait("room:removed"))["reason"] == "table_moved"
    # Guests may not choose at tables the host fills.
    refused = await ben.call("tables:choose", {"room": room, "table": first})
    assert refused["error"] == {
        "code": "forbidden",
        "message": "the host seats people at these tables",
    }
    await host.ok("tables:close", {"room": room})

    chosen = (await host.ok("tables:open", {"room": room, "size": 2, "assign": "choose"}))["tables"]
    assert chosen["sitting"]["size"] == 2
    table = chosen["sitting"]["tables"][0]["id"]
    await ben.ok("tables:choose", {"room": room, "table": table})
    await cat.ok("tables:choose", {"room": room, "table": table})
    full = await ada.call("tables:choose", {"room": room, "table": table})
    assert full["error"] == {"code": "bad_request", "message": "that table is full"}
    await ben.ok("room:join", {"room": table})


async def test_somebody_who_drops_comes_back_to_their_table(server: Running, connect) -> None:
    room, host, (ada, ben) = await workshop(server, connect, "Ada", "Ben")
    opened = (await host.ok("tables:open", {"room": room, "tables": 1}))["tables"]
    (table,) = seats(opened)
    await ada.ok("room:join", {"room": table})
    token = ada.session["token"]
    await ada.drop()
    again = await connect(server.url, "Ada", token=token)
    joined = await again.ok("room:join", {"room": room})
    assert table_of(joined["tables"], again.user_id) == table
    await again.ok("room:join", {"room": table})
    said = await again.ok("chat:send", {"room": table, "text": "back", "client_msg_id": "b"})
    await ben.ok("room:join", {"room": table})
    history = (await ben.ok("chat:history", {"room": table}))["messages"]
    assert [m["id"] for m in history] == [said["message"]["id"]]


@pytest.mark.parametrize("backend", ["memory"])
async def test_bad_table_requests_get_a_clear_error_and_change_nothing(
    fast: Running, connect
) -> None:
    room, host, (ada, ben) = await workshop(fast, connect, "Ada", "Ben")
    bad = {
        "give tables or size": {"room": room},
        "tables must be 1 to 100": {"room": room, "tables": 101},
        "size must be 2 to 12": {"room": room, "size": 1},
        "seconds must be 1 to 14400": {"room": room, "tables": 2, "seconds": 14401},
    }
    for message, payload in bad.items():
        ack = await host.call("tables:open", payload)
        assert ack["error"] == {"code": "bad_request", "message": message}, payload
    ack = await host.call("tables:open", {"room": room, "tables": "two"})
    assert ack["error"]["code"] == "bad_request"
    ack = await host.call("tables:move", {"room": room, "user": ada.user_id, "table": None})
    assert ack["error"] == {"code": "bad_request", "message": "no tables are open here"}
    opened = (await host.ok("tables:open", {"room": room, "tables": 2}))["tables"]
    again = await host.call("tables:open", {"room": room, "tables": 2})
    assert again["error"] == {"code": "bad_request", "message": "tables are already open here"}
    series = await host.call("rounds:start", {"room": room})
    assert series["error"] == {"code": "bad_request", "message": "tables are already open here"}
    unknown = await host.call("tables:move", {"room": room, "user": ada.user_id, "table": "nope"})
    assert unknown["error"] == {"code": "not_found", "message": "no such table here"}
    await ben.ok("room:leave", {"room": room})
    await host.ok("tables:move", {"room": room, "user": ben.user_id, "table": None})
    gone = await host.call(
        "tables:move",
        {"room": room, "user": ben.user_id, "table": opened["sitting"]["tables"][0]["id"]},
    )
    assert gone["error"] == {"code": "not_found", "message": "that user is not in this room"}
    # The tables are as they were after the last change that succeeded.
    now = (await ada.ok("room:join", {"room": room}))["tables"]
    assert seats(now) == {
        t: [u for u in users if u != ben.user_id] for t, users in seats(opened).items()
    }

    made = await host.call("room:create", {"title": "My table", "kind": "table"})
    assert made["error"] == {
        "code": "bad_request",
        "message": "tables are made with tables:open and rounds:start",
    }

    coffee_room, (cy, dee) = await coffee(fast, connect, "Cy", "Dee")
    for payload, message in [
        ({"size": 5}, "size must be 2, 3 or 4"),
        ({"round_seconds": 0}, "round_seconds must be 1 to 3600"),
        ({"rounds": 21}, "rounds must be 1 to 20"),
        ({"break_seconds": 601}, "break_seconds must be 1 to 600"),
    ]:
        ack = await cy.call("rounds:start", {"room": coffee_room, **payload})
        assert ack["error"] == {"code": "bad_request", "message": message}
    await cy.ok("rounds:start", {"room": coffee_room, "round_seconds": 60})
    twice = await dee.call("rounds:start", {"room": coffee_room})
    assert twice["error"] == {"code": "bad_request", "message": "a round series is running here"}
    refused = await dee.call("rounds:stop", {"room": coffee_room})
    assert refused["error"] == {
        "code": "forbidden",
        "message": "only who started the series can stop it",
    }
    assert (await cy.call("people:stay", {"user": cy.user_id}))["error"]["code"] == "bad_request"
    stopped = (await cy.ok("rounds:stop", {"room": coffee_room}))["tables"]
    assert stopped["series"]["phase"] == "done"
    late = await dee.call("rounds:join", {"room": coffee_room})
    assert late["error"] == {"code": "bad_request", "message": "no round series is running here"}


async def test_a_removed_guest_loses_their_seat_and_an_ended_workshop_ends_its_tables(
    server: Running, connect
) -> None:
    room, host, (ada, ben, cat) = await workshop(server, connect, "Ada", "Ben", "Cat")
    opened = (await host.ok("tables:open", {"room": room, "tables": 1}))["tables"]
    (table,) = seats(opened)
    for guest in (ada, ben, cat):
        await guest.ok("room:join", {"room": table})
    await host.ok("member:remove", {"room": room, "user": ada.user_id})
    gone = [e["room"] for e in [await ada.wait("room:removed"), await ada.wait("room:removed")]]
    assert sorted(gone) == sorted([room, table])
    view = await ben.wait("tables", lambda e: ada.user_id not in seats(e["state"])[table])
    assert seats(view["state"])[table] == sorted([ben.user_id, cat.user_id])
    refused = await ada.call("room:join", {"room": table})
    assert refused["error"] == {"code": "forbidden", "message": "a host removed you from this room"}

    await host.ok("workshop:end", {"room": room})
    for guest in (ben, cat):
        ended = await guest.wait("room:removed", lambda e: e["room"] == table)
        assert ended["reason"] == "ended"


@pytest.mark.parametrize("backend", ["memory"])
async def test_six_people_in_pairs_meet_all_five_others_in_five_rounds(
    fast: Running, connect
) -> None:
    # One round at a time cannot promise this (after three rounds the pairs left may form two
    # triangles); the series plans its rounds ahead while the group stays the same.
    room, people = await coffee(fast, connect, "Ann", "Bob", "Cyd", "Dee", "Eve", "Fox")
    await people[0].ok(
        "rounds:start", {"room": room, "round_seconds": 1, "rounds": 5, "break_seconds": 1}
    )
    for person in people[1:]:
        await person.ok("rounds:join", {"room": room})
    met: set[frozenset[str]] = set()
    for number in range(1, 6):
        view = await round_view(people[0], room, number)
        assert sorted(len(users) for users in seats(view).values()) == [2, 2, 2]
        assert not pairs(view) & met, f"round {number} repeats a pair"
        met |= pairs(view)
    assert len(met) == 15  # everybody met everybody
