"""A real Socket.IO client for tests: python-socketio over a WebSocket, recording every event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio

from . import WAIT


class Client:
    """A python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        # Our own HTTP session, closed by close() even when connecting failed half-way.
        self.http = aiohttp.ClientSession()
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.session: dict[str, Any] = {}
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        if event == "session":
            self.session = data
        async with self._arrived:
            self.received.append((event, data))
            self._arrived.notify_all()

    @property
    def user_id(self) -> str:
        return str(self.session["user"]["id"])

    async def connect(self, url: str, auth: Any) -> Client:
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        await self.wait("session")
        return self

    async def call(self, event: str, payload: Any = None) -> Any:
        if payload is None:
            return await self.sio.call(event, timeout=WAIT)
        return await self.sio.call(event, payload, timeout=WAIT)

    async def ok(self, event: str, payload: Any = None) -> dict[str, Any]:
        """Call, and fail the test unless the ack is ``ok``."""
        ack = await self.call(event, payload)
        assert ack.get("ok") is True, f"{event} {payload!r} -> {ack!r}"
        return dict(ack)

    async def wait(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, within: float = WAIT
    ) -> Any:
        """The first not yet consumed ``event`` that matches, waiting for it if need be."""

        def find() -> int | None:
            for i, (name, data) in enumerate(self.received):
                if name == event and match(data):
                    return i
            return None

        async with self._arrived:
            index = await asyncio.wait_for(
                self._arrived.wait_for(lambda: find() is not None), within
            )
            del index
            i = find()
            assert i is not None
            return self.received.pop(i)[1]

    def events(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def drop(self) -> None:
        """Lose the connection the way a network failure does: no goodbye, just gone."""
        await self.sio.eio.ws.close()
        await self.sio.wait()

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.http.close()
