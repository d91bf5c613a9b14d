"""Video through the server (docs/sfu-design.md 4.2): workshops, coffee rooms past the mesh.

What a page holds is read through a wrapper of ``RTCPeerConnection`` put in before the client
loads (``WATCH``): every connection the page makes, so a test can count them, tell the SFU
session (the server offers a third m-line, mid "2", for the screen) from a mesh peer (two
m-lines), and read ``getStats()``. The client itself has no test hooks.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from playwright.async_api import expect

from .harness import RECONNECT_MS, WAIT_MS, People, Person, Server

pytestmark = pytest.mark.browser

# Before the client's script: keep every RTCPeerConnection; count the mesh `signal` events the
# page sends (on either Engine.IO transport); note when each video tile shows its first frame
# (requestVideoFrameCallback, W3C video-rvfc), by the tile's user id; and, when a test sets
# __ignoreModeration, keep sending what a host turned off (a client that does not obey), to
# see that the server stops forwarding it.
WATCH = """
(() => {
  const Native = window.RTCPeerConnection;
  const all = [];
  window.__pcs = all;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      all.push(this);
    }
  };
  window.__signals = 0;
  const count = (data) => {
    if (typeof data === "string" && data.includes('["signal",')) window.__signals += 1;
  };
  const wsSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    count(data);
    return wsSend.call(this, data);
  };
  const xhrSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    count(body);
    return xhrSend.call(this, body);
  };
  window.__firstFrames = {};
  const watch = (video) => {
    if (video.__watched) return;
    video.__watched = true;
    video.requestVideoFrameCallback((now) => {
      const user = video.closest('[data-testid="video-tile"]')?.dataset.userId ?? "?";
      window.__firstFrames[user] ??= now;
    });
  };
  new MutationObserver(() => document.querySelectorAll("video").forEach(watch)).observe(
    document, { childList: true, subtree: true });
  const replaceTrack = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (track) {
    if (track === null && window.__ignoreModeration) return Promise.resolve();
    return replaceTrack.call(this, track);
  };
  const stop = MediaStreamTrack.prototype.stop;
  MediaStreamTrack.prototype.stop = function () {
    if (!window.__ignoreModeration) stop.call(this);
  };
})();
"""

# Every peer connection the page made, for failure messages.
ALL_CONNECTIONS = """
() => window.__pcs.map((pc) => ({
  state: pc.connectionState, signaling: pc.signalingState,
  mids: pc.getTransceivers().map((t) => t.mid), local: pc.localDescription?.type ?? null,
}))
"""

# The page's live peer connections: how many, how many are SFU sessions and mesh peers.
CONNECTIONS = """
() => {
  const live = window.__pcs.filter((pc) => pc.connectionState !== "closed");
  const sfu = live.filter((pc) => pc.getTransceivers().some((t) => t.mid === "2"));
  return { live: live.length, sfu: sfu.length, mesh: live.length - sfu.length,
           connected: sfu.filter((pc) => pc.connectionState === "connected").length };
}
"""

# True once the page has exactly one live peer connection, an SFU session, on which `want`
# video tracks decoded more frames at each of three looks: media really flows through it.
SFU_DECODES = """
async (want) => {
  const live = window.__pcs.filter((pc) => pc.connectionState !== "closed");
  if (live.length !== 1 || !live[0].getTransceivers().some((t) => t.mid === "2")) return false;
  const frames = {};
  (await live[0].getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "video") return;
    frames[r.trackIdentifier] = r.framesDecoded ?? 0;
  });
  const seen = (window.__sfuFrames ??= []);
  seen.push(frames);
  if (seen.length < 3) return false;
  const [a, b, c] = seen.slice(-3);
  const rising = Object.keys(c).filter((id) => a[id] < b[id] && b[id] < c[id]);
  return rising.length >= want;
}
"""

# True once the video grid's tiles of `users` each show a picture and count more decoded frames
# at each of three looks (the harness's VIDEO_PLAYS, for several tiles at once).
TILES_PLAY = """
(users) => {
  const grid = [...document.querySelectorAll('[data-testid="video-grid"]')]
    .find((g) => g.checkVisibility());
  const now = {};
  for (const user of users) {
    const video = grid?.querySelector(`[data-testid="video-tile"][data-user-id="${user}"] video`);
    if (!video || video.videoWidth === 0) return false;
    now[user] = video.getVideoPlaybackQuality().totalVideoFrames;
  }
  const seen = (window.__tileFrames ??= []);
  seen.push(now);
  if (seen.length < 3) return false;
  const [a, b, c] = seen.slice(-3);
  return users.every((user) => a[user] < b[user] && b[user] < c[user]);
}
"""

# Frames decoded so far on a track (by id) of the SFU session, and frames the page encoded
# on its camera's m-line (mid "1").
FRAMES = """
async (trackId) => {
  const pc = window.__pcs.find((p) => p.connectionState !== "closed"
                                     && p.getTransceivers().some((t) => t.mid === "2"));
  if (!pc) return { decoded: null, encoded: null };
  let decoded = null, encoded = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.trackIdentifier === trackId) decoded = r.framesDecoded ?? 0;
    if (r.type === "outbound-rtp" && r.mid === "1") encoded = r.framesEncoded ?? 0;
  });
  return { decoded, encoded };
}
"""

# True once a track's decoded frame count stayed the same at three looks: nothing arrives.
STALLED = """
async (trackId) => {
  const pc = window.__pcs.find((p) => p.connectionState !== "closed"
                                     && p.getTransceivers().some((t) => t.mid === "2"));
  let decoded = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.trackIdentifier === trackId) decoded = r.framesDecoded ?? 0;
  });
  const seen = ((window.__stalled ??= {})[trackId] ??= []);
  seen.push(decoded);
  const [a, b, c] = seen.slice(-3);
  return seen.length >= 3 && a === b && b === c;
}
"""


async def person(people: People, name: str) -> Person:
    """Somebody whose page is watched (``WATCH``) from the first script on."""
    who = await people.new(name)
    await who.page.add_init_script(WATCH)
    return who


async def connections(who: Person) -> dict[str, int]:
    result: dict[str, int] = await who.page.evaluate(CONNECTIONS)
    return result


async def decodes_through_one_sfu_session(
    who: Person, tracks: int, wait_ms: float = WAIT_MS
) -> None:
    """The page's only peer connection is its SFU session, and ``tracks`` videos play on it."""
    await who.page.wait_for_function(SFU_DECODES, arg=tracks, polling=500, timeout=wait_ms)


