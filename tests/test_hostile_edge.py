"""A hostile client at the edge: input is bounded before any work is done on it, and the caps
that protect everybody else cannot be raced or skipped.

- Binary data (Socket.IO's BINARY_EVENT and BINARY_ACK, a binary WebSocket frame, an Engine.IO
  binary packet over long polling) closes the connection at once; nothing of it is kept.
- A packet nested deeper, or with more elements, than any request is answered ``bad_request``
  (or dropped, without an ack id) before its JSON is decoded, over either transport, without a
  traceback; a connection that keeps sending them is closed.
- What clients send is logged in short lines, a few per address.
- An Engine.IO session that sends no Socket.IO CONNECT is closed within seconds.
- The connection cap per address counts every Engine.IO session from its first request, and
  150 connections from one address at once get no more than the cap.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import hypothesis
import pytest
import socketio
from hypothesis import strategies as st

from server.config import Settings
from server.wire.codec import Bounds

from .support import WAIT
from .support.client import Client
from .support.conformance import SEPARATOR, Wire
from .support.rawws import BINARY, CLOSE, PING, TEXT, RawMember, encode_frame
from .support.servers import Process, Running

MIB = 1024 * 1024
FEW_SECONDS = 10.0
"""Time within which a session that never connects is closed (twice the default timeout)."""
LIMITS = Settings()
"""The defaults: what a deployment that sets nothing gets."""


def nested(depth: int) -> str:
    """A ``room:list`` EVENT with ack id 1 whose JSON nests ``depth`` deep, the array included."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return f'421["room:list",{{"deep":{inner}}}]'


def wide(elements: int) -> str:
    """A ``room:list`` EVENT with ack id 1 of ``elements`` elements: the array's two, the
    object's one, and the list's."""
    return '421["room:list",{"wide":[' + ",".join("0" * (elements - 3)) + "]}]"


