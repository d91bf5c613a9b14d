"""Two server processes on one Redis: emits cross between them, in order."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

pytestmark = pytest.mark.parametrize("backend", ["redis"])


async def test_a_room_spans_two_servers_in_seq_order(start_server, settings, connect) -> None:
    # Both servers share one archive folder, as processes share a database when scaled out.
    one = await start_server(settings)
    two = await start_server(dataclasses.replace(settings))
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    assert (await ann.wait("presence"))["member"]["name"] == "Bob"

    acks = await asyncio.gather(
        *(
            ann.ok("chat:send", {"room": "lobby", "text": f"m{i}", "client_msg_id": f"c{i}"})
            for i in range(200)
        )
    )
    last = max(a["message"]["seq"] for a in acks)
    await bob.wait("chat:message", lambda m: m["seq"] == last)
    assert [m["seq"] for m in bob.events("chat:message")] == list(range(1, last))


async def test_signals_reach_a_member_on_the_other_server(start_server, settings, connect) -> None:
    one = await start_server(settings)
    two = await start_server(settings)
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    room = (await ann.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    await ann.ok("room:join", {"room": room})
    await bob.ok("room:join", {"room": room})
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    await ann.ok("signal", {"room": room, "to": bob.user_id, "type": "offer", "data": offer})
    assert await bob.wait("signal") == {
        "room": room,
        "from": ann.user_id,
        "type": "offer",
        "data": offer,
    }


async def test_messages_to_two_rooms_at_once_reach_each_rooms_members_in_order(
    start_server, settings, connect
) -> None:
    # Sent together, they cross Redis in shared batches, mixed: each process hands every
    # member of a room that room's messages, and only those, in seq order.
    one = await start_server(settings)
    two = await start_server(dataclasses.replace(settings))
    ann = await connect(one.url, "Ann")
    bob = await connect(two.url, "Bob")
    cy = await connect(two.url, "Cy")
    hall = (await ann.ok("room:create", {"title": "Hall", "kind": "open"}))["room"]["id"]
    for client, rooms in ((ann, ("lobby", hall)), (bob, ("lobby",)), (cy, ("lobby", hall))):
        for room in rooms:
            await client.ok("room:join", {"room": room})
    acks = await asyncio.gather(
        *(
            ann.ok("chat:send", {"room": room, "text": f"m{i}", "client_msg_id": f"{room}{i}"})
            for i in range(60)
            for room in ("lobby", hall)
        )
    )
    last = {room: max(a["message"]["seq"] for a in acks if a["message"]["room"] == room)
            for room in ("lobby", hall)}  # fmt: skip
    for client, rooms in ((bob, ("lobby",)), (cy, ("lobby", hall))):
        for room in rooms:
            await client.wait(
                "chat:message", lambda m, r=room: m["room"] == r and m["seq"] == last[r]
            )
        got = client.events("chat:message")
        assert {m["room"] for m in got} == set(rooms)
        for room in rooms:
            # (the last one was taken by ``wait``)
            assert [m["seq"] for m in got if m["room"] == room] == list(range(1, last[room]))
