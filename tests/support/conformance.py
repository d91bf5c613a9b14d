"""Engine.IO spoken by hand, the way the Socket.IO maintainers' protocol test suites talk to a
server: raw HTTP long-polling requests and a bare WebSocket whose every message the test reads.

``tests/test_conformance_engineio.py`` and ``tests/test_conformance_socketio.py`` use it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from . import WAIT

SEPARATOR = "\x1e"
"""Between the packets of a long-polling payload (Engine.IO 4)."""

ENDED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


class Wire:
    """One server's ``/socket.io/`` endpoint, over an aiohttp session of the test's."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.endpoint = f"{url.rstrip('/')}/socket.io/"

    async def request(self, method: str, query: str, body: str | None = None) -> tuple[int, str]:
        """An HTTP request to the endpoint: its status and body."""
        timeout = aiohttp.ClientTimeout(total=WAIT)
        async with self.http.request(
            method, f"{self.endpoint}?{query}", data=body, timeout=timeout
        ) as response:
            return response.status, await response.text()

    async def poll(self, sid: str) -> tuple[int, str]:
        return await self.request("GET", f"EIO=4&transport=polling&sid={sid}")

    async def push(self, sid: str, body: str) -> tuple[int, str]:
        return await self.request("POST", f"EIO=4&transport=polling&sid={sid}", body)

    async def open_polling(self) -> tuple[str, dict[str, Any]]:
        """A new long-polling session: its id and the handshake's fields."""
        status, body = await self.request("GET", "EIO=4&transport=polling")
        assert status == 200 and body.startswith("0"), (status, body)
        handshake = json.loads(body[1:])
        return handshake["sid"], handshake

    async def connect_polling(self, name: str) -> str:
        """A long-polling session connected to Socket.IO as ``name``, its session event read."""
        sid, _ = await self.open_polling()
        assert await self.push(sid, "40" + json.dumps({"name": name})) == (200, "ok")
        packets: list[str] = []
        while not any(packet.startswith('42["session"') for packet in packets):
            status, body = await self.poll(sid)
            assert status == 200, (status, body)
            packets += body.split(SEPARATOR)
        assert packets[0].startswith("40{"), packets
        return sid

    async def websocket(self, query: str = "EIO=4&transport=websocket") -> Socket:
        """A WebSocket to the endpoint (aiohttp raises ``WSServerHandshakeError`` if refused)."""
        ws = await self.http.ws_connect(f"{self.endpoint}?{query}", autoping=True)
        return Socket(ws)

    async def connect_websocket(self, name: str) -> Socket:
        """A WebSocket session connected to Socket.IO as ``name``, its session event read."""
        socket = await self.websocket()
        assert (await socket.text()).startswith("0")
        await socket.send("40" + json.dumps({"name": name}))
        assert (await socket.text()).startswith("40{")
        assert (await socket.text()).startswith('42["session"')
        return socket


class Socket:
    """A WebSocket whose every message the test reads itself, Engine.IO pings included."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def message(self) -> aiohttp.WSMessage:
        return await self.ws.receive(timeout=WAIT)

    async def text(self) -> str:
        """The next message, which must be text."""
        message = await self.message()
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return str(message.data)

    async def closed(self) -> list[str]:
        """Read on until the server closes the connection; the text messages that came first."""
        texts = []
        while (message := await self.message()).type not in (*ENDED, aiohttp.WSMsgType.ERROR):
            if message.type == aiohttp.WSMsgType.TEXT:
                texts.append(str(message.data))
        return texts

    async def close(self) -> None:
        await self.ws.close()
