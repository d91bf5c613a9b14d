"""WebSocket connections served below aiohttp (server/wire/stream.py ``Stream``): the protocol
kept as RFC 6455 says, and a client that breaks it loses its own connection and nothing else."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
import socketio

from server.app import APP_KEY
from server.wire.stream import IN_HAND

from .support import WAIT
from .support.client import Client
from .support.rawws import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, RawMember, encode_frame
from .support.servers import Running


async def joined(server: Running, connect, name: str = "Ann") -> Client:
    client = await connect(server.url, name)
    await client.ok("room:join", {"room": "lobby"})
    return client


def left(name: str):
    def match(event: dict[str, Any]) -> bool:
        return bool(event["event"] == "leave" and event["member"]["name"] == name)

    return match


async def test_a_message_sent_in_several_frames_arrives_whole(server: Running) -> None:
    member = await RawMember.connect(server.url, "Fay")
    try:
        call = ("420" + json.dumps(["room:join", {"room": "lobby"}])).encode()
        member.send_frame(TEXT, call[:3], fin=False)
        member.send_frame(PING, b"in between")  # a control frame may come between the parts
        member.send_frame(CONTINUATION, call[3:10], fin=False)
        member.send_frame(CONTINUATION, call[10:])
        assert await member.control() == (PONG, b"in between")
        while not (text := await member.receive()).startswith("430"):
            pass
        assert json.loads(text[3:])[0]["ok"] is True
    finally:
        member.close()


async def test_a_websocket_ping_is_answered_with_its_payload(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{server.url.rstrip('/')}/socket.io/?EIO=4&transport=websocket"
        async with http.ws_connect(url, autoping=False) as ws:
            assert (await ws.receive_str(timeout=WAIT)).startswith("0")  # Engine.IO open
            await ws.ping(b"are you there")
            pong = await ws.receive(timeout=WAIT)
            assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")


@pytest.mark.parametrize(
    ("send", "code"),
    [
        pytest.param(lambda m: m.send_frame(TEXT, b"42\xff\xfe"), 1007, id="text-not-utf8"),
        pytest.param(lambda m: m.send_frame(TEXT, b"42[]", mask=False), 1002, id="unmasked"),
        pytest.param(lambda m: m.send_frame(0x3, b"42[]"), 1002, id="unknown-opcode"),
        pytest.param(lambda m: m.send_frame(CONTINUATION, b"42[]"), 1002, id="nothing-to-continue"),
        pytest.param(lambda m: m.send("4" + "x" * 2000), 1009, id="too-large"),
        pytest.param(
            lambda m: [
                m.send_frame(TEXT, b"4" + b"x" * 1500, fin=False),
                m.send_frame(CONTINUATION, b"x" * 1500, fin=False),
            ],
            1009,
            id="too-large-in-parts",
        ),
        # Percolate's protocol has no binary data (RFC 6455 7.4.1: "cannot accept").
        pytest.param(lambda m: m.send_frame(BINARY, b"\x01\x02"), 1003, id="binary"),
    ],
)
async def test_a_client_that_breaks_the_protocol_loses_its_connection_and_nothing_else(
    start_server, settings, connect, send, code: int
) -> None:
    server = await start_server(settings, max_packet_bytes=1024)
    ann = await joined(server, connect)
    member = await RawMember.connect(server.url, "Gus")
    assert (await member.call("room:join", {"room": "lobby"}))["ok"] is True
    send(member)
    assert await member.closed() == code
    await ann.wait("presence", left("Gus"))
    reply = await ann.ok("chat:send", {"room": "lobby", "text": "still here", "client_msg_id": "a"})
    assert reply["message"]["text"] == "still here"


async def test_a_client_closing_its_websocket_gets_an_answer_and_leaves_the_room(
    server: Running, connect
) -> None:
    ann = await joined(server, connect)
    member = await RawMember.connect(server.url, "Hal")
    assert (await member.call("room:join", {"room": "lobby"}))["ok"] is True
    member.send_frame(CLOSE, (1000).to_bytes(2, "big") + b"bye")
    assert await member.closed() == 1000
    await ann.wait("presence", left("Hal"))


async def test_a_request_that_is_not_a_websocket_handshake_is_refused(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            f"{server.url.rstrip('/')}/socket.io/?EIO=4&transport=websocket",
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},  # no key, no version
        )
        assert response.status == 400
    # and the server serves on
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url.rstrip('/')}/healthz") as response,
    ):
        assert response.status == 200


async def test_an_upgrade_without_the_probe_leaves_the_client_on_long_polling(
    server: Running, connect
) -> None:
    ann = await joined(server, connect)
    http = aiohttp.ClientSession()
    polling = socketio.AsyncClient(reconnection=False, http_session=http)
    try:
        await polling.connect(
            server.url, auth={"name": "Pol"}, transports=["polling"], wait_timeout=WAIT
        )
        member = await RawMember.open(
            server.url, f"EIO=4&transport=websocket&sid={polling.eio.sid}"
        )
        member.send("5")  # UPGRADE before the probe
        assert await member.closed() == 1000
        # The session carries on over long polling.
        assert (await polling.call("room:join", {"room": "lobby"}, timeout=WAIT))["ok"] is True
        ack = await polling.call(
            "chat:send", {"room": "lobby", "text": "polling on", "client_msg_id": "p"}, timeout=WAIT
        )
        assert ack["ok"] is True
        assert await ann.wait("chat:message", lambda m: m["text"] == "polling on")
    finally:
        await polling.disconnect()
        await http.close()


async def test_pings_keep_members_on_both_transports_and_drop_one_that_stops_answering(
    server: Running, connect
) -> None:
    engine = server.server.app[APP_KEY].sio.eio
    # A ping every second, answered within half a second (25 and 20 s by default).
    engine.ping_interval, engine.ping_timeout = 1, 0.5
    ann = await joined(server, connect)  # WebSocket; her client answers every ping
    http = aiohttp.ClientSession()
    polling = socketio.AsyncClient(reconnection=False, http_session=http)
    silent = await RawMember.connect(server.url, "Jon")  # never reads again: answers nothing
    try:
        await polling.connect(
            server.url, auth={"name": "Pol"}, transports=["polling"], wait_timeout=WAIT
        )
        assert (await polling.call("room:join", {"room": "lobby"}, timeout=WAIT))["ok"] is True
        assert (await silent.call("room:join", {"room": "lobby"}))["ok"] is True
        # Jon answers no ping: the server drops him, and the room sees him go.
        await ann.wait("presence", left("Jon"))
        # Ann and Pol had the same pings and answered them, over WebSocket and long polling.
        reply = await polling.call(
            "chat:send", {"room": "lobby", "text": "still here", "client_msg_id": "p"}
        )
        assert reply["ok"] is True
        assert await ann.wait("chat:message", lambda m: m["text"] == "still here")
        assert not [e for e in ann.events("presence") if left("Pol")(e)]
    finally:
        silent.close()
        await polling.disconnect()
        await http.close()


async def test_packets_only_a_server_sends_are_dropped_and_the_connection_carries_on(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    member = await RawMember.connect(server.url, "Kit")
    try:
        member.send("3")  # an unasked-for PONG: handled in order with what follows
        member.send("6")  # a NOOP
        assert (await member.call("room:join", {"room": "lobby"}))["ok"] is True
    finally:
        member.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda m: m.send("7"), id="engineio-type-7"),
        pytest.param(lambda m: m.send("9 nine"), id="engineio-type-9"),
        pytest.param(lambda m: m.send("4"), id="socketio-empty"),
        pytest.param(lambda m: m.send("4x"), id="socketio-type-x"),
        pytest.param(lambda m: m.send("42{}"), id="socketio-event-not-an-array"),
        pytest.param(lambda m: m.send('451-["room:list",{}]'), id="socketio-binary-event"),
    ],
)
async def test_a_packet_the_server_cannot_read_ends_the_session_without_a_traceback(
    server: Running, connect, caplog: pytest.LogCaptureFixture, send
) -> None:
    ann = await joined(server, connect)
    member = await RawMember.connect(server.url, "Kit")
    assert (await member.call("room:join", {"room": "lobby"}))["ok"] is True
    send(member)
    # Engine.IO and Socket.IO both say: close the connection (docs/protocol.md, Conformance).
    assert await member.closed() == 1000
    await ann.wait("presence", left("Kit"))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_over_long_polling_too_a_packet_nobody_can_read_ends_the_session(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"{server.url.rstrip('/')}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        for body in ("7", "9 nine", "abc"):
            async with http.get(base) as response:
                sid = json.loads((await response.text())[1:])["sid"]  # "0{...}": Engine.IO open
            async with http.post(f"{base}&sid={sid}", data=body) as response:
                assert response.status == 400
            async with http.get(f"{base}&sid={sid}") as response:
                assert response.status == 400  # the session is gone
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


FLOOD = 5000
"""Events one client sends at once without waiting for an answer: some 240 KiB, which the
server reads in a few reads (one takes up to 256 KiB)."""


async def test_a_flood_of_events_is_handled_a_share_at_a_time(start_server, settings) -> None:
    # Everybody else gets a turn of the server's event loop between any IN_HAND of one
    # client's events (server/wire/stream.py), counted as the answers the server writes in
    # one turn (the flooder is alone in the room: its typing is relayed to nobody). Before,
    # one read's events were all handled in one turn: some 2,500 answers, and a bystander's
    # message waited behind them.
    server = await start_server(settings, typing_rate=1000.0, typing_burst=FLOOD)
    engine = server.server.app[APP_KEY].sio.eio
    flooder = await RawMember.connect(server.url, "Flo")
    turns: list[int] = []
    loop = asyncio.get_running_loop()

    def count(written: int) -> None:  # once a turn, as long as the flood lasts
        turns.append(engine.direct - written)
        probe[0] = loop.call_soon(count, engine.direct)

    probe = [loop.call_soon(count, engine.direct)]
    try:
        assert (await flooder.call("room:join", {"room": "lobby"}))["ok"] is True
        typing = encode_frame(TEXT, b'421["chat:typing",{"room":"lobby"}]')
        turns.clear()
        flooder.writer.write(typing * FLOOD)
        answered = 0
        while answered < FLOOD:  # every one of them, in the end
            text = await asyncio.wait_for(flooder.receive(), WAIT)
            assert text == '431[{"ok":true}]', text
            answered += 1
    finally:
        probe[0].cancel()
        flooder.close()
    assert 0 < max(turns) <= IN_HAND
