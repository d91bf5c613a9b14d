"""Abuse: bystanders keep chatting while one address attacks the server, one attack at a time.

    .venv/bin/python bench/abuse.py [--attacks binary,nesting,...] [--seconds 8] [--json FILE]
        [--quick]

One Percolate process with its default settings (the limits are what is being measured), a
SQLite archive in a fresh folder. Two bystanders, from 127.0.0.2 and 127.0.0.3, sit in a
coffee room and a workshop and each send ``chat:send`` four times a second (open loop: on a
clock, not when the previous ack returns, so a stall shows as late acks, not as fewer sends).
First they chat for ``--seconds`` with nobody attacking: the reference, ``quiet`` (what this
machine's scheduling does to their acks in this run). Then, for each attack in turn, an
attacker process (this script with ``--attacker``, so its own CPU does not slow the
bystanders' clocks) runs from 127.0.0.1 for ``--seconds``; then:

* the bystanders' ack latency (p50, p99, max) and acks that failed or never came;
* the server's RSS before, at its peak (sampled every 0.1 s) and after;
* how much the server's log grew, and how many tracebacks it holds;
* what reached the bystanders from the attacker (typing, media state, hands, signals);
* what the attacker saw: sent, answered, refused (by code), disconnected.

Attacks (all from one address):

* ``binary``: packets announcing 100,000 binary attachments, then 64 KiB binary frames;
* ``nesting``: 1.4 KB ``chat:send`` payloads nested 700 levels deep, as fast as they go;
* ``typing``, ``media``, ``hands``, ``signal``: the event as fast as the socket takes it;
* ``sfu``: ``sfu:join`` in the workshop, then malformed ``sfu:candidate`` and ``sfu:answer``;
* ``connect``: 150 simultaneous CONNECTs, and 200 Engine.IO sessions that never CONNECT;
* ``dead``: 50 members of the coffee room that stop reading and answering pings;
* ``garbage``: frames that are not Engine.IO packets, reconnecting when closed;
* ``http``: broken HTTP requests (a bad method, an over-long header line), 50 at a time.

``--quick``: four seconds an attack (and for the reference). tests/test_abuse.py runs it and
checks what must hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from children import LOOPBACK, Child, free_port, machine, raise_nofile, wait_healthy

ATTACKS = (
    "binary",
    "nesting",
    "typing",
    "media",
    "hands",
    "signal",
    "sfu",
    "connect",
    "dead",
    "garbage",
    "http",
)
QUIET = "quiet"
"""The reference: the bystanders chat with nobody attacking."""
BYSTANDERS = ("127.0.0.2", "127.0.0.3")
SEND_EVERY = 0.25
"""Seconds between a bystander's chat messages (4 a second, within the default chat limit)."""
ACK_TIMEOUT = 10.0


# -- the attacker (a process of its own) -------------------------------------------------------


