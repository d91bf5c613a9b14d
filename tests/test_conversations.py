"""Conversations: replies and threads, reactions, edits, deletes, mentions, and catching up on
changes after being away; with one process and two, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from server.app import APP_KEY

from .support.client import Client
from .support.servers import Running


async def pair(server: Running, connect, room: str = "lobby") -> tuple[Client, Client]:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": room})
    await bob.ok("room:join", {"room": room})
    return ann, bob


async def say(client: Client, text: str, msg_id: str, **more: Any) -> dict:
    payload = {"room": "lobby", "text": text, "client_msg_id": msg_id, **more}
    return (await client.ok("chat:send", payload))["message"]


async def error(client: Client, event: str, payload: Any) -> tuple[str, str]:
    ack = await client.call(event, payload)
    assert ack["ok"] is False, ack
    return ack["error"]["code"], ack["error"]["message"]


async def test_a_reply_quotes_its_thread_and_the_thread_counts_it(server, connect) -> None:
    ann, bob = await pair(server, connect)
    first = await say(ann, "Who knows a good accountant in Leeds?", "q")
    reply = await say(bob, "I do: Sam at Ledger & Co", "r1", reply_to=first["seq"])
    assert reply["reply_to"] == first["seq"]
    assert reply["quote"] == {
        "user": {"id": ann.user_id, "name": "Ann"},
        "text": "Who knows a good accountant in Leeds?",
        "deleted": False,
    }
    # Everybody holding the question sees it answered once, at the room's first revision.
    counted = await ann.wait("chat:change", lambda m: m["seq"] == first["seq"])
    assert counted["replies"] == 1 and counted["last_reply_at"] == reply["ts"]
    assert counted["rev"] == 1 and counted["text"] == first["text"]
    # A reply to the reply joins the same thread (threads are one level deep).
    again = await say(ann, "Thanks!", "r2", reply_to=reply["seq"])
    assert again["reply_to"] == first["seq"]
    thread = await bob.ok("chat:thread", {"room": "lobby", "seq": reply["seq"]})
    assert thread["message"]["seq"] == first["seq"] and thread["message"]["replies"] == 2
    assert [m["text"] for m in thread["messages"]] == ["I do: Sam at Ledger & Co", "Thanks!"]


async def test_a_reply_to_nothing_is_refused_and_takes_no_seq(server, connect) -> None:
    ann, _ = await pair(server, connect)
    payload = {"room": "lobby", "text": "hm", "client_msg_id": "x", "reply_to": 99}
    assert await error(ann, "chat:send", payload) == ("not_found", "no such message")
    assert (await say(ann, "first", "y"))["seq"] == 1


async def test_a_reaction_is_seen_by_everybody_with_who_and_toggles(server, connect) -> None:
    ann, bob = await pair(server, connect)
    message = await say(ann, "Coffee on Friday?", "m")
    on = await bob.ok("chat:react", {"room": "lobby", "seq": 1, "emoji": "🎉", "on": True})
    bob_user = {"id": bob.user_id, "name": "Bob"}
    assert on["message"]["reactions"] == [{"emoji": "🎉", "users": [bob_user]}]
    seen = await ann.wait("chat:change", lambda m: m["seq"] == message["seq"])
    assert seen["reactions"] == [{"emoji": "🎉", "users": [bob_user]}]
    # The same again changes nothing: no new revision, nobody told.
    twice = await bob.ok("chat:react", {"room": "lobby", "seq": 1, "emoji": "🎉", "on": True})
    assert twice["message"]["rev"] == seen["rev"]
    await ann.ok("chat:react", {"room": "lobby", "seq": 1, "emoji": "👍", "on": True})
    await bob.ok("chat:react", {"room": "lobby", "seq": 1, "emoji": "🎉", "on": False})
    last = await ann.wait("chat:change", lambda m: m["rev"] == seen["rev"] + 2)
    assert last["reactions"] == [{"emoji": "👍", "users": [{"id": ann.user_id, "name": "Ann"}]}]
    # Bob saw every change, in revision order.
    await bob.wait("chat:change", lambda m: m["rev"] == 3)
    assert [m["rev"] for m in bob.events("chat:change")] == [1, 2]
    bad = {"room": "lobby", "seq": 1, "emoji": "🍕", "on": True}
    code, text = await error(bob, "chat:react", bad)
    assert code == "bad_request" and text.startswith("emoji must be one of 👍")


async def test_only_the_author_edits_and_the_old_words_leave_search(server, connect) -> None:
    ann, bob = await pair(server, connect)
    await say(ann, "Meet at the Corn Exchange", "m")
    edit = {"room": "lobby", "seq": 1, "text": "Meet at the Town Hall"}
    assert await error(bob, "chat:edit", edit) == (
        "forbidden",
        "only its author can edit a message",
    )
    edited = (await ann.ok("chat:edit", edit))["message"]
    assert edited["text"] == "Meet at the Town Hall" and edited["edited_at"] >= edited["ts"]
    seen = await bob.wait("chat:change")
    assert seen == edited
    found = await bob.ok("chat:search", {"room": "lobby", "query": "town hall"})
    assert [m["seq"] for m in found["messages"]] == [1]
    assert (await bob.ok("chat:search", {"room": "lobby", "query": "corn"}))["messages"] == []
    # The words it replaced are kept for moderators, not shown to members.
    archive = server.server.app[APP_KEY].archive
    kept = await archive.earlier("lobby", 1)
    assert [(v.text, v.replaced_at) for v in kept] == [
        ("Meet at the Corn Exchange", edited["edited_at"])
    ]
    assert "earlier" not in seen


async def test_a_deleted_message_leaves_a_tombstone_and_nothing_of_its_text(
    server, connect
) -> None:
    ann, bob = await pair(server, connect)
    await say(ann, "My number is 07700 900123", "m")
    reply = await say(bob, "Got it", "r", reply_to=1)
    await ann.ok("chat:edit", {"room": "lobby", "seq": 1, "text": "My number is 07700 900999"})
    assert await error(bob, "chat:delete", {"room": "lobby", "seq": 1}) == (
        "forbidden",
        "only its author or a moderator can delete a message",
    )
    gone = (await ann.ok("chat:delete", {"room": "lobby", "seq": 1}))["message"]
    assert gone["deleted"] is True and gone["text"] == "" and "reactions" not in gone
    assert gone["replies"] == 1  # the thread keeps its shape
    await bob.wait("chat:change", lambda m: m.get("deleted", False))
    history = (await bob.ok("chat:history", {"room": "lobby"}))["messages"]
    assert [(m["seq"], m["text"]) for m in history] == [(1, ""), (reply["seq"], "Got it")]
    assert history[1]["quote"] == {"user": {"id": ann.user_id, "name": "Ann"}, "text": "",
                                   "deleted": True}  # fmt: skip
    assert (await bob.ok("chat:search", {"room": "lobby", "query": "07700"}))["messages"] == []
    assert await server.server.app[APP_KEY].archive.earlier("lobby", 1) == []
    # A tombstone takes no edits, reactions or replies; deleting it again is no change.
    react = {"room": "lobby", "seq": 1, "emoji": "👍", "on": True}
    assert (await error(bob, "chat:react", react))[1] == "a deleted message takes no reactions"
    edit = {"room": "lobby", "seq": 1, "text": "back"}
    assert (await error(ann, "chat:edit", edit))[1] == "a deleted message cannot be edited"
    payload = {"room": "lobby", "text": "?", "client_msg_id": "z", "reply_to": 1}
    assert (await error(bob, "chat:send", payload))[1] == "a deleted message takes no replies"
    again = (await ann.ok("chat:delete", {"room": "lobby", "seq": 1}))["message"]
    assert again["rev"] == gone["rev"]


async def test_a_host_deletes_a_guests_message_in_a_workshop(server, connect) -> None:
    host = await connect(server.url, "Host")
    made = await host.ok("room:create", {"title": "Pricing", "kind": "workshop"})
    room = made["room"]["id"]
    await host.ok("room:join", {"room": room, "host_key": made["host_key"]})
    guest = await connect(server.url, "Guest")
    await guest.ok("room:join", {"room": room})
    payload = {"room": room, "text": "buy my course", "client_msg_id": "s"}
    spam = (await guest.ok("chat:send", payload))["message"]
    gone = await host.ok("chat:delete", {"room": room, "seq": spam["seq"]})
    assert gone["message"]["deleted"] is True
    assert (await guest.wait("chat:change"))["deleted"] is True


async def test_mentions_reach_who_may_read_and_leave_with_the_words(server, connect) -> None:
    ann, bob = await pair(server, connect)
    mention = {"mentions": [bob.user_id]}
    sent = await say(ann, "@Bob you should meet Cy", "m", **mention)
    assert sent["mentions"] == [bob.user_id]
    told = await bob.wait("mention")
    assert told["message"]["seq"] == sent["seq"]
    assert told["room"] == {"id": "lobby", "title": "Lobby"}
    listed = (await bob.ok("mentions:list", {}))["mentions"]
    assert [m["message"]["text"] for m in listed] == ["@Bob you should meet Cy"]
    # Edited away, it is no longer listed.
    await ann.ok("chat:edit", {"room": "lobby", "seq": 1, "text": "you should meet Cy"})
    assert (await bob.ok("mentions:list", {}))["mentions"] == []
    payload = {"room": "lobby", "text": "@Nobody", "client_msg_id": "n", "mentions": ["uNobody"]}
    assert await error(ann, "chat:send", payload) == ("bad_request", "mentions: unknown user")


async def test_a_private_room_does_not_tell_people_who_are_not_in_it(server, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    made = await ann.ok("room:create", {"title": "Board", "kind": "open", "private": True})
    room = made["room"]["id"]
    await ann.ok("room:join", {"room": room})
    payload = {"room": room, "text": "@Bob salary review", "client_msg_id": "p",
               "mentions": [bob.user_id]}  # fmt: skip
    await ann.ok("chat:send", payload)
    assert (await bob.ok("mentions:list", {}))["mentions"] == []
    assert bob.events("mention") == []


async def catch_up(client: Client, room: str, held: int) -> tuple[list[dict], int]:
    """Every change after ``held``, page by page, as a client does after being away."""
    changed: list[dict] = []
    rev = held
    while True:
        page = await client.ok("chat:changes", {"room": room, "after": rev, "limit": 2})
        changed += page["messages"]
        if len(page["messages"]) < 2:
            return changed, max([rev, page["rev"], *(m["rev"] for m in changed)])
        rev = page["messages"][-1]["rev"]


@pytest.mark.parametrize("archive", ["sqlite", "postgres"])
@pytest.mark.parametrize("backend", ["redis"])
async def test_changes_made_while_away_arrive_once_on_return_across_two_processes(
    start_server, settings, connect, archive: str, request: pytest.FixtureRequest
) -> None:
    if archive == "postgres":
        url = await request.getfixturevalue("postgres_server").new_database()
        settings = dataclasses.replace(settings, database_url=str(url))
    one = await start_server(settings)
    two = await start_server(dataclasses.replace(settings))
    ann = await connect(one.url, "Ann")
    cy = await connect(two.url, "Cy")
    bob = await connect(two.url, "Bob")
    for client in (ann, cy, bob):
        await client.ok("room:join", {"room": "lobby"})
    for i in range(1, 5):
        await say(ann if i % 2 else cy, f"idea {i}", f"i{i}")
    token = bob.session["token"]
    held = (await bob.ok("chat:changes", {"room": "lobby", "after": 0}))["rev"]
    await bob.drop()
    # While Bob is away, both processes change the room's messages.
    await ann.ok("chat:edit", {"room": "lobby", "seq": 1, "text": "idea 1, improved"})
    await cy.ok("chat:react", {"room": "lobby", "seq": 1, "emoji": "❤️", "on": True})
    await ann.ok("chat:react", {"room": "lobby", "seq": 2, "emoji": "👀", "on": True})
    await cy.ok("chat:delete", {"room": "lobby", "seq": 4})
    await say(ann, "on idea 2", "r", reply_to=2)
    # Everybody present saw the five changes in one order.
    for client in (ann, cy):
        await client.wait("chat:change", lambda m: m["rev"] == 5)
        assert [m["rev"] for m in client.events("chat:change")] == [1, 2, 3, 4]
    back = await connect(two.url, "Bob", token=token)
    joined = await back.ok("room:join", {"room": "lobby"})
    assert joined["rev"] == 5
    changed, rev = await catch_up(back, "lobby", held)
    assert rev == 5
    # Each changed message once, as it is now, in revision order.
    assert [(m["seq"], m["rev"]) for m in changed] == [(1, 2), (4, 4), (2, 5)]
    first, deleted, second = changed
    assert first["text"] == "idea 1, improved" and first["reactions"][0]["emoji"] == "❤️"
    assert deleted["deleted"] is True
    assert second["replies"] == 1 and second["reactions"][0]["emoji"] == "👀"
