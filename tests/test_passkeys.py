"""Passkeys over HTTP: attach one, sign in with it elsewhere, and every way it is refused.

The peer is a software authenticator (``tests/support/authenticator.py``) that builds what a
browser sends, signed with a real key; the server verifies it with py_webauthn.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from server.config import Settings

from .support.authenticator import Authenticator, b64
from .support.servers import Running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    async with http.request(method, url, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def attach(
    http: aiohttp.ClientSession, url: str, token: str, key: Authenticator, name: str | None = None
) -> dict[str, Any]:
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {}, token)
    assert status == 200, answer
    body: dict[str, Any] = {"credential": key.create(answer["options"])}
    if name is not None:
        body["name"] = name
    status, answer = await call(http, "POST", url + "api/passkeys/register", body, token)
    assert status == 200, answer
    return dict(answer["passkey"])


async def sign_in(
    http: aiohttp.ClientSession, url: str, key: Authenticator, finish_at: str | None = None
) -> tuple[int, Any]:
    status, answer = await call(http, "POST", url + "api/passkeys/signin/options", {})
    assert status == 200, answer
    body = {"credential": key.get(answer["options"])}
    return await call(http, "POST", (finish_at or url) + "api/passkeys/signin", body)


def error(answer: Any) -> str:
    return str(answer["error"]["code"])


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server


@pytest.mark.parametrize("backend", ["memory"])
async def test_a_passkey_signs_in_elsewhere_as_the_same_person(
    server: Running, connect, http
) -> None:
    url = server.url
    ann = await connect(url, "Ann")
    dm = await ann.ok("dm:open", {"user": (await connect(url, "Bob")).user_id})
    await ann.ok("room:join", {"room": dm["room"]["id"]})
    said = {"room": dm["room"]["id"], "text": "see you at the meetup", "client_msg_id": "m1"}
    await ann.ok("chat:send", said)
    key = Authenticator(origin=url)
    options = (await call(http, "POST", url + "api/passkeys/register/options", {},
                          ann.session["token"]))[1]["options"]  # fmt: skip
    # Sign-in needs no user name: a discoverable credential, user verification preferred.
    assert options["rp"]["id"] == "127.0.0.1" and options["user"]["name"] == "Ann"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    passkey = await attach(http, url, ann.session["token"], key, name="Laptop")
    assert (passkey["name"], passkey["last_used"]) == ("Laptop", None)

    status, answer = await sign_in(http, url, key)
    assert status == 200, answer
    assert answer["user"] == {"id": ann.user_id, "name": "Ann"}
    phone = await connect(url, "Ann", token=answer["token"])
    assert phone.user_id == ann.user_id
    # The DM is the phone's too, and what was said there.
    assert [room["room"]["id"] for room in (await phone.ok("dm:list"))["dms"]] == [dm["room"]["id"]]
    joined = await phone.ok("room:join", {"room": dm["room"]["id"]})
    assert [m["text"] for m in joined["history"]] == ["see you at the meetup"]
    labels = [s["current"] for s in (await ann.ok("sessions:list"))["sessions"]]
    assert sorted(labels) == [False, True]  # the sign-in is a session of Ann's
    status, listed = await call(http, "GET", url + "api/passkeys", token=ann.session["token"])
    assert status == 200 and [k["id"] for k in listed["passkeys"]] == [passkey["id"]]
    assert listed["passkeys"][0]["last_used"] is not None
    assert listed["passkeys"][0]["transports"] == ["internal", "hybrid"]


@pytest.mark.parametrize("backend", ["redis"])
async def test_any_process_finishes_a_ceremony_another_began(
    start_server, settings: Settings, postgres_server, connect, http
) -> None:
    # Both processes serve one address behind a proxy (docs/deployment.md), which the page
    # and so its passkeys know them by.
    shared = dataclasses.replace(
        settings,
        database_url=await postgres_server.new_database(),
        passkey_rp_id="meet.example",
        passkey_origins=("https://meet.example",),
    )
    one = await start_server(shared)
    two = await start_server(shared)
    ann = await connect(one.url, "Ann")
    token = ann.session["token"]
    key = Authenticator(origin="https://meet.example")
    status, answer = await call(http, "POST", one.url + "api/passkeys/register/options", {}, token)
    body = {"credential": key.create(answer["options"])}
    status, answer = await call(http, "POST", two.url + "api/passkeys/register", body, token)
    assert status == 200, answer
    status, answer = await sign_in(http, two.url, key, finish_at=one.url)
    assert status == 200, answer
    assert answer["user"]["id"] == ann.user_id
    assert (await connect(two.url, "Ann", token=answer["token"])).user_id == ann.user_id


@pytest.mark.parametrize("backend", ["memory"])
async def test_behind_the_proxy_unset_settings_follow_what_it_forwards(
    start_server, settings: Settings, connect, http
) -> None:
    """nginx as docs/deployment.md sets it up: ``Host $http_host``, ``X-Forwarded-Proto``."""
    server = await start_server(settings, trusted_proxies=("127.0.0.1",))
    url, token = server.url, (await connect(server.url, "Ann")).session["token"]
    proxied = {"Host": "meet.example", "X-Forwarded-Proto": "https"}
    key = Authenticator(origin="https://meet.example")
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {}, token,
                                headers=proxied)  # fmt: skip
    assert answer["options"]["rp"]["id"] == "meet.example"
    body = {"credential": key.create(answer["options"])}
    status, answer = await call(http, "POST", url + "api/passkeys/register", body, token,
                                headers=proxied)  # fmt: skip
    assert status == 200, answer
    # Straight to the process, not through the proxy: http://127.0.0.1:port is expected.
    status, answer = await call(http, "POST", url + "api/passkeys/signin/options", {})
    body = {"credential": key.get(answer["options"] | {"rpId": "meet.example"})}
    status, answer = await call(http, "POST", url + "api/passkeys/signin", body)
    assert (status, answer["error"]) == (
        400,
        {"code": "bad_origin", "message": f"passkeys here are made and used at {url.rstrip('/')}"},
    )


@pytest.mark.parametrize("backend", ["memory"])
async def test_refusals_say_what_went_wrong(server: Running, connect, http) -> None:
    url = server.url
    ann = await connect(url, "Ann")
    key = Authenticator(origin=url)
    await attach(http, url, ann.session["token"], key)

    # A passkey never attached here.
    status, answer = await sign_in(http, url, Authenticator(origin=url))
    assert (status, error(answer)) == (404, "unknown_credential")
    # Made on another site.
    elsewhere = Authenticator(origin="https://evil.example")
    elsewhere.key, elsewhere.credential_id = key.key, key.credential_id
    status, answer = await sign_in(http, url, elsewhere)
    assert (status, error(answer)) == (400, "bad_origin")
    # Signed for another RP ID (a phishing site's), from our own origin.
    wrong_rp = Authenticator(origin=url, rp_id="evil.example")
    wrong_rp.key, wrong_rp.credential_id, wrong_rp.sign_count = key.key, key.credential_id, 50
    status, answer = await sign_in(http, url, wrong_rp)
    assert (status, error(answer)) == (400, "verification_failed")
    assert answer["error"]["message"] == "Unexpected RP ID hash"
    # A replayed assertion: its challenge was used.
    status, answer = await call(http, "POST", url + "api/passkeys/signin/options", {})
    body = {"credential": key.get(answer["options"])}
    status, first = await call(http, "POST", url + "api/passkeys/signin", body)
    assert status == 200, first
    status, answer = await call(http, "POST", url + "api/passkeys/signin", body)
    assert (status, error(answer)) == (400, "stale_challenge")
    # A copy of the key whose counter fell behind.
    key.sign_count = 1
    status, answer = await sign_in(http, url, key)
    assert (status, error(answer)) == (400, "sign_count")
    key.sign_count = 1000
    # A signature that does not verify.
    status, answer = await call(http, "POST", url + "api/passkeys/signin/options", {})
    forged = key.get(answer["options"])
    forged["response"]["signature"] = b64(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    status, answer = await call(http, "POST", url + "api/passkeys/signin", {"credential": forged})
    assert (status, error(answer)) == (400, "verification_failed")
    # A challenge for registration does not sign anybody in.
    status, answer = await call(
        http, "POST", url + "api/passkeys/register/options", {}, ann.session["token"]
    )
    not_for_sign_in = {"credential": key.get(answer["options"] | {"rpId": "127.0.0.1"})}
    status, answer = await call(http, "POST", url + "api/passkeys/signin", not_for_sign_in)
    assert (status, error(answer)) == (400, "stale_challenge")
    # After all that, the key still signs in.
    status, answer = await sign_in(http, url, key)
    assert status == 200, answer


@pytest.mark.parametrize("backend", ["memory"])
async def test_an_expired_challenge_is_refused(
    start_server, settings: Settings, connect, http
) -> None:
    server = await start_server(settings, passkey_challenge_seconds=0.001)
    ann = await connect(server.url, "Ann")
    key = Authenticator(origin=server.url)
    token = ann.session["token"]
    status, answer = await call(http, "POST", server.url + "api/passkeys/register/options", {},
                                token)  # fmt: skip
    body = {"credential": key.create(answer["options"])}
    status, answer = await call(http, "POST", server.url + "api/passkeys/register", body, token)
    assert (status, answer["error"]) == (
        400,
        {"code": "stale_challenge", "message": "this challenge expired; start again"},
    )


@pytest.mark.parametrize("backend", ["memory"])
async def test_attaching_needs_a_live_session_of_ones_own(server: Running, connect, http) -> None:
    url = server.url
    ann = await connect(url, "Ann")
    bob = await connect(url, "Bob")
    key = Authenticator(origin=url)
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {})
    assert (status, error(answer)) == (401, "unauthorized")
    status, answer = await call(http, "GET", url + "api/passkeys", token="not-a-token")
    assert (status, error(answer)) == (401, "unauthorized")
    # Bob cannot finish Ann's ceremony with her challenge.
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {},
                                ann.session["token"])  # fmt: skip
    body = {"credential": key.create(answer["options"])}
    status, answer = await call(http, "POST", url + "api/passkeys/register", body,
                                bob.session["token"])  # fmt: skip
    assert (status, error(answer)) == (400, "stale_challenge")
    # A signed-out session attaches nothing.
    await ann.ok("sessions:revoke_others")
    (bobs,) = (await bob.ok("sessions:list"))["sessions"]
    await bob.ok("session:revoke", {"id": bobs["id"]})
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {},
                                bob.session["token"])  # fmt: skip
    assert (status, answer["error"]["message"]) == (401, "this session was signed out")


@pytest.mark.parametrize("backend", ["memory"])
async def test_passkeys_are_listed_renamed_and_removed_by_their_owner(
    server: Running, connect, http
) -> None:
    url = server.url
    ann = await connect(url, "Ann")
    bob = await connect(url, "Bob")
    token = ann.session["token"]
    laptop, phone = Authenticator(origin=url), Authenticator(origin=url)
    first = await attach(http, url, token, laptop)
    assert first["name"] == "Python"  # the device's label, from the User-Agent
    second = await attach(http, url, token, phone, name="Phone")
    # The ones attached already are excluded from a new registration.
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {}, token)
    excluded = {c["id"] for c in answer["options"]["excludeCredentials"]}
    assert excluded == {laptop.id, phone.id}

    passkey = url + f"api/passkeys/{first['id']}"
    status, answer = await call(http, "PATCH", passkey, {"name": "Bob's"}, bob.session["token"])
    assert (status, error(answer)) == (404, "not_found")
    status, answer = await call(http, "DELETE", passkey, token=bob.session["token"])
    assert (status, error(answer)) == (404, "not_found")
    status, answer = await call(http, "PATCH", passkey, {"name": "  Laptop "}, token)
    assert status == 200
    status, answer = await call(http, "PATCH", passkey, {"name": "x" * 81}, token)
    assert (status, error(answer)) == (413, "too_large")
    status, listed = await call(http, "GET", url + "api/passkeys", token=token)
    assert [(k["name"], k["id"]) for k in listed["passkeys"]] == [
        ("Laptop", first["id"]),
        ("Phone", second["id"]),
    ]
    status, answer = await call(http, "DELETE", passkey, token=token)
    assert (status, answer) == (200, {"ok": True})
    status, answer = await sign_in(http, url, laptop)
    assert (status, error(answer)) == (404, "unknown_credential")
    status, answer = await sign_in(http, url, phone)
    assert status == 200 and answer["user"]["id"] == ann.user_id


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_attempts_are_limited_per_key_and_per_address(
    start_server, settings: Settings, connect, http
) -> None:
    server = await start_server(settings, passkey_attempts_per_minute=3)
    url = server.url
    ann = await connect(url, "Ann")
    key = Authenticator(origin=url)
    await attach(http, url, ann.session["token"], key)  # two attempts of Ann's
    status, answer = await sign_in(http, url, key)
    assert status == 200
    # Sign-ins with one credential: a thief trying it from many addresses is held too.
    for _ in range(2):
        assert (await sign_in(http, url, key))[0] == 200
    status, answer = await sign_in(http, url, key)
    assert (status, answer["error"]) == (
        429,
        {"code": "rate_limited", "message": "too many passkey attempts; wait a minute"},
    )
    # Registration: Ann's third attempt goes through, the fourth does not.
    token = ann.session["token"]
    assert (await call(http, "POST", url + "api/passkeys/register/options", {}, token))[0] == 200
    status, answer = await call(http, "POST", url + "api/passkeys/register/options", {}, token)
    assert (status, error(answer)) == (429, "rate_limited")

    busy = await start_server(settings, passkey_requests_per_minute=5)
    for _ in range(5):
        assert (await call(http, "POST", busy.url + "api/passkeys/signin/options", {}))[0] == 200
    status, answer = await call(http, "POST", busy.url + "api/passkeys/signin/options", {})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    assert "address" in answer["error"]["message"]


JUNK_BODIES = [
    b"{",
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b"1",
    b'"credential"',
    b"[" * 100_000,
    b'{"credential": 1}',
    b'{"credential": {"id": 1}}',
    b'{"credential": {}, "name": "\\ud800"}',
    b'{"credential": null, "name": 5}',
    b'{"name": "' + b"x" * 70_000 + b'"}',
]


JUNK_VALUES = [None, 7, [], {}, "", "!!!", "a", "x" * 20_000, b64(b"\x00" * 40),
               b64(b"\xa1\x61\x78\x1b" + b"\xff" * 8), b64(b'{"type": 1}')]  # fmt: skip
"""Wrong types, bad base64, a huge value, base64 of junk (zeros, CBOR, JSON)."""


def mutations(credential: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every field of an answer, each with every junk value."""
    fields = ["id", "rawId", "type", "response", *(f"response.{k}" for k in credential["response"])]
    # None said is fine: which transports reach it, whose it is (the credential tells).
    valid = [
        ("response.transports", []),
        ("response.userHandle", None),
        ("response.userHandle", ""),
    ]
    return [(f, v) for f in fields for v in JUNK_VALUES if (f, v) not in valid]


