"""The budget: every client event is charged to its connection, a flood reaches nobody, and a
connection that keeps flooding is closed while everybody else carries on."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio

from .support import WAIT
from .support.client import Client

FLOOD = 1000
RATE, BURST = 2.0, 5
NEVER = 1_000_000
"""``flood_refusals`` for tests that count a flood's refusals without being disconnected."""

Connect = Callable[..., Awaitable[Client]]


@dataclasses.dataclass
class Scene:
    flooder: Client
    bystander: Client
    room: str


async def lobby(url: str, connect: Connect) -> Scene:
    flooder, bystander = await connect(url, "Flo"), await connect(url, "Bea")
    for client in (flooder, bystander):
        await client.ok("room:join", {"room": "lobby"})
    return Scene(flooder, bystander, "lobby")


async def coffee(url: str, connect: Connect) -> Scene:
    flooder, bystander = await connect(url, "Flo"), await connect(url, "Bea")
    room = (await flooder.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    for client in (flooder, bystander):
        await client.ok("room:join", {"room": room})
    return Scene(flooder, bystander, room)


async def workshop(url: str, connect: Connect) -> Scene:
    """The flooder is a guest; the bystander hosts (and sees every hand go up and down)."""
    host, guest = await connect(url, "Hosta"), await connect(url, "Flo")
    created = await host.ok("room:create", {"title": "Class", "kind": "workshop"})
    room = created["room"]["id"]
    await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    await guest.ok("room:join", {"room": room})
    return Scene(guest, host, room)


@dataclasses.dataclass
class Flood:
    """One kind of flood: how the room is set up, what is sent, what the bystander receives."""

    scene: Callable[[str, Connect], Awaitable[Scene]]
    send: Callable[[Scene, int], tuple[str, dict[str, Any]]]
    """The ``i``-th event of the flood and its payload."""
    relayed: str
    """The event each one that goes through sends the bystander."""
    changes: dict[str, float]
    """The budget of the flooded class."""
    match: Callable[[Any], bool] = lambda _: True


FLOODS = {
    "typing": Flood(
        lobby,
        lambda s, i: ("chat:typing", {"room": s.room}),
        "chat:typing",
        {"typing_rate": RATE, "typing_burst": BURST},
    ),
    "media": Flood(
        coffee,
        lambda s, i: ("media:state", {"room": s.room, "camera": False, "mic": i % 2 == 0}),
        "presence",
        {"media_rate": RATE, "media_burst": BURST},
        lambda event: event["event"] == "update",
    ),
    "hands": Flood(
        workshop,
        lambda s, i: ("hand:raise" if i % 2 == 0 else "hand:lower", {"room": s.room}),
        "workshop",
        {"hand_rate": RATE, "hand_burst": BURST},
    ),
    "signal": Flood(
        coffee,
        lambda s, i: (
            "signal",
            {
                "room": s.room,
                "to": s.bystander.user_id,
                "type": "candidate",
                "data": {"candidate": f"candidate:{i} 1 udp 1 192.0.2.1 9 typ host"},
            },
        ),
        "signal",
        {"signal_rate": RATE, "signal_burst": BURST},
    ),
}


@pytest.mark.parametrize("kind", FLOODS)
async def test_a_flood_reaches_the_room_at_the_budgets_rate(
    start_server, settings, connect, kind
) -> None:
    flood = FLOODS[kind]
    server = await start_server(settings, flood_refusals=NEVER, **flood.changes)
    scene = await flood.scene(server.url, connect)
    flooder, bystander = scene.flooder, scene.bystander
    bystander.received.clear()
    acks: list[dict[str, Any]] = []
    answered = asyncio.Event()

    def ack(answer: dict[str, Any]) -> None:
        acks.append(answer)
        if len(acks) == FLOOD // 2:
            answered.set()

    started = time.monotonic()
    for i in range(FLOOD):
        event, payload = flood.send(scene, i)
        if i % 2:  # events sent without an ack are charged too
            await flooder.sio.emit(event, payload)
        else:
            await flooder.sio.emit(event, payload, callback=ack)
    await asyncio.wait_for(answered.wait(), WAIT)
    # Everything relayed was written to the bystander before this message, which comes last.
    await flooder.ok("chat:send", {"room": scene.room, "text": "done", "client_msg_id": "m"})
    await bystander.wait("chat:message", lambda m: m["text"] == "done")
    elapsed = time.monotonic() - started

    allowed = BURST + RATE * elapsed + 1  # + 1: a token may refill just as we stop the clock
    relayed = [e for e in bystander.events(flood.relayed) if flood.match(e)]
    assert BURST <= len(relayed) <= allowed, f"{len(relayed)} relayed in {elapsed:.2f} s"
    refused = [ack for ack in acks if not ack["ok"]]
    assert len(acks) - len(refused) <= allowed
    assert len(refused) >= FLOOD // 2 - allowed
    for ack in refused:
        assert ack["error"]["code"] == "rate_limited"
        assert 0 < ack["error"]["retry_after"] <= 1 / RATE


async def test_a_persistent_flooder_is_disconnected_while_a_bystander_chats_on(
    start_server, settings, connect
) -> None:
    server = await start_server(
        settings, typing_rate=RATE, typing_burst=BURST, flood_refusals=20, flood_window=10.0
    )
    scene = await lobby(server.url, connect)
    flooder, bystander = scene.flooder, scene.bystander

    async def chat() -> list[dict[str, Any]]:
        acks = []
        for i in range(20):
            message = {"room": "lobby", "text": f"hello {i}", "client_msg_id": f"b{i}"}
            acks.append(await bystander.call("chat:send", message))
        return acks

    chatting = asyncio.create_task(chat())
    # No acks asked for: what the flooder does not wait for is charged all the same.
    await flood(flooder, "chat:typing", {"room": "lobby"})
    await asyncio.wait_for(flooder.sio.wait(), WAIT)

    assert flooder.events("closing") == [
        {
            "code": "rate_limited",
            "message": "you kept sending too fast; disconnected",
            "retry_after": 10.0,
        }
    ]
    assert all(ack["ok"] for ack in await chatting)
    assert len(bystander.events("chat:typing")) <= BURST + RATE * WAIT + 1
    left = await bystander.wait("presence", lambda e: e["event"] == "leave")
    assert left["member"]["id"] == flooder.user_id
    # The room carries on.
    await bystander.ok("chat:send", {"room": "lobby", "text": "still", "client_msg_id": "s"})


async def test_coming_straight_back_buys_no_fresh_burst(start_server, settings, connect) -> None:
    server = await start_server(
        settings, typing_rate=0.5, typing_burst=BURST, flood_refusals=10, flood_window=30.0
    )
    scene = await lobby(server.url, connect)
    flooder = scene.flooder
    await flood(flooder, "chat:typing", {"room": "lobby"})
    await asyncio.wait_for(flooder.sio.wait(), WAIT)
    back = await connect(server.url, "Flo", token=flooder.session["token"])
    await back.ok("room:join", {"room": "lobby"})
    again = await back.call("chat:typing", {"room": "lobby"})
    assert again["error"]["code"] == "rate_limited"
    # Only that user: the others' budgets are their own.
    await scene.bystander.ok("chat:typing", {"room": "lobby"})


async def test_unknown_events_are_charged_too(start_server, settings, connect) -> None:
    server = await start_server(settings, unknown_rate=RATE, unknown_burst=BURST, flood_refusals=20)
    scene = await lobby(server.url, connect)
    flooder = scene.flooder
    first = await flooder.call("no:such:event", {})
    assert first["error"] == {"code": "bad_request", "message": "unknown event no:such:event"}
    await flood(flooder, "no:such:event", {})
    await asyncio.wait_for(flooder.sio.wait(), WAIT)
    assert flooder.events("closing")[0]["code"] == "rate_limited"
    await scene.bystander.ok("chat:typing", {"room": "lobby"})


async def flood(client: Client, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` ``FLOOD`` times without asking for acks, or until disconnected."""
    for _ in range(FLOOD):
        if not client.sio.connected:
            return
        try:
            await client.sio.emit(event, payload)
        except socketio.exceptions.BadNamespaceError:
            return  # the server hung up on it
