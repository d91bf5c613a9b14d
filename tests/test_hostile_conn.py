"""Connections a client abandons or breaks: whatever the server declares gone, it closes (a
WebSocket close frame, then FIN) and forgets, so that nothing it held stays behind.

``test_clients_that_vanish_without_a_word_are_closed_and_forgotten`` runs the server as
``python -m server`` in a process of its own, so that its TCP sockets and resident memory can
be read from /proc while the clients, in this process, vanish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from server.app import APP_KEY
from server.config import Settings

from .support import WAIT
from .support.procfs import raise_nofile, rss_kib, tcp_sockets
from .support.rawws import CLOSE, TEXT, RawMember
from .support.servers import Process, Running

VANISHING = 1000
"""Clients that vanish at once, twice (the issue asks for 1,000: about 30 s on two cores)."""

UPGRADED = POLLING = VANISHING // 20
"""Of those, the ones that came by long polling and upgraded to WebSocket (as socket.io-client
does by default), and the ones that stayed on long polling; the rest opened a WebSocket."""

PING_INTERVAL, PING_TIMEOUT = 2, 1.0
"""Short, so that a round lasts about 10 s (clients answer pings until all are connected)."""

LINGER = 5.0
"""Seconds a closed WebSocket waits for the client to hang up (``stream.CLOSING``)."""

RSS_KEPT_KIB = 24 * 1024
"""Resident memory a second round of vanishing clients may leave behind the first: 1,000
connected clients take some 14 MiB, which Python's allocator keeps for reuse once they are
gone; a round that keeps more is leaking (2 MiB measured, docs/security.md)."""

SEPARATOR = b"\x1e"
"""Between the packets of a long-polling payload."""

CLOSE_PACKET = (TEXT, b"1")
NORMAL_CLOSE = (CLOSE, (1000).to_bytes(2, "big"))


class Poller:
    """Engine.IO long polling by hand on one keep-alive connection, reading only when told."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sid = ""

    @classmethod
    async def connect(cls, url: str, name: str, receive_buffer: int = 0) -> Poller:
        """A long-polling session connected to Socket.IO as ``name``, its session event read.

        With ``receive_buffer``, its socket holds at most about that much unread.
        """
        address = URL(url)
        sock = socket.socket()
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address.host, address.port))
        poller = cls(*await asyncio.open_connection(sock=sock))
        status, body = await poller.call("GET", "")
        assert status == 200 and body.startswith(b"0"), (status, body)
        poller.sid = json.loads(body[1:])["sid"]
        assert await poller.call("POST", "40" + json.dumps({"name": name})) == (200, b"ok")
        received = b""
        while b'42["session"' not in received:
            status, body = await poller.call("GET")
            assert status == 200, (status, body)
            received += body
        return poller

    def send(self, method: str, body: str = "") -> None:
        """A request of the session (of a new one, before ``connect`` knows its id)."""
        query = "EIO=4&transport=polling" + (f"&sid={self.sid}" if self.sid else "")
        data = body.encode()
        self.writer.write(
            f"{method} /socket.io/?{query} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )

    async def response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        length = next(int(line[15:]) for line in lines if line.lower().startswith("content-length"))
        return int(status.split()[1]), await self.reader.readexactly(length)

    async def call(self, method: str, body: str = "") -> tuple[int, bytes]:
        self.send(method, body)
        return await self.response()

    async def upgrade(self, url: str) -> RawMember:
        """Engine.IO's upgrade of this session to a WebSocket, step by step."""
        member = await RawMember.open(url, f"EIO=4&transport=websocket&sid={self.sid}")
        member.send("2probe")
        assert await member.receive() == "3probe"
        assert await self.call("GET") == (200, b"6")  # a NOOP ends the poll
        member.send("5")
        return member

    def close(self) -> None:
        self.writer.close()


class Heartbeat:
    """Keeps a client alive (answers its pings) until ``stop``; then, at the next ping, it
    vanishes: it answers nothing and reads nothing more, and never closes. A poller leaves
    one more poll waiting, unread.

    So every client of a test is alive until all are connected, however long that takes.
    """

    def __init__(self, client: RawMember | Poller) -> None:
        self.client = client
        self.stopped = False
        self.unanswered: list[tuple[int, bytes]] = []
        """What a WebSocket client read after ``stop``: the ping it did not answer."""
        self.task = asyncio.create_task(
            self._poll(client) if isinstance(client, Poller) else self._read(client)
        )

    def stop(self) -> None:
        self.stopped = True

    async def _read(self, member: RawMember) -> None:
        while True:
            frame = await member.frame()
            if self.stopped:
                self.unanswered.append(frame)
                return
            if frame == (TEXT, b"2"):
                member.send("3")

    async def _poll(self, poller: Poller) -> None:
        while True:
            status, body = await poller.call("GET")
            assert status == 200, (status, body)
            if self.stopped:
                poller.send("GET")
                return
            if b"2" in body.split(SEPARATOR):
                assert await poller.call("POST", "3") == (200, b"ok")


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Wait for ``condition()`` (of a state no event tells of) for at most ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.1)