async def stage_track(who: Person, user_id: str) -> str:
    """The id of the video track the stage tile of ``user_id`` plays."""
    video = who.stage_tile(user_id).locator("video")
    track_id: str = await video.evaluate("v => v.srcObject.getVideoTracks()[0].id")
    return track_id


async def workshop(people: People, server: Server, *guests: str) -> tuple[Person, list[Person]]:
    host = await person(people, "Hana")
    await host.enter(server.url)
    room = await host.create_room("Show and tell", "workshop")
    joined = []
    for name in guests:
        guest = await person(people, name)
        await guest.open_room(server.url, room)
        await expect(guest.tid("workshop-status")).to_have_attribute("data-state", "audience")
        joined.append(guest)
    return host, joined


async def on_stage(host: Person, guest: Person) -> str:
    """The host brings ``guest`` on stage and the guest turns the camera on; the guest's id."""
    guest_id = await guest.user_id()
    await host.moderate(guest_id, "control-stage")
    await expect(guest.tid("workshop-status")).to_have_attribute("data-state", "stage")
    await guest.camera_on()
    return guest_id


async def test_workshop_guests_watch_the_host_through_one_connection_each(
    people: People, server: Server
) -> None:
    host, guests = await workshop(people, server, "Ada", "Ben", "Cy", "Dee")
    await host.camera_on()
    host_id = await host.user_id()
    for guest in guests:
        await guest.sees_video_on_stage(host_id)
        await decodes_through_one_sfu_session(guest, 1)
        assert await connections(guest) == {"live": 1, "sfu": 1, "mesh": 0, "connected": 1}
    # The host publishes on the same single connection, and receives nothing.
    assert await connections(host) == {"live": 1, "sfu": 1, "mesh": 0, "connected": 1}
    # Nobody tried the mesh.
    for who in (host, *guests):
        assert await who.page.evaluate("window.__signals") == 0


