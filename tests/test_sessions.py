"""Connecting, resuming with a token, presence as people come and go."""

from __future__ import annotations

import json
import logging

import pytest

from .support.client import Client
from .support.rawws import CLOSE, RawMember
from .support.servers import Running


async def test_connecting_gives_a_user_and_a_resume_token(server: Running, connect) -> None:
    ann = await connect(server.url, "  Ann Example ")
    user = ann.session["user"]
    assert user["name"] == "Ann Example"  # trimmed
    assert user["id"] and len(ann.session["token"]) >= 32
    assert ann.session["rooms"] == []
    bob = await connect(server.url, "Ann Example")
    assert bob.user_id != ann.user_id  # a name is not an identity


async def test_the_token_brings_back_the_same_user_under_a_new_name(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    token = ann.session["token"]
    await ann.close()
    again = await connect(server.url, "Ann B.", token=token)
    assert again.user_id == ann.user_id
    assert again.session["token"] == token
    await again.ok("room:join", {"room": "lobby"})
    sent = await again.ok("chat:send", {"room": "lobby", "text": "hi", "client_msg_id": "x"})
    assert sent["message"]["user"] == {"id": ann.user_id, "name": "Ann B."}


async def test_an_unknown_token_gets_a_fresh_identity(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann", token="not-a-token-we-ever-issued")
    assert ann.session["token"] != "not-a-token-we-ever-issued"
    again = await connect(server.url, "Ann", token=ann.session["token"])
    assert again.user_id == ann.user_id


async def test_joining_and_leaving_show_in_everyones_presence(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    first = await ann.ok("room:join", {"room": "lobby"})
    assert [m["name"] for m in first["members"]] == ["Ann"]
    assert first["you"] == {
        "id": ann.user_id,
        "name": "Ann",
        "role": "member",
        "camera": False,
        "mic": False,
        "screen": False,
    }

    bob = await connect(server.url, "Bob")
    joined = await bob.ok("room:join", {"room": "lobby"})
    assert sorted(m["name"] for m in joined["members"]) == ["Ann", "Bob"]
    event = await ann.wait("presence")
    assert event == {"room": "lobby", "event": "join", "member": joined["you"]}
    listed = await ann.ok("room:list", {})
    assert {r["id"]: r["members"] for r in listed["rooms"]}["lobby"] == 2

    await bob.ok("room:leave", {"room": "lobby"})
    left = await ann.wait("presence")
    assert (left["event"], left["member"]["id"]) == ("leave", bob.user_id)
    listed = await ann.ok("room:list", {})
    assert {r["id"]: r["members"] for r in listed["rooms"]}["lobby"] == 1
    # Bob no longer receives the room's messages.
    await ann.ok("chat:send", {"room": "lobby", "text": "gone?", "client_msg_id": "1"})
    await bob.ok("room:join", {"room": "lobby"})
    await ann.ok("chat:send", {"room": "lobby", "text": "back", "client_msg_id": "2"})
    assert (await bob.wait("chat:message"))["text"] == "back"
    assert [m["text"] for m in bob.events("chat:message")] == []


async def test_a_quick_reconnect_shows_no_leave_and_no_join(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, reconnect_grace=10.0)
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    await ann.wait("presence", lambda e: e["event"] == "join")

    await bob.drop()
    back = await connect(server.url, "Bob", token=bob.session["token"])
    assert back.user_id == bob.user_id
    assert back.session["rooms"] == ["lobby"]  # still there, within the grace
    rejoined = await back.ok("room:join", {"room": "lobby"})
    assert sorted(m["name"] for m in rejoined["members"]) == ["Ann", "Bob"]
    marker = await back.ok("chat:send", {"room": "lobby", "text": "back", "client_msg_id": "m"})
    await ann.wait("chat:message", lambda m: m["id"] == marker["message"]["id"])
    assert ann.events("presence") == []


async def test_a_dropped_connection_leaves_after_the_grace(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("room:join", {"room": "lobby"})
    await bob.ok("room:join", {"room": "lobby"})
    await bob.drop()
    left = await ann.wait("presence", lambda e: e["event"] == "leave")
    assert left["member"]["id"] == bob.user_id
    members = (await ann.ok("room:join", {"room": "lobby"}))["members"]
    assert [m["name"] for m in members] == ["Ann"]
    again = await connect(server.url, "Bob", token=bob.session["token"])
    assert again.session["rooms"] == []


async def test_two_tabs_of_one_user_are_one_member(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    tab1 = await connect(server.url, "Bob")
    tab2 = await connect(server.url, "Bob", token=tab1.session["token"])
    await ann.ok("room:join", {"room": "lobby"})
    await tab1.ok("room:join", {"room": "lobby"})
    await tab2.ok("room:join", {"room": "lobby"})
    await tab1.ok("room:leave", {"room": "lobby"})
    # One join for Bob, and no leave while his second tab is still there.
    sent = await tab2.ok("chat:send", {"room": "lobby", "text": "still here", "client_msg_id": "s"})
    await ann.wait("chat:message", lambda m: m["id"] == sent["message"]["id"])
    assert [(e["event"], e["member"]["name"]) for e in ann.events("presence")] == [("join", "Bob")]
    await tab2.ok("room:leave", {"room": "lobby"})
    assert (await ann.wait("presence", lambda e: e["event"] == "leave"))["member"]["name"] == "Bob"


async def test_a_client_that_never_joins_sees_nothing_of_the_room(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    lurker: Client = await connect(server.url, "Lurker")
    await ann.ok("room:join", {"room": "lobby"})
    await ann.ok("chat:send", {"room": "lobby", "text": "private-ish", "client_msg_id": "p"})
    await ann.ok("chat:typing", {"room": "lobby"})
    # A round trip of the lurker's own proves anything sent to it before has arrived.
    await lurker.ok("room:list", {})
    assert [name for name, _ in lurker.received] == []


@pytest.mark.parametrize(
    "goodbye", ['42["goodbye",{}]', "41"], ids=["goodbye event", "Socket.IO DISCONNECT"]
)
async def test_a_goodbye_then_a_closed_socket_leaves_at_once(
    start_server, settings, connect, goodbye: str
) -> None:
    # A page going away says goodbye and closes its socket in the same breath: the close
    # comes right behind the goodbye (here in the same segment), and the grace does not apply.
    server = await start_server(settings, reconnect_grace=60.0)
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    bob = await RawMember.connect(server.url, "Bob")
    name, session = await bob.event()
    assert name == "session"
    bob_id = session["user"]["id"]
    assert (await bob.call("room:join", {"room": "lobby"}))["ok"] is True
    await ann.wait("presence", lambda e: e["event"] == "join")

    bob.send(goodbye)
    bob.send_frame(CLOSE, (1001).to_bytes(2, "big"))  # a browser closing a page: going away
    bob.close()
    left = await ann.wait("presence", lambda e: e["event"] == "leave", within=5.0)
    assert left["member"]["id"] == bob_id
    await ann.ok("dm:open", {"user": bob_id})
    (dm,) = (await ann.ok("dm:list"))["dms"]
    assert (dm["user"]["id"], dm["online"]) == (bob_id, False)  # offline too
    again = await connect(server.url, "Bob", token=session["token"])
    assert again.session["rooms"] == []  # gone from every room, not waiting for a reconnect


async def test_after_a_goodbye_any_disconnect_leaves_and_other_tabs_stay(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, reconnect_grace=60.0)
    ann = await connect(server.url, "Ann")
    tab1 = await connect(server.url, "Bob")
    tab2 = await connect(server.url, "Bob", token=tab1.session["token"])
    for client in (ann, tab1, tab2):
        await client.ok("room:join", {"room": "lobby"})
    assert await tab1.ok("goodbye") == {"ok": True}
    await tab1.drop()  # the socket just goes, as a network failure: still no grace
    # Bob is still here through his other tab.
    sent = await tab2.ok("chat:send", {"room": "lobby", "text": "still here", "client_msg_id": "s"})
    await ann.wait("chat:message", lambda m: m["id"] == sent["message"]["id"])
    assert [e["event"] for e in ann.events("presence")] == ["join"]
    assert await tab2.ok("goodbye", {}) == {"ok": True}
    await tab2.drop()
    left = await ann.wait("presence", lambda e: e["event"] == "leave", within=5.0)
    assert left["member"]["id"] == tab1.user_id


async def test_a_join_cut_short_by_its_connection_closing_is_no_error(
    server: Running, connect, caplog: pytest.LogCaptureFixture
) -> None:
    # A page that joins a room and goes away at once: the join is still running when the
    # connection ends. Nobody is left to answer, and nothing failed.
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    for n in range(20):
        bob = await RawMember.connect(server.url, f"Bob{n}")
        bob.send("421" + json.dumps(["room:join", {"room": "lobby"}]))
        bob.send_frame(CLOSE, (1001).to_bytes(2, "big"))
        bob.close()
        await bob.reader.read()  # the server hung up
    await ann.ok("chat:send", {"room": "lobby", "text": "anyone?", "client_msg_id": "c1"})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
