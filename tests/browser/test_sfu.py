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

# Before the client's script: keep every RTCPeerConnection, and, once a test has set
# `__samples` to a list, every half second note there the video frames each live one decoded
# (per track) and encoded (per mid): Playwright's wait_for_function does not await a promise,
# so getStats() is read here and the tests wait on these samples with plain predicates.
# Also count the mesh `signal` events the page sends (on either Engine.IO transport); note when
# each video tile shows its first frame (requestVideoFrameCallback, W3C video-rvfc), by the
# tile's user id; and, when a test sets __ignoreModeration, keep sending what a host turned
# off (a client that does not obey), to see that the server stops forwarding it.
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
  window.__samples = null;
  const sample = async () => {
    if (!window.__samples) return;
    const pcs = [];
    for (const pc of all.filter((p) => p.connectionState !== "closed")) {
      const decoded = {};
      const encoded = {};
      (await pc.getStats()).forEach((r) => {
        if (r.kind !== "video") return;
        if (r.type === "inbound-rtp") decoded[r.trackIdentifier] = r.framesDecoded ?? 0;
        if (r.type === "outbound-rtp") encoded[r.mid] = r.framesEncoded ?? 0;
      });
      const sfu = pc.getTransceivers().some((t) => t.mid === "2");
      pcs.push({ sfu, state: pc.connectionState, decoded, encoded });
    }
    window.__samples?.push(pcs);
    window.__samples?.splice(0, window.__samples.length - 20);
  };
  setInterval(() => void sample(), 500);
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

# True once, in each of the last three samples, the page's only live peer connection is its
# SFU session, and `want` video tracks on it decoded more frames at each: media flows.
SFU_DECODES = """
(want) => {
  const seen = (window.__samples ?? []).slice(-3);
  if (seen.length < 3 || seen.some((pcs) => pcs.length !== 1 || !pcs[0].sfu)) return false;
  const [a, b, c] = seen.map((pcs) => pcs[0].decoded);
  return Object.keys(c).filter((id) => a[id] < b[id] && b[id] < c[id]).length >= want;
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

# The latest sample's SFU session: frames decoded on a track (by id), frames encoded on mid 1.
FRAMES = """
(trackId) => {
  const pc = window.__samples?.at(-1)?.find((p) => p.sfu);
  return { decoded: pc?.decoded[trackId] ?? null, encoded: pc?.encoded["1"] ?? null };
}
"""

# True once a track's decoded frame count was the same in the last three samples: nothing
# arrives on it.
STALLED = """
(trackId) => {
  const seen = (window.__samples ?? []).slice(-3)
    .map((pcs) => pcs.find((p) => p.sfu)?.decoded[trackId]);
  return seen.length === 3 && seen[0] !== undefined && seen.every((n) => n === seen[0]);
}
"""

# True once the SFU session encoded more than `more` frames on the camera's m-line within the
# samples kept since they were last cleared.
ENCODES = """
(more) => {
  const seen = (window.__samples ?? []).map((pcs) => pcs.find((p) => p.sfu)?.encoded["1"] ?? 0);
  return seen.length >= 2 && seen.at(-1) - seen[0] > more;
}
"""


async def fresh_samples(who: Person, count: int = 1) -> None:
    """Forget the page's samples and wait for ``count`` new ones."""
    await who.page.evaluate("window.__samples = []")
    await who.page.wait_for_function(
        "(count) => window.__samples?.length >= count", arg=count, polling=100
    )


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
    """The page's only peer connection is its SFU session, and ``tracks`` videos play on it
    (counted from now on)."""
    await who.page.evaluate("window.__samples = []")
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
    stalled = {}
    for watcher in (ben, cy):
        camera = watcher.stage_tile(ada_id).get_by_test_id("tile-camera")
        await expect(camera).to_have_attribute("data-on", "false")
        await watcher.page.evaluate("window.__samples = []")
        await watcher.page.wait_for_function(
            STALLED, arg=tracks[watcher.name], polling=500, timeout=WAIT_MS
        )
        stalled[watcher.name] = (await watcher.page.evaluate(FRAMES, tracks[watcher.name]))[
            "decoded"
        ]
    # Ada's page sends another second of video meanwhile...
    await ada.page.evaluate("window.__samples = []")
    await ada.page.wait_for_function(ENCODES, arg=30, polling=500, timeout=WAIT_MS)
    # ... and still nothing of it arrives.
    for watcher in (ben, cy):
        await fresh_samples(watcher)
        frames = await watcher.page.evaluate(FRAMES, tracks[watcher.name])
        assert frames["decoded"] == stalled[watcher.name], (watcher.name, frames, stalled)


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
        # Generous: five pages that each encode and decode up to four videos at once.
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
    await decodes_through_one_sfu_session(ada, 1, wait_ms=RECONNECT_MS)
    await ada.sees_video_on_stage(host_id)

    # Likewise a subscriber's.
    await ada.context.set_offline(True)
    await expect(ada.tid("connection-banner")).to_be_visible()
    await ada.context.set_offline(False)
    await expect(ada.tid("connection-banner")).to_be_hidden(timeout=RECONNECT_MS)
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
