"""The library internals server/wire/ relies on, checked at start-up (server/wire/seams.py): a
private name that moved stops the server with a message naming the library, its installed
version and the name, instead of an override silently falling out of use."""

from __future__ import annotations

import importlib.metadata

import engineio.async_server
import engineio.async_socket
import pytest
import socketio.async_server
from aiohttp import web_protocol

from server.wire import SeamError

from .support.servers import Running


async def test_the_installed_libraries_have_every_checked_name(server: Running, connect) -> None:
    # The server started (the check passed) and serves a member.
    member = await connect(server.url, "Ann")
    assert (await member.ok("room:join", {"room": "lobby"}))["members"][0]["name"] == "Ann"


@pytest.mark.parametrize(
    ("library", "owner", "name"),
    [
        ("python-engineio", engineio.async_socket.AsyncSocket, "schedule_ping"),
        ("python-engineio", engineio.async_socket.AsyncSocket, "_websocket_handler"),
        ("python-socketio", socketio.async_server.AsyncServer, "_handle_event"),
        ("python-socketio", socketio.async_server.AsyncServer, "_handle_event_internal"),
        ("aiohttp", web_protocol.RequestHandler, "_message_tail"),
        ("aiohttp", web_protocol.RequestHandler, "handle_error"),
    ],
)
async def test_a_server_whose_library_lost_a_checked_name_does_not_start(
    start_server, settings, monkeypatch: pytest.MonkeyPatch, library: str, owner: type, name: str
) -> None:
    monkeypatch.delattr(owner, name)
    version = importlib.metadata.version(library)
    dotted = f"{owner.__module__}.{owner.__qualname__}.{name}"
    with pytest.raises(SeamError, match=f"{library} {version}: {dotted} is gone"):
        await start_server(settings)
