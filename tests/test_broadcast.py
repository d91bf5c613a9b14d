"""Fan-out at wire speed (server/wire/): one frame for every WebSocket recipient, the
queue for long-polling ones, the same messages in the same order for everybody, and a member
that stops reading cut off before it costs the server without bound."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import socketio

from server.app import APP_KEY
from server.wire.engine import Engine
from server.wire.stream import frame

from .support import WAIT
from .support.client import Client
from .support.rawws import RawMember
from .support.servers import Running


def engine_of(server: Running) -> Engine:
    engine = server.server.app[APP_KEY].sio.eio
    assert isinstance(engine, Engine)
    return engine


async def say(client: Client, text: str, msg_id: str) -> dict[str, Any]:
    ack = await client.ok("chat:send", {"room": "lobby", "text": text, "client_msg_id": msg_id})
    return dict(ack["message"])


def test_frames_are_what_aiohttp_would_write() -> None:
    assert frame("42") == b"\x81\x0242"
    assert frame("4" + "x" * 200)[:4] == b"\x81\x7e\x00\xc9"
    assert frame(b"\x04" * 70000)[:10] == b"\x82\x7f" + (70000).to_bytes(8, "big")


async def test_a_broadcast_is_written_directly_to_every_websocket_member(
    server: Running, connect
) -> None:
    clients = [await connect(server.url, f"P{n}") for n in range(5)]
    for client in clients:
        await client.ok("room:join", {"room": "lobby"})
    engine = engine_of(server)
    before = engine.direct
    sent = await say(clients[0], "hello everybody", "m-1")
    for client in clients:
        assert await client.wait("chat:message", lambda m: m["id"] == sent["id"]) == sent
    # Five recipients and the ack: each written straight to its WebSocket.
    assert engine.direct - before >= 6


async def test_long_polling_and_websocket_members_get_the_same_messages(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    http = aiohttp.ClientSession()
    polling = socketio.AsyncClient(reconnection=False, http_session=http)
    received: list[dict[str, Any]] = []
    polling.on("chat:message", received.append)
    try:
        await polling.connect(
            server.url, auth={"name": "Pol"}, transports=["polling"], wait_timeout=WAIT
        )
        ack = await polling.call("room:join", {"room": "lobby"}, timeout=WAIT)
        assert ack["ok"] is True
        engine = engine_of(server)
        queued = engine.queued
        messages = [await say(ann, f"number {n}", f"p-{n}") for n in range(5)]
        await ann.wait("chat:message", lambda m: m["id"] == messages[-1]["id"])
        reply = await polling.call(
            "chat:send", {"room": "lobby", "text": "from polling", "client_msg_id": "q"}
        )
        assert reply["ok"] is True
        assert await ann.wait("chat:message", lambda m: m["client_msg_id"] == "q")
        assert [m["seq"] for m in received[:5]] == [m["seq"] for m in messages]
        assert engine.queued - queued >= 5  # the polling member's went through the queue
    finally:
        await polling.disconnect()
        await http.close()


def unsent(engine: Engine) -> int:
    """The most bytes the server holds for one member, written but not yet taken."""
    sizes = [
        stream.transport.get_write_buffer_size()
        for stream in engine.streams.values()
        if stream.transport is not None
    ]
    return max(sizes, default=0)


@dataclasses.dataclass
class Lobby:
    """Ann and Bob, python-socketio clients, and Sid, who can stop reading, in the lobby."""

    server: Running
    ann: Client
    bob: Client
    sid: RawMember


@pytest.fixture
async def lobby(start_server, settings, connect) -> AsyncIterator[Callable[..., Awaitable[Lobby]]]:
    """``await lobby(**settings)``: a server of its own (chat limits raised), three members."""
    made: list[RawMember] = []

    async def make(**changes: Any) -> Lobby:
        server = await start_server(settings, chat_rate=1000.0, chat_burst=1000, **changes)
        ann = await connect(server.url, "Ann")
        bob = await connect(server.url, "Bob")
        sid = await RawMember.connect(server.url, "Sid")
        made.append(sid)
        assert (await sid.call("room:join", {"room": "lobby"}))["ok"] is True
        for client in (ann, bob):
            await client.ok("room:join", {"room": "lobby"})
        return Lobby(server, ann, bob, sid)

    yield make
    for sid in made:
        sid.close()


async def test_a_member_that_stops_reading_gets_everything_in_order_and_holds_nobody_up(
    lobby,
) -> None:
    room = await lobby()
    ann, bob, slow = room.ann, room.bob, room.sid
    engine = engine_of(room.server)
    # Sid reads nothing now: his socket fills, then the server holds what is left.
    sent = []
    for n in range(3000):  # bounded: 9 MB fills any loopback connection
        sent.append(await say(ann, "x" * 3000, f"s-{n}"))
        if unsent(engine) > 64 * 1024:
            break
    assert unsent(engine) > 64 * 1024, "Sid's connection never filled up"
    # Bob is not held up: he has every message already.
    await bob.wait("chat:message", lambda m: m["id"] == sent[-1]["id"])
    sent.append(await say(ann, "the end", "end"))
    # Sid reads again: everything, once each, in order.
    received = []
    while len(received) < len(sent):
        name, data = await asyncio.wait_for(slow.event(), WAIT)
        if name == "chat:message":
            received.append(data)
    assert [m["seq"] for m in received] == [m["seq"] for m in sent]


async def test_a_member_that_stops_reading_for_too_long_is_disconnected(lobby) -> None:
    room = await lobby(max_backlog_kib=256)
    ann, bob = room.ann, room.bob
    members = (await bob.ok("room:join", {"room": "lobby"}))["members"]
    sid_id = next(m for m in members if m["name"] == "Sid")["id"]

    def gone(event: dict[str, Any]) -> bool:
        return event["event"] == "leave" and event["member"]["id"] == sid_id

    for n in range(3000):  # bounded: 9 MB is far past 256 KiB
        await say(ann, "x" * 3000, f"s-{n}")
        if any(gone(e) for e in bob.events("presence")):
            break
    # The server let Sid go (the room is told, as for any lost connection); the others
    # chat on.
    await bob.wait("presence", gone)
    last = await say(ann, "still here", "after")
    assert (await bob.wait("chat:message", lambda m: m["id"] == last["id"]))["seq"] > 0
