"""Tables across restarts and processes: ``python -m server`` restarted in the middle of a round
or while one falls due, killed during one, and a workshop's tables opened on one process for
guests on another.

Seats, timers and series live in the archive (docs/protocol.md, "Tables and speed networking"):
what the people notice is that nobody loses their seat, the clock goes on, and everybody sees
the same tables whichever process they are connected to.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .support import WAIT
from .support.client import Client
from .support.servers import Process
from .test_scale import Cluster, until
from .test_tables import fewest_repeats, pairs, round_view, seats, table_of

pytestmark = pytest.mark.slow

FAST = [
    "--round-min-seconds", "1", "--break-min-seconds", "1", "--tables-tick", "0.05",
    "--tables-rate", "1000", "--tables-burst", "1000",
]  # fmt: skip
ROUND = 10
"""Seconds of a round: long enough for a restart (or a failover) and everybody's return."""
EMBEDDED = ["--reconnect-grace", "2"]
"""A restarted server seats nobody for its reconnect grace: short, so rounds are not held up."""


@pytest.fixture
async def cluster(run_server, redis_server, postgres_server) -> Cluster:
    return Cluster(run_server, redis_server, await postgres_server.new_database())


async def stop(process: Process) -> None:
    """SIGTERM, as an operator does, and the process ends cleanly."""
    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
    try:
        await process.finish()
    except TimeoutError:
        raise AssertionError(f"did not stop on SIGTERM:\n{process.output}") from None
    assert process.proc.returncode == 0, process.output


async def restart(process: Process) -> None:
    """The same server again on the same port (as ``Cluster.restart``)."""
    await stop(process)
    await process.start()


async def coffee(people: list[Client]) -> str:
    room = (await people[0].ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]
    for person in people:
        await person.ok("room:join", {"room": room["id"]})
    return str(room["id"])


async def start_series(people: list[Client], room: str, rounds: int) -> None:
    await people[0].ok(
        "rounds:start",
        {"room": room, "size": 2, "round_seconds": ROUND, "rounds": rounds, "break_seconds": 1},
    )
    for person in people[1:]:
        await person.ok("rounds:join", {"room": room})


async def same_round(people: list[Client], room: str, number: int) -> dict[str, Any]:
    """Round ``number`` as everybody sees it; everybody sees the same tables."""
    views = [await round_view(person, room, number) for person in people]
    assert all(seats(v) == seats(views[0]) for v in views), views
    return views[0]


def assert_valid(view: dict[str, Any], ids: list[str], sizes: list[int]) -> None:
    """Everybody sits at exactly one table, and the tables have these sizes."""
    assert sorted(u for users in seats(view).values() for u in users) == sorted(ids)
    assert sorted(len(users) for users in seats(view).values()) == sizes


async def sit_down(people: list[Client], view: dict[str, Any], room: str) -> None:
    for person in people:
        table = table_of(view, person.user_id)
        assert table is not None
        joined = await person.ok("room:join", {"room": table})
        assert joined["room"]["kind"] == "table" and joined["room"]["parent"] == room


async def come_back(connect, url: str, before: Client, room: str) -> tuple[Client, dict]:
    """Reconnect as the same user (resume token) and rejoin the room: the new client and the
    ``tables`` of the join's ack."""
    client = await connect(url, before.session["user"]["name"], token=before.session["token"])
    assert client.user_id == before.user_id
    joined = await client.ok("room:join", {"room": room})
    return client, dict(joined["tables"])


async def chat_at_tables(people: list[Client], view: dict[str, Any], tag: str) -> None:
    """At every table, the first one seated says something and the others there receive it."""
    by_id = {p.user_id: p for p in people}
    for n, (table, users) in enumerate(seats(view).items()):
        speaker, *listeners = (by_id[u] for u in users)
        text = {"room": table, "text": f"{tag} {n}", "client_msg_id": f"{tag}{n}"}
        said = (await speaker.ok("chat:send", text))["message"]
        for listener in listeners:
            got = await listener.wait("chat:message", lambda m, i=said["id"]: m["id"] == i)
            assert got["room"] == table


async def back_in_room(people: list[Client], view: dict[str, Any], within: float) -> None:
    """Everybody is taken out of their table: the sitting ended."""
    for person in people:
        table = table_of(view, person.user_id)
        removed = await person.wait("room:removed", lambda e, t=table: e["room"] == t, within)
        assert removed["reason"] == "table_closed"


async def test_a_restart_in_the_middle_of_a_round_loses_nobodys_seat(
    run_server, connect, tmp_path: Path
) -> None:
    server = await run_server("--data-dir", str(tmp_path / "data"), *FAST, *EMBEDDED)
    names = ["Ann", "Bob", "Cyd", "Dee", "Eve"]
    people = [await connect(server.url, name) for name in names]
    room = await coffee(people)
    await start_series(people, room, rounds=3)
    ids = [p.user_id for p in people]

    first = await same_round(people, room, 1)
    assert_valid(first, ids, [2, 3])
    await sit_down(people, first, room)
    await back_in_room(people, first, within=ROUND + WAIT)

    second = await same_round(people, room, 2)
    assert_valid(second, ids, [2, 3])
    # Five at tables of two: the table of three makes one pair meet again, but no more.
    assert len(pairs(second) & pairs(first)) == fewest_repeats(ids, [3, 2], pairs(first)) == 1
    await sit_down(people, second, room)

    await restart(server)  # every connection is closed by the server as it stops
    returned = []
    for before in people:
        client, tables = await come_back(connect, server.url, before, room)
        returned.append(client)
        # Still round two, and their seat is where it was.
        assert tables["series"]["phase"] == "round" and tables["series"]["round"] == 2
        assert seats(tables) == seats(second)
    await sit_down(returned, second, room)
    await chat_at_tables(returned, second, "after the restart")

    # The restarted process's clock ends round two, and the series goes on to its end.
    await back_in_room(returned, second, within=ROUND + WAIT)
    third = await same_round(returned, room, 3)
    assert_valid(third, ids, [2, 3])
    done = await returned[0].wait(
        "tables", lambda e: e["state"]["series"]["phase"] == "done", within=ROUND + WAIT
    )
    assert done["state"]["sitting"] is None and done["state"]["series"]["round"] == 3


