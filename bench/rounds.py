"""Speed-networking rounds: how late a round reaches everybody, against a chat message.

    .venv/bin/python bench/rounds.py [--people 50,100,200] [--rounds 3] [--tick 0.05]
        [--json FILE]

One Percolate process (SQLite in a fresh folder). For each crowd size, that many clients
(raw Socket.IO over aiohttp's WebSocket, in this process) join one coffee room, one starts a
series of pairs and the others say yes. For every round, each client notes when the
``tables`` event that seats it arrives; the *lateness* is that moment minus the moment the
server set for the round to start (the previous phase's ``phase_ends_at``). It holds the
clock's wait for its next look (``--tick``: half of it on average), seating everybody, making
the round's table rooms in the archive, storing the state twice and the fan-out to everybody.
As the web client does, each client then joins its table's room at once; *at the table* is
when that ``room:join`` is acknowledged, from the same moment (the table's chat and video
can start).

The reference, measured in the same run and room: one ``chat:send``, from the send to its
arrival at each client (a stored message fanned out to the same crowd). Quoted: medians and
p99 of both, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from children import LOOPBACK, Child, free_port, machine, raise_nofile, wait_healthy

ACK_TIMEOUT = 30.0


class Person:
    """One client: Engine.IO 4 / Socket.IO 5 by hand, noting when events arrive."""

    arrived: asyncio.Condition
    """Notified whenever any person receives anything (made by ``measure``)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.user = ""
        self.seated: dict[int, float] = {}
        """Round -> when the ``tables`` event that seats this person arrived (ms, wall)."""
        self.at_table: dict[int, float] = {}
        """Round -> when the ``room:join`` of this person's table was acknowledged (ms, wall)."""
        self.views: list[dict[str, Any]] = []
        self.messages: dict[str, float] = {}
        self._sitting: set[asyncio.Task[None]] = set()
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, name: str) -> Person:
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        await ws.receive(timeout=ACK_TIMEOUT)
        await ws.send_str("40" + json.dumps({"name": name}))
        person = cls(ws)
        return person

    async def _read(self) -> None:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            async for message in self.ws:
                text = message.data
                now = time.time() * 1000
                if text == "2":
                    await self.ws.send_str("3")
                elif text.startswith("42"):
                    event, data = json.loads(text[2:])
                    if event == "session":
                        self.user = data["user"]["id"]
                    elif event == "tables":
                        self._tables(data["state"], now)
                    elif event == "chat:message":
                        self.messages[data["client_msg_id"]] = now
                elif text.startswith("43"):
                    digits = len(text) - len(text[2:].lstrip("0123456789"))
                    future = self._acks.pop(int(text[2:digits]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(text[digits:])[0])
                async with Person.arrived:
                    Person.arrived.notify_all()

    def _tables(self, state: dict[str, Any], now: float) -> None:
        self.views.append(state)
        series, sitting = state["series"], state["sitting"]
        if series is None or sitting is None or series["phase"] != "round":
            return
        table = next(
            (t["id"] for t in sitting["tables"] if any(u["id"] == self.user for u in t["seats"])),
            None,
        )
        number = series["round"]
        if table is not None and number not in self.seated:
            self.seated[number] = now
            # As the web client does: go to the table at once.
            task = asyncio.create_task(self._sit(number, table))
            self._sitting.add(task)
            task.add_done_callback(self._sitting.discard)

    async def _sit(self, number: int, table: str) -> None:
        await self.call("room:join", {"room": table})
        self.at_table[number] = time.time() * 1000
        async with Person.arrived:
            Person.arrived.notify_all()

    async def call(self, event: str, payload: Any) -> Any:
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._acks[self._next] = future
        await self.ws.send_str(f"42{self._next}" + json.dumps([event, payload]))
        ack = await asyncio.wait_for(future, ACK_TIMEOUT)
        if not ack.get("ok"):
            raise RuntimeError(f"{event}: {ack}")
        return ack

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


async def until(check: Callable[[], bool], within: float, what: str) -> None:
    """Wait until ``check()`` holds, looking again whenever somebody received something."""
    async with Person.arrived:
        try:
            await asyncio.wait_for(Person.arrived.wait_for(check), within)
        except TimeoutError:
            raise RuntimeError(f"never: {what}") from None


async def measure(url: str, people: int, rounds: int) -> dict[str, Any]:
    Person.arrived = asyncio.Condition()
    # aiohttp pools at most 100 connections by default; 200 people need 200 at once.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        crowd = [await Person.open(http, url, f"p{i}") for i in range(people)]
        try:
            await until(lambda: all(p.user for p in crowd), ACK_TIMEOUT, "every session")
            first = crowd[0]
            room = (await first.call("room:create", {"title": "Bench", "kind": "coffee"}))["room"][
                "id"
            ]
            await asyncio.gather(*(p.call("room:join", {"room": room}) for p in crowd))
            # The reference: one message fanned out to the same crowd, a few times.
            fanout: list[float] = []
            for n in range(5):
                sent = time.time() * 1000
                await first.call(
                    "chat:send", {"room": room, "text": "hello", "client_msg_id": f"m{n}"}
                )
                await until(
                    lambda n=n: all(f"m{n}" in p.messages for p in crowd), ACK_TIMEOUT, "a message"
                )
                fanout += [p.messages[f"m{n}"] - sent for p in crowd]
            start = {"room": room, "size": 2, "round_seconds": 2, "rounds": rounds}
            await first.call("rounds:start", {**start, "break_seconds": 1})
            await asyncio.gather(*(p.call("rounds:join", {"room": room}) for p in crowd[1:]))
            await until(
                lambda: all(len(p.at_table) == rounds for p in crowd),
                rounds * 10 + 30,
                "every round reached everybody",
            )
            late: list[float] = []
            sat: list[float] = []
            tables = 0
            for number in range(1, rounds + 1):
                # When the server meant the round to start: the end of the phase before it.
                before = next(
                    v["series"]["phase_ends_at"]
                    for v in first.views
                    if v["series"]["round"] == number - 1
                    and v["series"]["phase"] in ("gathering", "break")
                )
                late += [p.seated[number] - before for p in crowd]
                sat += [p.at_table[number] - before for p in crowd]
                tables = max(
                    len(v["sitting"]["tables"])
                    for v in first.views
                    if v["sitting"] is not None and v["series"]["round"] == number
                )
        finally:
            for person in crowd:
                await person.close()
    round_q, chat_q = quantiles(late), quantiles(fanout)
    return {
        "people": people,
        "tables": tables,
        "round_start_ms": round_q,
        "at_table_ms": quantiles(sat),
        "chat_fanout_ms": chat_q,
        "ratio_p50": round(round_q["p50"] / chat_q["p50"], 1) if chat_q["p50"] else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", default="50,100,200")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tick", type=float, default=0.05)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_nofile()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for people in [int(n) for n in args.people.split(",")]:
            port = free_port()
            data = Path(folder) / f"data{people}"
            server = await Child.start(
                "server",
                [sys.executable, "-m", "server", "--host", LOOPBACK, "--port", str(port),
                 "--data-dir", str(data), "--round-min-seconds", "1", "--break-min-seconds",
                 "1", "--tables-tick", str(args.tick), "--max-connections-per-ip", "1000",
                 "--new-users-per-minute", "100000", "--join-rate", "1000", "--join-burst",
                 "1000", "--max-members", "1000", "--reconnect-grace", "1",
                 "--log-level", "warning"],
                Path(folder) / f"server{people}.log",
            )  # fmt: skip
            url = f"http://{LOOPBACK}:{port}"
            try:
                await wait_healthy(server, url)
                results.append(await measure(url, people, args.rounds))
            finally:
                await server.stop()
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    report = {"machine": machine(), "tick": args.tick, "rounds": args.rounds, "results": results}
    print("| people | tables | round start p50 / p99 / max ms | at the table p50 / p99 / max ms "
          "| chat fan-out p50 / p99 / max ms | ratio of p50s (start / chat) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        rs, at, cf = r["round_start_ms"], r["at_table_ms"], r["chat_fanout_ms"]
        print(f"| {r['people']} | {r['tables']} | {rs['p50']} / {rs['p99']} / {rs['max']} | "
              f"{at['p50']} / {at['p99']} / {at['max']} | "
              f"{cf['p50']} / {cf['p99']} / {cf['max']} | {r['ratio_p50']} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
