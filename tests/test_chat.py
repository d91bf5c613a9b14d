"""Chat: two people talking, stored before acknowledged, history, search, typing."""

from __future__ import annotations

import asyncio

from .support.client import Client
from .support.servers import Running


async def joined_pair(server: Running, connect) -> tuple[Client, Client]:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    return ann, bob


async def say(client: Client, text: str, msg_id: str, room: str = "lobby") -> dict:
    ack = await client.ok("chat:send", {"room": room, "text": text, "client_msg_id": msg_id})
    return ack["message"]


async def test_two_clients_chat_both_ways(server: Running, connect) -> None:
    ann, bob = await joined_pair(server, connect)

    sent = await say(ann, "Hello Bob", "a-1")
    assert sent["text"] == "Hello Bob"
    assert sent["user"] == {"id": ann.user_id, "name": "Ann"}
    assert sent["seq"] == 1 and sent["room"] == "lobby" and sent["client_msg_id"] == "a-1"
    assert await bob.wait("chat:message") == sent
    assert await ann.wait("chat:message") == sent  # the sender receives it too

    reply = await say(bob, "Hi Ann", "b-1")
    assert reply["seq"] == 2
    assert await ann.wait("chat:message") == reply


async def test_same_client_msg_id_is_stored_and_broadcast_once(server: Running, connect) -> None:
    ann, bob = await joined_pair(server, connect)
    first = await say(ann, "only once", "retry-me")
    again = await say(ann, "only once", "retry-me")
    assert again == first
    after = await say(ann, "next", "after")
    assert after["seq"] == first["seq"] + 1  # the retry took no seq

    # Bob's stream up to the next message holds the first message exactly once.
    await bob.wait("chat:message", lambda m: m["id"] == after["id"])
    assert [m["client_msg_id"] for m in bob.events("chat:message")] == ["retry-me"]
    history = (await bob.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [m["text"] for m in history] == ["only once", "next"]


async def test_same_client_msg_id_from_another_user_is_another_message(
    server: Running, connect
) -> None:
    ann, bob = await joined_pair(server, connect)
    mine = await say(ann, "from ann", "same-id")
    theirs = await say(bob, "from bob", "same-id")
    assert mine["id"] != theirs["id"] and theirs["seq"] == mine["seq"] + 1


async def test_concurrent_sends_get_distinct_gapless_seqs_in_the_same_order_for_all(
    server: Running, connect
) -> None:
    ann, bob = await joined_pair(server, connect)
    acks = await asyncio.gather(*(say(ann if i % 2 else bob, f"m{i}", f"c{i}") for i in range(40)))
    assert sorted(m["seq"] for m in acks) == list(range(1, 41))
    last = max(acks, key=lambda m: m["seq"])
    for client in (ann, bob):
        await client.wait("chat:message", lambda m: m["id"] == last["id"])
        # Each member saw the room's messages in seq order.
        assert [m["seq"] for m in client.events("chat:message")] == list(range(1, 40))


async def test_history_pages_backwards_and_catches_up_forwards(server: Running, connect) -> None:
    ann, _ = await joined_pair(server, connect)
    for i in range(1, 131):
        await say(ann, f"message {i}", f"h{i}")

    latest = (await ann.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [m["seq"] for m in latest] == list(range(81, 131))  # latest 50, oldest first

    page = (await ann.ok("chat:history", {"room": "lobby", "before": 81, "limit": 100}))["messages"]
    assert [m["seq"] for m in page] == list(range(1, 81))

    missed = (await ann.ok("chat:history", {"room": "lobby", "after": 125}))["messages"]
    assert [m["text"] for m in missed] == [f"message {i}" for i in range(126, 131)]

    capped = (await ann.ok("chat:history", {"room": "lobby", "limit": 1000}))["messages"]
    assert len(capped) == 100  # max page size

    # Joining again hands over the latest 50 as well.
    joined = await ann.ok("room:join", {"room": "lobby"})
    assert [m["seq"] for m in joined["history"]] == list(range(81, 131))


async def test_search_finds_words_newest_first_and_stays_in_its_room(
    server: Running, connect
) -> None:
    ann, _ = await joined_pair(server, connect)
    await say(ann, "Who knows a good accountant in Leeds?", "s1")
    await say(ann, "Our bakery opens on Monday", "s2")
    await say(ann, "Accountants: try Café Numbers, they're great", "s3")
    other = (await ann.ok("room:create", {"title": "Side", "kind": "open"}))["room"]
    await ann.ok("room:join", {"room": other["id"]})
    await say(ann, "an accountant in another room", "s4", room=other["id"])

    found = (await ann.ok("chat:search", {"room": "lobby", "query": "accountant"}))["messages"]
    assert [m["client_msg_id"] for m in found] == ["s3", "s1"]  # prefix match, newest first

    both = await ann.ok("chat:search", {"room": "lobby", "query": "accountant leeds"})
    assert [m["client_msg_id"] for m in both["messages"]] == ["s1"]

    accents = await ann.ok("chat:search", {"room": "lobby", "query": "cafe"})
    assert [m["client_msg_id"] for m in accents["messages"]] == ["s3"]

    # FTS syntax in the query is just text, never an error.
    odd = await ann.ok("chat:search", {"room": "lobby", "query": '"bakery* :^'})
    assert [m["client_msg_id"] for m in odd["messages"]] == ["s2"]
    syntax = await ann.ok("chat:search", {"room": "lobby", "query": 'NEAR(" OR * -'})
    assert syntax["messages"] == []
    nothing = await ann.ok("chat:search", {"room": "lobby", "query": "???"})
    assert nothing["messages"] == []


async def test_typing_reaches_the_others_only(server: Running, connect) -> None:
    ann, bob = await joined_pair(server, connect)
    await ann.ok("chat:typing", {"room": "lobby"})
    typing = await bob.wait("chat:typing")
    assert typing == {"room": "lobby", "user": {"id": ann.user_id, "name": "Ann"}}
    # Ann's own stream: the next message arrives with no typing event of her own before it.
    marker = await say(bob, "marker", "m")
    await ann.wait("chat:message", lambda m: m["id"] == marker["id"])
    assert ann.events("chat:typing") == []
    # Typing is not stored.
    history = (await ann.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [m["text"] for m in history] == ["marker"]


async def test_messages_survive_a_server_restart(start_server, settings, connect) -> None:
    first = await start_server(settings)
    ann = await connect(first.url, "Ann")
    token = ann.session["token"]
    await ann.ok("room:join", {"room": "lobby"})
    stored = [await say(ann, f"keep {i}", f"k{i}") for i in range(5)]
    await ann.close()
    await first.close()

    second = await start_server(settings)
    back = await connect(second.url, "Ann", token=token)
    assert back.user_id == stored[0]["user"]["id"]
    joined = await back.ok("room:join", {"room": "lobby"})
    assert joined["history"] == stored
    # Idempotency survives too, and seq carries on.
    assert await say(back, "keep 0", "k0") == stored[0]
    assert (await say(back, "new", "n1"))["seq"] == 6


async def test_sending_too_fast_is_rate_limited_then_recovers(
    start_server, settings, connect
) -> None:
    # A token every two seconds: the fourth send is refused however slow the machine is.
    server = await start_server(settings, chat_rate=0.5, chat_burst=3)
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    acks = [
        await ann.call("chat:send", {"room": "lobby", "text": "x", "client_msg_id": f"r{i}"})
        for i in range(4)
    ]
    assert [a["ok"] for a in acks[:3]] == [True, True, True]
    assert acks[3]["error"]["code"] == "rate_limited"
    # The refused message was not stored.
    history = (await ann.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [m["client_msg_id"] for m in history] == ["r0", "r1", "r2"]
    # The bucket refills: retrying the same id goes through in the end.
    for _ in range(100):
        ack = await ann.call("chat:send", {"room": "lobby", "text": "x", "client_msg_id": "r3"})
        if ack["ok"]:
            break
        await asyncio.sleep(0.1)  # waiting for a refill, not for an event
    assert ack["ok"] and ack["message"]["seq"] == 4
