"""Workshops: the host's powers, as the people in the room notice them."""

from __future__ import annotations

import dataclasses

import pytest

from server.app import APP_KEY

from .support.client import Client
from .support.servers import Running


@dataclasses.dataclass
class Workshop:
    room: str
    key: str
    host: Client
    guests: list[Client]


async def workshop(server: Running, connect, *guests: str) -> Workshop:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Pricing for freelancers", "kind": "workshop"})
    room, key = created["room"]["id"], created["host_key"]
    await host.ok("room:join", {"room": room, "host_key": key})
    clients = []
    for name in guests:
        guest = await connect(server.url, name)
        joined = await guest.ok("room:join", {"room": room})
        assert joined["you"]["role"] == "guest"
        assert joined["workshop"]["hands"] == []
        clients.append(guest)
    return Workshop(room, key, host, clients)


def presence_of(client: Client, user: str, event: str = "update"):
    return client.wait("presence", lambda e: e["event"] == event and e["member"]["id"] == user)


async def test_a_raised_hand_brings_a_guest_on_stage_who_can_then_publish(
    server: Running, connect
) -> None:
    w = await workshop(server, connect, "Gus", "Gia")
    gus, gia = w.guests
    refused = await gus.call("media:state", {"room": w.room, "camera": True, "mic": True})
    assert refused["error"]["code"] == "forbidden"

    await gus.ok("hand:raise", {"room": w.room})
    await gia.ok("hand:raise", {"room": w.room})
    state = (await w.host.wait("workshop", lambda e: len(e["state"]["hands"]) == 2))["state"]
    assert [u["name"] for u in state["hands"]] == ["Gus", "Gia"]  # first raised first

    await w.host.ok("stage:invite", {"room": w.room, "user": gus.user_id})
    told = await gus.wait("moderation")
    assert (told["action"], told["by"]["name"]) == ("stage_invited", "Host")
    assert (await presence_of(gia, gus.user_id))["member"]["role"] == "presenter"
    # The invited guest's hand goes down by itself.
    await gia.wait("workshop", lambda e: [u["name"] for u in e["state"]["hands"]] == ["Gia"])

    on = await gus.ok("media:state", {"room": w.room, "camera": True, "mic": True})
    assert on["member"]["camera"] is True
    # A workshop's media goes through the server (tests/test_sfu_room.py), never peer to peer.
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    direct = await gia.call(
        "signal", {"room": w.room, "to": gus.user_id, "type": "offer", "data": offer}
    )
    assert direct["error"]["code"] == "forbidden"

    # Sent back: the role and the media go together.
    await w.host.ok("stage:remove", {"room": w.room, "user": gus.user_id})
    assert (await gus.wait("moderation"))["action"] == "stage_removed"
    back = await gia.wait(
        "presence", lambda e: e["member"]["id"] == gus.user_id and e["member"]["role"] == "guest"
    )
    assert back["member"] == {
        "id": gus.user_id,
        "name": "Gus",
        "role": "guest",
        "camera": False,
        "mic": False,
        "screen": False,
    }


async def test_the_host_mutes_a_presenter_who_is_told_why(server: Running, connect) -> None:
    w = await workshop(server, connect, "Pia", "Obs")
    pia, obs = w.guests
    await w.host.ok("stage:invite", {"room": w.room, "user": pia.user_id})
    await pia.ok("media:state", {"room": w.room, "camera": True, "mic": True})
    muted = await w.host.ok("member:mute", {"room": w.room, "user": pia.user_id, "mic": True})
    assert (muted["member"]["mic"], muted["member"]["camera"]) == (False, True)
    told = await pia.wait("moderation", lambda e: e["action"] == "muted")
    assert told["mic"] is True and told["by"]["id"] == w.host.user_id
    seen = await obs.wait("presence", lambda e: e["event"] == "update" and not e["member"]["mic"])
    assert seen["member"]["id"] == pia.user_id
    # A guest has no such power.
    refused = await obs.call("member:mute", {"room": w.room, "user": pia.user_id, "camera": True})
    assert refused["error"]["code"] == "forbidden"


