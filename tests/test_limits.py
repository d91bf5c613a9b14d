"""Configurable limits: each refuses clearly, and only the one who went over it."""

from __future__ import annotations

import pytest
import socketio

from .support.client import Client


async def test_joining_too_often_is_rate_limited(start_server, settings, connect) -> None:
    server = await start_server(settings, join_rate=0.01, join_burst=3)
    ann = await connect(server.url, "Ann")
    acks = [await ann.call("room:join", {"room": "lobby"}) for _ in range(4)]
    assert [a["ok"] for a in acks[:3]] == [True] * 3
    assert acks[3]["error"]["code"] == "rate_limited"


async def test_guessing_passcodes_is_slowed_down_per_address(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, passcode_failures=3)
    owner = await connect(server.url, "Owner")
    room = (
        await owner.ok(
            "room:create",
            {"title": "Board", "kind": "open", "private": True, "passcode": "s3cret!"},
        )
    )["room"]["id"]
    guesser = await connect(server.url, "Guesser")
    codes = [
        (await guesser.call("room:join", {"room": room, "passcode": f"guess{i}"}))["error"]["code"]
        for i in range(3)
    ]
    assert codes == ["forbidden"] * 3
    # Even the right passcode waits now: every attempt from this address is refused for a while.
    late = await connect(server.url, "Other")
    right = await late.call("room:join", {"room": room, "passcode": "s3cret!"})
    assert right["error"]["code"] == "rate_limited"


async def test_creating_rooms_is_limited_per_hour(start_server, settings, connect) -> None:
    server = await start_server(settings, rooms_per_hour=2)
    ann = await connect(server.url, "Ann")
    for i in range(2):
        await ann.ok("room:create", {"title": f"R{i}", "kind": "open"})
    third = await ann.call("room:create", {"title": "R3", "kind": "open"})
    assert third["error"]["code"] == "rate_limited"
    bob = await connect(server.url, "Bob")
    await bob.ok("room:create", {"title": "Bob's", "kind": "open"})  # per user


async def test_a_full_room_takes_nobody_but_its_hosts(start_server, settings, connect) -> None:
    server = await start_server(settings, max_members=2)
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "W", "kind": "workshop"})
    room = created["room"]["id"]
    for name in ("One", "Two"):
        await (await connect(server.url, name)).ok("room:join", {"room": room})
    three = await connect(server.url, "Three")
    assert (await three.call("room:join", {"room": room}))["error"] == {
        "code": "forbidden",
        "message": "the room is full",
    }
    joined = await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    assert len(joined["members"]) == 3


async def test_connections_per_address_are_capped(start_server, settings, connect) -> None:
    server = await start_server(settings, max_connections_per_ip=2)
    await connect(server.url, "One")
    await connect(server.url, "Two")
    refused = Client()
    errors: list[object] = []
    refused.sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(server.url, {"name": "Three"})
    await refused.close()
    assert errors and errors[0]["data"]["code"] == "rate_limited"  # type: ignore[index]


async def test_an_oversized_packet_closes_only_that_connection(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, max_packet_bytes=2048)
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    await bob.sio.emit("chat:send", {"room": "lobby", "text": "x" * 3000, "client_msg_id": "big"})
    await bob.sio.wait()  # the server hangs up on Bob
    sent = await ann.ok("chat:send", {"room": "lobby", "text": "still here", "client_msg_id": "a"})
    assert sent["message"]["seq"] == 1  # the big one was never stored


async def refusal(server_url: str, auth: dict[str, str], **headers: str) -> dict[str, str]:
    """Connect, expecting a refusal; its data."""
    client = Client()
    errors: list[dict[str, dict[str, str]]] = []
    client.sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.sio.connect(
            server_url, auth=auth, headers=headers, transports=["websocket"], wait_timeout=5
        )
    await client.close()
    return errors[0]["data"]


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(start_server, settings) -> None:
    server = await start_server(settings, max_connections_per_ip=1, trusted_proxies=("127.0.0.1",))
    first, second = Client(), Client()
    for client, address in ((first, "127.0.0.2"), (second, "127.0.0.3")):
        await client.sio.connect(
            server.url, auth={"name": "A"}, headers={"X-Forwarded-For": f"10.9.9.9, {address}"},
            transports=["websocket"], wait_timeout=5,
        )  # fmt: skip
    # Only the rightmost hop counts: what the client wrote itself further left proves nothing.
    again = await refusal(server.url, {"name": "B"}, **{"X-Forwarded-For": "127.0.0.3"})
    assert again["code"] == "rate_limited"
    for client in (first, second):
        await client.close()


async def test_fresh_identities_per_address_are_limited(start_server, settings, connect) -> None:
    server = await start_server(settings, new_users_per_minute=2)
    ann = await connect(server.url, "Ann")
    await connect(server.url, "Bob")
    refused = await refusal(server.url, {"name": "Eve"})
    assert refused["code"] == "rate_limited"
    back = await connect(server.url, "Ann", token=ann.session["token"])  # a known token is fine
    assert back.user_id == ann.user_id


async def test_guessing_host_keys_is_throttled_like_passcodes(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, passcode_failures=2)
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "W", "kind": "workshop"})
    room = created["room"]["id"]
    guesser = await connect(server.url, "Guesser")
    codes = [
        (await guesser.call("room:join", {"room": room, "host_key": f"k{i}"}))["error"]["code"]
        for i in range(3)
    ]
    assert codes == ["forbidden", "forbidden", "rate_limited"]
    # Unknown rooms cost the same as wrong passcodes.
    unknown = await guesser.call("room:join", {"room": "NoSuchRoom1", "passcode": "abcd"})
    assert unknown["error"]["code"] == "rate_limited"
