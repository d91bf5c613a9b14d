"""Scaled out: several ``python -m server`` processes on one Redis and one PostgreSQL.

Each test starts its own processes (and, where it breaks them, its own Redis or PostgreSQL),
and clients behave like the web client: after losing a process they connect to another one
with their resume token, join their room again and fetch what they missed by ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import redis.asyncio

from .support import WAIT
from .support.client import Client
from .support.media import Pattern, SfuPeer
from .support.media import until as media_until
from .support.ports import free_port
from .support.servers import Process
from .support.services import PostgresProcess, RedisProcess

pytestmark = pytest.mark.slow

_prefixes = itertools.count()


class Cluster:
    def __init__(
        self,
        run_server: Callable[..., Awaitable[Process]],
        redis: RedisProcess,
        database: str,
    ) -> None:
        self.run_server = run_server
        self.redis = redis
        self.database = database
        self.prefix = f"s{next(_prefixes)}"
        self.processes: list[Process] = []

    def flags(self) -> list[str]:
        return [
            "--database-url", self.database, "--redis-url", self.redis.url,
            "--redis-prefix", self.prefix, "--presence-ttl", "2", "--reconnect-grace", "1",
            "--chat-rate", "1000", "--chat-burst", "1000", "--join-rate", "1000",
            "--join-burst", "1000",
        ]  # fmt: skip

    async def start(self, count: int) -> list[Process]:
        for _ in range(count):
            self.processes.append(await self.run_server(*self.flags()))
        return self.processes

    async def restart(self, process: Process) -> None:
        """SIGTERM, then the same process again on the same port."""
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)
        try:
            await process.finish()
        except TimeoutError:
            raise AssertionError(f"did not stop on SIGTERM:\n{process.output}") from None
        assert process.proc.returncode == 0, process.output
        await process.start()


@pytest.fixture
async def cluster(run_server, redis_server, postgres_server) -> Cluster:
    return Cluster(run_server, redis_server, await postgres_server.new_database())


async def health(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url + "healthz") as resp:
        return resp.status, dict(await resp.json())


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll a condition that has no event to wait for (recovery of a service)."""
    deadline = asyncio.get_running_loop().time() + 3 * WAIT
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


async def say(client: Client, text: str, msg_id: str) -> dict:
    return (await client.ok("chat:send", {"room": "lobby", "text": text, "client_msg_id": msg_id}))[
        "message"
    ]