async def connections(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url + "healthz") as resp:
        return int((await resp.json())["connections"])


async def rest(member: RawMember) -> list[tuple[int, bytes]]:
    """Every frame the server wrote that the member had not read, up to the server's FIN."""
    frames = []
    while True:
        try:
            frames.append(await member.frame())
        except asyncio.IncompleteReadError as end:
            assert end.partial == b"", "the server hung up in the middle of a frame"
            return frames


async def hung_up(reader: asyncio.StreamReader) -> bool:
    """Whether the server ends the stream (FIN) once what it wrote is read."""
    await asyncio.wait_for(reader.read(), WAIT)
    return reader.at_eof()


async def vanish(url: str, pid: int, tag: str) -> int:
    """``VANISHING`` clients connect, then vanish; once the server let them all go, check what
    each was told. The server's resident memory (KiB) while they were connected."""

    # Real members: Engine.IO open and Socket.IO CONNECT, each a new identity, kept alive
    # from then on.
    async def member(name: str) -> Heartbeat:
        return Heartbeat(await RawMember.connect(url, name))

    async def poller(name: str) -> Heartbeat:
        return Heartbeat(await Poller.connect(url, name))

    async def upgraded(name: str) -> tuple[Heartbeat, Poller]:
        polled = await Poller.connect(url, name)
        return Heartbeat(await polled.upgrade(url)), polled

    websockets = VANISHING - UPGRADED - POLLING
    hearts: list[Heartbeat] = []
    for first in range(0, websockets, 100):
        last = min(first + 100, websockets)
        hearts += await asyncio.gather(*(member(f"{tag}{i}") for i in range(first, last)))
    hearts += await asyncio.gather(*(poller(f"{tag}p{i}") for i in range(POLLING)))
    pairs = await asyncio.gather(*(upgraded(f"{tag}u{i}") for i in range(UPGRADED)))
    hearts += [heart for heart, _ in pairs]
    idle = [polled for _, polled in pairs]  # the connections the upgraded ones polled on
    try:
        held = list(tcp_sockets(pid).values())
        assert held.count("ESTABLISHED") == VANISHING + UPGRADED
        assert await connections(url) == VANISHING
        peak = rss_kib(pid)
        # They all vanish at their next ping; declared gone once it went unanswered for the
        # ping timeout, and closed: every socket is let go once the client had the time to
        # hang up, or its connection stayed idle as long.
        for heart in hearts:
            heart.stop()
        vanished = asyncio.get_running_loop().time()
        await until(
            lambda: len(tcp_sockets(pid)) == 1,
            2 * (PING_INTERVAL + PING_TIMEOUT) + LINGER + WAIT,
            "the server still holds sockets of vanished clients",
        )
        print(f"all gone {asyncio.get_running_loop().time() - vanished:.1f} s after they vanished")
        assert await connections(url) == 0
        await asyncio.wait_for(asyncio.gather(*(heart.task for heart in hearts)), WAIT)
        # Every WebSocket client was told: its last frames are the Engine.IO CLOSE packet and
        # a close frame, then the server hung up (FIN: the stream ends, no reset); every
        # HTTP connection was hung up too.
        for heart in hearts:
            if isinstance(heart.client, RawMember):
                frames = heart.unanswered + await asyncio.wait_for(rest(heart.client), WAIT)
                assert frames[-2:] == [CLOSE_PACKET, NORMAL_CLOSE], frames
            else:
                assert await hung_up(heart.client.reader)
        for polled in idle:
            assert await hung_up(polled.reader)
        return peak
    finally:
        for heart in hearts:
            heart.task.cancel()
            heart.client.close()
        for polled in idle:
            polled.close()