async def test_a_host_mute_stops_the_forwarding_even_from_a_page_that_keeps_sending(
    people: People, server: Server
) -> None:
    host, (ada, ben, cy) = await workshop(people, server, "Ada", "Ben", "Cy")
    ada_id = await on_stage(host, ada)
    for watcher in (ben, cy):
        await watcher.sees_video_on_stage(ada_id)
    tracks = {watcher.name: await stage_track(watcher, ada_id) for watcher in (ben, cy)}

    # Ada's page disobeys: it goes on sending its camera whatever the host does.
    await ada.page.evaluate("window.__ignoreModeration = true")
    await host.moderate(ada_id, "control-mute-camera")
    await expect(ada.tid("moderation-notice")).to_contain_text("Hana turned off your camera")
    for watcher in (ben, cy):
        camera = watcher.stage_tile(ada_id).get_by_test_id("tile-camera")
        await expect(camera).to_have_attribute("data-on", "false")
        await watcher.page.wait_for_function(
            STALLED, arg=tracks[watcher.name], polling=500, timeout=WAIT_MS
        )
    before = await ada.page.evaluate(FRAMES, "")
    await ada.page.wait_for_function(
        f"async () => (await ({FRAMES})('')).encoded > {before['encoded']} + 30",
        polling=500,
        timeout=WAIT_MS,
    )
    # Still nothing arrives, although Ada's page sent another second of video meanwhile.
    for watcher in (ben, cy):
        frames = await watcher.page.evaluate(FRAMES, tracks[watcher.name])
        stalled = await watcher.page.evaluate(f"window.__stalled[{tracks[watcher.name]!r}]")
        assert frames["decoded"] == stalled[-1], (watcher.name, frames, stalled)


