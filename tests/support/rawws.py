"""A Socket.IO client over a bare WebSocket, for tests that need what no library client does:
stop reading, send a message in several frames, send frames that break the protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

from yarl import URL

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class RawMember:
    """Speaks Engine.IO 4 and Socket.IO 5 itself, reading only when the test says so.

    The socket has a small receive buffer: while the member does not read, the server's
    buffer for it fills (python-socketio's client cannot stop reading: aiohttp resumes its
    transport).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, query: str = "EIO=4&transport=websocket") -> RawMember:
        """The WebSocket handshake only."""
        member = await cls.attempt(url, query)
        assert isinstance(member, RawMember), f"handshake answered {member}"
        return member

    @classmethod
    async def attempt(cls, url: str, query: str = "EIO=4&transport=websocket") -> RawMember | int:
        """The WebSocket handshake: the member, or the HTTP status that refused it."""
        address = URL(url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address.host, address.port))
        # limit: the stream stops reading from the socket past 2 KiB it holds.
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /socket.io/?{query} HTTP/1.1\r\nHost: {address.host}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            writer.close()
            return status
        return cls(reader, writer)

    @classmethod
    async def connect(cls, url: str, name: str) -> RawMember:
        """Connected to Socket.IO as a new user called ``name``."""
        member = await cls.open(url)
        assert (await member.receive()).startswith("0")  # Engine.IO open
        member.send("40" + json.dumps({"name": name}))
        assert (await member.receive()).startswith("40")  # Socket.IO connected
        return member

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> None:
        self.writer.write(encode_frame(opcode, payload, fin, mask))

    def send(self, text: str) -> None:
        self.send_frame(TEXT, text.encode())

    async def frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload, whatever it is."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    async def control(self) -> tuple[int, bytes]:
        """The next control frame (close, ping or pong), skipping messages."""
        while True:
            opcode, payload = await self.frame()
            if opcode & 0x8:
                return opcode, payload

    async def receive(self) -> str:
        """The next text message; answers Engine.IO pings on the way."""
        while True:
            opcode, payload = await self.frame()
            assert opcode == TEXT, (opcode, payload)
            text = payload.decode()
            if text == "2":  # Engine.IO ping
                self.send("3")
                continue
            return text

    async def closed(self) -> int:
        """Read on until the server's close frame; its status code. The server then hangs up."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                assert await self.reader.read() == b""  # and the server hangs up
                self.writer.close()
                return int.from_bytes(payload[:2], "big")

    async def event(self) -> tuple[str, Any]:
        while True:
            text = await self.receive()
            if text.startswith("42"):
                name, *args = json.loads(text[2:])
                return name, args[0] if args else None

    async def call(self, event: str, payload: Any) -> Any:
        self.send("420" + json.dumps([event, payload]))
        while True:
            text = await self.receive()
            if text.startswith("430"):
                return json.loads(text[3:])[0]

    def close(self) -> None:
        self.writer.close()


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    """A WebSocket frame as a client sends it (RFC 6455 section 5.2): masked unless told."""
    first, length = (0x80 if fin else 0) | opcode, len(payload)
    masked = 0x80 if mask else 0
    if length < 126:
        header = bytes([first, masked | length])
    elif length < 65536:
        header = bytes([first, masked | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, masked | 127]) + length.to_bytes(8, "big")
    if mask:
        key = os.urandom(4)
        # XOR as one big integer: megabytes in milliseconds.
        stream = (key * (length // 4 + 1))[:length]
        xored = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
        payload = key + xored.to_bytes(length, "big")
    return header + payload