@pytest.mark.slow
async def test_clients_that_vanish_without_a_word_are_closed_and_forgotten(
    run_server, tmp_path: Path
) -> None:
    raise_nofile()  # the server inherits it: it holds a socket per client
    server: Process = await run_server(
        *("--data-dir", str(tmp_path / "data")),
        *("--ping-interval", str(PING_INTERVAL), "--ping-timeout", str(PING_TIMEOUT)),
        *("--max-connections-per-ip", "100000", "--new-users-per-minute", "100000"),
    )
    assert server.proc is not None
    pid, url = server.proc.pid, server.url
    await until(lambda: len(tcp_sockets(pid)) == 1, WAIT, "the start-up check's connection")
    # The first round grows the heap to what so many clients need; Python keeps that memory
    # for reuse. The second must find it all free again: what a round keeps is what leaks.
    first_peak = await vanish(url, pid, "a")
    baseline = rss_kib(pid)
    peak = await vanish(url, pid, "b")
    kept = rss_kib(pid) - baseline
    print(
        f"server RSS (KiB): {first_peak} and {peak} with {VANISHING} clients, {baseline} "
        f"after the first round, {kept:+} after the second"
    )
    assert kept < RSS_KEPT_KIB, (first_peak, baseline, peak, kept)
    assert "Traceback" not in server.output


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_ping_timeout_ends_with_a_close_frame_and_fin_on_every_connection(
    start_server, settings: Settings
) -> None:
    server: Running = await start_server(settings, ping_interval=1, ping_timeout=0.5)
    # As socket.io-client does by default: long polling first, then the upgrade.
    poller = await Poller.connect(server.url, "Ann")
    member = await poller.upgrade(server.url)
    try:
        # Ann's client stops answering (and reading): once the ping went unanswered for the
        # ping timeout, the WebSocket gets CLOSE and a close frame, then FIN; so does the
        # connection she polled on, now of a session that is gone.
        assert (await asyncio.wait_for(rest(member), WAIT))[-2:] == [CLOSE_PACKET, NORMAL_CLOSE]
        assert await hung_up(poller.reader)
    finally:
        member.close()
        poller.close()


@pytest.mark.parametrize("backend", ["memory"])
async def test_connections_reset_by_their_clients_do_not_stop_a_shutdown(
    start_server, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server: Running = await start_server(settings)
    members = [await RawMember.connect(server.url, f"m{i}") for i in range(20)]
    for member in members:
        # Closed with the session event unread: the kernel resets the connection (RST), and
        # the server's loop has not seen it when it hangs up on everybody.
        member.close()
    await server.close()  # raised OSError (ENOTCONN) from the first one
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def tcp_state(sock: socket.socket) -> int:
    """The kernel's state of a TCP socket (``tcpi_state`` of ``TCP_INFO``: 1 is ESTABLISHED)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_long_polling_client_that_reads_no_answer_is_closed_once_gone(
    start_server, settings: Settings
) -> None:
    # The interval leaves time to fill the queue (on a busy machine) before the first ping.
    server: Running = await start_server(settings, ping_interval=8, ping_timeout=1.0)
    poller = await Poller.connect(server.url, "Pat", receive_buffer=4096)
    engine = server.server.app[APP_KEY].sio.eio
    try:
        queue = engine.sockets[poller.sid].queue

        async def post(events: list[tuple[str, Any]], answers: int) -> None:
            """Each event with an ack id, then until ``answers`` more are queued for Pat."""
            expected = queue.qsize() + answers
            for event in events:
                assert await poller.call("POST", "421" + json.dumps(event)) == (200, b"ok")
            await until(lambda: queue.qsize() >= expected, WAIT, "the answers are not all queued")

        # Pat fills her own queue, the way a client that stops reading would have it filled
        # by a busy room: 100 messages of 4,000 characters, then their history, 20 times.
        await post([("room:join", {"room": "lobby"})], 1)
        text = "x" * 4000
        sends = [
            ("chat:send", {"room": "lobby", "text": text, "client_msg_id": f"c{i}"})
            for i in range(100)
        ]
        await post(sends, 2 * len(sends))  # an ack and a chat:message each
        await post([("chat:history", {"room": "lobby", "limit": 100})] * 20, 20)
        # Then she asks for it all (some 9 MB) and reads none of it. The server cannot write
        # it; her ping goes unanswered, her session ends, and so does the connection.
        poller.send("GET")
        connection = poller.writer.get_extra_info("socket")
        await until(
            lambda: tcp_state(connection) != 1,
            8 + 1.0 + WAIT,
            "the server still holds the connection of a client that is gone",
        )
    finally:
        poller.close()
