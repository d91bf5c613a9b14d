"""``python -m server``: run Percolate."""

from __future__ import annotations

import asyncio
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
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Socket.IO and Engine.IO log every packet at INFO; only their warnings are of interest.
    for name in ("socketio", "engineio", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        pass
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
