"""Looking after open rooms and coffee mornings: owners, moderators, removal, slow mode,
reports and the audit log."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aiohttp
import pytest

from .support.client import Client
from .support.conformance import Socket, Wire
from .support.servers import Running


async def error(client: Client, event: str, payload: Any) -> tuple[str, str]:
    ack = await client.call(event, payload)
    assert ack["ok"] is False, ack
    return ack["error"]["code"], ack["error"]["message"]


async def looked_after(server: Running, connect) -> tuple[str, Client, Client, Client]:
    """A coffee morning Olive made, Mo moderates, and Mem is a member of."""
    olive = await connect(server.url, "Olive")
    mo = await connect(server.url, "Mo")
    mem = await connect(server.url, "Mem")
    room = (await olive.ok("room:create", {"title": "Founders", "kind": "coffee"}))["room"]["id"]
    assert (await olive.ok("room:join", {"room": room}))["you"]["role"] == "owner"
    for client in (mo, mem):
        await client.ok("room:join", {"room": room})
    await olive.ok("room:moderator", {"room": room, "user": mo.user_id, "on": True})
    made = await mem.wait("presence", lambda e: e["member"]["id"] == mo.user_id)
    assert made["event"] == "update" and made["member"]["role"] == "moderator"
    return room, olive, mo, mem


async def say(client: Client, room: str, text: str, msg_id: str) -> dict:
    payload = {"room": room, "text": text, "client_msg_id": msg_id}
    return (await client.ok("chat:send", payload))["message"]


async def test_a_moderator_deletes_and_removes_but_not_the_owner(server, connect) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    spam = await say(mem, room, "cheap followers here", "s")
    mine = await say(olive, room, "Welcome all", "w")
    deleted = await mo.ok("chat:delete", {"room": room, "seq": spam["seq"]})
    assert deleted["message"]["deleted"] is True
    assert await error(mo, "chat:delete", {"room": room, "seq": mine["seq"]}) == (
        "forbidden",
        "a moderator cannot act on the owner",
    )
    assert await error(mo, "member:remove", {"room": room, "user": olive.user_id}) == (
        "forbidden",
        "a moderator cannot act on the owner",
    )
    await mo.ok("member:remove", {"room": room, "user": mem.user_id})
    assert (await mem.wait("room:removed"))["reason"] == "removed"
    # Back with the same identity (its token), on a new connection: still out.
    again = await connect(server.url, "Mem", token=mem.session["token"])
    assert await error(again, "room:join", {"room": room}) == (
        "forbidden",
        "a moderator removed you from this room",
    )
    await olive.ok("member:allow", {"room": room, "user": mem.user_id})
    await again.ok("room:join", {"room": room})
    # The owner reads what was done, newest first; a member may not.
    log = (await olive.ok("audit:list", {"room": room}))["entries"]
    assert [(e["action"], e["by"]["name"], e["target"]["name"]) for e in log] == [
        ("allow", "Olive", "Mem"),
        ("remove", "Mo", "Mem"),
        ("delete", "Mo", "Mem"),
        ("moderator", "Olive", "Mo"),
    ]
    assert (await error(mo, "audit:list", {"room": room}))[0] == "forbidden"


async def test_slow_mode_spaces_each_persons_messages_but_not_moderators(server, connect) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    assert (await mo.ok("room:slow", {"room": room, "seconds": 60}))["seconds"] == 60
    told = await mem.wait("room:slow")
    assert told["seconds"] == 60 and told["by"]["name"] == "Mo"
    await say(mem, room, "one thought", "1")
    refused = await mem.call(
        "chat:send", {"room": room, "text": "and another", "client_msg_id": "2"}
    )
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["message"] == "slow mode: one message every 60 s"
    assert 0 < refused["error"]["retry_after"] <= 60
    await say(mo, room, "moderators are not slowed", "m1")
    await say(mo, room, "at all", "m2")
    # Newcomers learn it on joining.
    late = await connect(server.url, "Late")
    assert (await late.ok("room:join", {"room": room}))["slow_seconds"] == 60
    await olive.ok("room:slow", {"room": room, "seconds": 0})
    await say(mem, room, "and another", "2")


async def test_a_report_reaches_the_moderators_and_its_outcome_the_reporter(
    server, connect
) -> None:
    room, olive, mo, mem = await looked_after(server, connect)
    rude = await say(olive, room, "hi", "h")
    rude = await say(mo, room, "you are all idiots", "r")
    assert await error(mo, "chat:report", {"room": room, "seq": rude["seq"], "reason": "x"}) == (
        "bad_request",
        "you cannot report your own message",
    )
    filed = await mem.ok("chat:report", {"room": room, "seq": rude["seq"], "reason": "insult"})
    report = filed["report"]
    assert report["message"]["text"] == "you are all idiots" and report["outcome"] is None
    # Every moderator hears of it, and finds it in the queue.
    for moderator in (olive, mo):
        heard = await moderator.wait("report")
        assert heard["id"] == report["id"] and heard["reporter"]["name"] == "Mem"
    queue = (await olive.ok("reports:list", {"room": room}))["reports"]
    assert [r["id"] for r in queue] == [report["id"]]
    assert (await error(mem, "reports:list", {"room": room}))[0] == "forbidden"
    answer = {"room": room, "report": report["id"], "action": "delete"}
    done = (await olive.ok("report:resolve", answer))["report"]
    assert done["outcome"] == "delete" and done["resolved_by"]["name"] == "Olive"
    told = await mem.wait("report:resolved")
    assert told["report"]["outcome"] == "delete"
    gone = await mem.wait("chat:change", lambda m: m["seq"] == rude["seq"])
    assert gone["deleted"] is True
    assert (await olive.ok("reports:list", {"room": room}))["reports"] == []
    assert await error(olive, "report:resolve", answer) == ("not_found", "no such open report")


async def test_the_lobby_is_moderated_by_who_the_settings_name(
    start_server, settings, connect
) -> None:
    first = await start_server(settings)
    mia = await connect(first.url, "Mia")
    token = mia.session["token"]
    await first.close()
    # The same archive, with Mia named a moderator of the rooms nobody owns.
    server = await start_server(settings, moderators=(mia.user_id,))
    mia = await connect(server.url, "Mia", token=token)
    ned = await connect(server.url, "Ned")
    assert (await mia.ok("room:join", {"room": "lobby"}))["you"]["role"] == "moderator"
    assert (await ned.ok("room:join", {"room": "lobby"}))["you"]["role"] == "member"
    spam = (await ned.ok("chat:send", {"room": "lobby", "text": "buy now", "client_msg_id": "b"}))[
        "message"
    ]
    ref = {"room": "lobby", "seq": spam["seq"]}
    await ned.ok("chat:edit", {**ref, "text": "nothing to see"})
    assert [v["text"] for v in (await mia.ok("chat:versions", ref))["versions"]] == ["buy now"]
    await mia.ok("chat:delete", ref)
    code, _ = await error(ned, "room:slow", {"room": "lobby", "seconds": 5})
    assert code == "forbidden"


async def test_a_blocked_person_can_neither_message_nor_mention_you(server, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    blocked = await ann.ok("user:block", {"user": bob.user_id, "on": True})
    assert blocked["blocked"] == [{"id": bob.user_id, "name": "Bob"}]
    assert (await ann.ok("blocks:list", {}))["blocked"] == blocked["blocked"]
    # Neither way, old DM or new.
    assert await error(bob, "dm:open", {"user": ann.user_id}) == (
        "forbidden",
        "you cannot message this person",
    )
    for client in (ann, bob):
        await client.ok("room:join", {"room": dm})
    payload = {"room": dm, "text": "hello?", "client_msg_id": "h"}
    assert await error(bob, "chat:send", payload) == ("forbidden", "you cannot message this person")
    assert await error(ann, "chat:send", payload) == ("forbidden", "you cannot message this person")
    # Naming Ann in the lobby tells her nothing.
    for client in (ann, bob):
        await client.ok("room:join", {"room": "lobby"})
    named = {"room": "lobby", "text": "@Ann", "client_msg_id": "m", "mentions": [ann.user_id]}
    await bob.ok("chat:send", named)
    await ann.wait("chat:message", lambda m: m["client_msg_id"] == "m")
    assert ann.events("mention") == []
    assert (await ann.ok("mentions:list", {}))["mentions"] == []
    assert await error(ann, "user:block", {"user": ann.user_id, "on": True}) == (
        "bad_request",
        "that is you",
    )
    # Unblocked, they talk again.
    assert (await ann.ok("user:block", {"user": bob.user_id, "on": False}))["blocked"] == []
    await bob.ok("chat:send", payload)


async def test_an_edited_title_and_description_reach_the_room_and_the_lobby(
    server, connect
) -> None:
    room, _, mo, mem = await looked_after(server, connect)
    edit = {"room": room, "title": "Founders' breakfast", "description": "Fridays, 8:30."}
    assert await error(mem, "room:edit", edit) == (
        "forbidden",
        "room:edit is not for a member in a coffee room",
    )
    edited = (await mo.ok("room:edit", edit))["room"]
    assert edited["title"] == "Founders' breakfast" and edited["description"] == "Fridays, 8:30."
    told = await mem.wait("room:updated")
    assert told["room"] == edited and told["by"]["name"] == "Mo"
    listed = {r["id"]: r for r in (await mem.ok("room:list", {}))["rooms"]}
    assert listed[room]["description"] == "Fridays, 8:30."
    late = await connect(server.url, "Late")
    assert (await late.ok("room:join", {"room": room}))["room"]["title"] == "Founders' breakfast"


@pytest.mark.parametrize("archive", ["sqlite", "postgres"])
@pytest.mark.parametrize("backend", ["memory"])
async def test_moderators_read_what_an_edited_message_said_before(
    start_server, settings, connect, archive: str, request: pytest.FixtureRequest
) -> None:
    if archive == "postgres":
        url = await request.getfixturevalue("postgres_server").new_database()
        settings = dataclasses.replace(settings, database_url=str(url))
    room, olive, mo, mem = await looked_after(await start_server(settings), connect)
    said = await say(mem, room, "meet at 6, bring cash", "m")
    ref = {"room": room, "seq": said["seq"]}
    times = []
    for text in ("meet at 7", "meet at 8"):
        edited = (await mem.ok("chat:edit", {**ref, "text": text}))["message"]
        times.append(edited["edited_at"])
    for moderator in (olive, mo):
        assert (await moderator.ok("chat:versions", ref))["versions"] == [
            {"text": "meet at 6, bring cash", "replaced_at": times[0]},
            {"text": "meet at 7", "replaced_at": times[1]},
        ]
    # Members do not read them, not even their own.
    assert await error(mem, "chat:versions", ref) == (
        "forbidden",
        "chat:versions is not for a member in a coffee room",
    )
    # A moderator does not look into the owner's edits; the owner and the others do.
    welcome = await say(olive, room, "Welcome, all", "w")
    owners = {"room": room, "seq": welcome["seq"]}
    await olive.ok("chat:edit", {**owners, "text": "Welcome, everyone"})
    assert await error(mo, "chat:versions", owners) == (
        "forbidden",
        "a moderator cannot act on the owner",
    )
    assert [v["text"] for v in (await olive.ok("chat:versions", owners))["versions"]] == [
        "Welcome, all"
    ]
    mine = await say(mo, room, "I keep the peace", "k")
    assert (await mo.ok("chat:versions", {"room": room, "seq": mine["seq"]}))["versions"] == []
    assert await error(mo, "chat:versions", {"room": room, "seq": 99}) == (
        "not_found",
        "no such message",
    )
    # Deleted, a message's earlier texts are gone with it.
    await mem.ok("chat:delete", ref)
    assert await error(olive, "chat:versions", ref) == ("bad_request", "that message was deleted")


async def packet(socket: Socket, *prefixes: str) -> str:
    """The next packet that starts with one of ``prefixes`` (pings answered, others passed)."""
    while not (text := await socket.text()).startswith(prefixes):
        if text == "2":
            await socket.send("3")
    return text


async def test_a_removed_person_cannot_come_back_as_somebody_else_on_the_same_connection(
    server, connect
) -> None:
    olive = await connect(server.url, "Olive")
    room = (await olive.ok("room:create", {"title": "Founders", "kind": "open"}))["room"]["id"]
    await olive.ok("room:join", {"room": room})
    async with aiohttp.ClientSession() as http:
        # One WebSocket, spoken by hand: Mem joins, and is removed.
        socket = await Wire(http, server.url).connect_websocket("Mem")
        await socket.send("420" + json.dumps(["room:join", {"room": room}]))
        assert json.loads((await packet(socket, "430"))[3:])[0]["ok"] is True
        mem = (await olive.wait("presence", lambda e: e["member"]["name"] == "Mem"))["member"]
        await olive.ok("member:remove", {"room": room, "user": mem["id"]})
        await packet(socket, '42["room:removed"')
        # Socket.IO lets a client leave its namespace and connect again on the same Engine.IO
        # session: with a new name, that would be a new identity, not removed. It is refused.
        await socket.send("41")
        await socket.send("40" + json.dumps({"name": "Someone Else"}))
        refused = await packet(socket, "40", "44")
        assert json.loads(refused[2:])["data"] == {
            "code": "forbidden",
            "message": "this connection had an identity: open a new connection for another",
        }
        # Without a Socket.IO session, the connection has no identity to send anything with.
        await socket.send("421" + json.dumps(["room:join", {"room": room}]))
        await socket.closed()
    # A new connection is a new identity's (a removed person's own token stays out).
    other = await connect(server.url, "Someone Else")
    await other.ok("room:join", {"room": room})