def ack(text: str, id: int = 1) -> Any:
    assert text.startswith(f"43{id}["), text
    return json.loads(text[2 + len(str(id)) :])[0]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback or are errors: none may come from client input."""
    return [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR
    ]


async def answer(member: RawMember, packet: str) -> Any:
    """Send ``packet`` (an EVENT with ack id 1) and return its ack."""
    member.send(packet)
    while not (text := await asyncio.wait_for(member.receive(), WAIT)).startswith("43"):
        pass
    return ack(text)


async def codes_until_closed(member: RawMember) -> list[str]:
    """The codes of the error acks ``member`` gets until the server closes its connection."""
    codes = []
    while True:
        opcode, payload = await asyncio.wait_for(member.frame(), WAIT)
        if opcode == CLOSE:
            return codes
        assert opcode == TEXT, (opcode, payload)
        if payload == b"2":  # Engine.IO ping
            member.send("3")
        elif payload.startswith(b"43"):
            codes.append(ack(payload.decode())["error"]["code"])


class Raw:
    """Raw WebSocket members of a test, every one closed at its end."""

    def __init__(self) -> None:
        self.members: list[RawMember] = []

    async def attempt(self, url: str) -> RawMember | int:
        member = await RawMember.attempt(url)
        if isinstance(member, RawMember):
            self.members.append(member)
        return member

    async def open(self, url: str) -> RawMember:
        """A WebSocket session, its Engine.IO OPEN read, not connected to Socket.IO."""
        member = await RawMember.open(url)
        self.members.append(member)
        assert (await member.receive()).startswith("0")
        return member

    async def connect(self, url: str, name: str) -> RawMember:
        member = await RawMember.connect(url, name)
        self.members.append(member)
        return member


@pytest.fixture
async def raw() -> AsyncIterator[Raw]:
    members = Raw()
    yield members
    for member in members.members:
        member.close()


def rss(process: Process) -> int:
    """The resident memory of a server process, in bytes."""
    assert process.proc is not None
    for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


# -- binary data ----------------------------------------------------------------------------


async def test_binary_attachments_close_the_connection_and_are_not_kept(
    raw: Raw, run_server
) -> None:
    server = await run_server()
    mal = await raw.connect(server.url, "Mal")
    before = rss(server)
    # A BINARY_EVENT announcing 1,000 attachments, then 40 MiB of them.
    mal.send('451000-["room:list",{"_placeholder":true,"num":0}]')
    chunk = encode_frame(BINARY, b"\x00" * (64 * 1024))
    try:
        for _ in range(40 * MIB // len(chunk)):
            mal.writer.write(chunk)
            await mal.writer.drain()
        mal.send_frame(PING, b"read it all?")
        # A PONG once the server read everything before it; a close frame if it hung up.
        opcode, _ = await asyncio.wait_for(mal.control(), WAIT)
    except (ConnectionError, asyncio.IncompleteReadError):
        opcode = CLOSE  # the server hung up and stopped reading
    grown = rss(server) - before
    assert grown < 8 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
    assert opcode == CLOSE
    assert "Traceback" not in server.output


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_binary_frame_closes_a_websocket_at_its_first_part(
    raw: Raw, server: Running
) -> None:
    mal = await raw.connect(server.url, "Mal")
    mal.send_frame(BINARY, b"\x01" * 1000, fin=False)  # the first part of a message
    # 1003: "received a type of data it cannot accept" (RFC 6455 section 7.4.1).
    assert await asyncio.wait_for(mal.closed(), WAIT) == 1003


@pytest.mark.parametrize("backend", ["memory"])
async def test_binary_over_long_polling_ends_the_session(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        wire = Wire(http, server.url)
        # A BINARY_EVENT and its attachment (Engine.IO binary: "b" and base64) in one payload.
        sid = await wire.connect_polling("Pol")
        event = '451-1["room:list",{"_placeholder":true,"num":0}]'
        assert (await wire.push(sid, SEPARATOR.join([event, "bAQIDBA=="])))[0] == 400
        assert (await wire.poll(sid))[0] == 400  # the session is gone
        # The announcement alone ends the session too, before any attachment comes.
        sid = await wire.connect_polling("Pol")
        assert await wire.push(sid, event) == (200, "ok")
        assert (await wire.push(sid, "bAQIDBA=="))[0] == 400


# -- nesting and elements ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.parametrize(
    ("packet", "message"),
    [
        pytest.param(nested(LIMITS.max_depth + 1), "nested too deep", id="depth-limit+1"),
        pytest.param(nested(450), "nested too deep", id="depth-450"),
        pytest.param(nested(700), "nested too deep", id="depth-700"),
        pytest.param(nested(950), "nested too deep", id="depth-950"),
        # Deeper than there may be elements: both are true, the count says it first.
        pytest.param(nested(20_000), "too many elements", id="depth-20000"),
        pytest.param(
            '421["room:list",{"name":"\\ud800","deep":' + "[" * 2000 + "]" * 2000 + "}]",
            "nested too deep",
            id="lone-surrogate-depth-2000",
        ),
        pytest.param(wide(LIMITS.max_elements + 1), "too many elements", id="elements-limit+1"),
        pytest.param(wide(100_000), "too many elements", id="elements-100000"),
        pytest.param(
            '421["room:list",{"x":' + "[{}," * 1000 + "0" + "]" * 1000 + "}]",
            "nested too deep",
            id="objects-in-arrays",
        ),
    ],
)
async def test_a_packet_past_the_bounds_is_answered_bad_request(
    raw: Raw, server: Running, caplog: pytest.LogCaptureFixture, packet: str, message: str
) -> None:
    mal = await raw.connect(server.url, "Mal")
    reply = await answer(mal, packet)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
    assert message in reply["error"]["message"]
    # The connection serves on, and packets exactly at the bounds are served.
    assert (await answer(mal, nested(LIMITS.max_depth)))["ok"] is True
    assert (await answer(mal, wide(LIMITS.max_elements)))["ok"] is True
    # Brackets and commas inside strings are text, not structure.
    text = json.dumps({"room": "lobby", "text": "[{," * 1000, "client_msg_id": "brackets"})
    assert (await answer(mal, f'421["chat:send",{text}]'))["error"]["code"] == "forbidden"
    assert tracebacks(caplog) == []


def shape(value: Any) -> tuple[int, int]:
    """The depth and the element count of a JSON value, as ``Bounds`` define them."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return 0, 0
    inner = [shape(item) for item in value]
    return 1 + max((d for d, _ in inner), default=0), max(len(value), 1) + sum(n for _, n in inner)


