"""Your data (``GET /api/me/export``, ``account:erase``), with real clients on SQLite and
PostgreSQL: the export holds everything a person wrote, page after page, and nothing of
anybody else's private rooms; erase leaves nothing of the person to find, in either mode,
closes their connections and tells the people in their rooms at once."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import aiohttp
import pytest

from server import keys
from server.app import APP_KEY
from server.config import Settings

from .support.client import Client
from .support.servers import Running
from .test_logins import refusal, sign_in_elsewhere


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server  # each test on SQLite, then PostgreSQL


@pytest.fixture
def erase_messages() -> str:
    return "delete"


@pytest.fixture
def erase_told_max() -> int:
    return 1000


@pytest.fixture
def settings(settings: Settings, erase_messages: str, erase_told_max: int) -> Settings:
    """Export pages of 7 messages, so a few dozen messages take several."""
    return dataclasses.replace(
        settings, export_page=7, erase_messages=erase_messages, erase_told_max=erase_told_max
    )


@pytest.fixture
def backend() -> str:
    return "memory"


async def say(client: Client, room: str, text: str) -> dict[str, Any]:
    ack = await client.ok(
        "chat:send", {"room": room, "text": text, "client_msg_id": f"{room}-{text}"}
    )
    return dict(ack["message"])


async def download(server: Running, token: str | None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + "api/me/export", headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def test_the_export_holds_every_message_the_user_wrote_and_no_one_elses_private_room(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann Lee")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await ann.ok("profile:set", {"headline": "Makes maps"})
    written = [await say(ann, "lobby", f"lobby note {n}") for n in range(20)]
    await ann.ok("chat:edit", {"room": "lobby", "seq": written[3]["seq"], "text": "edited note"})
    await ann.ok("chat:delete", {"room": "lobby", "seq": written[4]["seq"]})
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    await ann.ok("room:join", {"room": dm})
    await bob.ok("room:join", {"room": dm})
    for n in range(9):
        await say(ann, dm, f"to bob {n}")
        await say(bob, dm, f"to ann {n}")
    private = await bob.ok("room:create", {"title": "Bob's den", "kind": "open", "private": True})
    await bob.ok("room:join", {"room": private["room"]["id"]})
    await say(bob, private["room"]["id"], "bob's secret plan")

    status, headers, body = await download(server, ann.session["token"])

    assert status == 200
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert headers["Content-Disposition"] == f'attachment; filename="percolate-ann-lee-{day}.json"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    exported = json.loads(body)
    assert exported["user"] == {"id": ann.user_id, "name": "Ann Lee"}
    assert exported["profile"]["headline"] == "Makes maps"
    mine = [(m["room"], m["text"], m["deleted"]) for m in exported["messages"]]
    expected = [("lobby", f"lobby note {n}", False) for n in range(20)]
    expected[3] = ("lobby", "edited note", False)
    expected[4] = ("lobby", "", True)
    expected += [(dm, f"to bob {n}", False) for n in range(9)]
    assert mine == expected  # 29 messages: five pages
    assert exported["messages"][3]["edited_at"] is not None
    [conversation] = exported["conversations"]
    assert conversation["with"] == {"id": bob.user_id, "name": "Bob"}
    said = [(m["user"]["name"], m["text"]) for m in conversation["messages"]]
    assert said == [pair for n in range(9) for pair in (("Ann Lee", f"to bob {n}"),
                                                          ("Bob", f"to ann {n}"))]  # fmt: skip
    assert [s["label"] for s in exported["sessions"]] == ["Python"]
    assert b"secret plan" not in body
    token = ann.session["token"]
    assert token.encode() not in body and keys.digest(token).encode() not in body


async def test_the_export_is_refused_without_a_live_token_and_past_its_rate(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    status, headers, body = await download(server, None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["code"] == "unauthorized"
    assert (await download(server, "not-a-token-we-made"))[0] == 401
    phone = await sign_in_elsewhere(server, ann.user_id)
    assert (await download(server, phone))[0] == 200
    await ann.ok("sessions:revoke_others")
    status, _, body = await download(server, phone)
    assert status == 401
    assert json.loads(body)["error"]["message"] == "this session was signed out"
    # EXPORTS_PER_HOUR (4): the fifth within the hour waits.
    for _ in range(3):
        assert (await download(server, ann.session["token"]))[0] == 200
    status, _, body = await download(server, ann.session["token"])
    assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"


async def erase_setup(
    server: Running, connect
) -> tuple[Client, Client, Client, str, dict[str, Any], str]:
    """Ann (with a profile, a second device, lobby messages, a DM, a reaction, and a room of
    her own where Bob moderates) and Bob in the lobby; Ann's phone's token; her lobby
    message; the DM."""
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("profile:set", {"headline": "Zebra tamer", "organisation": "Zoo"})
    own = (await ann.ok("room:create", {"title": "Ann's corner", "kind": "open"}))["room"]["id"]
    for client in (ann, bob):
        await client.ok("room:join", {"room": own})
    await ann.ok("room:moderator", {"room": own, "user": bob.user_id, "on": True})
    for client in (ann, bob):
        await client.ok("room:join", {"room": "lobby"})
    token = await sign_in_elsewhere(server, ann.user_id)
    phone = await connect(server.url, "Ann", token=token)
    # More messages than a page (7): the room hears of every one.
    for n in range(9):
        await say(ann, "lobby", f"more news {n}")
    note = await say(ann, "lobby", "quokkas everywhere tonight")
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    await ann.ok("room:join", {"room": dm})
    await say(ann, dm, "quokkas are shy")
    bobs = await say(bob, "lobby", "hello all")
    await ann.ok("chat:react", {"room": "lobby", "seq": bobs["seq"], "emoji": "👍", "on": True})
    await ann.ok("people:stay", {"user": bob.user_id})
    return ann, bob, phone, token, note, dm


@pytest.mark.parametrize("erase_messages", ["delete", "anonymise"])
async def test_erase_leaves_nothing_of_the_person_and_everybody_sees_it(
    server: Running, connect, erase_messages: str
) -> None:
    mode = erase_messages
    ann, bob, phone, token, note, dm = await erase_setup(server, connect)
    ann_id = ann.user_id

    refused = await ann.call("account:erase", {"confirm": "Someone"})
    assert refused["error"] == {
        "code": "bad_request",
        "message": "type your name exactly as it is to confirm",
    }
    assert await ann.ok("account:erase", {"confirm": "Ann"}) == {"ok": True}

    # Both of her connections are closed, and her token is refused from now on.
    for client in (ann, phone):
        assert (await client.wait("closing"))["code"] == "unauthorized"
        await client.sio.wait()
    assert (await refusal(server.url, {"name": "Ann", "token": token}))["code"] == "unauthorized"
    # Bob saw her leave and her message change, live.
    left = await bob.wait("presence", lambda p: p["event"] == "leave" and p["room"] == "lobby")
    assert left["member"]["id"] == ann_id
    changed = await bob.wait("chat:change", lambda m: m["seq"] == note["seq"])
    assert changed["user"] == {"id": "former", "name": "Former member"}
    assert changed["text"] == ("" if mode == "delete" else "quokkas everywhere tonight")
    assert changed.get("deleted", False) is (mode == "delete")
    earlier = {note["seq"] - 9 + n for n in range(9)}  # her other lobby messages, each told
    while earlier:
        told = await bob.wait("chat:change", lambda m: m["seq"] in earlier)
        assert told["user"]["name"] == "Former member"
        earlier.discard(told["seq"])
    # Her thumbs-up on Bob's message is gone too.
    await bob.wait("chat:change", lambda m: m["text"] == "hello all" and not m.get("reactions"))

    history = (await bob.ok("chat:history", {"room": "lobby"}))["messages"]
    assert all(m["user"]["id"] != ann_id and m["user"]["name"] != "Ann" for m in history)
    await bob.ok("room:join", {"room": dm})
    dm_history = (await bob.ok("chat:history", {"room": dm}))["messages"]
    assert [m["user"]["name"] for m in dm_history] == ["Former member"]
    found = (await bob.ok("search", {"query": "quokkas"}))["results"]
    if mode == "delete":
        assert found == []
        assert "quokkas" not in json.dumps(history + dm_history)
    else:
        authors = {m["user"]["name"] for group in found for m in group["messages"]}
        assert authors == {"Former member"}
    assert (await bob.ok("search", {"query": "from:Ann"}))["results"] == []
    assert (await bob.ok("search", {"query": f"from:{ann_id}"}))["results"] == []
    # Nobody of that id is left to look at, to write to or to ask to stay in touch.
    for event in ("profile:get", "dm:open", "people:stay"):
        gone = await bob.call(event, {"user": ann_id})
        assert gone["error"]["code"] == "not_found", event
    online = (await bob.ok("online:list"))["people"]
    assert ann_id not in [person["user"]["id"] for person in online]
    people = await bob.ok("people:list")
    assert people["people"] == people["asked"] == people["asking"] == []
    # The conversation stays Bob's, with nobody in particular.
    [conversation] = (await bob.ok("dm:list"))["dms"]
    assert conversation["user"] == {"id": ann_id, "name": "Former member"}
    # Her room stays, without owner; Bob still moderates it, and its audit log keeps her id,
    # not her name.
    own = next(
        r["id"] for r in (await bob.ok("room:list"))["rooms"] if r["title"] == "Ann's corner"
    )
    rejoined = await bob.ok("room:join", {"room": own})
    assert rejoined["you"]["role"] == "moderator"
    # (audit:list is the owner's: none now; the archive shows what an operator would see.)
    archive = server.server.app[APP_KEY].archive
    [entry] = await archive.audit_log(own, None, 10)
    assert (entry.by.id, entry.by.name, entry.action) == (ann_id, "Former member", "moderator")
    # Her export is refused: every session of hers was signed out.
    assert (await download(server, token))[0] == 401


@pytest.mark.parametrize("erase_told_max", [3])
async def test_a_mass_erase_tells_a_room_its_first_changes_then_only_the_last(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    joined = await bob.ok("room:join", {"room": "lobby"})
    written = [await say(ann, "lobby", f"line {n}") for n in range(12)]
    await ann.ok("account:erase", {"confirm": "Ann"})

    last = await bob.wait("chat:change", lambda m: m["seq"] == written[-1]["seq"])
    told = [m["seq"] for m in bob.events("chat:change")]
    assert told == [m["seq"] for m in written[:3]]  # then the last, just consumed
    # The gap in rev says what is missing: chat:changes fills it, a page at a time.
    caught: list[dict[str, Any]] = []
    after = joined["rev"]
    while True:
        page = await bob.ok("chat:changes", {"room": "lobby", "after": after, "limit": 5})
        caught += page["messages"]
        if len(page["messages"]) < 5:
            break
        after = page["messages"][-1]["rev"]
    assert [m["seq"] for m in caught] == [m["seq"] for m in written]
    assert all(m["deleted"] and m["text"] == "" for m in caught)
    assert caught[-1]["rev"] == last["rev"] == page["rev"]
