"""The Engine.IO protocol test suite, case by case, against a real Percolate.

The Socket.IO maintainers publish the suite (``test-suite/test-suite.js`` in
socketio/engine.io-protocol); these are its cases, written here from the protocol's
specification, one test per case, named after it, in its order. They talk raw HTTP
long-polling and a bare WebSocket to the server, as the suite does. Adapted, as the suite's own
README invites, is only configuration: the path (``/socket.io/``), the ping interval and
timeout (1 s and 0.5 s here: engineio announces whole seconds), the payload limit
(``max_packet_bytes``). Where the suite's demo server echoes a message back, the message here
is a Socket.IO packet Percolate answers (a CONNECT without ``auth`` is refused with one packet;
a connected member's event gets an ack): the Engine.IO side of the case is the same.

The Socket.IO suite (socketio/socket.io-protocol) opens with an "Engine.IO protocol" section
that repeats these cases (its upgrade cases do less); they run here once.
``docs/protocol.md`` (Conformance) lists what Percolate does differently and why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from server.app import APP_KEY

from .support.conformance import Wire
from .support.servers import Running

pytestmark = pytest.mark.parametrize("backend", ["memory"])

PING_INTERVAL = 1.0
PING_TIMEOUT = 0.5


@pytest.fixture
async def wire(server: Running) -> AsyncIterator[Wire]:
    engine = server.server.app[APP_KEY].sio.eio
    engine.ping_interval, engine.ping_timeout = PING_INTERVAL, PING_TIMEOUT
    async with aiohttp.ClientSession() as http:
        yield Wire(http, server.url)


def assert_handshake(server: Running, handshake: dict[str, object], upgrades: list[str]) -> None:
    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(handshake["sid"], str)
    assert handshake["upgrades"] == upgrades
    assert handshake["pingInterval"] == PING_INTERVAL * 1000
    assert handshake["pingTimeout"] == PING_TIMEOUT * 1000
    assert handshake["maxPayload"] == server.settings.max_packet_bytes


def refused(text: str) -> bool:
    """A Socket.IO CONNECT_ERROR: what Percolate answers a CONNECT without ``auth``."""
    return text.startswith("44{") and isinstance(json.loads(text[2:])["message"], str)


async def handshake_status(wire: Wire, query: str) -> int:
    """The HTTP status a WebSocket handshake with ``query`` is answered with."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
        await wire.websocket(query)
    return refusal.value.status


# -- handshake ----------------------------------------------------------------------------


async def test_handshake_http_long_polling_successfully_opens_a_session(
    server: Running, wire: Wire
) -> None:
    status, body = await wire.request("GET", "EIO=4&transport=polling")
    assert status == 200
    assert body.startswith("0")
    assert_handshake(server, json.loads(body[1:]), ["websocket"])


async def test_handshake_http_long_polling_fails_with_an_invalid_eio_query_parameter(
    wire: Wire,
) -> None:
    assert (await wire.request("GET", "transport=polling"))[0] == 400
    assert (await wire.request("GET", "EIO=abc&transport=polling"))[0] == 400


async def test_handshake_websocket_successfully_opens_a_session(
    server: Running, wire: Wire
) -> None:
    socket = await wire.websocket()
    text = await socket.text()
    assert text.startswith("0")
    assert_handshake(server, json.loads(text[1:]), [])
    await socket.close()


async def test_handshake_websocket_fails_with_an_invalid_eio_query_parameter(wire: Wire) -> None:
    assert await handshake_status(wire, "transport=websocket") == 400
    assert await handshake_status(wire, "EIO=abc&transport=websocket") == 400


# -- message ------------------------------------------------------------------------------


async def test_message_websocket_sends_and_receives_a_plain_text_packet(wire: Wire) -> None:
    socket = await wire.websocket()
    assert (await socket.text()).startswith("0")  # handshake
    await socket.send("40")
    assert refused(await socket.text())
    await socket.close()


async def test_message_websocket_sends_and_receives_a_binary_packet(wire: Wire) -> None:
    socket = await wire.connect_websocket("Ann")
    # Percolate sends no binary data: the binary packet goes one way, as an event's
    # attachment, and the event's ack comes back.
    await socket.send('451-7["room:list",{"_placeholder":true,"num":0}]')
    await socket.send_bytes(bytes([1, 2, 3, 4]))
    text = await socket.text()
    assert text.startswith("437[")
    assert json.loads(text[3:])[0]["error"]["code"] == "bad_request"
    await socket.close()


# -- heartbeat ----------------------------------------------------------------------------


async def test_heartbeat_http_long_polling_sends_ping_pong_packets(wire: Wire) -> None:
    sid, _ = await wire.open_polling()
    for _ in range(3):
        assert await wire.poll(sid) == (200, "2")
        assert (await wire.push(sid, "3"))[0] == 200


async def test_heartbeat_http_long_polling_closes_the_session_upon_ping_timeout(
    wire: Wire,
) -> None:
    sid, _ = await wire.open_polling()
    # What is tested is time passing without an answer to the ping: the suite sleeps through
    # the interval and the timeout; 0.2 s more spares a loaded machine's timers.
    await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 0.2)
    assert (await wire.poll(sid))[0] == 400


async def test_heartbeat_websocket_sends_ping_pong_packets(wire: Wire) -> None:
    socket = await wire.websocket()
    assert (await socket.text()).startswith("0")  # handshake
    for _ in range(3):
        assert await socket.text() == "2"
        await socket.send("3")
    await socket.close()


# -- close --------------------------------------------------------------------------------


async def test_close_websocket_forcefully_closes_the_session(wire: Wire) -> None:
    socket = await wire.websocket()
    assert (await socket.text()).startswith("0")  # handshake
    await socket.send("1")
    await socket.closed()
