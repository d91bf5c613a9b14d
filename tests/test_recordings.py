"""Workshop recordings: hosts start and stop them, the stage is written to disk, the archive
keeps a row per recording (server/recordings.py; real server, clients and aiortc publisher)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import AudioStreamTrack

from server.app import APP_KEY
from server.archive.recordings import State
from server.archive.sqlite import SqliteArchive

from .support.client import Client
from .support.media import Pattern, until
from .support.servers import Running

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def backend() -> str:
    return "memory"  # which process records is placement's; several processes: the docs


@pytest.fixture
async def server(archived_server: Running) -> Running:
    return archived_server


async def workshop(server: Running, connect) -> tuple[str, Client]:
    host = await connect(server.url, "Host")
    created = await host.ok("room:create", {"title": "Pricing", "kind": "workshop"})
    room = created["room"]["id"]
    joined = await host.ok("room:join", {"room": room, "host_key": created["host_key"]})
    assert joined["recording"] == {"on": False, "by": None, "started_at": None}
    return room, host


def decode(path: Path) -> list[Any]:
    with av.open(str(path)) as container:
        return list(container.decode(container.streams[0]))


async def test_a_host_records_the_stage_and_everyone_sees_it(
    server: Running, connect, peers
) -> None:
    room, host = await workshop(server, connect)
    guest = await connect(server.url, "Gus")
    await guest.ok("room:join", {"room": room})
    await host.ok("media:state", {"room": room, "camera": True, "mic": True})
    await peers(host, room, camera=Pattern(), mic=AudioStreamTrack())
    viewer = await peers(guest, room)
    await until(lambda: viewer.frames_from(host.user_id, "camera") >= 10)
    await host.ok("chat:send", {"room": room, "text": "before", "client_msg_id": "a"})

    started = await host.ok("recording:start", {"room": room})
    begun = time.time()
    on = {"on": True, "by": {"id": host.user_id, "name": "Host"}}
    assert {k: started["recording"][k] for k in on} == on
    told = await guest.wait("recording", lambda e: e["room"] == room)
    assert told == {"room": room, **started["recording"]}
    late = await connect(server.url, "Late")
    assert (await late.ok("room:join", {"room": room}))["recording"] == started["recording"]
    await guest.ok("chat:send", {"room": room, "text": "during", "client_msg_id": "b"})

    await asyncio.sleep(4)  # media time: what is recorded
    stopped = await host.ok("recording:stop", {"room": room})
    span = time.time() - begun
    assert stopped == {
        "ok": True,
        "id": started["id"],
        "recording": {"on": False, "by": None, "started_at": None},
    }
    await guest.wait("recording", lambda e: e["room"] == room and not e["on"])
    assert (await late.ok("room:join", {"room": room}))["recording"]["on"] is False

    row = await server.server.app[APP_KEY].archive.recording(started["id"])
    assert row is not None and row.state is State.DONE
    assert (row.started_by.id, row.stopped_by and row.stopped_by.id) == (host.user_id,) * 2
    assert row.title.startswith("Pricing ") and row.guests_may_watch is False
    labels = sorted(f.label for f in row.files)
    assert labels == [f"{host.user_id}-camera", f"{host.user_id}-mic"]
    folder = Path(row.folder)
    for file in row.files:
        frames = decode(folder / file.name)
        assert len(frames) == file.frames > 0
        assert abs(frames[-1].time - frames[0].time - span) < 0.5, (file, span)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["id"], manifest["reason"]) == (started["id"], "stopped")
    assert (manifest["chat_from"], manifest["chat_to"]) == (2, 2)  # "during" only
    assert sorted(s["label"] for s in manifest["sources"]) == labels


async def test_a_guest_may_neither_start_nor_stop_a_recording(server: Running, connect) -> None:
    room, host = await workshop(server, connect)
    guest = await connect(server.url, "Gus")
    await guest.ok("room:join", {"room": room})
    for event in ("recording:start", "recording:stop"):
        ack = await guest.call(event, {"room": room})
        assert ack["error"]["code"] == "forbidden"
    await host.ok("recording:start", {"room": room})
    assert (await guest.call("recording:stop", {"room": room}))["error"]["code"] == "forbidden"
    again = await host.call("recording:start", {"room": room})
    assert again["error"]["code"] == "bad_request"


async def test_a_recording_does_not_start_without_free_disk_and_the_room_goes_on(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, recording_min_free_mb=10**12)
    room, host = await workshop(server, connect)
    refused = await host.call("recording:start", {"room": room})
    assert refused["error"] == {"code": "unavailable", "message": "not enough free disk to record"}
    await host.ok("chat:send", {"room": room, "text": "still here", "client_msg_id": "a"})
    assert (await host.ok("room:join", {"room": room}))["recording"]["on"] is False


async def test_a_recording_stops_by_itself_at_its_longest_and_hosts_are_told(
    start_server, settings, connect
) -> None:
    server = await start_server(settings, recording_max_minutes=1 / 60, recording_check_seconds=0.1)
    room, host = await workshop(server, connect)
    guest = await connect(server.url, "Gus")
    await guest.ok("room:join", {"room": room})
    started = await host.ok("recording:start", {"room": room})
    notice = await host.wait("recording:notice", lambda e: e["room"] == room)
    assert notice == {"room": room, "id": started["id"], "reason": "max_length"}
    await guest.wait("recording", lambda e: e["room"] == room and not e["on"])
    assert not guest.events("recording:notice")  # the hosts' notice
    row = await server.server.app[APP_KEY].archive.recording(started["id"])
    assert row is not None and row.state is State.DONE and row.stopped_by is None
    await guest.ok("chat:send", {"room": room, "text": "still here", "client_msg_id": "a"})


async def test_a_recording_of_a_killed_process_is_interrupted_after_restart(
    run_server, connect, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = await run_server("--data-dir", str(data))
    room, host = await workshop(first, connect)
    started = await host.ok("recording:start", {"room": room})
    await first.kill()

    second = await run_server("--data-dir", str(data))
    late = await connect(second.url, "Late")
    assert (await late.ok("room:join", {"room": room}))["recording"]["on"] is False
    archive = SqliteArchive(data / "percolate.db")
    await archive.open()
    try:
        row = await archive.recording(started["id"])
    finally:
        await archive.close()
    assert row is not None and row.state is State.INTERRUPTED
    assert row.folder == str(data / "recordings" / started["id"])


async def test_a_presenter_who_comes_and_goes_gets_a_file_of_their_own(
    server: Running, connect, peers
) -> None:
    room, host = await workshop(server, connect)
    await host.ok("media:state", {"room": room, "camera": True, "mic": False})
    await peers(host, room, camera=Pattern())
    started = await host.ok("recording:start", {"room": room})
    percolate = server.server.app[APP_KEY]
    recording = percolate.recordings.running[room].recording

    def frames(label: str) -> int:
        recorder = recording.recorders.get(label)
        return 0 if recorder is None else recorder.stats.frames

    await until(lambda: frames(f"{host.user_id}-camera") >= 15)

    pia = await connect(server.url, "Pia")
    await pia.ok("room:join", {"room": room})
    await host.ok("stage:invite", {"room": room, "user": pia.user_id})
    await pia.ok("media:state", {"room": room, "camera": True, "mic": False})
    await peers(pia, room, camera=Pattern())
    label = f"{pia.user_id}-camera"
    await until(lambda: frames(label) >= 30)
    await host.ok("stage:remove", {"room": room, "user": pia.user_id})
    await until(lambda: label not in recording.recorders)  # off stage: the file is finished
    after = frames(f"{host.user_id}-camera")
    await until(lambda: frames(f"{host.user_id}-camera") >= after + 15)  # the host goes on
    await host.ok("recording:stop", {"room": room})

    row = await percolate.archive.recording(started["id"])
    assert row is not None
    by_label = {f.label: f for f in row.files}
    assert sorted(by_label) == sorted([f"{host.user_id}-camera", label])
    hosts, pias = by_label[f"{host.user_id}-camera"], by_label[label]
    assert pias.offset_ms > hosts.offset_ms + 300  # she came on stage later
    assert pias.offset_ms + pias.duration_ms < hosts.offset_ms + hosts.duration_ms
    assert len(decode(Path(row.folder) / pias.name)) == pias.frames >= 30