def mutated(credential: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(credential))
    if field.startswith("response."):
        copy["response"][field.removeprefix("response.")] = value
    else:
        copy[field] = value
    return copy


OPTIONS = {"rp": {"id": "x"}, "user": {"id": ""}}


def refused_cleanly(status: int, answer: Any) -> None:
    assert 400 <= status < 500, (status, answer)
    assert answer["error"]["code"] not in ("internal", "unavailable"), answer
    assert isinstance(answer["error"]["message"], str)


@pytest.mark.parametrize("backend", ["memory"])
async def test_junk_is_refused_with_a_code_never_internal(server: Running, connect, http) -> None:
    url = server.url
    token = (await connect(url, "Ann")).session["token"]
    key = Authenticator(origin=url)
    routes = [
        ("POST", "api/passkeys/register", token),
        ("POST", "api/passkeys/signin", None),
        ("PATCH", "api/passkeys/kNoSuchKey", token),
        ("POST", "api/passkeys/register/options", token),
    ]
    for method, path, bearer in routes:
        for raw in JUNK_BODIES:
            status, answer = await call(http, method, url + path, token=bearer, raw=raw)
            if path.endswith("options") and status == 200:
                continue  # options read no body
            refused_cleanly(status, answer)

    # Each with a fresh challenge, so the junk reaches the deepest check it can.
    for field, value in mutations(key.create({"challenge": "", **OPTIONS})):
        status, answer = await call(http, "POST", url + "api/passkeys/register/options", {}, token)
        body = {"credential": mutated(key.create(answer["options"]), field, value)}
        refused_cleanly(*await call(http, "POST", url + "api/passkeys/register", body, token))

    await attach(http, url, token, key)
    for field, value in mutations(key.get({"challenge": "", "rpId": "x"})):
        status, answer = await call(http, "POST", url + "api/passkeys/signin/options", {})
        body = {"credential": mutated(key.get(answer["options"]), field, value)}
        refused_cleanly(*await call(http, "POST", url + "api/passkeys/signin", body))
    # The key itself still works.
    assert (await sign_in(http, url, key))[0] == 200
