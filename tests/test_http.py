"""HTTP endpoints: health (and its honesty when Redis is down), the client pages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import aiohttp
import pytest

from server.config import Settings
from server.headers import SECURITY_HEADERS

from .support import WAIT
from .support.servers import Running


async def until_healthy(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    """Poll /healthz (it has no push) until it answers 200, for at most WAIT seconds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        async with http.get(url + "healthz") as resp:
            if resp.status == 200:
                return dict(await resp.json())
        assert asyncio.get_running_loop().time() < deadline, "still unhealthy"
        await asyncio.sleep(0.05)


async def test_health_reports_both_backends(server: Running) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.url + "healthz") as resp:
        assert resp.status == 200
        health = await resp.json()
    assert health["ok"] is True
    assert health["archive"] == {"backend": "SqliteArchive", "ok": True}
    assert health["presence"]["ok"] is True
    assert health["presence"]["backend"] == ("redis" if server.settings.redis_url else "memory")


@pytest.mark.parametrize("path", ["", "r/AbCdEf12"])
async def test_the_client_is_served_at_root_and_room_links(server: Running, path: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.url + path) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"


@pytest.mark.parametrize("backend", ["redis"])
async def test_health_says_when_redis_is_down_and_recovers(
    start_server, settings, private_redis, connect
) -> None:
    server = await start_server(dataclasses.replace(settings, redis_url=private_redis.url))
    ann = await connect(server.url, "Ann")
    private_redis.stop()
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "healthz") as resp:
            assert resp.status == 503
            health = await resp.json()
        assert health["ok"] is False and health["presence"]["ok"] is False
        assert health["fanout"] == {"backend": "redis", "ok": False}
        # What needs presence says so clearly, and the server stays up.
        listed = await ann.call("room:list", {})
        assert listed["error"]["code"] == "unavailable"
        async with http.get(server.url + "api/rooms") as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "unavailable"
        private_redis.start()
        # Back by itself: presence at once, the fan-out once its listener subscribed again.
        health = await until_healthy(http, server.url)
        assert health["fanout"] == {"backend": "redis", "ok": True}
    assert (await ann.ok("room:join", {"room": "lobby"}))["members"][0]["name"] == "Ann"


@pytest.mark.parametrize("path", ["", "r/AbCdEf12", "healthz", "api/rooms"])
async def test_every_page_carries_the_security_headers(server: Running, path: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.url + path) as resp:
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "camera=(self)" in resp.headers["Permissions-Policy"]


async def test_pages_may_connect_to_the_configured_media_origins(
    start_server, settings: Settings
) -> None:
    # A scaled-out page opens its media connection to another process's MEDIA_URL.
    server = await start_server(settings, cors_origins=("https://m2.example.org",))
    async with aiohttp.ClientSession() as http, http.get(server.url) as resp:
        csp = resp.headers["Content-Security-Policy"]
    (connect,) = [part.strip() for part in csp.split(";") if "connect-src" in part]
    assert connect == "connect-src 'self' https://m2.example.org wss://m2.example.org"


MARK = b"zq7Echo"
"""Bytes of the request that must not come back in the answer."""


async def raw_answer(server: Running, request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """Send ``request`` as it is on a TCP connection: the answer's status line, headers, body."""
    reader, writer = await asyncio.open_connection(server.server.host, server.server.port)
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), WAIT)  # the server hangs up after it
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status.encode(), headers, body


@pytest.mark.parametrize("backend", ["memory"])
@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"G\x01T /" + MARK + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="bad-method"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + MARK * 2000 + b"\r\n\r\n",
            id="over-long-header-line",
        ),
        pytest.param(MARK + b" not a request line\r\n\r\n", id="malformed-request-line"),
        pytest.param(b"GET /" + MARK * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="over-long-url"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n" + MARK + b"\r\n\r\n", id="malformed-header"),
        pytest.param(b"GET / HTTP/9." + MARK + b"\r\nHost: x\r\n\r\n", id="bad-version"),
    ],
)
async def test_aiohttps_own_answers_to_broken_http_carry_the_headers_and_echo_nothing(
    server: Running, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    status, headers, body = await raw_answer(server, request_bytes)
    assert status.endswith(b" 400 Bad Request"), status
    assert body == b"400: Bad Request"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert MARK.lower() not in (status + body).lower()
    assert not any(MARK.decode().lower() in value.lower() for value in headers.values())
    # A client's broken request is no error of the server's: no traceback in the log.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