async def test_a_publisher_who_leaves_is_gone_from_every_stage(
    people: People, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    host, (ada, ben, cy) = await workshop(people, server, "Ada", "Ben", "Cy")
    await host.camera_on()
    host_id = await host.user_id()
    ada_id = await on_stage(host, ada)
    for watcher in (host, ben, cy):
        await watcher.sees_video_on_stage(ada_id)
    await ben.sees_video_on_stage(host_id)

    left = time.monotonic()
    await ada.tid("leave-room").click()
    for watcher in (host, ben, cy):
        await expect(watcher.stage_tile(ada_id)).to_have_count(0, timeout=5_000)
    with capsys.disabled():
        print(f"\npublisher's tile gone everywhere {time.monotonic() - left:.2f} s after leaving")
    # The host goes on playing, on the same single connection.
    for watcher in (ben, cy):
        await watcher.sees_video_on_stage(host_id)
        await decodes_through_one_sfu_session(watcher, 1)


@pytest.mark.timeout(150)
async def test_a_fifth_camera_moves_a_coffee_room_from_mesh_to_the_sfu_without_reload(
    people: People, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await person(people, "Ann")
    await first.enter(server.url)
    room = await first.create_room("Big coffee", "coffee")
    crowd = [first]
    for name in ("Bob", "Cleo", "Dan", "Eve"):
        other = await person(people, name)
        await other.open_room(server.url, room)
        crowd.append(other)
    ids = {p.name: await p.user_id() for p in crowd}
    mesh, fifth = crowd[:4], crowd[4]
    for p in mesh:
        await p.camera_on()

    async def sees_the_others(p: Person, others: list[Person]) -> None:
        users = [ids[other.name] for other in others if other is not p]
        # As generous as the move itself: five pages decode four videos each on two cores.
        await p.page.wait_for_function(TILES_PLAY, arg=users, polling=1000, timeout=2 * WAIT_MS)

    await asyncio.gather(*(sees_the_others(p, mesh) for p in crowd))
    for p in crowd:
        # Four cameras: still the mesh (MESH_MAX_CAMERAS), a peer connection per other member.
        assert await connections(p) == {"live": 4, "sfu": 0, "mesh": 4, "connected": 0}
        assert await p.page.evaluate("window.__signals") > 0
        await p.page.evaluate("window.__sameDocument = true")

    switched = time.monotonic()
    await fifth.camera_on()

    async def moved(p: Person) -> float:
        # Generous: five pages make their sessions at once (ICE, DTLS, a keyframe each).
        await decodes_through_one_sfu_session(p, 4, wait_ms=2 * WAIT_MS)
        return time.monotonic() - switched

    took = await asyncio.gather(*(moved(p) for p in crowd))
    await asyncio.gather(*(sees_the_others(p, crowd) for p in crowd))
    for p in crowd:
        assert await connections(p) == {"live": 1, "sfu": 1, "mesh": 0, "connected": 1}, (
            p.name,
            await p.page.evaluate(ALL_CONNECTIONS),
        )
        assert await p.page.evaluate("window.__sameDocument") is True  # no reload
    with capsys.disabled():
        print(
            f"\nmesh to SFU: 4 videos on one session in all {max(took):.2f} s after the 5th camera"
        )


async def test_a_late_joiner_sees_the_first_frame_soon_after_sfu_join(
    people: People, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    host, _ = await workshop(people, server)
    await host.camera_on()
    host_id = await host.user_id()
    room = await host.room_id()

    late = await person(people, "Lou")
    await late.open_room(server.url, room)
    await late.sees_video_on_stage(host_id)
    timing: dict[str, Any] = await late.page.evaluate(
        """(user) => ({
            join: performance.getEntriesByName("percolate:sfu:join").at(-1)?.startTime ?? null,
            frame: window.__firstFrames[user] ?? null,
        })""",
        host_id,
    )
    assert timing["join"] is not None and timing["frame"] is not None, timing
    first_frame = (timing["frame"] - timing["join"]) / 1000
    with capsys.disabled():
        print(f"\nlate joiner: first frame {first_frame:.3f} s after sfu:join")
    assert 0 < first_frame < 5


async def test_sessions_come_back_after_a_lost_connection(people: People, server: Server) -> None:
    host, (ada,) = await workshop(people, server, "Ada")
    await host.camera_on()
    host_id = await host.user_id()
    await ada.sees_video_on_stage(host_id)

    # The publisher's connection drops: the server ends its session with it. Back online, the
    # page joins the room and the SFU again, and sends the camera it kept.
    await host.context.set_offline(True)
    await expect(host.tid("connection-banner")).to_be_visible()
    await host.context.set_offline(False)
    await expect(host.tid("connection-banner")).to_be_hidden(timeout=RECONNECT_MS)
    await ada.page.evaluate("window.__sfuFrames = []")
    await decodes_through_one_sfu_session(ada, 1, wait_ms=RECONNECT_MS)
    await ada.sees_video_on_stage(host_id)

    # Likewise a subscriber's.
    await ada.context.set_offline(True)
    await expect(ada.tid("connection-banner")).to_be_visible()
    await ada.context.set_offline(False)
    await expect(ada.tid("connection-banner")).to_be_hidden(timeout=RECONNECT_MS)
    await ada.page.evaluate("window.__sfuFrames = []")
    await decodes_through_one_sfu_session(ada, 1, wait_ms=RECONNECT_MS)
    await ada.sees_video_on_stage(host_id)
    for who in (host, ada):
        assert await connections(who) == {"live": 1, "sfu": 1, "mesh": 0, "connected": 1}


async def test_a_screen_share_replaces_the_camera_on_the_same_tile(
    people: People, server: Server
) -> None:
    host, (ada,) = await workshop(people, server, "Ada")
    await host.camera_on()
    host_id = await host.user_id()
    await ada.sees_video_on_stage(host_id)
    video = ada.stage_tile(host_id).locator("video")
    camera_track = await stage_track(ada, host_id)

    # The screen goes out on its own m-line (mid "2"): no renegotiation on the host's side.
    await host.tid("toggle-screen").click()
    await expect(host.tid("toggle-screen")).to_have_attribute("aria-pressed", "true")
    await expect(ada.stage_tile(host_id)).to_have_class(re.compile(r"\bscreen\b"))
    await ada.page.wait_for_function(
        "([v, old]) => v.srcObject?.getVideoTracks()[0]?.id !== old",
        arg=[await video.element_handle(), camera_track],
    )
    await ada.page.evaluate("window.__testFrames = {}")
    await ada.sees_video_on_stage(host_id)
    assert await connections(ada) == {"live": 1, "sfu": 1, "mesh": 0, "connected": 1}

    # Sharing stops: the camera is back on the tile.
    await host.tid("toggle-screen").click()
    await expect(ada.stage_tile(host_id)).not_to_have_class(re.compile(r"\bscreen\b"))
    await ada.page.wait_for_function(
        "([v, old]) => v.srcObject?.getVideoTracks()[0]?.id === old",
        arg=[await video.element_handle(), camera_track],
    )
    await ada.page.evaluate("window.__testFrames = {}")
    await ada.sees_video_on_stage(host_id)
