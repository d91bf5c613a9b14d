"""Hostile clients: random and malformed payloads for every event, at a live server.

Every request gets an ack that is either ``ok`` or an error with a known code (or, for a
packet that is not JSON at all, nothing), the server stays up, and a bystander in the same
room keeps chatting without noticing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from server.config import Settings
from server.errors import Code
from server.events import table

from .support import WAIT
from .support.client import Client
from .support.rawws import CLOSE, PING, PONG, RawMember
from .support.servers import Running

CODES = {code.value for code in Code} - {Code.INTERNAL.value}
EVENTS = sorted(
    {
        "room:list",
        "room:create",
        "room:join",
        "room:leave",
        "goodbye",
        "dm:open",
        "dm:list",
        "user:block",
        "blocks:list",
        "chat:send",
        "search",
        "chat:history",
        "chat:search",
        "chat:typing",
        "chat:edit",
        "chat:delete",
        "chat:react",
        "chat:changes",
        "chat:thread",
        "chat:pins",
        "mentions:list",
        "chat:report",
        "room:slow",
        "room:edit",
        "room:moderator",
        "reports:list",
        "report:resolve",
        "chat:versions",
        "audit:list",
        "media:state",
        "signal",
        "sfu:join",
        "sfu:answer",
        "sfu:candidate",
        "sfu:leave",
        "hand:raise",
        "hand:lower",
        "stage:invite",
        "stage:remove",
        "member:mute",
        "member:remove",
        "member:allow",
        "member:role",
        "host:handover",
        "room:lock",
        "room:waiting",
        "waiting:admit",
        "waiting:decline",
        "chat:enable",
        "chat:pin",
        "workshop:end",
        "recording:start",
        "recording:stop",
        "tables:open",
        "tables:move",
        "tables:choose",
        "tables:notice",
        "tables:close",
        "rounds:start",
        "rounds:join",
        "rounds:leave",
        "rounds:stop",
        "people:stay",
        "people:decline",
        "people:remove",
        "people:list",
        "card:get",
        "card:set",
        "card:share",
        "profile:get",
        "profile:set",
        "profile:headlines",
        "online:list",
        "sessions:list",
        "session:revoke",
        "sessions:revoke_others",
        "account:erase",
    }
)
FIELDS = [
    "room",
    "text",
    "client_msg_id",
    "title",
    "kind",
    "private",
    "passcode",
    "host_key",
    "before",
    "after",
    "limit",
    "query",
    "user",
    "to",
    "type",
    "data",
    "camera",
    "mic",
    "screen",
    "enabled",
    "role",
    "message",
    "token",
    "name",
    "confirm",
    "version",
    "answer",
    "candidate",
    "tables",
    "size",
    "assign",
    "seconds",
    "table",
    "round_seconds",
    "rounds",
    "break_seconds",
    "seq",
    "emoji",
    "on",
    "reply_to",
    "mentions",
    "reason",
    "description",
    "report",
    "action",
    "around",
    "id",
    "email",
    "phone",
    "link",
    "share",
    "fields",
]

texts = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.sampled_from(["lobby", "", " ", "\x00", "\u202e", "<img src=x onerror=alert(1)>"]),
    # Search operators, good and bad (``search``).
    st.sampled_from(['from:"', "in:lobby x", "before:2026-02-30", "on:9999-12-31", "is:pinned"]),
    st.text(min_size=4001, max_size=4100),
    st.just("\U0001f600" * 3000),
)
# No bytes: binary data closes the connection by design (tests/test_hostile_edge.py).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
# Mostly objects naming a real room, so requests get past the first checks and deeper.
payloads = st.one_of(
    st.fixed_dictionaries(
        {"room": st.just("lobby")}, optional={field: values for field in FIELDS if field != "room"}
    ),
    st.fixed_dictionaries({}, optional={field: values for field in FIELDS}),
    values,
)


class Bystanders:
    def __init__(self, bea: Client, pat: Client) -> None:
        self.bea, self.pat = bea, pat
        self.count = itertools.count()

    async def still_chatting(self) -> None:
        n = next(self.count)
        sent = await self.bea.ok(
            "chat:send", {"room": "lobby", "text": f"still here {n}", "client_msg_id": f"b{n}"}
        )
        got = await self.pat.wait("chat:message", lambda m: m["id"] == sent["message"]["id"])
        assert got["text"] == f"still here {n}"


def test_the_fuzzed_events_are_the_real_ones() -> None:
    from dataclasses import dataclass

    @dataclass
    class Fake:
        def __getattr__(self, name: str) -> Any:
            return self

    fakes = [Fake() for _ in range(table.__code__.co_argcount)]
    assert set(table(*fakes)) == set(EVENTS)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.timeout(300)
async def test_random_payloads_get_an_answer_and_bother_nobody(
    server: Running, connect, caplog: pytest.LogCaptureFixture
) -> None:
    bea = await connect(server.url, "Bea")
    pat = await connect(server.url, "Pat")
    mal = await connect(server.url, "Mal")
    for client in (bea, pat, mal):
        await client.ok("room:join", {"room": "lobby"})
    bystanders = Bystanders(bea, pat)

    loop = asyncio.get_running_loop()

    # Hypothesis drives a plain function; it runs in a thread and hands each request to the
    # event loop, which keeps serving the server and the clients meanwhile.
    def send(event: str, payload: Any) -> None:
        # An oversized packet closes the connection by design (tests/test_limits.py).
        size = len(json.dumps([event, payload]))
        assume(size < server.settings.max_packet_bytes - 64)
        sent.append(event)
        if not mal.sio.connected:
            pytest.fail(f"the server closed the connection after {last[-1]}")
        last.append(f"{event!r} {payload!r:.500}")
        call = mal.sio.call(event, payload, timeout=WAIT)
        ack = asyncio.run_coroutine_threadsafe(call, loop).result(WAIT + 5)
        assert isinstance(ack, dict), ack
        if ack["ok"] is not True:
            assert ack["ok"] is False and set(ack) == {"ok", "error"}, ack
            assert ack["error"]["code"] in CODES, ack
            assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
            assert "Traceback" not in ack["error"]["message"]

    def fuzz(examples: int, event: st.SearchStrategy[str]) -> None:
        run = settings(
            max_examples=examples,
            deadline=None,
            # The payloads are large on purpose (texts past the limit, deep nesting).
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
            database=None,
        )(given(event=event, payload=payloads)(send))
        run()

    def attack() -> None:
        # Every event gets its share (a draw among 40-odd names may miss one), then names
        # the server does not know.
        for event in EVENTS:
            fuzz(25, st.just(event))
        fuzz(100, st.text(max_size=20))

    sent: list[str] = []
    last: list[str] = ["nothing"]
    await asyncio.to_thread(attack)
    assert len(sent) >= 1000 and set(EVENTS) <= set(sent)
    # No request made the server fail: nothing was logged as an internal error.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    await bystanders.still_chatting()
    # Whatever Mal did, Bea saw only chat: no presence changes of others, no errors.
    unexpected = [
        (name, data)
        for name, data in bea.received
        if name
        not in (
            "chat:message",
            "chat:change",
            "chat:typing",
            "presence",
            "workshop",
            "room:slow",
            "room:updated",
        )
    ]
    assert unexpected == []


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.parametrize(
    "packet",
    [
        "42",  # an event with no data
        "42[]",  # no event name
        "42[1,2]",  # a number for a name
        '42[["x"],{}]',  # a list for a name
        '42["connect",{}]',  # a reserved name
        '42["chat:send",{"room":"lobby"',  # cut short
        "42" + "[" * 5000 + "]" * 5000,  # deeply nested
        '42["chat:send",{"text":"\\ud800"}]',  # a lone surrogate
        "4" + "9" * 100,  # nonsense
        "45-[]",  # binary event with no attachments following
    ],
)
async def test_malformed_packets_leave_the_server_serving(
    server: Running, connect, packet: str
) -> None:
    bea = await connect(server.url, "Bea")
    pat = await connect(server.url, "Pat")
    mal = await connect(server.url, "Mal")
    for client in (bea, pat):
        await client.ok("room:join", {"room": "lobby"})
    await mal.sio.eio.send(packet)
    # Mal's connection survives nonsense too, or is closed; the server answers the others.
    await Bystanders(bea, pat).still_chatting()
    if mal.sio.connected:
        assert (await mal.call("room:list", {}))["ok"] is True


# What a hostile client can put in WebSocket frames: Engine.IO packets of every type with
# anything after the type, Socket.IO packets with anything after them, any text, any bytes.
eio_texts = st.one_of(
    st.builds(lambda t, rest: t + rest, st.sampled_from("0123456789"), st.text(max_size=40)),
    st.builds(lambda t, rest: "4" + t + rest, st.sampled_from("0123456789"), st.text(max_size=40)),
    st.text(max_size=40),
)
frames = st.tuples(
    # Mostly text, as a Socket.IO client sends; 0x3 and 0xB are reserved opcodes.
    st.sampled_from([0x1] * 6 + [0x0, 0x2, 0x8, 0x9, 0xA, 0x3, 0xB]),
    st.sampled_from([True] * 4 + [False]),  # FIN
    st.sampled_from([True] * 9 + [False]),  # masked, as a client must
    st.one_of(eio_texts.map(str.encode), st.binary(max_size=200)),
)


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.timeout(300)
async def test_random_websocket_frames_end_at_most_their_own_connection(
    start_server, settings, connect, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(
        settings, new_users_per_minute=100_000, max_connections_per_ip=100_000
    )
    bea = await connect(server.url, "Bea")
    pat = await connect(server.url, "Pat")
    for client in (bea, pat):
        await client.ok("room:join", {"room": "lobby"})
    bystanders = Bystanders(bea, pat)
    loop = asyncio.get_running_loop()

    async def one(sent: list[tuple[int, bool, bool, bytes]], garbage: bytes) -> None:
        member = await RawMember.connect(server.url, "Mal")
        try:
            await member.call("room:join", {"room": "lobby"})
            for opcode, fin, mask, payload in sent:
                member.send_frame(opcode, payload[:125] if opcode & 0x8 else payload, fin, mask)
            member.send_frame(PING, b"done?")
            # The server answers the ping once it read everything before it, or has closed
            # the connection (with a close frame, or at once).
            while True:
                opcode, payload = await asyncio.wait_for(member.frame(), WAIT)
                if (opcode, payload) == (PONG, b"done?") or opcode == CLOSE:
                    break
            member.writer.write(garbage)  # and anything at all, as the connection ends
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            member.close()

    @hypothesis.settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(sent=st.lists(frames, max_size=6), garbage=st.binary(max_size=40))
    def attack(sent: list[tuple[int, bool, bool, bytes]], garbage: bytes) -> None:
        asyncio.run_coroutine_threadsafe(one(sent, garbage), loop).result(WAIT * 2)

    await asyncio.to_thread(attack)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    await bystanders.still_chatting()


TABLE_EVENTS = [e for e in EVENTS if e.startswith(("tables:", "rounds:", "people:"))]


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.timeout(300)
async def test_random_table_requests_from_a_host_get_an_answer_and_break_nothing(
    start_server, settings: Settings, connect, caplog: pytest.LogCaptureFixture
) -> None:
    """Tables and rounds, fuzzed where they are allowed: Mal hosts a workshop and sits in a
    coffee room, Bea is a guest in both, and the requests name those rooms and their tables."""
    server = await start_server(settings, round_min_seconds=1, break_min_seconds=1)
    fuzz = hypothesis.settings
    mal = await connect(server.url, "Mal")
    bea = await connect(server.url, "Bea")
    created = await mal.ok("room:create", {"title": "W", "kind": "workshop"})
    workshop, key = created["room"]["id"], created["host_key"]
    cafe = (await mal.ok("room:create", {"title": "C", "kind": "coffee"}))["room"]["id"]
    await mal.ok("room:join", {"room": workshop, "host_key": key})
    for room in (workshop, cafe):
        await bea.ok("room:join", {"room": room})
    await mal.ok("room:join", {"room": cafe})
    loop = asyncio.get_running_loop()

    async def tables_now() -> list[str]:
        joined = await mal.ok("room:join", {"room": workshop})
        sitting = joined["tables"]["sitting"]
        return [t["id"] for t in sitting["tables"]] if sitting else []

    @fuzz(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(data=st.data(), event=st.sampled_from(TABLE_EVENTS), payload=payloads)
    def attack(data: st.DataObject, event: str, payload: Any) -> None:
        # An oversized packet closes the connection by design (tests/test_limits.py).
        assume(len(json.dumps([event, payload])) < server.settings.max_packet_bytes - 1024)
        if isinstance(payload, dict):
            payload["room"] = data.draw(st.sampled_from([workshop, cafe, "lobby"]))
            tables = asyncio.run_coroutine_threadsafe(tables_now(), loop).result(WAIT)
            if tables and data.draw(st.booleans()):
                payload["table"] = data.draw(st.sampled_from(tables))
            if data.draw(st.booleans()):
                payload["user"] = data.draw(st.sampled_from([bea.user_id, mal.user_id]))
        if not mal.sio.connected:
            pytest.fail(f"the server closed the connection before {event!r} {payload!r:.300}")
        call = mal.sio.call(event, payload, timeout=WAIT)
        ack = asyncio.run_coroutine_threadsafe(call, loop).result(WAIT + 5)
        assert isinstance(ack, dict), ack
        if ack["ok"] is not True:
            assert ack["ok"] is False and set(ack) == {"ok", "error"}, ack
            assert ack["error"]["code"] in CODES, ack
            assert ack["error"]["code"] != "internal", (event, payload, ack)

    await asyncio.to_thread(attack)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # The rooms still work: Bea can chat in both.
    for room in (workshop, cafe):
        await bea.ok("chat:send", {"room": room, "text": "still fine", "client_msg_id": room})
