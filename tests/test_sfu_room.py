"""Media through the server: aiortc clients publish and subscribe over Socket.IO (sfu:*)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiortc import AudioStreamTrack, RTCRtpSender
from prometheus_client.parser import text_string_to_metric_families

from server.app import APP_KEY
from server.config import Settings
from signaling.transport import MissingSeam

from .support.client import Client
from .support.media import Pattern, until
from .support.ports import free_port
from .support.servers import Running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def backend() -> str:
    return "memory"  # placement's Redis side has its own tests; several processes: test_scale


@dataclasses.dataclass
class Room:
    id: str
    key: str
    host: Client


async def workshop(server: Running, connect) -> Room:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Pricing", "kind": "workshop"})
    room, key = created["room"]["id"], created["host_key"]
    joined = await host.ok("room:join", {"room": room, "host_key": key})
    assert joined["media"] == {"mode": "sfu", "url": None, "epoch": 0}
    return Room(room, key, host)


async def guest(server: Running, connect, room: str, name: str) -> Client:
    client = await connect(server.url, name)
    await client.ok("room:join", {"room": room})
    return client


async def on_stage(room: Room, client: Client) -> None:
    await room.host.ok("stage:invite", {"room": room.id, "user": client.user_id})
    await client.ok("media:state", {"room": room.id, "camera": True, "mic": True})


async def test_guests_receive_the_hosts_camera_and_mic(server: Running, connect, peers) -> None:
    w = await workshop(server, connect)
    await w.host.ok("media:state", {"room": w.id, "camera": True, "mic": True})
    host = await peers(w.host, w.id, camera=Pattern(), mic=AudioStreamTrack())
    gus = await peers(await guest(server, connect, w.id, "Gus"), w.id)
    gia = await peers(await guest(server, connect, w.id, "Gia"), w.id)
    for viewer in (gus, gia):
        await until(lambda v=viewer: v.frames_from(w.host.user_id, "camera") >= 10)
        await until(lambda v=viewer: v.frames_from(w.host.user_id, "mic") >= 10)
        sources = sorted((t["user"], t["source"]) for t in viewer.tracks.values())
        assert sources == [(w.host.user_id, "camera"), (w.host.user_id, "mic")]
        mid = viewer.mid_of(w.host.user_id, "camera")
        assert viewer.received[mid].sizes[-1] == (320, 240)
    assert host.tracks == {}  # nobody receives their own sources


async def test_a_late_guest_sees_the_stage_at_once(server: Running, connect, peers) -> None:
    w = await workshop(server, connect)
    await w.host.ok("media:state", {"room": w.id, "camera": True, "mic": False})
    await peers(w.host, w.id, camera=Pattern())
    early = await peers(await guest(server, connect, w.id, "Early"), w.id)
    await until(lambda: early.frames_from(w.host.user_id) >= 30)  # a second into the stream
    late = await peers(await guest(server, connect, w.id, "Late"), w.id)
    await until(lambda: late.frames_from(w.host.user_id) >= 1)
    mid = late.mid_of(w.host.user_id, "camera")
    first = late.received[mid].first_at
    assert first is not None
    print(f"late guest: first decoded frame {first - late.joined_at:.3f} s after sfu:join")


async def test_a_new_publisher_reaches_everyone_and_a_freed_slot_is_reused(
    server: Running, connect, peers
) -> None:
    w = await workshop(server, connect)
    await w.host.ok("media:state", {"room": w.id, "camera": True, "mic": False})
    await peers(w.host, w.id, camera=Pattern())
    viewer = await peers(await guest(server, connect, w.id, "Viewer"), w.id)
    await until(lambda: viewer.frames_from(w.host.user_id) >= 5)
    offers = viewer.offers  # 1, or 2 if the viewer joined before the host's first frame

    gus_client = await guest(server, connect, w.id, "Gus")
    await on_stage(w, gus_client)
    gus = await peers(gus_client, w.id, camera=Pattern(), mic=AudioStreamTrack())
    # Gus's camera and mic need two m-lines more: a renegotiation (two if his mic's first
    # frame came after the offer for his camera went out).
    await until(lambda: viewer.frames_from(gus_client.user_id) >= 5)
    await until(lambda: viewer.mid_of(gus_client.user_id, "mic") is not None)
    await until(lambda: gus.frames_from(w.host.user_id) >= 5)  # the stage sees each other
    assert offers + 1 <= viewer.offers <= offers + 2
    offers = viewer.offers
    gus_mid = viewer.mid_of(gus_client.user_id, "camera")

    # Gus leaves: his slots go idle and the viewer is told, without a new offer.
    await gus_client.ok("room:leave", {"room": w.id})
    await until(lambda: viewer.mid_of(gus_client.user_id, "camera") is None)
    assert set(viewer.tracks) == {viewer.mid_of(w.host.user_id, "camera")}

    # Gia comes on stage: she takes Gus's old slot (same m-line, no renegotiation).
    gia_client = await guest(server, connect, w.id, "Gia")
    await on_stage(w, gia_client)
    await peers(gia_client, w.id, camera=Pattern(160, 120), mic=AudioStreamTrack())
    await until(lambda: viewer.mid_of(gia_client.user_id, "camera") == gus_mid)
    # Her frames, at her size, arrive on the m-line that carried Gus.
    await until(lambda: viewer.received[gus_mid].sizes[-1] == (160, 120))
    assert viewer.offers == offers


async def test_a_muted_presenter_is_no_longer_forwarded(server: Running, connect, peers) -> None:
    w = await workshop(server, connect)
    gus_client = await guest(server, connect, w.id, "Gus")
    await on_stage(w, gus_client)
    await peers(gus_client, w.id, camera=Pattern(), mic=AudioStreamTrack())
    viewer = await peers(await guest(server, connect, w.id, "Viewer"), w.id)
    await until(lambda: viewer.frames_from(gus_client.user_id, "camera") >= 5)

    # The host mutes Gus's camera. Gus's client keeps sending (a client that ignores the
    # server), but the server stops forwarding it.
    await w.host.ok("member:mute", {"room": w.id, "user": gus_client.user_id, "camera": True})
    await until(lambda: viewer.mid_of(gus_client.user_id, "camera") is None)
    assert viewer.mid_of(gus_client.user_id, "mic") is not None
    mid = next(m for m, t in viewer.tracks.items() if t["source"] == "mic")
    frames = viewer.received[mid].frames
    await until(lambda: viewer.received[mid].frames > frames + 10)  # the mic still flows

    # Sent back to the audience, nothing of Gus is forwarded even with his flags on.
    await w.host.ok("stage:remove", {"room": w.id, "user": gus_client.user_id})
    await until(lambda: viewer.tracks == {})


@pytest.mark.parametrize("backend", ["redis"])
async def test_a_mute_from_another_process_stops_the_forwarding(
    start_server, settings: Settings, connect, peers
) -> None:
    one = await start_server(settings)
    two = await start_server(settings)
    w = await workshop(one, connect)
    gus = await guest(one, connect, w.id, "Gus")
    await on_stage(w, gus)
    await peers(gus, w.id, camera=Pattern())
    viewer = await peers(await guest(one, connect, w.id, "Viewer"), w.id)
    await until(lambda: viewer.frames_from(gus.user_id, "camera") >= 5)

    # The host's other tab is connected to the other process, and mutes Gus from there.
    tab = await connect(two.url, "Host", token=w.host.session["token"])
    await tab.ok("room:join", {"room": w.id, "host_key": w.key})
    await tab.ok("member:mute", {"room": w.id, "user": gus.user_id, "camera": True})
    await until(lambda: viewer.mid_of(gus.user_id, "camera") is None)


async def test_a_guest_sending_media_anyway_is_not_forwarded(
    server: Running, connect, peers
) -> None:
    w = await workshop(server, connect)
    await w.host.ok("media:state", {"room": w.id, "camera": True, "mic": False})
    await peers(w.host, w.id, camera=Pattern())
    sneaky = await guest(server, connect, w.id, "Sneaky")
    await peers(sneaky, w.id, camera=Pattern())  # sends on its camera m-line regardless
    viewer = await peers(await guest(server, connect, w.id, "Viewer"), w.id)
    await until(lambda: viewer.frames_from(w.host.user_id) >= 10)
    assert [t["user"] for t in viewer.tracks.values()] == [w.host.user_id]


async def test_a_publisher_that_disconnects_disappears(server: Running, connect, peers) -> None:
    w = await workshop(server, connect)
    gus_client = await guest(server, connect, w.id, "Gus")
    await on_stage(w, gus_client)
    await peers(gus_client, w.id, camera=Pattern())
    viewer = await peers(await guest(server, connect, w.id, "Viewer"), w.id)
    await until(lambda: viewer.frames_from(gus_client.user_id) >= 5)
    await gus_client.drop()
    await until(lambda: viewer.tracks == {})


async def test_requests_that_do_not_fit_get_clear_errors(server: Running, connect) -> None:
    w = await workshop(server, connect)
    no_session = await w.host.call(
        "sfu:answer", {"room": w.id, "version": 1, "answer": {"type": "answer", "sdp": "v=0"}}
    )
    assert no_session["error"] == {
        "code": "bad_request",
        "message": "no media session; send sfu:join",
    }
    joined = await w.host.ok("sfu:join", {"room": w.id})
    assert joined["version"] == 1 and joined["offer"]["type"] == "offer"
    stale = await w.host.call(
        "sfu:answer", {"room": w.id, "version": 2, "answer": {"type": "answer", "sdp": "v=0"}}
    )
    assert stale["error"]["message"] == "stale answer: expected version 1"
    garbage = await w.host.call(
        "sfu:answer", {"room": w.id, "version": 1, "answer": {"type": "answer", "sdp": "v=0"}}
    )
    assert garbage["error"] == {
        "code": "bad_request",
        "message": "answer: 0 m= lines, the offer has 3",
    }
    # That closed the session: the client must join again.
    again = await w.host.call(
        "sfu:answer", {"room": w.id, "version": 1, "answer": {"type": "answer", "sdp": "v=0"}}
    )
    assert again["error"]["message"] == "no media session; send sfu:join"
    shape = await w.host.call("sfu:answer", {"room": w.id, "version": 1, "answer": "sdp"})
    assert shape["error"]["code"] == "bad_request"
    bad_candidate = await w.host.call("sfu:candidate", {"room": w.id, "candidate": {"x": 1}})
    assert bad_candidate["error"]["code"] == "bad_request"
    signal = await w.host.call(
        "signal", {"room": w.id, "to": "someone", "type": "offer", "data": {"type": "offer"}}
    )
    assert signal["error"] == {
        "code": "forbidden",
        "message": "signal is not for a host in a workshop room",
    }

    lobby = (await w.host.ok("room:create", {"title": "Lobby", "kind": "open"}))["room"]["id"]
    joined_open = await w.host.ok("room:join", {"room": lobby})
    assert "media" not in joined_open
    refused = await w.host.call("sfu:join", {"room": lobby})
    assert refused["error"] == {
        "code": "forbidden",
        "message": "sfu:join is not for an owner in an open room",  # she made it
    }
    coffee = (await w.host.ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    assert (await w.host.ok("room:join", {"room": coffee}))["media"]["mode"] == "mesh"
    mesh = await w.host.call("sfu:join", {"room": coffee})
    assert mesh["error"] == {"code": "forbidden", "message": "this room uses mesh"}


async def test_a_coffee_room_moves_to_the_sfu_when_one_camera_too_many_turns_on(
    start_server, settings: Settings, connect, peers
) -> None:
    server = await start_server(settings, mesh_max_cameras=2)
    clients = [await connect(server.url, name) for name in ("Ann", "Bob", "Cat")]
    room = (await clients[0].ok("room:create", {"title": "Coffee", "kind": "coffee"}))["room"]["id"]
    for client in clients:
        await client.ok("room:join", {"room": room})
    ann, bob, cat = clients
    for client in (ann, bob):
        ack = await client.ok("media:state", {"room": room, "camera": True, "mic": False})
        assert ack["media"] == {"mode": "mesh", "url": None, "epoch": 0}
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    await ann.ok("signal", {"room": room, "to": bob.user_id, "type": "offer", "data": offer})

    third = await cat.ok("media:state", {"room": room, "camera": True, "mic": False})
    assert third["media"] == {"mode": "sfu", "url": None, "epoch": 1}
    for client in clients:
        told = await client.wait("media")
        assert told == {"room": room, "media": {"mode": "sfu", "url": None, "epoch": 1}}
    refused = await ann.call(
        "signal", {"room": room, "to": bob.user_id, "type": "offer", "data": offer}
    )
    assert refused["error"]["message"] == "this room's media goes through the server"

    sessions = [await peers(client, room, camera=Pattern()) for client in clients]
    for viewer in sessions:
        others = [c.user_id for c in clients if c is not viewer.client]
        await until(lambda v=viewer, o=others: all(v.frames_from(u) >= 5 for u in o))
    # Cameras going off again do not flip the room back while people are in it.
    back = await bob.ok("media:state", {"room": room, "camera": False, "mic": False})
    assert back["media"]["mode"] == "sfu"
    joined = await connect(server.url, "Dee")
    assert (await joined.ok("room:join", {"room": room}))["media"]["mode"] == "sfu"


async def test_the_metrics_endpoint_shows_what_each_room_forwards(
    start_server, settings: Settings, connect, peers
) -> None:
    port = free_port()
    server = await start_server(settings, metrics_port=port)
    w = await workshop(server, connect)
    await w.host.ok("media:state", {"room": w.id, "camera": True, "mic": False})
    await peers(w.host, w.id, camera=Pattern())
    viewers = [await peers(await guest(server, connect, w.id, f"G{n}"), w.id) for n in range(2)]
    for viewer in viewers:
        await until(lambda v=viewer: v.frames_from(w.host.user_id) >= 10)
    # A viewer asks for a keyframe over the wire, as a browser does after a loss (joiners
    # got the publisher's first keyframe replayed and asked for none).
    (receiver,) = [r for r in viewers[0].pc.getReceivers() if r.getSynchronizationSources()]
    await receiver._send_rtcp_pli(receiver.getSynchronizationSources()[0].source)
    media = server.server.app[APP_KEY].media
    publications = [p for s in media.rooms[w.id].sessions.values() for p in s.publications.values()]
    await until(lambda: sum(p.stats.keyframe_requests for p in publications) >= 1)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            text = await response.text()
        # Never on the public port.
        async with http.get(f"{server.url}metrics") as public:
            assert public.status == 404
    families = {family.name: family for family in text_string_to_metric_families(text)}

    def value(name: str) -> float:
        (sample,) = [s for s in families[name].samples if s.labels.get("room") == w.id]
        return float(sample.value)

    assert value("percolate_sfu_publishers") == 1
    assert value("percolate_sfu_subscribers") == 2
    assert value("percolate_sfu_sessions") == 3
    assert value("percolate_sfu_frames_forwarded") >= 20
    assert value("percolate_sfu_forwarded_packets") >= 20
    assert value("percolate_sfu_forwarded_bytes") > value("percolate_sfu_forwarded_packets")
    assert value("percolate_sfu_keyframe_requests") >= 1
    assert families["process_cpu_seconds"].samples[0].value > 0
    assert families["percolate_connections"].samples[0].value == 3


async def test_racing_joins_of_one_connection_leave_one_session(server: Running, connect) -> None:
    w = await workshop(server, connect)
    acks = await asyncio.gather(*(w.host.call("sfu:join", {"room": w.id}) for _ in range(3)))
    assert any(ack["ok"] for ack in acks)
    for ack in acks:
        assert ack["ok"] or ack["error"]["message"] == "the media session was closed; send sfu:join"
    media = server.server.app[APP_KEY].media
    assert list(media.rooms[w.id].sessions) == [w.host.sio.get_sid()]
    await w.host.ok("sfu:leave", {"room": w.id})
    assert media.rooms[w.id].sessions == {}


async def test_the_server_does_not_start_when_aiortc_lacks_a_seam_the_sfu_uses(
    start_server: Callable[..., Awaitable[Running]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if an aiortc release renamed it: the SFU would answer no NACK, so nothing starts.
    monkeypatch.delattr(RTCRtpSender, "_retransmit")
    version = importlib.metadata.version("aiortc")
    with pytest.raises(MissingSeam) as raised:
        await start_server(settings)
    assert str(raised.value).startswith(
        f"aiortc {version} no longer has RTCRtpSender._retransmit(self, sequence_number)"
    )
