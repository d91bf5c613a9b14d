"""PostgreSQL stopping and starting again and again under chat: `unavailable`, never `internal`.

A real server on a private PostgreSQL cluster, real clients chatting and reading history
while the cluster is stopped (``pg_ctl stop -m fast``, as an operator or a failover does) and
started, many times in a row. Each ack is ``ok`` or ``unavailable``; afterwards every
acknowledged message is stored exactly once, ``seq`` has no gap, and nothing was logged as
an error or with a traceback.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import pytest

from .support.client import Client
from .support.services import PostgresProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CYCLES = 10


@pytest.fixture
def backend() -> str:
    return "memory"


class Traffic:
    """Clients that keep chatting (retrying a refused message, as the web client does) and
    reading history, counting what they were answered."""

    def __init__(self, chatters: list[Client], reader: Client) -> None:
        self.chatters = chatters
        self.reader = reader
        self.codes: collections.Counter[str] = collections.Counter()
        self.acked: dict[str, dict[str, Any]] = {}  # client_msg_id -> the acked message
        self.internal: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            *(asyncio.create_task(self._chat(n, c)) for n, c in enumerate(self.chatters)),
            asyncio.create_task(self._read()),
        ]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _count(self, event: str, ack: dict[str, Any]) -> None:
        code = "ok" if ack["ok"] else ack["error"]["code"]
        if code == "internal":
            self.internal.append((event, ack))
        async with self._changed:
            self.codes[code] += 1
            self._changed.notify_all()

    async def until(self, code: str, more_than: int) -> None:
        """Wait until more than ``more_than`` acks of ``code`` came."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.codes[code] > more_than), 60)

    async def _chat(self, n: int, client: Client) -> None:
        i = 0
        while not self._stop.is_set():
            msg_id = f"c{n}-{i}"
            ack = await client.call(
                "chat:send", {"room": "lobby", "text": msg_id, "client_msg_id": msg_id}
            )
            await self._count("chat:send", ack)
            if ack["ok"]:
                self.acked[msg_id] = ack["message"]
                i += 1
            else:
                await asyncio.sleep(0.01)  # back off before the retry, as clients do

    async def _read(self) -> None:
        while not self._stop.is_set():
            ack = await self.reader.call("chat:history", {"room": "lobby", "limit": 20})
            await self._count("chat:history", ack)
            if not ack["ok"]:
                await asyncio.sleep(0.01)


async def everything(client: Client) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await client.ok("chat:history", {"room": "lobby", "after": after, "limit": 100})
        if not page["messages"]:
            return stored
        stored += page["messages"]
        after = stored[-1]["seq"]


async def test_postgres_stopping_again_and_again_is_unavailable_never_internal(
    start_server, settings, private_postgres: PostgresProcess, connect, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    server = await start_server(settings, database_url=private_postgres.url())
    chatters = [await connect(server.url, name) for name in ("Ann", "Bob", "Cy")]
    reader = await connect(server.url, "Reader")
    for client in (*chatters, reader):
        await client.ok("room:join", {"room": "lobby"})
    traffic = Traffic(chatters, reader)
    traffic.start()
    for _ in range(CYCLES):
        await traffic.until("ok", traffic.codes["ok"] + 20)  # going well again
        await asyncio.to_thread(private_postgres.stop)
        await traffic.until("unavailable", traffic.codes["unavailable"])  # noticed
        await asyncio.to_thread(private_postgres.start)
    await traffic.until("ok", traffic.codes["ok"] + 20)
    await traffic.stop()
    print(f"{CYCLES} stops: {dict(traffic.codes)}")

    assert traffic.internal == []
    assert set(traffic.codes) == {"ok", "unavailable"}
    stored = await everything(reader)
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))  # no gap
    ids = [m["client_msg_id"] for m in stored]
    assert len(ids) == len(set(ids))  # nothing twice
    by_id = {m["client_msg_id"]: m for m in stored}
    assert {msg_id: by_id.get(msg_id) for msg_id in traffic.acked} == traffic.acked  # none lost
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert logged == []
