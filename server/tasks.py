"""Owned background tasks that always end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


async def cancel(task: asyncio.Task[object], *, what: str, attempts: int = 50) -> None:
    """Cancel ``task`` and wait until it has ended, for at most ``attempts`` tenths of a second.

    redis-py may swallow a cancellation inside its connection code (turning it into a
    connection error the caller then handles), so one ``cancel()`` is not always enough: the
    task is cancelled again until it ends.
    """
    for _ in range(attempts):
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
        if task.done():
            if not task.cancelled() and task.exception() is not None:
                log.warning("%s ended with %r", what, task.exception())
            return
    log.warning("%s did not stop", what)


class Tasks:
    """Short tasks the server owns (a reply sent after its handler returns), so that stopping
    can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, awaitable: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(awaitable)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
