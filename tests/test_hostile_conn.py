"""Connections a client abandons or breaks: whatever the server declares gone, it closes (a
WebSocket close frame, then FIN) and forgets, so that nothing it held stays behind.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.config import Settings

from .support import WAIT
from .support.rawws import CLOSE, TEXT, RawMember
from .support.servers import Running

CLOSE_PACKET = (TEXT, b"1")
NORMAL_CLOSE = (CLOSE, (1000).to_bytes(2, "big"))


async def rest(member: RawMember) -> list[tuple[int, bytes]]:
    """Every frame the server wrote that the member had not read, up to the server's FIN."""
    frames = []
    while True:
        try:
            frames.append(await member.frame())
        except asyncio.IncompleteReadError as end:
            assert end.partial == b"", "the server hung up in the middle of a frame"
            return frames


@pytest.mark.parametrize("backend", ["memory"])
async def test_connections_reset_by_their_clients_do_not_stop_a_shutdown(
    start_server, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server: Running = await start_server(settings)
    members = [await RawMember.connect(server.url, f"m{i}") for i in range(20)]
    for member in members:
        # Closed with the session event unread: the kernel resets the connection (RST), and
        # the server's loop has not seen it when it hangs up on everybody.
        member.close()
    await server.close()  # raised OSError (ENOTCONN) from the first one
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
