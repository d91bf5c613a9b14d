"""Log lines about what clients sent: short, and a few per address.

Whatever a client sends that the server refuses may be worth a line in the log, but a client
decides how often that happens: one line per bad packet lets anybody fill the disk. A
``Throttle`` writes at most ``lines`` lines per key (the client's address) per ``interval``
seconds, each cut to ``LINE`` characters with control characters escaped, and when the
interval is over one line saying how many it left out. Tracebacks are for our own bugs
(``log.exception``), never for what a client sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

LINES = 5
"""Lines per key per interval, by default."""

INTERVAL = 60.0
"""Seconds, by default."""

LINE = 200
"""Characters of one line at most; the rest is cut."""

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _Window:
    written: int = 0
    left_out: int = 0


class Throttle:
    """At most ``lines`` log lines per key every ``interval`` seconds, then one summary line.

    A key's interval starts with its first line; a timer ends it, writes the summary if lines
    were left out and forgets the key, so the memory held is one small entry per key that
    logged within the last interval.
    """

    def __init__(self, lines: int = LINES, interval: float = INTERVAL) -> None:
        self.lines = lines
        self.interval = interval
        self._windows: dict[str, _Window] = {}

    def info(self, logger: logging.Logger, key: str, msg: str, *args: object) -> None:
        self.log(logger, logging.INFO, key, msg, *args)

    def warning(self, logger: logging.Logger, key: str, msg: str, *args: object) -> None:
        self.log(logger, logging.WARNING, key, msg, *args)

    def log(self, logger: logging.Logger, level: int, key: str, msg: str, *args: object) -> None:
        """Write ``msg % args`` to ``logger``, unless ``key`` has had its lines."""
        if not logger.isEnabledFor(level):
            return
        window = self._windows.get(key)
        if window is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop, no timer: nothing to throttle with
                logger.log(level, "%s", short(msg % args))
                return
            window = self._windows[key] = _Window()
            loop.call_later(self.interval, self._close, key)
        if window.written >= self.lines:
            window.left_out += 1
            return
        window.written += 1
        logger.log(level, "%s", short(msg % args))

    def _close(self, key: str) -> None:
        window = self._windows.pop(key, None)
        if window is not None and window.left_out:
            log.warning(
                "…and %d more lines from %s in %g s", window.left_out, short(key), self.interval
            )


def short(text: str) -> str:
    """``text`` fit for one log line: control characters escaped, at most ``LINE`` characters."""
    text = text[: LINE + 1]
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(text) > LINE:
        text = text[: LINE - 1] + "…"
    return text
