"""Bad input: every client event, and connecting, refuse it with a stable error code, and
the server carries on serving everybody else as if nothing had happened.

The cases are tables of ``name: (payload, expected code)``, one table per event. A test runs
one table in a small world: Bea (the bystander) is in the lobby and a coffee room, Pat (her
chat partner) in the lobby and a coffee room of his own, and Eve, who sends the bad input, in
the lobby and Bea's coffee room. After each of Eve's requests Bea sends a marker message; Pat
must receive it, and nothing may reach Bea or Pat before it. A test compares what happened in
every case with the table at once, so a failure names each case that went wrong.

(One server per case would be clearer still, but at ~400 cases times two presence backends it
would take far longer than this whole file should.)
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import pytest
import socketio

from .support.client import Client
from .support.servers import Running

ACK_WAIT = 2.0  # seconds to wait for an ack before calling it missing (acks take ms)
# The codes of a refusal; "internal" means the server failed on the input, which it must not.
CODES = {"bad_request", "not_found", "forbidden", "rate_limited", "too_large", "unavailable"}
_LEAKY = re.compile(r"Traceback|File \"|\.py\b|site-packages|/work/|/usr/lib")

# Placeholders in payloads, replaced by the ids of the test's world.
LOBBY = "lobby"
COFFEE = "{coffee}"  # Bea and Eve are in it (a video room)
SIDE = "{side}"  # only Pat is in it (a video room)
LOCKED = "{locked}"  # an open room with a passcode, nobody in it
WORKSHOP = "{workshop}"  # a workshop, nobody in it
DM = "{dm}"  # the direct-message room of Bea and Pat
EVE = "{eve}"
BEA = "{bea}"
PAT = "{pat}"

PASSCODE = "open sesame"
NOBODY = "nobody"  # a well-formed id that names no room and no user


class Args(tuple):  # type: ignore[type-arg]
    """Several positional arguments after the event name."""


NOTHING = Args()  # the event name alone, no payload argument at all


async def send(client: Client, event: Any, payload: Any) -> Any:
    """Emit exactly what the case says (``None`` goes out as a JSON ``null`` argument)."""
    data = tuple(payload) if isinstance(payload, Args) else (payload,)
    return await client.sio.call(event, data, timeout=ACK_WAIT)


def refusal_problems(error: Any) -> list[str]:
    """What is wrong with the ``{"code", "message"}`` of a refusal (nothing, we hope)."""
    if not isinstance(error, dict) or set(error) != {"code", "message"}:
        return [f"error is not {{code, message}}: {error!r}"]
    problems = []
    if error["code"] not in CODES:
        problems.append(f"code {error['code']!r} is not a refusal")
    message = error["message"]
    if not isinstance(message, str) or not message.strip():
        problems.append(f"message is not a non-empty string: {message!r}")
    elif _LEAKY.search(message):
        problems.append(f"message shows internals: {message!r}")
    return problems


def outcome_of(ack: Any) -> str:
    """The code of an error ack of the right shape, else a description of what came back."""
    if not isinstance(ack, dict) or set(ack) != {"ok", "error"} or ack["ok"] is not False:
        return f"not an error ack: {ack!r}"[:300]
    problems = refusal_problems(ack["error"])
    return "; ".join(problems) if problems else str(ack["error"]["code"])


def describe(event: str, data: Any) -> str:
    """An event in a few words, for failure messages."""
    if event == "presence" and isinstance(data, dict):
        return f"presence {data.get('event')} of {data.get('member', {}).get('name')}"
    if event == "chat:message" and isinstance(data, dict):
        return f"chat:message {str(data.get('text'))[:20]!r} from {data.get('user')}"
    return f"{event} {data!r}"[:100]


_markers = itertools.count()


@dataclasses.dataclass
class World:
    server: Running
    connect: Any
    bea: Client
    pat: Client
    eve: Client
    ids: dict[str, str]

    async def fill(self, template: Any) -> Any:
        """The template with its placeholders replaced; rooms are made on first mention."""
        if isinstance(template, Args):
            return Args([await self.fill(item) for item in template])
        if isinstance(template, dict):
            return {key: await self.fill(value) for key, value in template.items()}
        if isinstance(template, list):
            return [await self.fill(item) for item in template]
        if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
            key = template[1:-1]
            if key not in self.ids:
                await self._make(key)  # nobody is told about a new room: nothing to settle
            return self.ids[key]
        return template

    async def _make(self, key: str) -> None:
        pat = self.pat
        if key == "locked":
            payload = {"title": "Locked", "kind": "open", "passcode": PASSCODE}
            ack = await pat.ok("room:create", payload)
        elif key == "workshop":
            ack = await pat.ok("room:create", {"title": "Talk", "kind": "workshop"})
        elif key == "dm":
            ack = await pat.ok("dm:open", {"user": self.bea.user_id})
        else:
            raise KeyError(key)
        self.ids[key] = ack["room"]["id"]

    async def seat_eve(self) -> None:
        self.ids["eve"] = self.eve.user_id
        for room in (LOBBY, self.ids["coffee"]):
            await self.eve.ok("room:join", {"room": room})

    async def marker(self) -> list[str]:
        """Bea says something and Pat hears it; returns what Bea and Pat got before it.

        Nothing else happens in the world, so what Bea and Pat hold once the marker has
        arrived came before it (their lists are emptied for the next case).
        """
        msg_id = f"marker-{next(_markers)}"
        text = {"room": LOBBY, "text": "still here?", "client_msg_id": msg_id}
        await self.bea.ok("chat:send", text)
        for client in (self.bea, self.pat):
            await client.wait("chat:message", lambda m: m["client_msg_id"] == msg_id)
        seen = [f"Bea got {describe(name, data)}" for name, data in self.bea.received]
        seen += [f"Pat got {describe(name, data)}" for name, data in self.pat.received]
        self.bea.received.clear()
        self.pat.received.clear()
        return seen

    async def try_case(self, event: Any, template: Any) -> str:
        """Eve sends one bad request: its error code, and anything else that went wrong."""
        payload = await self.fill(template)
        try:
            outcome = outcome_of(await send(self.eve, event, payload))
        except socketio.exceptions.TimeoutError:
            outcome = f"no ack within {ACK_WAIT} s"
        seen = await self.marker()
        if seen:
            outcome += f"; others saw {seen}"
        # Eve still has her connection, her session and her rooms.
        try:
            ack = await send(self.eve, "chat:history", {"room": LOBBY, "limit": 1})
        except socketio.exceptions.TimeoutError:
            ack = None
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            outcome += f"; Eve lost her session: chat:history -> {ack!r}"
            self.eve = await self.connect(self.server.url, "Eve")  # a working Eve for the
            await self.seat_eve()  # next case
            await self.marker()
        return outcome


@pytest.fixture
async def world(server: Running, connect) -> World:
    bea = await connect(server.url, "Bea")
    pat = await connect(server.url, "Pat")
    coffee = (await bea.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    side = (await pat.ok("room:create", {"title": "Side", "kind": "coffee"}))["room"]["id"]
    for client, rooms in ((bea, [LOBBY, coffee]), (pat, [LOBBY, side])):
        for room in rooms:
            await client.ok("room:join", {"room": room})
    ids = {"coffee": coffee, "side": side, "bea": bea.user_id, "pat": pat.user_id}
    found = World(server, connect, bea, pat, await connect(server.url, "Eve"), ids)
    await found.seat_eve()
    await found.marker()  # what the setup sent is not any case's doing
    return found


# ---------------------------------------------------------------------------------------------
# The cases: for each event, ``what is wrong: (payload, expected code)``.

VALID = {
    "room:list": {},
    "room:create": {"title": "New", "kind": "open"},
    "room:join": {"room": LOBBY},
    "room:leave": {"room": LOBBY},
    "goodbye": {},
    "dm:open": {"user": BEA},
    "dm:list": {},
    "chat:send": {"room": LOBBY, "text": "hi", "client_msg_id": "eve-1"},
    "chat:history": {"room": LOBBY},
    "chat:search": {"room": LOBBY, "query": "hi"},
    "chat:typing": {"room": LOBBY},
    "media:state": {"room": COFFEE, "camera": True, "mic": True},
    "signal": {"room": COFFEE, "to": BEA, "type": "candidate", "data": None},
}

Cases = dict[str, tuple[Any, str]]


def not_one_object(event: str) -> Cases:
    """Payloads that are not one JSON object: refused by every event."""
    valid = VALID[event]
    cases: Cases = {
        "payload a string": ("lobby", "bad_request"),
        "payload an empty string": ("", "bad_request"),
        "payload a number": (7, "bad_request"),
        "payload a boolean": (True, "bad_request"),
        "payload a list holding the payload": ([valid], "bad_request"),
        "payload an empty list": ([], "bad_request"),
        "an extra positional argument": (Args([valid, "extra"]), "bad_request"),
        "the payload twice": (Args([valid, valid]), "bad_request"),
        "null and then the payload": (Args([None, valid]), "bad_request"),
    }
    if valid:  # an event with required fields needs a payload
        cases |= {
            "no payload at all": (NOTHING, "bad_request"),
            "payload null": (None, "bad_request"),
            "payload empty": ({}, "bad_request"),
        }
    return cases


def bad_ids(template: dict[str, Any], field: str) -> Cases:
    """``field`` set to strings that cannot be an id (ids are 1-64 of [A-Za-z0-9_-])."""
    values = {
        "a number": 5,
        "null": None,
        "an object": {"id": "lobby"},
        "empty": "",
        "with a space": "lob by",
        "with a slash": "../lobby",
        "with a dot": "lobby.x",
        "with a NUL": "lobby\x00",
        "non-ascii": "lobbé",
        "65 characters": "a" * 65,
    }
    return {
        f"{field} {label}": ({**template, field: value}, "bad_request")
        for label, value in values.items()
    }


CHAT = {"room": LOBBY, "text": "hello", "client_msg_id": "eve-1"}
SIGNAL = {"room": COFFEE, "to": BEA, "type": "offer", "data": {"type": "offer", "sdp": "v=0"}}
BIG_SDP = "a=x\r\n" * (64 * 1024 // 5 + 1)  # a little over 64 KiB once JSON-encoded
OPEN = {"title": "T", "kind": "open"}
CAM = {"room": COFFEE, "camera": True, "mic": True}

CASES: dict[str, Cases] = {
    "room:list": {},
    "dm:list": {},
    "goodbye": {},
    "room:create": {
        "title a number": ({**OPEN, "title": 5}, "bad_request"),
        "title null": ({**OPEN, "title": None}, "bad_request"),
        "title a list": ({**OPEN, "title": ["T"]}, "bad_request"),
        "title missing": ({"kind": "open"}, "bad_request"),
        "title empty": ({**OPEN, "title": ""}, "bad_request"),
        "title blank": ({**OPEN, "title": " \t "}, "bad_request"),
        "title 81 characters": ({**OPEN, "title": "T" * 81}, "too_large"),
        "title 5000 characters": ({**OPEN, "title": "T" * 5000}, "too_large"),
        "title with a NUL": ({**OPEN, "title": "a\x00b"}, "bad_request"),
        "title with a newline": ({**OPEN, "title": "a\nb"}, "bad_request"),
        "title with an escape sequence": ({**OPEN, "title": "\x1b[31mT"}, "bad_request"),
        "title with a bidi override": ({**OPEN, "title": "a\u202eb"}, "bad_request"),
        "kind missing": ({"title": "T"}, "bad_request"),
        "kind unknown": ({**OPEN, "kind": "video"}, "bad_request"),
        "kind capitalised": ({**OPEN, "kind": "Open"}, "bad_request"),
        "kind a number": ({**OPEN, "kind": 1}, "bad_request"),
        "kind dm": ({**OPEN, "kind": "dm"}, "bad_request"),
        "private a string": ({**OPEN, "private": "yes"}, "bad_request"),
        "private a number": ({**OPEN, "private": 1}, "bad_request"),
        "passcode a number": ({**OPEN, "passcode": 1234}, "bad_request"),
        "passcode 3 characters": ({**OPEN, "passcode": "abc"}, "bad_request"),
        "passcode 129 characters": ({**OPEN, "passcode": "p" * 129}, "too_large"),
    },
    "room:join": {
        **bad_ids({}, "room"),
        "unknown room": ({"room": NOBODY}, "not_found"),
        "unknown room with a passcode": ({"room": NOBODY, "passcode": PASSCODE}, "forbidden"),
        "passcode room without passcode": ({"room": LOCKED}, "forbidden"),
        "wrong passcode": ({"room": LOCKED, "passcode": "wrong one"}, "forbidden"),
        "passcode a number": ({"room": LOCKED, "passcode": 1234}, "bad_request"),
        "passcode 129 characters": ({"room": LOCKED, "passcode": "p" * 129}, "too_large"),
        "host key 129 characters": ({"room": WORKSHOP, "host_key": "k" * 129}, "too_large"),
        "wrong host key": ({"room": WORKSHOP, "host_key": "guess"}, "forbidden"),
        "host key a number": ({"room": WORKSHOP, "host_key": 7}, "bad_request"),
        "somebody else's direct messages": ({"room": DM}, "forbidden"),
    },
    "room:leave": {
        **bad_ids({}, "room"),
        "a room not joined": ({"room": SIDE}, "forbidden"),
        "unknown room": ({"room": NOBODY}, "forbidden"),
    },
    "dm:open": {
        **bad_ids({}, "user"),
        "with yourself": ({"user": EVE}, "bad_request"),
        "unknown user": ({"user": NOBODY}, "not_found"),
    },
    "chat:send": {
        **bad_ids(CHAT, "room"),
        "room missing": ({"text": "hi", "client_msg_id": "c"}, "bad_request"),
        "text missing": ({"room": LOBBY, "client_msg_id": "c"}, "bad_request"),
        "client_msg_id missing": ({"room": LOBBY, "text": "hi"}, "bad_request"),
        "text a number": ({**CHAT, "text": 42}, "bad_request"),
        "text null": ({**CHAT, "text": None}, "bad_request"),
        "text a list": ({**CHAT, "text": ["hi"]}, "bad_request"),
        "text a boolean": ({**CHAT, "text": True}, "bad_request"),
        "text empty": ({**CHAT, "text": ""}, "bad_request"),
        "text blank": ({**CHAT, "text": " \n\t\r "}, "bad_request"),
        "text 4001 characters": ({**CHAT, "text": "x" * 4001}, "too_large"),
        "text 100000 characters": ({**CHAT, "text": "x" * 100_000}, "too_large"),
        "text with a NUL": ({**CHAT, "text": "hi\x00"}, "bad_request"),
        "text with a bell": ({**CHAT, "text": "ding\x07"}, "bad_request"),
        "text with an escape sequence": ({**CHAT, "text": "\x1b[2Jhi"}, "bad_request"),
        "text with a DEL": ({**CHAT, "text": "hi\x7f"}, "bad_request"),
        # JSON can carry half of a surrogate pair ("\ud83d"): a client that cuts a text
        # in the middle of an emoji sends one.
        "text with a lone surrogate": ({**CHAT, "text": "cut \ud83d"}, "bad_request"),
        "client_msg_id a number": ({**CHAT, "client_msg_id": 1}, "bad_request"),
        "client_msg_id empty": ({**CHAT, "client_msg_id": ""}, "bad_request"),
        "client_msg_id 65 characters": ({**CHAT, "client_msg_id": "c" * 65}, "bad_request"),
        "a room not joined": ({**CHAT, "room": SIDE}, "forbidden"),
        "unknown room": ({**CHAT, "room": NOBODY}, "forbidden"),
        "somebody else's direct messages": ({**CHAT, "room": DM}, "forbidden"),
    },
    "chat:history": {
        **bad_ids({}, "room"),
        "before negative": ({"room": LOBBY, "before": -1}, "bad_request"),
        "after negative": ({"room": LOBBY, "after": -1}, "bad_request"),
        "before a string": ({"room": LOBBY, "before": "5"}, "bad_request"),
        "before a fraction": ({"room": LOBBY, "before": 1.5}, "bad_request"),
        "before a boolean": ({"room": LOBBY, "before": True}, "bad_request"),
        "after over 2**53": ({"room": LOBBY, "after": 2**53 + 1}, "bad_request"),
        "before and after": ({"room": LOBBY, "before": 5, "after": 1}, "bad_request"),
        "limit 0": ({"room": LOBBY, "limit": 0}, "bad_request"),
        "limit negative": ({"room": LOBBY, "limit": -5}, "bad_request"),
        "limit 1001": ({"room": LOBBY, "limit": 1001}, "bad_request"),
        "limit a string": ({"room": LOBBY, "limit": "10"}, "bad_request"),
        "a room not joined": ({"room": SIDE}, "forbidden"),
        "unknown room": ({"room": NOBODY}, "forbidden"),
        "somebody else's direct messages": ({"room": DM}, "forbidden"),
    },
    "chat:search": {
        **bad_ids({"query": "q"}, "room"),
        "query missing": ({"room": LOBBY}, "bad_request"),
        "query a number": ({"room": LOBBY, "query": 5}, "bad_request"),
        "query null": ({"room": LOBBY, "query": None}, "bad_request"),
        "query empty": ({"room": LOBBY, "query": ""}, "bad_request"),
        "query blank": ({"room": LOBBY, "query": "   "}, "bad_request"),
        "query 201 characters": ({"room": LOBBY, "query": "q" * 201}, "too_large"),
        "query 100000 characters": ({"room": LOBBY, "query": "q " * 50_000}, "too_large"),
        "limit 0": ({"room": LOBBY, "query": "q", "limit": 0}, "bad_request"),
        "limit 1001": ({"room": LOBBY, "query": "q", "limit": 1001}, "bad_request"),
        "a room not joined": ({"room": SIDE, "query": "q"}, "forbidden"),
        "unknown room": ({"room": NOBODY, "query": "q"}, "forbidden"),
    },
    "chat:typing": {
        **bad_ids({}, "room"),
        "a room not joined": ({"room": SIDE}, "forbidden"),
        "unknown room": ({"room": NOBODY}, "forbidden"),
    },
    "media:state": {
        **bad_ids({"camera": True, "mic": False}, "room"),
        "camera missing": ({"room": COFFEE, "mic": True}, "bad_request"),
        "mic missing": ({"room": COFFEE, "camera": True}, "bad_request"),
        "camera a string": ({**CAM, "camera": "true"}, "bad_request"),
        "camera null": ({**CAM, "camera": None}, "bad_request"),
        "mic a number": ({**CAM, "mic": 1}, "bad_request"),
        "screen null": ({**CAM, "screen": None}, "bad_request"),
        "in a text room": ({**CAM, "room": LOBBY}, "forbidden"),
        "a room not joined": ({**CAM, "room": SIDE}, "forbidden"),
        "unknown room": ({**CAM, "room": NOBODY}, "forbidden"),
    },
    "signal": {
        **bad_ids(SIGNAL, "room"),
        **bad_ids(SIGNAL, "to"),
        "type unknown": ({**SIGNAL, "type": "hello"}, "bad_request"),
        "type a number": ({**SIGNAL, "type": 1}, "bad_request"),
        "type missing": ({"room": COFFEE, "to": BEA}, "bad_request"),
        "to missing": ({"room": COFFEE, "type": "offer"}, "bad_request"),
        "to yourself": ({**SIGNAL, "to": EVE}, "bad_request"),
        "to somebody not in the room": ({**SIGNAL, "to": PAT}, "forbidden"),
        "to an unknown user": ({**SIGNAL, "to": NOBODY}, "forbidden"),
        "in a room not joined": ({**SIGNAL, "room": SIDE, "to": PAT}, "forbidden"),
        "in an unknown room": ({**SIGNAL, "room": NOBODY}, "forbidden"),
        "offer without data": ({**SIGNAL, "data": None}, "bad_request"),
        "offer data a string": ({**SIGNAL, "data": "v=0"}, "bad_request"),
        "offer sdp a number": ({**SIGNAL, "data": {"type": "offer", "sdp": 5}}, "bad_request"),
        "answer of an unknown type": (
            {**SIGNAL, "type": "answer", "data": {"type": "bogus", "sdp": ""}},
            "bad_request",
        ),
        "candidate data a list": ({**SIGNAL, "type": "candidate", "data": ["c"]}, "bad_request"),
        "candidate a number": (
            {**SIGNAL, "type": "candidate", "data": {"candidate": 5}},
            "bad_request",
        ),
        "offer over 64 KiB": (
            {**SIGNAL, "data": {"type": "offer", "sdp": BIG_SDP}},
            "too_large",
        ),
        "candidate over 64 KiB": (
            {**SIGNAL, "type": "candidate", "data": {"candidate": BIG_SDP}},
            "too_large",
        ),
    },
}
for _event, _cases in CASES.items():
    _cases |= not_one_object(_event)

# Event names: (event, payload, expected code).
UNKNOWN_EVENTS: dict[str, tuple[Any, Any, str]] = {
    "an unknown name": ("room:destroy", {"room": LOBBY}, "bad_request"),
    "another unknown name": ("chat:delete", {"room": LOBBY, "id": "x"}, "bad_request"),
    "an empty name": ("", {}, "bad_request"),
    "a known name in capitals": ("CHAT:SEND", CHAT, "bad_request"),
    "socket.io's 'message'": ("message", CHAT, "bad_request"),
    "a name of 10000 characters": ("e" * 10_000, {}, "bad_request"),
    "a number for a name": (123, {}, "bad_request"),
    "an unknown name without payload": ("room:destroy", NOTHING, "bad_request"),
    "an unknown name with two payloads": ("room:destroy", Args([{}, {}]), "bad_request"),
    # Names python-socketio keeps for its connection life cycle: a client sending them as
    # events must get the same refusal, not run the server's connect or disconnect handler.
    "'connect', as if connecting anew": ("connect", Args([{}, {"name": "Mal"}]), "bad_request"),
    "'disconnect'": ("disconnect", "client disconnect", "bad_request"),
    # The catch-all handler's name: python-socketio would call it with the session id
    # where the event name goes.
    "'*'": ("*", {}, "bad_request"),
    "'*' without payload": ("*", NOTHING, "bad_request"),
}


@pytest.mark.parametrize("event", list(CASES))
async def test_bad_payloads_are_refused_and_bother_nobody(world: World, event: str) -> None:
    outcomes = {
        name: await world.try_case(event, payload) for name, (payload, _) in CASES[event].items()
    }
    assert outcomes == {name: code for name, (_, code) in CASES[event].items()}
    await assert_still_serving(world)


async def test_unknown_event_names_are_refused_and_bother_nobody(world: World) -> None:
    outcomes = {
        name: await world.try_case(event, payload)
        for name, (event, payload, _) in UNKNOWN_EVENTS.items()
    }
    assert outcomes == {name: code for name, (_, _, code) in UNKNOWN_EVENTS.items()}
    await assert_still_serving(world)


async def assert_still_serving(world: World) -> None:
    """After the barrage, everybody (Eve too) chats as usual and the archive is untouched."""
    assert await world.marker() == []
    sent = (await world.eve.ok("chat:send", {**CHAT, "client_msg_id": "eve-after"}))["message"]
    for client in (world.bea, world.pat):
        assert await client.wait("chat:message", lambda m: m["id"] == sent["id"]) == sent
    history = (await world.pat.ok("chat:history", {"room": LOBBY}))["messages"]
    assert [m for m in history if m["user"]["name"] != "Bea"] == [sent]


# ---------------------------------------------------------------------------------------------
# Values exactly at a limit are fine: the limits above are not off by one.


async def test_values_at_their_limit_are_accepted(world: World) -> None:
    eve = world.eve
    coffee = world.ids["coffee"]
    title = await eve.ok("room:create", {"title": "T" * 80, "kind": "open", "passcode": "1234"})
    assert title["room"]["title"] == "T" * 80
    sent = await eve.ok("chat:send", {**CHAT, "text": "x" * 4000})
    assert sent["message"]["text"] == "x" * 4000
    await eve.ok("chat:search", {"room": LOBBY, "query": "q" * 200, "limit": 1000})
    await eve.ok("chat:history", {"room": LOBBY, "before": 0, "limit": 1})
    sdp = "x" * (64 * 1024 - len('{"type":"offer","sdp":""}'))
    signal = {**SIGNAL, "room": coffee, "to": world.bea.user_id}
    await eve.ok("signal", {**signal, "data": {"type": "offer", "sdp": sdp}})
    assert (await world.bea.wait("signal"))["data"]["sdp"] == sdp
    for event in ("room:list", "dm:list"):  # no payload, or null, is an empty one
        assert (await send(eve, event, NOTHING))["ok"] is True
        assert (await send(eve, event, None))["ok"] is True
    named = await world.connect(world.server.url, "N" * 40)
    assert named.session["user"]["name"] == "N" * 40


# ---------------------------------------------------------------------------------------------
# Connecting.


async def refusal(url: str, auth: Any) -> Any:
    """Connect with ``auth``; the data of the server's refusal, or what happened instead.

    The server raises ``ConnectionRefusedError(message, data)``; python-socketio sends
    ``{"message": ..., "data": data}`` in its CONNECT_ERROR packet, and the client passes that
    to its ``connect_error`` handler before ``connect()`` raises ``ConnectionError``.
    """
    sio = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    sio.on("connect_error", refusals.append)
    try:
        await sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=ACK_WAIT)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await sio.disconnect()
        return "connected"
    if not refusals:
        return f"no answer within {ACK_WAIT} s"
    if len(refusals) != 1 or not isinstance(refusals[0], dict):
        return f"refused with {refusals!r}"
    if set(refusals[0]) != {"message", "data"}:
        return f"refused without data: {refusals[0]!r}"
    return refusals[0]["data"]


# auth: expected code of the refusal
BAD_AUTH: dict[str, tuple[Any, str]] = {
    "auth missing": (None, "bad_request"),
    "auth a string": ("Ann", "bad_request"),
    "auth a list": (["Ann"], "bad_request"),
    "auth a number": (7, "bad_request"),
    "name missing": ({"nick": "Ann"}, "bad_request"),
    "name null": ({"name": None}, "bad_request"),
    "name empty": ({"name": ""}, "bad_request"),
    "name whitespace": ({"name": " \t\n "}, "bad_request"),
    "name 41 characters": ({"name": "N" * 41}, "too_large"),
    "name 10000 characters": ({"name": "N" * 10_000}, "too_large"),
    "name with a NUL": ({"name": "Ann\x00"}, "bad_request"),
    "name with a newline": ({"name": "Ann\nBob"}, "bad_request"),
    "name with an escape sequence": ({"name": "\x1b[31mAnn"}, "bad_request"),
    "name with a bidi override": ({"name": "\u202eAnn"}, "bad_request"),
    "name with a zero-width space": ({"name": "An\u200bn"}, "bad_request"),
    "name with a lone surrogate": ({"name": "Ann \ud83d"}, "bad_request"),
    "name a number": ({"name": 5}, "bad_request"),
    "name a boolean": ({"name": True}, "bad_request"),
    "name a list": ({"name": ["Ann"]}, "bad_request"),
    "name an object": ({"name": {"first": "Ann"}}, "bad_request"),
    "token a number": ({"name": "Ann", "token": 5}, "bad_request"),
    "token a boolean": ({"name": "Ann", "token": True}, "bad_request"),
    "token a list": ({"name": "Ann", "token": ["t"]}, "bad_request"),
    "token an object": ({"name": "Ann", "token": {"t": 1}}, "bad_request"),
    "token 129 characters": ({"name": "Ann", "token": "t" * 129}, "too_large"),
}


async def test_connecting_with_bad_auth_is_refused_with_a_code(world: World) -> None:
    outcomes = {}
    for name, (auth, _) in BAD_AUTH.items():
        data = await refusal(world.server.url, auth)
        problems = [data] if isinstance(data, str) else refusal_problems(data)
        outcomes[name] = "; ".join(problems) if problems else data["code"]
        seen = await world.marker()
        if seen:
            outcomes[name] += f"; others saw {seen}"
    assert outcomes == {name: code for name, (_, code) in BAD_AUTH.items()}
    assert await world.marker() == []


async def test_lone_surrogates_anywhere_are_refused_not_stored(server: Running, connect) -> None:
    """Half an emoji in any string must be an answer, never a failed batch for others."""
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    broken = "half \ud83d"
    for event, payload in [
        ("chat:send", {"room": "lobby", "text": "fine", "client_msg_id": broken}),
        ("chat:search", {"room": "lobby", "query": broken}),
        ("room:create", {"title": "T", "kind": "open", "private": True, "passcode": broken}),
        ("room:join", {"room": "lobby", "passcode": broken}),
    ]:
        ack = await ann.call(event, payload)
        assert ack["error"]["code"] == "bad_request", (event, ack)
    sent = await bob.ok("chat:send", {"room": "lobby", "text": "still fine", "client_msg_id": "x"})
    assert sent["message"]["seq"] == 1
