"""Owned background tasks that always end."""

from __future__ import annotations

import asyncio
import logging

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