class Raw:
    """Engine.IO 4 / Socket.IO 5 spoken by hand over aiohttp's WebSocket client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.answers: Counter[str] = Counter()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, name: str | None) -> Raw:
        ws = await http.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket",
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10),
        )
        opened = await ws.receive(timeout=10)
        assert str(opened.data).startswith("0"), opened
        if name is not None:
            await ws.send_str("40" + json.dumps({"name": name}))
            connected = await ws.receive(timeout=10)
            if not str(connected.data).startswith("40"):
                await ws.close()
                raise ConnectionRefusedError(str(connected.data)[:200])
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                text = message.data
                if text == "2":
                    await self.ws.send_str("3")
                elif text.startswith("43"):
                    # 43<id>[ack]: count by ok / error code.
                    body = text[2:].lstrip("0123456789")
                    with contextlib.suppress(ValueError, IndexError, AttributeError):
                        ack = json.loads(body)[0]
                        self.answers["ok" if ack.get("ok") else ack["error"]["code"]] += 1
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()

    async def call(self, event: str, payload: Any, ack: int = 1) -> None:
        await self.ws.send_str(f"42{ack}" + json.dumps([event, payload]))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def until(deadline: float, step: Callable[[], Awaitable[None]]) -> None:
    """``step`` again and again until ``deadline`` (the event loop gets a turn each time)."""
    while time.monotonic() < deadline:
        await step()
        await asyncio.sleep(0)


async def attack(
    kind: str, url: str, rooms: dict[str, str], target: str, seconds: float
) -> dict[str, Any]:
    report: dict[str, Any] = {"sent": 0, "answers": Counter(), "disconnected": 0}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, local_addr=(LOOPBACK, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        members: list[Raw] = []

        async def member(name: str, *join: str) -> Raw:
            raw = await Raw.open(http, url, name)
            members.append(raw)
            for room in join:
                await raw.call("room:join", {"room": room}, ack=9)
            return raw

        async def flood(raw: Raw, event: str, payload: Callable[[], Any]) -> None:
            async def step() -> None:
                if raw.closed.is_set():
                    raise EOFError
                await raw.call(event, payload())
                report["sent"] += 1

            with contextlib.suppress(EOFError, ConnectionError, aiohttp.ClientError):
                await until(deadline, step)

        coffee, workshop = rooms["coffee"], rooms["workshop"]
        try:
            if kind == "binary":
                raws = [await member(f"bin{i}") for i in range(10)]
                chunk = os.urandom(64 * 1024)

                async def binary(raw: Raw) -> None:
                    await raw.ws.send_str('45100000-["chat:send",{"_placeholder":true,"num":0}]')

                    async def step() -> None:
                        if raw.closed.is_set():
                            raise EOFError
                        await raw.ws.send_bytes(chunk)
                        report["sent"] += 1

                    with contextlib.suppress(EOFError, ConnectionError, aiohttp.ClientError):
                        await until(deadline, step)

                await asyncio.gather(*(binary(raw) for raw in raws))
            elif kind == "nesting":
                raws = [await member(f"deep{i}") for i in range(5)]
                deep = "[" * 700 + "]" * 700
                await asyncio.gather(
                    *(
                        flood(raw, "chat:send", lambda: {"room": coffee, "text": deep})
                        for raw in raws
                    )
                )
            elif kind == "typing":
                raw = await member("typist", coffee)
                await flood(raw, "chat:typing", lambda: {"room": coffee})
            elif kind == "media":
                raw = await member("flicker", coffee)
                flags = [True, False]
                await flood(
                    raw,
                    "media:state",
                    lambda: {"room": coffee, "camera": random.choice(flags), "mic": True},
                )
            elif kind == "hands":
                raw = await member("waver", workshop)
                events = ["hand:raise", "hand:lower"]
                count = 0

                async def step() -> None:
                    nonlocal count
                    count += 1
                    await raw.call(events[count % 2], {"room": workshop})
                    report["sent"] += 1

                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await until(deadline, step)
            elif kind == "signal":
                raw = await member("caller", coffee)
                await flood(
                    raw,
                    "signal",
                    lambda: {"room": coffee, "to": target, "type": "candidate", "data": {"x": 1}},
                )
            elif kind == "sfu":
                raw = await member("prober", workshop)
                await raw.call("sfu:join", {"room": workshop})
                bad: list[Callable[[], tuple[str, dict[str, Any]]]] = [
                    lambda: ("sfu:candidate", {"room": workshop, "candidate": {"candidate": "x"}}),
                    lambda: (
                        "sfu:candidate",
                        {
                            "room": workshop,
                            "candidate": {
                                "candidate": "candidate:1 1 udp nan 1.2.3.4 99999 typ host",
                                "sdpMid": "0",
                            },
                        },
                    ),
                    lambda: (
                        "sfu:answer",
                        {
                            "room": workshop,
                            "version": 1,
                            "answer": {"type": "answer", "sdp": "v=0\r\nm=video x y z\r\n"},
                        },
                    ),
                ]

                async def step() -> None:
                    event, payload = random.choice(bad)()
                    await raw.call(event, payload)
                    report["sent"] += 1

                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await until(deadline, step)
            elif kind == "connect":
                silent: list[Raw] = []
                with contextlib.suppress(Exception):
                    for _ in range(200):
                        silent.append(await Raw.open(http, url, None))
                        report["sent"] += 1

                async def one(i: int) -> None:
                    try:
                        raws = await Raw.open(http, url, f"many{i}")
                        members.append(raws)
                        report["answers"]["connected"] += 1
                    except ConnectionRefusedError:
                        report["answers"]["refused"] += 1
                    except (aiohttp.ClientError, ConnectionError, AssertionError, TimeoutError):
                        report["answers"]["failed"] += 1

                async def wave() -> None:
                    await asyncio.gather(*(one(i) for i in range(150)))
                    report["sent"] += 150
                    while members:
                        await members.pop().close()

                await until(deadline, wave)
                for raw in silent:
                    await raw.close()
            elif kind == "dead":
                await dead_members(url, coffee, deadline, report)
            elif kind == "garbage":

                async def garbage() -> None:
                    raw = await member("junk")
                    with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                        while not raw.closed.is_set() and time.monotonic() < deadline:
                            await raw.ws.send_str(random.choice(["x" * 100, "9junk", "4{", "47"]))
                            report["sent"] += 1
                            await asyncio.sleep(0)
                    if raw.closed.is_set():
                        report["disconnected"] += 1
                    members.remove(raw)
                    await raw.close()

                with contextlib.suppress(ConnectionRefusedError):
                    await until(deadline, garbage)
            elif kind == "http":
                await broken_http(url, deadline, report)
            else:
                raise ValueError(f"unknown attack {kind}")
        finally:
            for raw in members:
                report["answers"].update(raw.answers)
                report["disconnected"] += raw.closed.is_set()
                await raw.close()
    report["answers"] = dict(report["answers"])
    return report


async def dead_members(url: str, room: str, deadline: float, report: dict[str, Any]) -> None:
    """Members that join, then neither read nor answer pings: the server's buffers fill."""
    port = int(url.rsplit(":", 1)[1])
    writers = []
    for i in range(50):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind((LOOPBACK, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        writer.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        for text in (
            "40" + json.dumps({"name": f"dead{i}"}),
            "421" + json.dumps(["room:join", {"room": room}]),
        ):
            payload = text.encode()
            mask = os.urandom(4)
            body = bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
            writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + body)
        writers.append(writer)
        report["sent"] += 1
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    for writer in writers:
        writer.transport.abort()


async def broken_http(url: str, deadline: float, report: dict[str, Any]) -> None:
    port = int(url.rsplit(":", 1)[1])
    requests = [
        b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /<script> HTTP/9\r\n\r\n",
    ]

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
            writer.write(random.choice(requests))
            answer = await asyncio.wait_for(reader.read(4096), 5)
            report["answers"][answer.split(b" ", 2)[1].decode() if answer else "none"] += 1
            writer.close()
        except (OSError, TimeoutError, IndexError):
            report["answers"]["failed"] += 1
        report["sent"] += 1

    async def wave() -> None:
        await asyncio.gather(*(one() for _ in range(50)))

    await until(deadline, wave)


# -- the bystanders and the measurement --------------------------------------------------------


class Bystander:
    def __init__(self, address: str, name: str) -> None:
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        self.http = aiohttp.ClientSession(connector=connector)
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.name = name
        self.user = ""
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.sio.on("*", self._on_event)
        self._count = 0
        self._session = asyncio.Event()

    async def _on_event(self, event: str, *args: Any) -> None:
        data: Any = args[0] if args else None
        if event == "session":
            self.user = data["user"]["id"]
            self._session.set()
        elif event != "chat:message":
            self.received[event] += 1

    async def connect(self, url: str) -> None:
        await self.sio.connect(url, auth={"name": self.name}, transports=["websocket"])
        await asyncio.wait_for(self._session.wait(), ACK_TIMEOUT)

    async def ok(self, event: str, payload: Any) -> dict[str, Any]:
        ack = await self.sio.call(event, payload, timeout=ACK_TIMEOUT)
        assert ack.get("ok"), (event, ack)
        return dict(ack)

    async def chat(self, room: str, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        sends = 0
        while not stop.is_set():
            sends += 1
            self._count += 1
            task = asyncio.create_task(self._send(room, self._count))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at = start + sends * SEND_EVERY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*tasks)

    async def _send(self, room: str, n: int) -> None:
        sent = time.monotonic()
        try:
            ack = await self.sio.call(
                "chat:send",
                {"room": room, "text": f"still here {n}", "client_msg_id": f"{self.name}-{n}"},
                timeout=ACK_TIMEOUT,
            )
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as exc:
            self.failures[type(exc).__name__] += 1
            return
        if ack.get("ok"):
            self.latencies.append(time.monotonic() - sent)
        else:
            self.failures[ack["error"]["code"]] += 1

    def take(self) -> tuple[list[float], Counter[str], Counter[str]]:
        taken = self.latencies, self.failures, self.received
        self.latencies, self.failures, self.received = [], Counter(), Counter()
        return taken

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        await self.http.close()


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    folder = Path(tempfile.mkdtemp(prefix="percolate-abuse-"))
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    log = folder / "server.log"
    argv = [sys.executable, "-m", "server", "--host", LOOPBACK, "--port", str(port)]
    server = await Child.start("percolate", [*argv, "--data-dir", str(folder / "data")], log)
    bystanders = [Bystander(address, f"bystander{i}") for i, address in enumerate(BYSTANDERS)]
    results: list[dict[str, Any]] = []
    try:
        await wait_healthy(server, url)
        for b in bystanders:
            await b.connect(url)
        first = bystanders[0]
        coffee = (await first.ok("room:create", {"title": "Abuse coffee", "kind": "coffee"}))[
            "room"
        ]["id"]
        made = await first.ok("room:create", {"title": "Abuse workshop", "kind": "workshop"})
        workshop = made["room"]["id"]
        await first.ok("room:join", {"room": workshop, "host_key": made["host_key"]})
        await first.ok("room:join", {"room": coffee})
        for b in bystanders[1:]:
            await b.ok("room:join", {"room": coffee})
            await b.ok("room:join", {"room": workshop})
        rooms = {"coffee": coffee, "workshop": workshop}
        quiet = await one_attack(QUIET, args, url, rooms, server, bystanders, log)
        print(row(quiet), file=sys.stderr, flush=True)
        for kind in args.attacks:
            results.append(await one_attack(kind, args, url, rooms, server, bystanders, log))
            print(row(results[-1]), file=sys.stderr, flush=True)
    finally:
        for b in bystanders:
            await b.close()
        await server.stop()
    return {"machine": machine(), "seconds": args.seconds, QUIET: quiet, "attacks": results}


async def one_attack(
    kind: str,
    args: argparse.Namespace,
    url: str,
    rooms: dict[str, str],
    server: Child,
    bystanders: list[Bystander],
    log: Path,
) -> dict[str, Any]:
    for b in bystanders:
        b.take()
    log_before = (await asyncio.to_thread(log.stat)).st_size
    rss_before = server.rss()
    peak = rss_before
    stop = asyncio.Event()
    chatting = [asyncio.create_task(b.chat(rooms["coffee"], stop)) for b in bystanders]
    config = json.dumps(
        {
            "kind": kind,
            "url": url,
            "rooms": rooms,
            "target": bystanders[0].user,
            "seconds": args.seconds,
        }
    )
    if kind == QUIET:
        reading = asyncio.create_task(nobody())
    else:
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--attacker", config, stdout=asyncio.subprocess.PIPE
        )
        reading = asyncio.create_task(attacker.communicate())
    # The bystanders chat for the attack's whole time even when the server cut it short.
    until_at = time.monotonic() + args.seconds
    while not reading.done() or time.monotonic() < until_at:
        peak = max(peak, server.rss())
        await asyncio.wait({reading}, timeout=0.1)
    out, _ = reading.result()
    stop.set()
    await asyncio.gather(*chatting)
    rss_after = server.rss()
    grown = (await asyncio.to_thread(log.read_bytes))[log_before:].decode(errors="replace")
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for b in bystanders:
        lat, fail, got = b.take()
        latencies += lat
        failures += fail
        received += got
    return {
        "attack": kind,
        "acks": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * quantile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies, default=float("nan")), 1),
        "failed": dict(failures),
        "rss_kib": {"before": rss_before, "peak": peak, "after": rss_after},
        "log_bytes": len(grown.encode()),
        "log_lines": grown.count("\n"),
        "tracebacks": grown.count("Traceback"),
        "received": dict(received),
        "attacker": json.loads(out.decode() or "{}"),
    }


