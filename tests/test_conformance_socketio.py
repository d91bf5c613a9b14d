"""The Socket.IO protocol test suite, case by case, against a real Percolate.

The Socket.IO maintainers publish the suite (``test-suite/test-suite.js`` in
socketio/socket.io-protocol); these are the cases of its "Socket.IO protocol" section, written
here from the protocol's specification, one test per case, named after it, in its order, over
a bare WebSocket as the suite does. (Its "Engine.IO protocol" section repeats cases of the
Engine.IO suite: ``tests/test_conformance_engineio.py`` runs them.)

Adapted is only configuration: the path (``/socket.io/``), the ``auth`` Percolate requires at
CONNECT (``{"name": ...}``), a short ping interval where a case waits for a ping, a short
``connect_timeout``. The suite's demo server answers a connection with an ``auth`` event and
echoes events back; Percolate answers a connection with its ``session`` event, and a client
event with the ack or the broadcast the protocol document gives it: those replies stand in for
the echo. Not applicable, as they test the demo server's own namespace (``/custom``): "should
allow connection to a custom namespace", "... with a payload", "should connect then
disconnect from a custom namespace"; and "should send a packet with binary attachments", an
echo of binary data, which Percolate never sends. ``docs/protocol.md`` (Conformance) lists them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from server.app import APP_KEY
from server.config import Settings

from .support.conformance import Socket, Wire
from .support.servers import Running

pytestmark = pytest.mark.parametrize("backend", ["memory"])

CONNECT_TIMEOUT = 0.5


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[Running]], settings: Settings) -> Running:
    return await start_server(settings, connect_timeout=CONNECT_TIMEOUT)


@pytest.fixture
async def wire(server: Running) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as http:
        yield Wire(http, server.url)


async def opened(wire: Wire) -> Socket:
    """A WebSocket past the Engine.IO handshake."""
    socket = await wire.websocket()
    assert (await socket.text()).startswith("0")
    return socket


def ack(text: str, id: int) -> dict[str, object]:
    prefix = f"43{id}["
    assert text.startswith(prefix), text
    reply = json.loads(text[len(prefix) - 1 :])
    assert isinstance(reply, list) and len(reply) == 1
    return dict(reply[0])


# -- connect ------------------------------------------------------------------------------


async def test_connect_should_allow_connection_to_the_main_namespace(wire: Wire) -> None:
    socket = await opened(wire)
    await socket.send('40{"name":"Ann"}')
    text = await socket.text()
    assert text.startswith("40")
    handshake = json.loads(text[2:])
    assert set(handshake) == {"sid"} and isinstance(handshake["sid"], str)
    # In place of the demo server's "auth" event: Percolate's session event.
    name, session = json.loads((await socket.text())[2:])
    assert name == "session" and session["user"]["name"] == "Ann"
    await socket.close()


async def test_connect_should_allow_connection_to_the_main_namespace_with_a_payload(
    wire: Wire,
) -> None:
    socket = await opened(wire)
    await socket.send('40{"name":"Ann","token":"123"}')
    text = await socket.text()
    assert text.startswith("40")
    handshake = json.loads(text[2:])
    assert set(handshake) == {"sid"} and isinstance(handshake["sid"], str)
    # The payload was read: a token the server does not know gets a new user called Ann.
    name, session = json.loads((await socket.text())[2:])
    assert name == "session" and session["user"]["name"] == "Ann"
    assert session["token"] != "123"
    await socket.close()


async def test_connect_should_disallow_connection_to_an_unknown_namespace(wire: Wire) -> None:
    socket = await opened(wire)
    await socket.send("40/random")
    assert await socket.text() == '44/random,{"message":"Invalid namespace"}'
    await socket.close()


async def test_connect_should_disallow_connection_with_an_invalid_handshake(wire: Wire) -> None:
    socket = await opened(wire)
    await socket.send("4abc")
    await socket.closed()


async def test_connect_should_close_the_connection_if_no_handshake_is_received(
    wire: Wire,
) -> None:
    socket = await wire.websocket()
    await socket.closed()  # within connect_timeout, which a ping would not end


# -- disconnect ---------------------------------------------------------------------------


async def test_disconnect_should_disconnect_from_the_main_namespace(
    server: Running, wire: Wire
) -> None:
    engine = server.server.app[APP_KEY].sio.eio
    engine.ping_interval = 1  # the next packet is the next ping
    socket = await wire.connect_websocket("Ann")
    await socket.send("41")
    assert await socket.text() == "2"  # nothing else: the Engine.IO session stays
    await socket.close()


async def test_a_connected_session_cannot_connect_again_as_somebody_else(wire: Wire) -> None:
    # Ours: one Engine.IO session carries one identity (python-socketio answered a CONNECT
    # while connected with the string "Unable to connect", and one after DISCONNECT with a new
    # Socket.IO session for whatever auth came: test_moderation.py).
    socket = await wire.connect_websocket("Ann")
    await socket.send("40" + json.dumps({"name": "Bob"}))
    refused = await socket.text()
    assert refused.startswith("44{"), refused
    assert json.loads(refused[2:])["data"]["code"] == "forbidden"
    # Ann is still connected, as Ann.
    await socket.send('420["room:join",{"room":"lobby"}]')
    joined = ack(await socket.text(), 0)
    assert joined["ok"] is True and joined["you"] == {**joined["you"], "name": "Ann"}
    await socket.close()


# -- message ------------------------------------------------------------------------------


async def test_message_should_send_a_plain_text_packet(wire: Wire) -> None:
    socket = await wire.connect_websocket("Ann")
    await socket.send('420["room:join",{"room":"lobby"}]')
    assert ack(await socket.text(), 0)["ok"] is True
    # An event with no ack id: its reply is the room's broadcast, which the sender gets too.
    await socket.send('42["chat:send",{"room":"lobby","text":"1 2 3","client_msg_id":"m"}]')
    while not (text := await socket.text()).startswith('42["chat:message"'):
        pass
    assert json.loads(text[2:])[1]["text"] == "1 2 3"
    await socket.close()


async def test_message_should_send_a_plain_text_packet_with_an_ack(wire: Wire) -> None:
    socket = await wire.connect_websocket("Ann")
    await socket.send('42456["room:list",{}]')
    assert ack(await socket.text(), 456)["ok"] is True
    await socket.close()


async def test_message_should_send_a_packet_with_binary_attachments_and_an_ack(
    wire: Wire,
) -> None:
    socket = await wire.connect_websocket("Ann")
    # Percolate's protocol has no binary data: the BINARY_EVENT closes the connection before
    # any attachment is read (docs/protocol.md, Conformance).
    await socket.send(
        '452-789["room:list",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    await socket.send_bytes(bytes([1, 2, 3]))
    await socket.send_bytes(bytes([4, 5, 6]))
    assert await socket.closed() == []


async def test_message_should_close_the_connection_upon_invalid_format_unknown_packet_type(
    wire: Wire,
) -> None:
    socket = await wire.connect_websocket("Ann")
    await socket.send("4abc")
    await socket.closed()


async def test_message_should_close_the_connection_upon_invalid_format_invalid_payload_format(
    wire: Wire,
) -> None:
    socket = await wire.connect_websocket("Ann")
    await socket.send("42{}")
    await socket.closed()


async def test_message_should_close_the_connection_upon_invalid_format_invalid_ack_id(
    wire: Wire,
) -> None:
    socket = await wire.connect_websocket("Ann")
    await socket.send('42abc["message-with-ack",1,"2",{"3":[false]}]')
    await socket.closed()