async def test_a_removed_member_cannot_come_back_until_allowed(server: Running, connect) -> None:
    w = await workshop(server, connect, "Troll", "Fan")
    troll, fan = w.guests
    await w.host.ok("member:remove", {"room": w.room, "user": troll.user_id})
    removed = await troll.wait("room:removed")
    assert removed == {"room": w.room, "reason": "removed"}
    assert (await presence_of(fan, troll.user_id, "leave"))["member"]["name"] == "Troll"
    after = await troll.call("chat:send", {"room": w.room, "text": "hi", "client_msg_id": "t"})
    assert after["error"]["code"] == "forbidden"
    again = await troll.call("room:join", {"room": w.room})
    assert again["error"] == {"code": "forbidden", "message": "a host removed you from this room"}
    # Not with a new connection of the same identity either.
    twin = await connect(server.url, "Troll", token=troll.session["token"])
    assert (await twin.call("room:join", {"room": w.room}))["error"]["code"] == "forbidden"

    hosts = await w.host.wait("workshop:hosts")
    assert [u["name"] for u in hosts["state"]["banned"]] == ["Troll"]
    await w.host.ok("member:allow", {"room": w.room, "user": troll.user_id})
    assert (await twin.ok("room:join", {"room": w.room}))["you"]["role"] == "guest"


async def test_the_host_cannot_be_removed(server: Running, connect) -> None:
    w = await workshop(server, connect, "Co")
    (co,) = w.guests
    await w.host.ok("member:role", {"room": w.room, "user": co.user_id, "role": "cohost"})
    refused = await co.call("member:remove", {"room": w.room, "user": w.host.user_id})
    assert refused["error"]["code"] == "forbidden"


async def test_a_locked_room_takes_nobody_new(server: Running, connect) -> None:
    w = await workshop(server, connect, "Early")
    (early,) = w.guests
    await w.host.ok("room:lock", {"room": w.room, "enabled": True})
    assert (await early.wait("workshop"))["state"]["locked"] is True
    late = await connect(server.url, "Late")
    refused = await late.call("room:join", {"room": w.room})
    assert refused["error"] == {"code": "forbidden", "message": "the room is locked"}
    assert (await early.ok("room:join", {"room": w.room}))["you"]["role"] == "guest"
    await w.host.ok("room:lock", {"room": w.room, "enabled": False})
    await late.ok("room:join", {"room": w.room})


async def test_newcomers_knock_and_the_host_admits_or_declines(server: Running, connect) -> None:
    w = await workshop(server, connect)
    await w.host.ok("room:waiting", {"room": w.room, "enabled": True})
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    waiting = await ann.ok("room:join", {"room": w.room})
    assert waiting["waiting"] is True and "members" not in waiting
    await bob.ok("room:join", {"room": w.room})
    knocks = await w.host.wait("workshop:hosts", lambda e: len(e["state"]["knocking"]) == 2)
    assert [u["name"] for u in knocks["state"]["knocking"]] == ["Ann", "Bob"]
    # Waiting is not being in: nothing of the room reaches them.
    refused = await ann.call("chat:send", {"room": w.room, "text": "hi", "client_msg_id": "a"})
    assert refused["error"]["code"] == "forbidden"

    await w.host.ok("waiting:admit", {"room": w.room, "user": ann.user_id})
    assert await ann.wait("room:admitted") == {"room": w.room}
    assert (await ann.ok("room:join", {"room": w.room}))["you"]["name"] == "Ann"
    await w.host.ok("waiting:decline", {"room": w.room, "user": bob.user_id})
    assert await bob.wait("room:declined") == {"room": w.room}
    assert (await bob.ok("room:join", {"room": w.room}))["waiting"] is True  # may knock again


async def test_chat_off_silences_the_audience_not_the_host(server: Running, connect) -> None:
    w = await workshop(server, connect, "Gus")
    (gus,) = w.guests
    await w.host.ok("chat:enable", {"room": w.room, "enabled": False})
    assert (await gus.wait("workshop"))["state"]["chat_enabled"] is False
    refused = await gus.call("chat:send", {"room": w.room, "text": "hi", "client_msg_id": "1"})
    assert refused["error"] == {"code": "forbidden", "message": "the host turned chat off"}
    await w.host.ok(
        "chat:send", {"room": w.room, "text": "questions at the end", "client_msg_id": "h"}
    )
    assert (await gus.call("chat:typing", {"room": w.room}))["error"]["code"] == "forbidden"
    await w.host.ok("chat:enable", {"room": w.room, "enabled": True})
    await gus.ok("chat:send", {"room": w.room, "text": "thanks!", "client_msg_id": "2"})


