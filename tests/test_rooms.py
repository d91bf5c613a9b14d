"""Rooms: public and private, passcodes, workshop host keys, direct messages."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from server.app import APP_KEY

from .support import WAIT
from .support.servers import Running


async def test_a_public_room_is_listed_with_its_members(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    created = await ann.ok("room:create", {"title": "  Freelance designers ", "kind": "coffee"})
    room = created["room"]
    assert room["title"] == "Freelance designers"
    assert (room["kind"], room["private"], room["has_passcode"]) == ("coffee", False, False)
    assert "host_key" not in created
    await ann.ok("room:join", {"room": room["id"]})

    listed = (await ann.ok("room:list", {}))["rooms"]
    assert listed[0]["id"] == "lobby"  # the lobby always exists and comes first
    assert {"id": room["id"], "members": 1} == {
        k: v
        for k, v in next(r for r in listed if r["id"] == room["id"]).items()
        if k in ("id", "members")
    }
    async with aiohttp.ClientSession() as http, http.get(server.url + "api/rooms") as resp:
        assert resp.status == 200
        assert [r["id"] for r in (await resp.json())["rooms"]] == [r["id"] for r in listed]


async def test_a_private_room_is_unlisted_unguessable_and_needs_its_passcode(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    created = await ann.ok(
        "room:create",
        {"title": "Board", "kind": "open", "private": True, "passcode": "correct horse"},
    )
    room = created["room"]
    assert room["private"] and room["has_passcode"]
    assert len(room["id"]) >= 21  # 128 random bits
    listed = (await ann.ok("room:list", {}))["rooms"]
    assert room["id"] not in [r["id"] for r in listed]

    bob = await connect(server.url, "Bob")
    none = await bob.call("room:join", {"room": room["id"]})
    assert none["error"]["code"] == "forbidden"
    wrong = await bob.call("room:join", {"room": room["id"], "passcode": "wrong horse"})
    unknown = await bob.call("room:join", {"room": "NoSuchRoom123", "passcode": "wrong horse"})
    # A wrong passcode does not tell whether the room exists.
    assert wrong == unknown
    assert wrong["error"]["code"] == "forbidden"
    joined = await bob.ok("room:join", {"room": room["id"], "passcode": "correct horse"})
    assert joined["room"] == room
    # Coming back while still in the room does not ask again.
    assert (await bob.ok("room:join", {"room": room["id"]}))["room"] == room


async def test_a_workshop_host_key_makes_a_host_and_stays_secret(server: Running, connect) -> None:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Pricing workshop", "kind": "workshop"})
    key = created["host_key"]
    room_id = created["room"]["id"]
    guest = await connect(server.url, "Guest")
    as_guest = await guest.ok("room:join", {"room": room_id})
    assert as_guest["you"]["role"] == "guest"
    wrong = await guest.call("room:join", {"room": room_id, "host_key": "guess"})
    assert wrong["error"]["code"] == "forbidden"

    as_host = await host.ok("room:join", {"room": room_id, "host_key": key})
    assert as_host["you"]["role"] == "host"
    seen = await guest.wait("presence")
    assert (seen["event"], seen["member"]["role"]) == ("join", "host")
    await host.ok("chat:send", {"room": room_id, "text": "welcome", "client_msg_id": "w"})
    await guest.wait("chat:message")
    assert key not in repr(guest.received) + repr(as_guest)


async def test_direct_messages_reach_the_other_user_and_nobody_else(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    eve = await connect(server.url, "Eve")
    opened = await ann.ok("dm:open", {"user": bob.user_id})
    room = opened["room"]
    assert opened["user"] == {"id": bob.user_id, "name": "Bob"}
    assert (room["kind"], room["private"]) == ("dm", True)
    assert (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"] == room["id"]
    assert (await bob.ok("dm:open", {"user": ann.user_id}))["room"]["id"] == room["id"]

    await ann.ok("room:join", {"room": room["id"]})
    sent = await ann.ok(
        "chat:send", {"room": room["id"], "text": "coffee on Friday?", "client_msg_id": "d1"}
    )
    # Bob has not opened the conversation, and still gets the message.
    assert await bob.wait("chat:message") == sent["message"]

    refused = await eve.call("room:join", {"room": room["id"]})
    assert refused["error"]["code"] == "forbidden"
    listed = await bob.ok("dm:list", {})
    assert listed["dms"] == [
        {"room": room, "user": {"id": ann.user_id, "name": "Ann"}, "online": True}
    ]
    await ann.close()
    await eve.ok("room:list", {})
    assert eve.events("chat:message") == []


async def test_room_join_hands_out_ice_servers_with_turn_credentials(
    start_server, settings, connect
) -> None:
    import base64
    import hashlib
    import hmac
    import time

    server = await start_server(
        settings,
        stun_urls=("stun:stun.example.org:3478",),
        turn_urls=("turn:turn.example.org:3478?transport=udp",),
        turn_secret="s3cret",
        turn_ttl=3600,
    )
    ann = await connect(server.url, "Ann")
    servers = (await ann.ok("room:join", {"room": "lobby"}))["ice_servers"]
    assert servers[0] == {"urls": ["stun:stun.example.org:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp"]
    expiry, user = turn["username"].split(":")
    assert user == ann.user_id
    assert 3500 < int(expiry) - time.time() <= 3600
    # coturn's use-auth-secret check: base64(HMAC-SHA1(secret, username)).
    mac = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(mac).decode()


async def test_taking_the_host_key_later_shows_everyone_the_new_role(
    server: Running, connect
) -> None:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Workshop", "kind": "workshop"})
    room = created["room"]["id"]
    guest = await connect(server.url, "Guest")
    await guest.ok("room:join", {"room": room})
    await host.ok("room:join", {"room": room})  # first as a guest
    assert (await guest.wait("presence"))["member"]["role"] == "guest"
    again = await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    assert again["you"]["role"] == "host"
    update = await guest.wait("presence")
    assert (update["event"], update["member"]["role"]) == ("update", "host")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("own", True),
        ("https://partner.example", True),
        ("https://evil.example", False),
    ],
)
async def test_browsers_connect_from_the_same_origin_and_configured_ones(
    start_server, settings, origin: str | None, allowed: bool
) -> None:
    server = await start_server(settings, cors_origins=("https://partner.example",))
    base = server.url.rstrip("/")
    headers = {} if origin is None else {"Origin": base if origin == "own" else origin}
    async with (
        aiohttp.ClientSession() as http,
        http.get(base + "/socket.io/?EIO=4&transport=polling", headers=headers) as resp,
    ):
        assert (resp.status == 200) is allowed


async def test_presence_can_overtake_the_join_ack_and_is_newer_than_its_members(
    server: Running, connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/protocol.md, room:join: keep a room's presence from sending room:join to its ack,
    # then apply it, in order, on top of the ack's members.
    ann = await connect(server.url, "Ann")
    cleo = await connect(server.url, "Cleo")
    bob = await connect(server.url, "Bob")
    for client in (ann, cleo):
        await client.ok("room:join", {"room": "lobby"})
    # Bob's join is held after it has read the members and before it answers, as a slow
    # archive holds it (the history is read last).
    archive = server.server.app[APP_KEY].archive
    latest = archive.latest
    reading, go_on = asyncio.Event(), asyncio.Event()

    async def slow_latest(room: str, limit: int) -> Any:
        reading.set()
        await go_on.wait()
        return await latest(room, limit)

    monkeypatch.setattr(archive, "latest", slow_latest)
    join = asyncio.create_task(bob.call("room:join", {"room": "lobby"}))
    await asyncio.wait_for(reading.wait(), WAIT)
    monkeypatch.setattr(archive, "latest", latest)
    await cleo.ok("room:leave", {"room": "lobby"})
    dan = await connect(server.url, "Dan")
    await dan.ok("room:join", {"room": "lobby"})
    early = [await bob.wait("presence"), await bob.wait("presence")]
    assert not join.done()
    assert [(e["event"], e["member"]["name"]) for e in early] == [
        ("leave", "Cleo"),
        ("join", "Dan"),
    ]
    go_on.set()
    ack = await join
    assert ack["ok"] is True
    assert sorted(m["name"] for m in ack["members"]) == ["Ann", "Bob", "Cleo"]  # read before

    members = {m["id"]: m for m in ack["members"]}
    for event in early:
        if event["event"] == "leave":
            members.pop(event["member"]["id"], None)
        else:
            members[event["member"]["id"]] = event["member"]
    now = await ann.ok("room:join", {"room": "lobby"})
    assert members == {m["id"]: m for m in now["members"]} != {m["id"]: m for m in ack["members"]}


async def test_quiet_empty_rooms_leave_the_list_but_keep_their_link(
    start_server, settings, connect
) -> None:
    # Every room counts as quiet at once: only the lobby and rooms with people in them stay.
    server = await start_server(settings, room_idle_hours=0.0)
    ann = await connect(server.url, "Ann")
    kept = (await ann.ok("room:create", {"title": "Kept", "kind": "open"}))["room"]["id"]
    quiet = (await ann.ok("room:create", {"title": "Quiet", "kind": "open"}))["room"]["id"]
    await ann.ok("room:join", {"room": kept})
    listed = [r["id"] for r in (await ann.ok("room:list", {}))["rooms"]]
    assert listed == ["lobby", kept]
    # The quiet room's link still works, and with somebody in it, it is listed again.
    bob = await connect(server.url, "Bob")
    await bob.ok("room:join", {"room": quiet})
    listed = [r["id"] for r in (await ann.ok("room:list", {}))["rooms"]]
    assert sorted(listed) == sorted(["lobby", kept, quiet])
