"""Group commit, shared by the archive backends.

Every ``append`` waiting when the writer becomes free goes into one transaction (one fsync,
one round trip), so durable throughput grows with the load instead of staying at the disk's
fsync rate, and each caller is answered only after that commit. Order is kept: a batch is
the queue's order, and results are handed back in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..errors import Unavailable
from ..protocol import User
from .changes import Appended

log = logging.getLogger(__name__)

Result = Appended | Any
"""What an append did, what a ``Work`` returned, or the exception that failed the item."""


class Pending:
    """One ``append`` waiting for its batch."""

    __slots__ = (
        "client_msg_id", "future", "mentions", "notify", "reply_to", "room", "text", "user",
    )  # fmt: skip

    def __init__(
        self,
        room: str,
        user: User,
        text: str,
        client_msg_id: str,
        reply_to: int | None = None,
        mentions: Sequence[str] = (),
        notify: Sequence[str] = (),
    ) -> None:
        self.room = room
        self.user = user
        self.text = text
        self.client_msg_id = client_msg_id
        self.reply_to = reply_to
        self.mentions = list(mentions)
        self.notify = list(notify)
        self.future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()


class Work:
    """Another write that shares a batch's transaction: the backend calls ``run`` with it."""

    __slots__ = ("future", "run")

    def __init__(self, run: Callable[[Any], Any]) -> None:
        self.run = run
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()


Item = Pending | Work


class GroupCommit:
    def __init__(
        self,
        name: str,
        write: Callable[[list[Item]], Awaitable[list[Result]]],
        failure: Callable[[Exception], Exception],
        batch: int,
    ) -> None:
        self.name = name
        self.batch = batch
        """Most appends committed in one transaction (1 turns group commit off)."""
        self._write = write
        self._failure = failure
        self._pending: asyncio.Queue[Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"{self.name} commit")

    async def stop(self) -> None:
        if self._task is not None:
            # Let queued appends commit: their senders are waiting for the ack.
            await self._pending.join()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def append(
        self,
        room: str,
        user: User,
        text: str,
        client_msg_id: str,
        reply_to: int | None = None,
        mentions: Sequence[str] = (),
        notify: Sequence[str] = (),
    ) -> Appended:
        if self._task is None:
            raise Unavailable("archive is closed")
        item = Pending(room, user, text, client_msg_id, reply_to, mentions, notify)
        self._pending.put_nowait(item)
        return await item.future

    async def do(self, run: Callable[[Any], Any]) -> Any:
        """Have ``run`` done in the next batch's transaction (one commit for many writes)."""
        if self._task is None:
            raise Unavailable("archive is closed")
        item = Work(run)
        self._pending.put_nowait(item)
        return await item.future

    async def _loop(self) -> None:
        while True:
            batch = [await self._pending.get()]
            while len(batch) < self.batch and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            try:
                results = await self._write(batch)
            except asyncio.CancelledError:
                for item in batch:
                    item.future.cancel()
                    self._pending.task_done()
                raise
            except Exception as exc:
                # This loop must outlive any failure: the batch fails, the next may not.
                failure = self._failure(exc)
                if isinstance(failure, Unavailable):
                    log.warning("%s: commit of %d writes failed: %s", self.name, len(batch), exc)
                else:
                    log.exception("%s: commit of %d writes failed", self.name, len(batch))
                results = [failure for _ in batch]
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    if isinstance(result, Exception):
                        item.future.set_exception(result)
                    else:
                        item.future.set_result(result)
                self._pending.task_done()