async def test_a_pinned_message_is_shown_to_everyone(server: Running, connect) -> None:
    w = await workshop(server, connect, "Gus")
    (gus,) = w.guests
    first = await w.host.ok(
        "chat:send", {"room": w.room, "text": "Slides: https://example.org/s", "client_msg_id": "p"}
    )
    pinned = (await w.host.ok("chat:pin", {"room": w.room, "seq": 1, "on": True}))["message"]
    assert pinned["pinned_by"] == {"id": w.host.user_id, "name": "Host"}
    shown = await gus.wait("workshop", lambda e: e["state"]["pinned"] is not None)
    assert shown["state"]["pinned"] == pinned
    assert pinned["text"] == first["message"]["text"]
    late = await connect(server.url, "Late")
    assert (await late.ok("room:join", {"room": w.room}))["workshop"]["pinned"] == pinned

    # The banner is the latest pin; unpinned, the one before shows again.
    await w.host.ok("chat:send", {"room": w.room, "text": "Break at 3", "client_msg_id": "b"})
    await w.host.ok("chat:pin", {"room": w.room, "seq": 2, "on": True})
    banner = await gus.wait("workshop", lambda e: e["state"]["pinned"]["seq"] == 2)
    assert banner["state"]["pinned"]["text"] == "Break at 3"
    await w.host.ok("chat:pin", {"room": w.room, "seq": 2, "on": False})
    assert (await gus.wait("workshop", lambda e: e["state"]["pinned"]["seq"] == 1))["state"]
    # A deleted message is pinned no more, and leaves the banner.
    await w.host.ok("chat:delete", {"room": w.room, "seq": 1})
    assert (await gus.wait("workshop", lambda e: e["state"]["pinned"] is None))["state"]
    missing = await w.host.call("chat:pin", {"room": w.room, "seq": 99, "on": True})
    assert missing["error"] == {"code": "not_found", "message": "no such message"}
    refused = await gus.call("chat:pin", {"room": w.room, "seq": 2, "on": True})
    assert refused["error"]["code"] == "forbidden"


async def test_ending_the_workshop_sends_everyone_out_for_good(server: Running, connect) -> None:
    w = await workshop(server, connect, "Gus")
    (gus,) = w.guests
    await w.host.ok("workshop:end", {"room": w.room})
    assert await gus.wait("room:removed") == {"room": w.room, "reason": "ended"}
    assert await w.host.wait("room:removed") == {"room": w.room, "reason": "ended"}
    again = await gus.call("room:join", {"room": w.room})
    assert again["error"] == {"code": "forbidden", "message": "this workshop has ended"}
    with_key = await w.host.call("room:join", {"room": w.room, "host_key": w.key})
    assert with_key["error"]["code"] == "forbidden"


async def test_the_host_hands_the_room_on(server: Running, connect) -> None:
    w = await workshop(server, connect, "Next")
    (nxt,) = w.guests
    await w.host.ok("host:handover", {"room": w.room, "user": nxt.user_id})
    key = (await nxt.wait("host:key"))["host_key"]
    assert key != w.key
    await nxt.wait(
        "presence", lambda e: e["member"] == {**e["member"], "id": w.host.user_id, "role": "cohost"}
    )
    await w.host.wait(
        "presence", lambda e: e["member"] == {**e["member"], "id": nxt.user_id, "role": "host"}
    )
    # The new host can end the workshop, the old one no longer.
    assert (await w.host.call("workshop:end", {"room": w.room}))["error"]["code"] == "forbidden"
    stranger = await connect(server.url, "Stranger")
    old_key = await stranger.call("room:join", {"room": w.room, "host_key": w.key})
    assert old_key["error"] == {"code": "forbidden", "message": "wrong host key"}
    assert (await stranger.ok("room:join", {"room": w.room, "host_key": key}))["you"][
        "role"
    ] == "host"