async def test_people_on_two_processes_meet_as_if_there_were_one(cluster: Cluster, connect) -> None:
    one, two = await cluster.start(2)
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    joined = await bob.ok("room:join", {"room": "lobby"})
    assert sorted(m["name"] for m in joined["members"]) == ["Ann", "Bob"]
    assert (await ann.wait("presence"))["member"]["name"] == "Bob"

    hi = await say(ann, "Hi Bob", "a1")
    assert await bob.wait("chat:message", lambda m: m["id"] == hi["id"]) == hi
    reply = await say(bob, "Hi Ann", "b1")
    assert await ann.wait("chat:message", lambda m: m["id"] == reply["id"]) == reply
    from_one = (await ann.ok("chat:history", {"room": "lobby"}))["messages"]
    from_two = (await bob.ok("chat:history", {"room": "lobby"}))["messages"]
    assert from_one == from_two == [hi, reply]

    room = (await ann.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    await ann.ok("room:join", {"room": room})
    await bob.ok("room:join", {"room": room})
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    await bob.ok("signal", {"room": room, "to": ann.user_id, "type": "offer", "data": offer})
    assert (await ann.wait("signal"))["from"] == bob.user_id

    await bob.ok("room:leave", {"room": "lobby"})
    left = await ann.wait("presence", lambda e: e["event"] == "leave" and e["room"] == "lobby")
    assert left["member"]["name"] == "Bob"


async def test_every_member_sees_a_rooms_messages_in_the_same_order(
    cluster: Cluster, connect
) -> None:
    one, two = await cluster.start(2)
    members = [await connect(p.url, f"M{n}") for n, p in enumerate([one, two, one, two])]
    for member in members:
        await member.ok("room:join", {"room": "lobby"})
    # Two senders on two processes at once: each process stores and emits its own.
    count = 25

    async def send(sender: Client, tag: str) -> list[str]:
        return [(await say(sender, f"{tag}{i}", f"{tag}{i}"))["id"] for i in range(count)]

    sent = await asyncio.gather(send(members[0], "a"), send(members[1], "b"))
    # Sent after both were acked, so published after all of theirs: once it is here, all is.
    end = await say(members[2], "end", "end")
    for member in members:
        await member.wait("chat:message", lambda m: m["id"] == end["id"])
    seen = [[m["id"] for m in member.events("chat:message")] for member in members]
    assert all(sorted(ids) == sorted(sent[0] + sent[1]) for ids in seen)
    assert seen[1] == seen[0] and seen[2] == seen[0] and seen[3] == seen[0]
    # And that order is the room's: every process delivers a room's messages in seq order.
    seqs = [m["seq"] for m in members[0].events("chat:message")]
    assert seqs == sorted(seqs)


async def test_a_chat_rate_limit_spent_on_one_process_holds_on_the_other(
    cluster: Cluster, connect
) -> None:
    slow = ["--chat-rate", "0.01", "--chat-burst", "3"]  # after the cluster's own: these win
    one = await cluster.run_server(*cluster.flags(), *slow)
    two = await cluster.run_server(*cluster.flags(), *slow)
    cluster.processes += [one, two]
    ann = await connect(one.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    for i in range(3):
        await say(ann, f"hi {i}", f"a{i}")
    refused = await ann.call("chat:send", {"room": "lobby", "text": "more", "client_msg_id": "a3"})
    assert refused["error"]["code"] == "rate_limited"
    # What one process allowed reaches Redis a moment later (``limits.SYNC``), not at once.
    shared = redis.asyncio.Redis.from_url(cluster.redis.url)
    bucket = f"{cluster.prefix}:rl:chat:{ann.user_id}"

    async def spent() -> bool:
        return float(await shared.hget(bucket, "tokens") or 3) < 1

    try:
        await until(spent, "the first process's messages counted in Redis")
    finally:
        await shared.aclose()
    again = await connect(two.url, "Ann", token=ann.session["token"])
    await again.ok("room:join", {"room": "lobby"})
    elsewhere = await again.call("chat:send", {"room": "lobby", "text": "x", "client_msg_id": "b0"})
    assert elsewhere["error"]["code"] == "rate_limited"


async def test_a_killed_process_loses_no_acknowledged_message(cluster: Cluster, connect) -> None:
    one, two, three = await cluster.start(3)
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    acked = [await say(bob, f"before {i}", f"b{i}") for i in range(20)]
    last_seen = acked[-1]["seq"]

    await two.kill()
    # Bob's process is gone: within the presence lifetime Ann sees him leave.
    left = await ann.wait("presence", lambda e: e["event"] == "leave", within=3 * WAIT)
    assert left["member"]["id"] == bob.user_id
    meanwhile = [await say(ann, f"while away {i}", f"a{i}") for i in range(5)]

    # Bob comes back through another process, as the same user, and catches up by seq.
    back = await connect(three.url, "Bob", token=bob.session["token"])
    assert back.user_id == bob.user_id
    await back.ok("room:join", {"room": "lobby"})
    missed = (await back.ok("chat:history", {"room": "lobby", "after": last_seen}))["messages"]
    assert missed == meanwhile
    everything = (await back.ok("chat:history", {"room": "lobby", "limit": 100}))["messages"]
    assert [m["id"] for m in everything] == [m["id"] for m in acked + meanwhile]


async def test_redis_goes_away_and_comes_back(
    run_server, private_redis, postgres_server, connect
) -> None:
    cluster = Cluster(run_server, private_redis, await postgres_server.new_database())
    one, two = await cluster.start(2)
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})

    private_redis.stop()
    status, report = await health(one.url)
    assert status == 503 and report["presence"] == {"backend": "redis", "ok": False}
    # Chat is stored in PostgreSQL: it goes on, each process delivering to its own clients.
    during = await say(ann, "Redis is down, chat is not", "during")
    assert (await ann.wait("chat:message"))["id"] == during["id"]

    private_redis.start()  # empty: it keeps nothing on disk
    for process in (one, two):
        await until(lambda p=process: _healthy(p), f"{process.url} healthy again")

    # Presence is whole again: the heartbeats re-announced everyone.
    async def both_present() -> bool:
        members = (await ann.ok("room:join", {"room": "lobby"}))["members"]
        return sorted(m["name"] for m in members) == ["Ann", "Bob"]

    await until(both_present, "both members present again")
    # What Bob missed live, he finds by seq; live delivery works again.
    history = (await bob.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [m["id"] for m in history] == [during["id"]]
    after = await say(ann, "all good", "after")
    assert (await bob.wait("chat:message", lambda m: m["id"] == after["id"]))["seq"] == 2
    assert one.proc.returncode is None and two.proc.returncode is None  # type: ignore[union-attr]


async def _healthy(process: Process) -> bool:
    status, _ = await health(process.url)
    return status == 200


async def test_the_database_goes_away_and_comes_back(
    run_server, redis_server, private_postgres: PostgresProcess, connect
) -> None:
    cluster = Cluster(run_server, redis_server, private_postgres.url())
    (one,) = await cluster.start(1)
    ann = await connect(one.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    await say(ann, "before", "before")

    private_postgres.stop()
    started = asyncio.get_running_loop().time()
    refused = await ann.call(
        "chat:send", {"room": "lobby", "text": "lost?", "client_msg_id": "during"}
    )
    assert refused["error"]["code"] == "unavailable"
    assert asyncio.get_running_loop().time() - started < WAIT  # an answer, not a hang

    private_postgres.start()

    async def sends() -> bool:
        ack = await ann.call(
            "chat:send", {"room": "lobby", "text": "lost?", "client_msg_id": "during"}
        )
        return bool(ack["ok"])

    await until(sends, "chat:send works again")
    history = (await ann.ok("chat:history", {"room": "lobby"}))["messages"]
    # The refused message was never stored; the retry stored it once.
    assert [m["client_msg_id"] for m in history] == ["before", "during"]


async def test_a_rolling_restart_under_chat_loses_and_duplicates_nothing(
    cluster: Cluster, connect
) -> None:
    processes = await cluster.start(3)
    acked: dict[str, str] = {}  # client_msg_id -> message id
    stop = asyncio.Event()

    async def chatter(n: int) -> None:
        token = None
        i = 0
        while not stop.is_set():
            process = processes[(n + i) % len(processes)]
            client = Client()
            try:
                auth = {"name": f"C{n}", **({"token": token} if token else {})}
                await client.connect(process.url, auth)
                token = client.session["token"]
                await client.ok("room:join", {"room": "lobby"})
                while not stop.is_set():
                    msg_id = f"c{n}-{i}"
                    ack = await client.call(
                        "chat:send", {"room": "lobby", "text": msg_id, "client_msg_id": msg_id}
                    )
                    if ack["ok"]:
                        acked[msg_id] = ack["message"]["id"]
                        i += 1
            except Exception:  # the process went away mid-request: try the next one
                pass
            finally:
                with contextlib.suppress(Exception):
                    await client.close()
            # The unacknowledged client_msg_id is retried on the next process: exactly once.
            await asyncio.sleep(0.05)  # back-off before reconnecting, as clients do

    chatters = [asyncio.create_task(chatter(n)) for n in range(4)]
    for process in processes:
        await cluster.restart(process)
    await until(lambda: _at_least(acked, 100), "100 messages acknowledged")
    stop.set()
    await asyncio.gather(*chatters)

    reader = await connect(processes[0].url, "Reader")
    await reader.ok("room:join", {"room": "lobby"})
    stored: list[dict] = []
    after = 0
    while True:
        page = (await reader.ok("chat:history", {"room": "lobby", "after": after, "limit": 100}))[
            "messages"
        ]
        if not page:
            break
        stored += page
        after = page[-1]["seq"]
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))  # no gap
    ids = [m["client_msg_id"] for m in stored]
    assert len(ids) == len(set(ids))  # no duplicate
    by_client_id = {m["client_msg_id"]: m["id"] for m in stored}
    assert {k: by_client_id.get(k) for k in acked} == acked  # every ack is stored


