"""Sessions: listed to their owner, signed out one by one or all but this one, expiring unused.

A second session of one user stands for a sign-in on another device (passkeys, later): the
test adds it to the archive, as a sign-in will, and connects with its token.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
import socketio

from server import keys
from server.app import APP_KEY
from server.archive import NewLogin
from server.config import Settings

from .support.client import Client
from .support.servers import Running


@pytest.fixture(params=["sqlite", "postgres"])
async def stored(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test's settings, with the archive in SQLite or in PostgreSQL."""
    if request.param == "sqlite":
        return settings
    url = await request.getfixturevalue("postgres_server").new_database()
    return dataclasses.replace(settings, database_url=str(url))


async def sign_in_elsewhere(server: Running, user_id: str, device: str = "Phone") -> str:
    """A token of a new session of ``user_id``, as a sign-in on another device makes one."""
    token = keys.new_token()
    login = NewLogin(
        id=keys.new_id("s"),
        token_digest=keys.digest(token),
        label=device,
        at=int(time.time() * 1000),
    )
    await server.server.app[APP_KEY].archive.add_login(user_id, login)
    return token


async def refusal(url: str, auth: dict[str, Any]) -> dict[str, str]:
    """Connect, expecting a refusal; its data."""
    client = Client()
    errors: list[dict[str, dict[str, str]]] = []
    client.sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth)
    await client.close()
    return errors[0]["data"]


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_user_sees_their_sessions_and_which_is_this_one(
    start_server, stored: Settings, connect
) -> None:
    server = await start_server(stored)
    ann = await connect(server.url, "Ann")
    before = int(time.time() * 1000)
    await sign_in_elsewhere(server, ann.user_id, "Phone")
    listed = (await ann.ok("sessions:list"))["sessions"]
    assert [(s["label"], s["current"]) for s in listed] == [
        ("Python", True),  # python-socketio's User-Agent: Python/3.x aiohttp/3.x
        ("Phone", False),
    ]
    this, phone = listed
    day = 86_400_000
    assert this["expires"] - this["last_seen"] == 30 * day  # SESSION_DAYS, sliding
    assert phone["last_seen"] >= before and phone["expires"] == phone["last_seen"] + 30 * day
    bob = await connect(server.url, "Bob")
    assert [s["current"] for s in (await bob.ok("sessions:list"))["sessions"]] == [True]


@pytest.mark.parametrize("backend", ["memory"])
async def test_revoking_another_session_disconnects_it_and_its_token_stops_working(
    start_server, stored: Settings, connect
) -> None:
    server = await start_server(stored)
    ann = await connect(server.url, "Ann")
    token = await sign_in_elsewhere(server, ann.user_id)
    phone = await connect(server.url, "Ann", token=token)
    assert phone.user_id == ann.user_id
    await phone.ok("room:join", {"room": "lobby"})
    other = next(s for s in (await ann.ok("sessions:list"))["sessions"] if not s["current"])

    assert await ann.ok("session:revoke", {"id": other["id"]}) == {"ok": True}
    assert await phone.wait("closing") == {
        "code": "unauthorized",
        "message": "this session was signed out",
        "retry_after": 0,
    }
    await phone.sio.wait()  # disconnected by the server
    assert await refusal(server.url, {"name": "Ann", "token": token}) == {
        "code": "unauthorized",
        "message": "this session was signed out",
    }
    assert [s["current"] for s in (await ann.ok("sessions:list"))["sessions"]] == [True]
    # Ann's own connection goes on; revoking the same session again reveals nothing new.
    refused = await ann.call("session:revoke", {"id": other["id"]})
    assert refused["error"] == {"code": "not_found", "message": "no such session"}


@pytest.mark.parametrize("backend", ["memory"])
async def test_another_users_session_is_not_found(start_server, stored: Settings, connect) -> None:
    server = await start_server(stored)
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    (bobs,) = (await bob.ok("sessions:list"))["sessions"]
    refused = await ann.call("session:revoke", {"id": bobs["id"]})
    assert refused["error"] == {"code": "not_found", "message": "no such session"}
    assert (await bob.ok("room:join", {"room": "lobby"}))["ok"] is True  # untouched
    again = await connect(server.url, "Bob", token=bob.session["token"])
    assert again.user_id == bob.user_id