# Text with everything that could fool a scanner: brackets, commas, quotes, backslashes.
tricky = st.text(alphabet=st.sampled_from('[]{},"\\:ab\n\u00e9\U0001f600'), max_size=12)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), tricky),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(tricky, inner, max_size=5)
    ),
    max_leaves=40,
)


@hypothesis.settings(max_examples=1000, deadline=None, database=None)
@hypothesis.given(value=json_values, ascii_only=st.booleans())
def test_the_bounds_are_measured_exactly_on_the_text(value: Any, ascii_only: bool) -> None:
    bounds = Bounds(depth=4, elements=12)
    depth, elements = shape(value)
    excess = bounds.excess(json.dumps(value, ensure_ascii=ascii_only))
    if elements > bounds.elements:
        assert excess is not None and "too many elements" in excess
    elif depth > bounds.depth:
        assert excess is not None and "nested too deep" in excess
    else:
        assert excess is None


@pytest.mark.parametrize("backend", ["memory"])
async def test_over_long_polling_too_a_deep_packet_is_answered_bad_request(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as http:
        wire = Wire(http, server.url)
        sid = await wire.connect_polling("Pol")
        for packet in (nested(700), wide(100_000)):
            assert await wire.push(sid, packet) == (200, "ok")
            packets: list[str] = []
            while not any(p.startswith("431") for p in packets):
                status, body = await wire.poll(sid)
                assert status == 200, (status, body)
                packets += body.split(SEPARATOR)
            reply = ack(next(p for p in packets if p.startswith("431")))
            assert reply["error"]["code"] == "bad_request", reply
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_deep_packet_without_an_ack_id_is_dropped(
    raw: Raw, server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    mal = await raw.connect(server.url, "Mal")
    mal.send(nested(700).replace("421[", "42[", 1))
    assert (await answer(mal, '421["room:list",{}]'))["ok"] is True
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_deep_connect_is_refused_bad_request(raw: Raw, server: Running) -> None:
    mal = await raw.open(server.url)
    mal.send('40{"name":"Mal","deep":' + "[" * 700 + "]" * 700 + "}")
    refused = await asyncio.wait_for(mal.receive(), WAIT)
    assert refused.startswith("44"), refused
    assert json.loads(refused[2:])["data"]["code"] == "bad_request"


@pytest.mark.parametrize("backend", ["memory"])
async def test_deep_json_where_engineio_has_none_ends_the_session_without_a_traceback(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    # Engine.IO 4 packets hold text (here over long polling); engineio would still try their
    # data as JSON. (Over WebSocket the session ends the same way: tests/test_websocket.py.)
    async with aiohttp.ClientSession() as http:
        wire = Wire(http, server.url)
        sid, _ = await wire.open_polling()
        await wire.push(sid, "4" + "[" * 5000 + "]" * 5000)
        assert (await wire.poll(sid))[0] == 400
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_connection_that_keeps_sending_them_is_closed(raw: Raw, server: Running) -> None:
    mal = await raw.connect(server.url, "Mal")
    for _ in range(LIMITS.max_strikes + 5):
        mal.send(nested(700))
    assert await codes_until_closed(mal) == ["bad_request"] * LIMITS.max_strikes


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_flood_of_deep_packets_leaves_everybody_else_answered(
    raw: Raw, server: Running, connect, caplog: pytest.LogCaptureFixture
) -> None:
    bea = await connect(server.url, "Bea")
    await bea.ok("room:join", {"room": "lobby"})
    attackers = [await raw.connect(server.url, f"Mal{i}") for i in range(20)]

    async def flood(mal: RawMember) -> list[str]:
        for _ in range(10):
            mal.send(nested(700))
        return await codes_until_closed(mal)

    async def chat() -> None:
        for n in range(20):
            await bea.ok("chat:send", {"room": "lobby", "text": f"hi {n}", "client_msg_id": f"{n}"})

    results = await asyncio.gather(chat(), *(flood(mal) for mal in attackers))
    assert results[1:] == [["bad_request"] * LIMITS.max_strikes] * len(attackers)
    assert tracebacks(caplog) == []


# -- logs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory"])
async def test_an_address_cannot_flood_the_log(
    raw: Raw, server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(30):
        mal = await raw.open(server.url)
        mal.send("4x")  # not a Socket.IO packet: the connection is closed
        assert await asyncio.wait_for(mal.closed(), WAIT) == 1000
    async with aiohttp.ClientSession() as http:
        wire = Wire(http, server.url)
        for _ in range(10):
            sid, _ = await wire.open_polling()
            body = b"4" + b"\xff" * 200_000  # not UTF-8
            status, _ = await wire.request("POST", f"EIO=4&transport=polling&sid={sid}", body)
            assert status == 400
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("server.wire")]
    assert max(map(len, lines)) < 300
    assert len(lines) <= 10, "\n".join(lines)
    assert tracebacks(caplog) == []


# -- the connect timeout ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_websocket_that_never_connects_is_closed_within_seconds(
    raw: Raw, server: Running
) -> None:
    mal = await raw.open(server.url)
    assert await asyncio.wait_for(mal.closed(), FEW_SECONDS) == 1000


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_long_poll_that_never_connects_is_closed_within_seconds(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        wire = Wire(http, server.url)
        sid, _ = await wire.open_polling()
        poll = wire.poll(sid)
        assert await asyncio.wait_for(poll, FEW_SECONDS) == (200, "1")
        assert (await wire.poll(sid))[0] == 400


# -- the connection cap -----------------------------------------------------------------------


async def refused_or_accepted(mal: RawMember) -> str:
    """What the answer to a Socket.IO CONNECT was: "accepted" or the refusal's code."""
    text = await asyncio.wait_for(mal.receive(), WAIT)
    if text.startswith("40"):
        return "accepted"
    assert text.startswith("44"), text
    return str(json.loads(text[2:])["data"]["code"])


@pytest.mark.parametrize("backend", ["memory"])
async def test_simultaneous_connects_from_one_address_get_no_more_than_the_cap(
    raw: Raw, start_server, settings
) -> None:
    server = await start_server(settings, max_connections_per_ip=50)
    opened = await asyncio.gather(*(raw.attempt(server.url) for _ in range(150)))
    members = [m for m in opened if isinstance(m, RawMember)]
    for member in members:
        assert (await member.receive()).startswith("0")  # Engine.IO open
    for n, member in enumerate(members):  # every CONNECT before any answer is read
        member.send("40" + json.dumps({"name": f"M{n}"}))
    outcomes = [await refused_or_accepted(member) for member in members]
    outcomes += [f"HTTP {status}" for status in opened if isinstance(status, int)]
    assert outcomes.count("accepted") == 50
    assert set(outcomes) <= {"accepted", "rate_limited", "HTTP 429"}


async def connect_error(url: str) -> Any:
    """Connect a python-socketio client; the data of its refusal, or "connected"."""
    client = Client()
    errors: list[Any] = []
    client.sio.on("connect_error", errors.append)
    try:
        await client.connect(url, {"name": "Ann"})
    except socketio.exceptions.ConnectionError:
        return errors[0]["data"] if errors else "refused without data"
    else:
        return "connected"
    finally:
        await client.close()


@pytest.mark.parametrize("backend", ["memory"])
async def test_sessions_that_never_connect_count_toward_the_cap(
    raw: Raw, start_server, settings
) -> None:
    server = await start_server(settings, max_connections_per_ip=3)
    idle = [await raw.open(server.url) for _ in range(2)]
    async with aiohttp.ClientSession() as http:
        await Wire(http, server.url).open_polling()  # a third, over long polling
        refused = await connect_error(server.url)
        assert isinstance(refused, dict) and refused["code"] == "rate_limited", refused
    # A session that ends gives its place back.
    idle[0].send_frame(CLOSE, (1000).to_bytes(2, "big"))
    assert await idle[0].closed() == 1000
    for _ in range(int(WAIT / 0.1)):
        if await connect_error(server.url) == "connected":
            break
        await asyncio.sleep(0.1)  # until the server has seen the connection go
    else:
        raise AssertionError("the ended session still counts")


@pytest.mark.parametrize("backend", ["memory"])
async def test_past_twice_the_cap_the_transport_itself_is_refused(
    raw: Raw, start_server, settings
) -> None:
    server = await start_server(settings, max_connections_per_ip=2)
    for _ in range(4):
        await raw.open(server.url)
    assert await raw.attempt(server.url) == 429
    async with aiohttp.ClientSession() as http:
        status, _ = await Wire(http, server.url).request("GET", "EIO=4&transport=polling")
        assert status == 429