async def nobody() -> tuple[bytes, bytes]:
    """What no attacker reports (the reference, ``quiet``)."""
    return b"{}", b""


def row(r: dict[str, Any]) -> str:
    rss = r["rss_kib"]
    return (
        f"| {r['attack']} | {r['acks']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
        f"{sum(r['failed'].values())} | {rss['before'] // 1024} / {rss['peak'] // 1024} / "
        f"{rss['after'] // 1024} | {r['log_bytes'] / 1024:.1f} | {r['tracebacks']} | "
        f"{sum(r['received'].values())} | {r['attacker'].get('sent', 0)} | "
        f"{r['attacker'].get('answers', {})} | {r['attacker'].get('disconnected', 0)} |"
    )


HEADER = (
    "| attack | bystander acks | p50 ms | p99 ms | max ms | failed | server RSS MiB before / peak"
    " / after | log KiB | tracebacks | relayed to bystanders | attacker sent | attacker's answers"
    " | attacker disconnected |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    " --- | --- | --- |"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true", help="four seconds an attack")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--attacker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        config = json.loads(args.attacker)
        report = asyncio.run(
            attack(
                config["kind"], config["url"], config["rooms"], config["target"], config["seconds"]
            )
        )
        print(json.dumps(report))
        return
    if args.quick:
        args.seconds = 4.0
    args.attacks = [a for a in args.attacks.split(",") if a]
    for kind in args.attacks:
        if kind not in ATTACKS:
            parser.error(f"unknown attack {kind}; choose from {', '.join(ATTACKS)}")
    print(HEADER, file=sys.stderr, flush=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = asyncio.run(measure(args))
    report["started"] = started
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
