"""Camera/mic state in presence, and WebRTC signalling relayed only inside a room."""

from __future__ import annotations

from .support.client import Client
from .support.servers import Running

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


async def coffee_room(server: Running, connect, *names: str) -> tuple[str, list[Client]]:
    clients = [await connect(server.url, name) for name in names]
    room = (await clients[0].ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]
    for client in clients:
        await client.ok("room:join", {"room": room["id"]})
    return room["id"], clients


async def test_turning_the_camera_on_shows_in_presence(server: Running, connect) -> None:
    room, (ann, bob) = await coffee_room(server, connect, "Ann", "Bob")
    ack = await bob.ok("media:state", {"room": room, "camera": True, "mic": False})
    assert ack["member"]["camera"] is True
    update = await ann.wait("presence", lambda e: e["event"] == "update")
    assert update["member"] == {
        "id": bob.user_id,
        "name": "Bob",
        "role": "member",
        "camera": True,
        "mic": False,
        "screen": False,
    }
    carol = await connect(server.url, "Carol")
    members = (await carol.ok("room:join", {"room": room}))["members"]
    assert {m["name"]: m["camera"] for m in members} == {"Ann": False, "Bob": True, "Carol": False}
    # Rejoining (say after a reconnect) keeps the media state.
    again = await bob.ok("room:join", {"room": room})
    assert again["you"]["camera"] is True


async def test_signals_go_to_the_addressed_member_only(server: Running, connect) -> None:
    room, (ann, bob, carol) = await coffee_room(server, connect, "Ann", "Bob", "Carol")
    await ann.ok("signal", {"room": room, "to": bob.user_id, "type": "offer", "data": OFFER})
    got = await bob.wait("signal")
    assert got == {"room": room, "from": ann.user_id, "type": "offer", "data": OFFER}

    await bob.ok(
        "signal",
        {
            "room": room,
            "to": ann.user_id,
            "type": "answer",
            "data": {"type": "answer", "sdp": "v=0\r\n"},
        },
    )
    assert (await ann.wait("signal"))["type"] == "answer"
    await bob.ok(
        "signal", {"room": room, "to": ann.user_id, "type": "candidate", "data": CANDIDATE}
    )
    assert (await ann.wait("signal"))["data"] == CANDIDATE
    await bob.ok("signal", {"room": room, "to": ann.user_id, "type": "candidate", "data": None})
    assert (await ann.wait("signal"))["data"] is None

    marker = await ann.ok("chat:send", {"room": room, "text": "m", "client_msg_id": "m"})
    await carol.wait("chat:message", lambda m: m["id"] == marker["message"]["id"])
    assert carol.events("signal") == []


async def test_signalling_needs_both_in_the_room(server: Running, connect) -> None:
    room, (ann, bob) = await coffee_room(server, connect, "Ann", "Bob")
    outsider = await connect(server.url, "Mallory")

    refused = await outsider.call(
        "signal", {"room": room, "to": ann.user_id, "type": "offer", "data": OFFER}
    )
    assert refused["error"]["code"] == "forbidden"
    to_outsider = await ann.call(
        "signal", {"room": room, "to": outsider.user_id, "type": "offer", "data": OFFER}
    )
    assert to_outsider["error"]["code"] == "forbidden"

    await bob.ok("room:leave", {"room": room})
    await ann.wait("presence", lambda e: e["event"] == "leave")
    after_leave = await ann.call(
        "signal", {"room": room, "to": bob.user_id, "type": "offer", "data": OFFER}
    )
    assert after_leave["error"]["code"] == "forbidden"
    await ann.ok("room:list", {})
    await outsider.ok("room:list", {})
    assert bob.events("signal") == [] and outsider.events("signal") == []
