"""Replays over HTTP (server/replays.py): a recording's facts and its WebM files, with Range
for seeking, for those who may watch it and 404 for everybody else (real server on SQLite
and PostgreSQL, a real recording of a real aiortc publisher)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import av
import msgspec
import pytest
import yarl

from server.app import APP_KEY

from .support.client import Client
from .support.media import Pattern, SfuPeer, until
from .support.servers import Running
from .test_recordings import workshop

pytestmark = pytest.mark.timeout(90)

GONE = {"error": {"code": "not_found", "message": "no such recording"}}


@pytest.fixture
def backend() -> str:
    return "memory"


@pytest.fixture
async def server(archived_server: Running) -> Running:
    return archived_server


@pytest.fixture
async def peers() -> AsyncIterator[list[SfuPeer]]:
    made: list[SfuPeer] = []
    yield made
    for peer in made:
        await peer.close()


Record = Callable[[], Awaitable[tuple[str, str, Client]]]


@pytest.fixture
def record(server: Running, connect, peers: list[SfuPeer]) -> Record:
    async def make() -> tuple[str, str, Client]:
        """A finished recording of the host's camera: (recording id, room, host)."""
        room, host = await workshop(server, connect)
        await host.ok("media:state", {"room": room, "camera": True, "mic": False})
        peer = SfuPeer(host, room, camera=Pattern())
        peers.append(peer)
        await peer.join()
        started = await host.ok("recording:start", {"room": room})
        recording = server.server.app[APP_KEY].recordings.running[room].recording
        label = f"{host.user_id}-camera"

        def frames() -> int:
            recorder = recording.recorders.get(label)
            return 0 if recorder is None else recorder.stats.frames

        await until(lambda: frames() >= 20)
        await host.ok("chat:send", {"room": room, "text": "during", "client_msg_id": "a"})
        await host.ok("recording:stop", {"room": room})
        return started["id"], room, host

    return make


async def get(
    server: Running, path: str, token: str | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    # As sent: the client would resolve ``..`` itself.
    url = yarl.URL(server.url + path, encoded=True)
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


def token(client: Client) -> str:
    return str(client.session["token"])


async def test_a_host_gets_the_facts_and_a_file_that_plays_and_seeks(
    server: Running, record: Record
) -> None:
    recording_id, room, host = await record()
    status, headers, body = await get(server, f"api/recordings/{recording_id}", token(host))
    assert status == 200 and headers["Cache-Control"] == "private, no-store"
    facts = msgspec.json.decode(body)
    me = {"id": host.user_id, "name": "Host"}
    assert (facts["id"], facts["room"], facts["state"]) == (recording_id, room, "done")
    assert (facts["started_by"], facts["stopped_by"]) == (me, me)
    assert facts["title"].startswith("Pricing ") and facts["guests_may_watch"] is False
    assert facts["chat"] == {"first": 1, "last": 1}  # "during"
    [file] = facts["files"]
    assert (file["label"], file["kind"], file["codec"]) == (
        f"{host.user_id}-camera",
        "video",
        "vp8",
    )
    assert file["frames"] >= 20 and file["duration_ms"] > 0

    path = f"api/recordings/{recording_id}/files/{file['name']}"
    status, headers, body = await get(server, path, token(host))
    assert status == 200 and len(body) == file["size"] > file["bytes"]
    assert headers["Content-Type"] == "video/webm"
    assert headers["Content-Disposition"] == f'inline; filename="{recording_id}-{file["name"]}"'
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    with av.open(io.BytesIO(body)) as container:
        frames = list(container.decode(container.streams.video[0]))
    assert len(frames) == file["frames"]

    status, headers, part = await get(server, path, token(host), Range="bytes=0-99")
    assert status == 206 and part == body[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(body)}"
    status, headers, _ = await get(server, path, token(host), Range=f"bytes={len(body)}-")
    assert status == 416
    status, headers, _ = await get(server, path + "?download=1", token(host))
    assert status == 200 and headers["Content-Disposition"].startswith("attachment; ")
    # A <video> cannot send the header: the token in the query does as well.
    status, _, again = await get(server, f"{path}?token={token(host)}", Range="bytes=100-")
    assert status == 206 and again == body[100:]


async def test_only_its_hosts_may_watch_until_guests_are_allowed(
    server: Running, connect, record: Record
) -> None:
    recording_id, room, host = await record()
    guest = await connect(server.url, "Gus")
    await guest.ok("room:join", {"room": room})
    co = await connect(server.url, "Cora")
    await co.ok("room:join", {"room": room})
    await host.ok("member:role", {"room": room, "user": co.user_id, "role": "cohost"})
    stranger = await connect(server.url, "Stan")
    facts = f"api/recordings/{recording_id}"
    name = msgspec.json.decode((await get(server, facts, token(host)))[2])["files"][0]["name"]
    file = f"{facts}/files/{name}"

    assert (await get(server, facts, token(co)))[0] == 200
    assert (await get(server, file, token(co)))[0] == 200
    for who in (guest, stranger):
        for path in (facts, file, f"{file}?token={token(who)}"):
            status, _, body = await get(server, path, token(who))
            assert (status, msgspec.json.decode(body)) == (404, GONE), (who.user_id, path)

    # No event sets it yet (the hosts' list of recordings will): the archive does.
    archive = server.server.app[APP_KEY].archive
    row = await archive.recording(recording_id)
    assert row is not None
    await archive.save_recording(msgspec.structs.replace(row, guests_may_watch=True))
    for who in (guest, stranger):  # anyone signed in who was given the id
        assert (await get(server, facts, token(who)))[0] == 200
        assert (await get(server, f"{file}?token={token(who)}"))[0] == 200


async def test_tricks_and_unknowns_get_the_same_404_and_no_token_401(
    server: Running, record: Record
) -> None:
    recording_id, room, host = await record()
    mine = token(host)
    facts = f"api/recordings/{recording_id}"
    for path in (
        "api/recordings/rec0000000000000000000000000000000000",
        "api/recordings/" + "x" * 500,
        f"{facts}/files/manifest.json",
        f"{facts}/files/nothing.webm",
        f"{facts}/files/..%2fmanifest.json",
        f"{facts}/files/..%2f..%2fpercolate.db",
        f"{facts}/files/%2fetc%2fpasswd",
        f"{facts}/files/%2e%2e",
        f"{facts}/files/..",
        f"{facts}/files/../../{recording_id}",
        f"{facts}/",
        "api/recordings/",
    ):
        status, _, body = await get(server, path, mine)
        assert (status, msgspec.json.decode(body)) == (404, GONE), path

    # Still recording: as if it did not exist.
    running = await host.ok("recording:start", {"room": room})
    assert (await get(server, f"api/recordings/{running['id']}", mine))[0] == 404
    await host.ok("recording:stop", {"room": room})

    for sent in ({}, {"Authorization": "Bearer not-a-token-we-made"}, {"Authorization": "Basic x"}):
        status, headers, body = await get(server, facts, **sent)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), sent
        assert msgspec.json.decode(body)["error"]["code"] == "unauthorized"
    assert (await get(server, f"{facts}/files/x.webm?token=not-ours"))[0] == 401
    assert (await get(server, f"{facts}?token={mine}"))[0] == 401  # the query: files only
