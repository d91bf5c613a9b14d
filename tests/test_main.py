"""``python -m server`` as a newcomer runs it: starts, serves, stops on a signal, keeps data."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.slow


async def test_it_starts_serves_the_client_and_stops_cleanly_on_sigterm(
    run_server, tmp_path: Path, connect
) -> None:
    server = await run_server(env={"DATA_DIR": str(tmp_path / "d")})
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as resp:
            assert resp.status == 200 and "<html" in (await resp.text()).lower()
        async with http.get(server.url + "healthz") as resp:
            health = await resp.json()
    assert health["ok"] and health["presence"]["backend"] == "memory"
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    await ann.close()

    server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    output = await server.finish()
    assert server.proc.returncode == 0, output  # type: ignore[union-attr]
    assert "listening on http://127.0.0.1:" in output
    assert "presence: memory" in output and "archive: sqlite" in output
    assert str(tmp_path / "d") in output
    assert "Traceback" not in output
    assert (tmp_path / "d" / "percolate.db").is_file()
    # Connections and room joins are logged only with LOG_LEVEL=debug (one line each would
    # cost 5% of the CPU while thousands join).
    assert f"user={ann.user_id}" not in output


async def test_no_acknowledged_message_is_lost_when_the_process_is_killed(
    run_server, tmp_path: Path, connect
) -> None:
    data = str(tmp_path / "d")
    first = await run_server("--data-dir", data, "--chat-burst", "1000")
    ann = await connect(first.url, "Ann")
    token = ann.session["token"]
    await ann.ok("room:join", {"room": "lobby"})
    acks = await asyncio.gather(
        *(
            ann.ok("chat:send", {"room": "lobby", "text": f"m{i}", "client_msg_id": f"c{i}"})
            for i in range(100)
        )
    )
    await first.kill()  # SIGKILL right after the acks: no chance to flush anything

    second = await run_server("--data-dir", data)
    back = await connect(second.url, "Ann", token=token)
    assert back.user_id == ann.user_id
    await back.ok("room:join", {"room": "lobby"})
    history = (await back.ok("chat:history", {"room": "lobby", "limit": 100}))["messages"]
    assert sorted(m["id"] for m in history) == sorted(a["message"]["id"] for a in acks)
    assert [m["seq"] for m in history] == list(range(1, 101))


async def test_flags_and_environment_are_read(run_server, tmp_path: Path, connect) -> None:
    server = await run_server(
        "--data-dir",
        str(tmp_path / "flag"),
        env={"DATA_DIR": str(tmp_path / "env"), "LOG_LEVEL": "DEBUG"},
    )
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    await ann.close()
    server.proc.send_signal(signal.SIGINT)  # type: ignore[union-attr]
    output = await server.finish()
    assert server.proc.returncode == 0  # type: ignore[union-attr]
    assert str(tmp_path / "flag") in output  # a flag wins over the environment
    assert f"room=lobby user={ann.user_id} joined as member" in output  # LOG_LEVEL=debug
    assert f"user={ann.user_id} address=127.0.0.1" in output


@pytest.mark.parametrize("backend", ["redis"])
async def test_members_of_a_crashed_process_vanish_from_presence(
    run_server, tmp_path: Path, redis_server, start_server, settings, connect
) -> None:
    import dataclasses

    shared = dataclasses.replace(settings, presence_ttl=1.5)
    doomed = await run_server(
        "--data-dir",
        str(tmp_path / "d"),
        "--redis-url",
        redis_server.url,
        "--redis-prefix",
        settings.redis_prefix,
        "--presence-ttl",
        "1.5",
    )
    survivor = await start_server(shared)
    ann = await connect(survivor.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    bob = await connect(doomed.url, "Bob")
    await bob.ok("room:join", {"room": "lobby"})
    joined = await ann.wait("presence", lambda e: e["event"] == "join")
    assert joined["member"]["name"] == "Bob"

    await doomed.kill()
    left = await ann.wait("presence", lambda e: e["event"] == "leave")
    assert left["member"]["id"] == bob.user_id
    members = (await ann.ok("room:join", {"room": "lobby"}))["members"]
    assert [m["name"] for m in members] == ["Ann"]