async def test_coffee_mornings_have_no_host(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    room = (await ann.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    # A key means nothing here: Ann made the room, so she is its owner (server/moderation.py).
    joined = await ann.ok("room:join", {"room": room, "host_key": "whatever"})
    assert joined["you"]["role"] == "owner"
    await bob.ok("room:join", {"room": room})
    refused = await bob.call("member:remove", {"room": room, "user": ann.user_id})
    assert refused["error"]["message"] == "member:remove is not for a member in a coffee room"
    for event, payload in [
        ("member:mute", {"room": room, "user": bob.user_id, "mic": True}),
        ("room:lock", {"room": room, "enabled": True}),
        ("hand:raise", {"room": room}),
    ]:
        assert (await ann.call(event, payload))["error"]["code"] == "forbidden", event


@pytest.mark.parametrize("backend", ["redis"])
async def test_a_host_on_one_process_removes_a_guest_on_another(
    start_server, settings, connect
) -> None:
    one = await start_server(settings)
    two = await start_server(settings)
    w = await workshop(one, connect)
    guest = await connect(two.url, "Remote")
    await guest.ok("room:join", {"room": w.room})
    await w.host.ok("member:remove", {"room": w.room, "user": guest.user_id})
    assert (await guest.wait("room:removed"))["reason"] == "removed"
    refused = await guest.call("chat:send", {"room": w.room, "text": "x", "client_msg_id": "x"})
    assert refused["error"]["code"] == "forbidden"
    # The guest's process forgot the room: its heartbeat does not bring the member back.
    await two.server.app[APP_KEY].heartbeat()
    members = (await w.host.ok("room:join", {"room": w.room, "host_key": w.key}))["members"]
    assert [m["name"] for m in members] == ["Host"]


@pytest.mark.parametrize("backend", ["redis"])
async def test_a_host_on_one_process_makes_a_guest_on_another_a_cohost(
    start_server, settings, connect
) -> None:
    one = await start_server(settings)
    two = await start_server(settings)
    w = await workshop(one, connect)
    guest = await connect(two.url, "Remote")
    await guest.ok("room:join", {"room": w.room})
    refused = await guest.call("room:lock", {"room": w.room, "enabled": True})
    assert refused["error"]["code"] == "forbidden"
    await w.host.ok("member:role", {"room": w.room, "user": guest.user_id, "role": "cohost"})
    assert (await presence_of(guest, guest.user_id))["member"]["role"] == "cohost"
    # The guest's process took the new role: it hears what only hosts hear, and lets them act.
    await guest.wait("workshop:hosts")
    await guest.ok("room:lock", {"room": w.room, "enabled": True})


async def test_opening_the_doors_lets_the_waiting_in_and_ending_sends_them_away(
    server: Running, connect
) -> None:
    w = await workshop(server, connect)
    await w.host.ok("room:waiting", {"room": w.room, "enabled": True})
    ann = await connect(server.url, "Ann")
    assert (await ann.ok("room:join", {"room": w.room}))["waiting"] is True
    await w.host.ok("room:waiting", {"room": w.room, "enabled": False})
    assert await ann.wait("room:admitted") == {"room": w.room}
    await ann.ok("room:join", {"room": w.room})

    await w.host.ok("room:waiting", {"room": w.room, "enabled": True})
    bob = await connect(server.url, "Bob")
    assert (await bob.ok("room:join", {"room": w.room}))["waiting"] is True
    await w.host.ok("workshop:end", {"room": w.room})
    assert await bob.wait("room:declined") == {"room": w.room}


async def test_a_knock_ends_when_the_knocker_goes_and_members_need_not_knock(
    server: Running, connect
) -> None:
    w = await workshop(server, connect, "Inside")
    (inside,) = w.guests
    await w.host.ok("room:waiting", {"room": w.room, "enabled": True})
    ann = await connect(server.url, "Ann")
    assert (await ann.ok("room:join", {"room": w.room}))["waiting"] is True
    await w.host.wait("workshop:hosts", lambda e: len(e["state"]["knocking"]) == 1)
    await ann.close()
    gone = await w.host.wait("workshop:hosts", lambda e: e["state"]["knocking"] == [])
    assert gone["room"] == w.room
    # Somebody who was in before the doors closed comes back without knocking, even after
    # their place ran out.
    await inside.drop()
    await presence_of(w.host, inside.user_id, "leave")
    back = await connect(server.url, "Inside", token=inside.session["token"])
    joined = await back.ok("room:join", {"room": w.room})
    assert "waiting" not in joined and joined["you"]["role"] == "guest"
