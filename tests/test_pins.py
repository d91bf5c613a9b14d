"""Pinned messages in every room (docs/protocol.md, "chat:pin"): who pins, the cap, pins as
changes that reach the room once, the list of pins, the audit log and ``is:pinned``.

Pins live in the archive, so every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses

import pytest

from server.archive.changes import PINS_MAX
from server.config import Settings

from .support.client import Client
from .support.servers import Running
from .test_moderation import error, looked_after, say

pytestmark = [
    pytest.mark.parametrize("archive", ["sqlite", "postgres"]),
    pytest.mark.parametrize("backend", ["memory"]),
]


@pytest.fixture
async def settings(settings: Settings, archive: str, request: pytest.FixtureRequest) -> Settings:
    if archive == "postgres":
        url = await request.getfixturevalue("postgres_server").new_database()
        return dataclasses.replace(settings, database_url=str(url))
    return settings


def pin(room: str, seq: int, on: bool = True) -> dict:
    return {"room": room, "seq": seq, "on": on}


async def test_a_moderator_pins_in_a_coffee_room_and_everybody_sees_it(
    server: Running, connect
) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    first = await say(mem, room, "the agenda: https://example.org/a", "a")
    second = await say(olive, room, "coffee at ten", "c")
    pinned = (await mo.ok("chat:pin", pin(room, first["seq"])))["message"]
    assert pinned["pinned_by"] == {"id": mo.user_id, "name": "Mo"}
    assert pinned["pinned_at"] >= first["ts"] and pinned["rev"] == 1
    assert await mem.wait("chat:change", lambda m: m["seq"] == first["seq"]) == pinned
    await olive.ok("chat:pin", pin(room, second["seq"]))
    # Pinning a pinned message changes nothing: no revision, no event.
    again = await mo.ok("chat:pin", pin(room, first["seq"]))
    assert again["message"] == pinned
    # Newest pin first, for anybody in the room.
    listed = (await mem.ok("chat:pins", {"room": room}))["messages"]
    assert [m["text"] for m in listed] == ["coffee at ten", "the agenda: https://example.org/a"]
    unpinned = (await mo.ok("chat:pin", pin(room, first["seq"], on=False)))["message"]
    assert "pinned_at" not in unpinned and "pinned_by" not in unpinned
    assert (await mem.wait("chat:change", lambda m: m["rev"] == 3)) == unpinned
    assert [m["seq"] for m in (await mem.ok("chat:pins", {"room": room}))["messages"]] == [2]
    # The owner reads who pinned what; the owner's own pins are there too.
    log = (await olive.ok("audit:list", {"room": room}))["entries"]
    assert [(e["action"], e["by"]["name"], e["target"]["name"], e["seq"]) for e in log[:3]] == [
        ("unpin", "Mo", "Mem", 1),
        ("pin", "Olive", "Olive", 2),
        ("pin", "Mo", "Mem", 1),
    ]


async def test_a_member_cannot_pin_and_nobody_pins_what_is_gone(server: Running, connect) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    mine = await say(mem, room, "please pin me", "p")
    assert await error(mem, "chat:pin", pin(room, mine["seq"])) == (
        "forbidden",
        "chat:pin is not for a member in a coffee room",
    )
    assert await error(mo, "chat:pin", pin(room, 99)) == ("not_found", "no such message")
    await mo.ok("chat:pin", pin(room, mine["seq"]))
    # Deleted, a message is pinned no more, and cannot be pinned again.
    gone = (await mem.ok("chat:delete", {"room": room, "seq": mine["seq"]}))["message"]
    assert gone["deleted"] is True and "pinned_at" not in gone
    assert (await olive.ok("chat:pins", {"room": room}))["messages"] == []
    assert await error(mo, "chat:pin", pin(room, mine["seq"])) == (
        "bad_request",
        "a deleted message cannot be pinned",
    )
    # Somebody who is not in the room neither pins nor reads its pins.
    stranger = await connect(server.url, "Stranger")
    assert (await error(stranger, "chat:pins", {"room": room}))[0] == "forbidden"


async def test_a_room_holds_a_limited_number_of_pins(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    room = (await ann.ok("room:create", {"title": "Notes", "kind": "open"}))["room"]["id"]
    await ann.ok("room:join", {"room": room})
    for i in range(PINS_MAX + 1):
        await say(ann, room, f"note {i}", f"n{i}")
    for seq in range(1, PINS_MAX + 1):
        await ann.ok("chat:pin", pin(room, seq))
    assert await error(ann, "chat:pin", pin(room, PINS_MAX + 1)) == (
        "bad_request",
        f"a room holds at most {PINS_MAX} pinned messages",
    )
    # Unpinning one makes room for another.
    await ann.ok("chat:pin", pin(room, 1, on=False))
    await ann.ok("chat:pin", pin(room, PINS_MAX + 1))
    listed = (await ann.ok("chat:pins", {"room": room}))["messages"]
    assert len(listed) == PINS_MAX and listed[0]["seq"] == PINS_MAX + 1


async def test_both_people_of_a_dm_pin(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    await bob.ok("room:join", {"room": dm})
    await ann.ok("room:join", {"room": dm})
    sent = await say(ann, dm, "the address is 4 Elm St", "a")
    await bob.ok("chat:pin", pin(dm, sent["seq"]))
    told = await ann.wait("chat:change", lambda m: m["seq"] == sent["seq"])
    assert told["pinned_by"]["name"] == "Bob"


async def test_pins_made_while_away_arrive_once_on_return(server: Running, connect) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    for i in range(1, 4):
        await say(olive, room, f"point {i}", f"p{i}")
    token = mem.session["token"]
    held = (await mem.ok("chat:changes", {"room": room, "after": 0}))["rev"]
    await mem.drop()
    await mo.ok("chat:pin", pin(room, 1))
    await mo.ok("chat:pin", pin(room, 2))
    await olive.ok("chat:pin", pin(room, 1, on=False))
    await olive.ok("chat:pin", pin(room, 3))
    back = await connect(server.url, "Mem", token=token)
    joined = await back.ok("room:join", {"room": room})
    assert joined["rev"] == held + 4
    page = await back.ok("chat:changes", {"room": room, "after": held})
    # Each message once, as it is now.
    assert [(m["seq"], "pinned_at" in m) for m in page["messages"]] == [
        (2, True),
        (1, False),
        (3, True),
    ]
    assert page["rev"] == held + 4


async def test_is_pinned_finds_messages_pinned_in_an_open_room(
    start_server, settings: Settings, connect: object
) -> None:
    first = await start_server(settings)
    mia = await connect(first.url, "Mia")  # type: ignore[operator]
    token = mia.session["token"]
    await first.close()
    server = await start_server(settings, moderators=(mia.user_id,))
    mia = await connect(server.url, "Mia", token=token)  # type: ignore[operator]
    ned: Client = await connect(server.url, "Ned")  # type: ignore[operator]
    for client in (mia, ned):
        await client.ok("room:join", {"room": "lobby"})
    rules = await say(ned, "lobby", "house rules: be kind", "r")
    await say(ned, "lobby", "house party tonight", "h")
    await mia.ok("chat:pin", pin("lobby", rules["seq"]))
    found = (await ned.ok("search", {"query": "house is:pinned"}))["results"]
    assert [[m["text"] for m in group["messages"]] for group in found] == [["house rules: be kind"]]
    await mia.ok("chat:pin", pin("lobby", rules["seq"], on=False))
    assert (await ned.ok("search", {"query": "is:pinned"}))["results"] == []