async def test_a_round_due_while_the_server_was_down_waits_for_its_people(
    run_server, connect, tmp_path: Path
) -> None:
    # Embedded presence starts empty: the restarted server must let people come back first.
    grace = ["--reconnect-grace", "5"]
    server = await run_server("--data-dir", str(tmp_path / "data"), *FAST, *grace)
    names = ["Ann", "Bob", "Cyd", "Dee"]
    people = [await connect(server.url, name) for name in names]
    room = await coffee(people)
    await start_series(people, room, rounds=1)
    due = people[0].events("tables")[-1]["state"]["series"]["phase_ends_at"]

    await stop(server)

    async def passed() -> bool:
        return time.time() * 1000 > due

    await until(passed, "the first round due while the server is down")
    await server.start()
    returned = []
    for before in people:
        client, tables = await come_back(connect, server.url, before, room)
        returned.append(client)
        assert tables["series"]["phase"] == "gathering"  # not over for want of people
    first = await same_round(returned, room, 1)
    assert_valid(first, [p.user_id for p in people], [2, 2])


async def test_a_killed_process_loses_no_seat_and_the_other_keeps_the_time(
    cluster: Cluster, connect
) -> None:
    flags = [*cluster.flags(), *FAST]
    one = await cluster.run_server(*flags)
    two = await cluster.run_server(*flags)
    places = [one, two, one, two]
    people = [
        await connect(p.url, name)
        for p, name in zip(places, ["Ann", "Bob", "Cyd", "Dee"], strict=True)
    ]
    room = await coffee(people)
    await start_series(people, room, rounds=2)
    ids = [p.user_id for p in people]

    # Members of both processes see the same tables in the same round, and meet there.
    first = await same_round(people, room, 1)
    assert_valid(first, ids, [2, 2])
    await sit_down(people, first, room)
    await chat_at_tables(people, first, "hello")

    await one.kill()
    # Those who were on the dead process come back through the other one, to the same seat.
    now: list[Client] = []
    for person, place in zip(people, places, strict=True):
        if place is two:
            now.append(person)
            continue
        client, tables = await come_back(connect, two.url, person, room)
        assert tables["series"]["phase"] == "round" and tables["series"]["round"] == 1
        assert seats(tables) == seats(first)
        now.append(client)
    await sit_down([p for p, place in zip(now, places, strict=True) if place is one], first, room)
    await chat_at_tables(now, first, "still here")

    # The surviving process ends the round (not before its time) and starts the next one.
    await back_in_room(now, first, within=ROUND + WAIT)
    pause = await now[0].wait(
        "tables", lambda e: e["state"]["series"]["phase"] == "break", within=ROUND + WAIT
    )
    assert pause["state"]["sitting"] is None
    assert pause["state"]["series"]["phase_ends_at"] - 1000 >= first["sitting"]["ends_at"]
    second = await same_round(now, room, 2)
    assert_valid(second, ids, [2, 2])
    assert not pairs(second) & pairs(first)
    await sit_down(now, second, room)
    await back_in_room(now, second, within=ROUND + WAIT)
    done = await now[0].wait(
        "tables", lambda e: e["state"]["series"]["phase"] == "done", within=ROUND + WAIT
    )
    assert done["state"]["series"]["round"] == 2


async def test_a_workshops_tables_reach_guests_on_another_process(
    cluster: Cluster, connect
) -> None:
    one, two = await cluster.start(2)
    host = await connect(one.url, "Host")
    created = await host.ok("room:create", {"title": "Workshop", "kind": "workshop"})
    room = created["room"]["id"]
    await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    guests = [await connect(two.url, name) for name in ["Ann", "Bob", "Cyd", "Dee"]]
    for guest in guests:
        joined = await guest.ok("room:join", {"room": room})
        assert joined["tables"]["sitting"] is None

    opened = (await host.ok("tables:open", {"room": room, "size": 2}))["tables"]
    assert_valid(opened, [g.user_id for g in guests], [2, 2])  # the host visits, unseated
    for guest in guests:
        told = await guest.wait("tables", lambda e: e["state"]["sitting"] is not None)
        assert seats(told["state"]) == seats(opened)
    await sit_down(guests, opened, room)
    await chat_at_tables(guests, opened, "hi")
    # The host, on the other process, visits a table and is heard there.
    visited = table_of(opened, guests[0].user_id)
    await host.ok("room:join", {"room": visited})
    said = await host.ok(
        "chat:send", {"room": visited, "text": "how is it going?", "client_msg_id": "h1"}
    )
    for guest in guests:
        if table_of(opened, guest.user_id) == visited:
            got = await guest.wait("chat:message", lambda m: m["id"] == said["message"]["id"])
            assert got["text"] == "how is it going?"

    closed = (await host.ok("tables:close", {"room": room}))["tables"]
    assert closed["sitting"] is None
    await back_in_room(guests, opened, within=WAIT)
    for guest in guests:
        told = await guest.wait("tables", lambda e: e["state"]["sitting"] is None)
        assert told["room"] == room
    refused = await guests[0].call(
        "chat:send", {"room": visited, "text": "still there?", "client_msg_id": "late"}
    )
    assert refused["error"]["code"] == "forbidden"