async def _at_least(acked: dict[str, str], count: int) -> bool:
    return len(acked) >= count


async def test_a_rooms_media_lives_in_one_process_and_moves_when_it_dies(
    cluster: Cluster, connect
) -> None:
    ports = [free_port(), free_port()]
    one, two = [
        await cluster.run_server(
            *cluster.flags(), "--media-url", f"http://127.0.0.1:{port}/", "--media-ttl", "1.5",
            port=port,
        )
        for port in ports
    ]  # fmt: skip
    host = await connect(one.url, "Host")
    created = await host.ok("room:create", {"title": "Workshop", "kind": "workshop"})
    room = created["room"]["id"]
    await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    await host.ok("media:state", {"room": room, "camera": True, "mic": False})
    publisher = SfuPeer(host, room, camera=Pattern())
    viewer: SfuPeer | None = None
    try:
        await publisher.join()  # process one holds the room's media now

        guest = await connect(two.url, "Guest")
        joined = await guest.ok("room:join", {"room": room})
        assert joined["media"] == {"mode": "sfu", "url": one.url, "epoch": 1}
        moved = await guest.call("sfu:join", {"room": room})
        assert moved["error"]["code"] == "moved"
        assert moved["error"]["media"] == {"mode": "sfu", "url": one.url, "epoch": 1}

        # The guest's media connection goes to process one, as the same user.
        media = await connect(one.url, "Guest", token=guest.session["token"])
        assert media.user_id == guest.user_id
        await media.ok("room:join", {"room": room})
        viewer = SfuPeer(media, room)
        await viewer.join()
        await media_until(lambda: viewer.frames_from(host.user_id) >= 10)

        # Process one dies: its claim runs out and process two takes the room over.
        await one.kill()
        deadline = asyncio.get_running_loop().time() + WAIT
        while (ack := await guest.call("sfu:join", {"room": room}))["ok"] is False:
            assert ack["error"]["code"] == "moved", ack
            assert asyncio.get_running_loop().time() < deadline, "the room never moved"
            await asyncio.sleep(0.2)  # polling the claim's expiry, which no event announces
        told = await guest.wait("media", lambda e: e["room"] == room)
        assert told["media"] == {"mode": "sfu", "url": two.url, "epoch": 2}
    finally:
        for peer in (publisher, viewer):
            if peer is not None:
                await peer.close()
