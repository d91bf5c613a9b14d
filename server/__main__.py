"""``python -m server``: run Percolate."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import urllib.parse

from aiohttp import web

from . import config
from .app import make_app
from .errors import Unavailable


def _redact(url: str) -> str:
    """A service URL without its password, fit for a log line."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def main() -> None:
    settings = config.parse()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Socket.IO and Engine.IO log every packet at INFO; only their warnings are of interest.
    for name in ("socketio", "engineio", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        pass
    # Every member holds some hundred objects for as long as it stays, so the heap is large
    # and long-lived; with Python's default thresholds a full collection, which walks all of
    # it, ran nine times while 10,000 members joined (1.0 s of 10.6). Young collections every
    # 10,000 allocations instead of 700, and a full one after 100 of the middle generation's
    # instead of 10 (docs/benchmarks.md).
    gc.set_threshold(10_000, 10, 100)
    app = make_app(settings)
    bundle = settings.web_dir / "dist" / "app.js"
    if not bundle.is_file():
        logging.getLogger("server").warning(
            "The web client is not built (%s is missing): the page at / will say so. "
            "Build it with ./scripts/run.sh, or: npm --prefix web ci && npm --prefix web run build",
            bundle,
        )
    presence = f"redis {_redact(settings.redis_url)}" if settings.redis_url else "memory"
    archive = (
        f"postgresql {_redact(settings.database_url)}"
        if settings.database_url
        else f"sqlite {settings.data_dir / 'percolate.db'}"
    )

    async def announce(app: web.Application) -> None:
        # What start-up made lives as long as the process: the cyclic garbage collector need
        # not look at it again.
        gc.collect()
        gc.freeze()
        # After the backends opened (the cleanup context runs first), so it is true.
        logging.getLogger("server").info(
            "Percolate listening on http://%s:%d (presence: %s, archive: %s)",
            settings.host,
            settings.port,
            presence,
            archive,
        )

    app.on_startup.append(announce)
    # run_app stops cleanly on SIGINT and SIGTERM: clients are hung up first (on_shutdown),
    # then a request still in flight gets a second, then cleanup closes the backends.
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=1)
    except Unavailable as exc:
        logging.getLogger("server").error("Percolate cannot start: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