@pytest.mark.parametrize("backend", ["memory"])
async def test_an_expired_session_is_refused_and_a_fresh_one_is_made_without_it(
    start_server, stored: Settings, connect
) -> None:
    server = await start_server(stored)
    ann = await connect(server.url, "Ann")
    token = ann.session["token"]
    (this,) = (await ann.ok("sessions:list"))["sessions"]
    await ann.close()
    # Last seen 31 days ago: past SESSION_DAYS (30).
    month_ago = int(time.time() * 1000) - 31 * 86_400_000
    await server.server.app[APP_KEY].archive.touch_logins([this["id"]], month_ago)
    assert await refusal(server.url, {"name": "Ann", "token": token}) == {
        "code": "unauthorized",
        "message": "this session expired",
    }
    fresh = await connect(server.url, "Ann")
    assert fresh.user_id != ann.user_id and fresh.session["token"] != token


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_session_in_use_is_marked_seen_at_most_once_an_hour(
    start_server, settings: Settings, connect
) -> None:
    server = await start_server(settings)
    app = server.server.app[APP_KEY]
    ann = await connect(server.url, "Ann")
    (this,) = (await ann.ok("sessions:list"))["sessions"]
    day_ago = int(time.time() * 1000) - 86_400_000
    await app.archive.touch_logins([this["id"]], day_ago)
    # Connecting with it a day later: the session goes on, and is marked seen by the next
    # touch (the heartbeat's), not on the way in.
    tab = await connect(server.url, "Ann", token=ann.session["token"])
    assert tab.user_id == ann.user_id
    (stored,) = await app.archive.logins(ann.user_id, 10)
    assert stored.seen_at == day_ago
    await app.logins.touch()
    (stored,) = await app.archive.logins(ann.user_id, 10)
    assert stored.seen_at > day_ago
    await app.archive.touch_logins([this["id"]], day_ago)
    await app.logins.touch()  # both connections were marked within the hour: nothing written
    (stored,) = await app.archive.logins(ann.user_id, 10)
    assert stored.seen_at == day_ago


async def test_signing_out_everywhere_else_keeps_this_browser(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    tab = await connect(server.url, "Ann", token=ann.session["token"])  # this browser, too
    phones = [await sign_in_elsewhere(server, ann.user_id, f"Phone {n}") for n in range(2)]
    others = [await connect(server.url, "Ann", token=token) for token in phones]
    assert await ann.ok("sessions:revoke_others") == {"ok": True, "revoked": 2}
    for other in others:
        assert (await other.wait("closing"))["code"] == "unauthorized"
        await other.sio.wait()
    assert (await tab.ok("room:join", {"room": "lobby"}))["ok"] is True
    assert await ann.ok("sessions:revoke_others") == {"ok": True, "revoked": 0}
    listed = (await ann.ok("sessions:list"))["sessions"]
    assert [s["current"] for s in listed] == [True]


async def test_signing_out_this_session_answers_then_disconnects(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    (this,) = (await ann.ok("sessions:list"))["sessions"]
    assert await ann.ok("session:revoke", {"id": this["id"]}) == {"ok": True}
    assert (await ann.wait("closing"))["message"] == "this session was signed out"
    await ann.sio.wait()


@pytest.mark.parametrize("backend", ["redis"])
async def test_revoking_on_one_process_disconnects_the_session_on_another(
    start_server, stored: Settings, connect
) -> None:
    one = await start_server(stored)
    two = await start_server(stored)
    ann = await connect(one.url, "Ann")
    token = await sign_in_elsewhere(one, ann.user_id)
    phone = await connect(two.url, "Ann", token=token)
    other = next(s for s in (await ann.ok("sessions:list"))["sessions"] if not s["current"])
    await ann.ok("session:revoke", {"id": other["id"]})
    assert (await phone.wait("closing"))["code"] == "unauthorized"
    await phone.sio.wait()
    refused = await refusal(two.url, {"name": "Ann", "token": token})
    assert refused["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
         "Firefox on Linux"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
        ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
        ("curl/8.5.0", "curl"),
        ("", "an unknown device"),
    ],
)  # fmt: skip
def test_a_session_is_named_after_the_browser_that_made_it(agent: str, label: str) -> None:
    from server.logins import label as label_of

    assert label_of(agent) == label
