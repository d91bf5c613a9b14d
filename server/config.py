"""Settings: read once from flags and the environment, then passed around frozen.

Nothing else in Percolate reads ``os.environ``. Timeouts and limits live here so tests can
shorten them by building a ``Settings`` of their own instead of patching.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8080
    """TCP port to listen on (0 picks a free one)."""
    data_dir: Path = Path("data")
    """Folder of the embedded SQLite archive."""
    redis_url: str | None = None
    """With a URL, presence lives in Redis and emits fan out between processes."""
    redis_prefix: str = "pc"
    """Prefix of every Redis key, so several deployments (or tests) can share one Redis."""
    web_dir: Path = _ROOT / "web"
    """Folder holding the web client's ``index.html`` and built assets."""

    reconnect_grace: float = 15.0
    """Seconds a dropped connection keeps its place in its rooms before others see a leave."""
    presence_ttl: float = 30.0
    """Seconds a presence entry lives without a heartbeat (bounds ghosts of a crashed process)."""
    heartbeat_interval: float = 10.0
    """Seconds between presence heartbeats; well below ``presence_ttl``."""
    reap_interval: float = 1.0
    """Seconds between sweeps for expired presence entries."""

    max_text: int = 4000
    """Longest chat message, in characters."""
    join_history: int = 50
    """Messages sent with ``room:join``."""
    max_page: int = 100
    """Largest ``limit`` of ``chat:history`` and ``chat:search``."""
    max_packet_bytes: int = 256 * 1024
    """Largest Socket.IO packet accepted; larger ones close the connection."""
    max_signal_bytes: int = 64 * 1024
    """Largest ``data`` of a ``signal`` event, JSON-encoded."""
    chat_rate: float = 5.0
    """Chat messages per second a user may send, sustained."""
    chat_burst: int = 20
    """Chat messages a user may send at once before ``rate_limited``."""

    stun_urls: tuple[str, ...] = ()
    """STUN server URLs handed to clients."""
    turn_urls: tuple[str, ...] = ()
    """TURN server URLs handed to clients."""
    turn_secret: str | None = None
    """coturn ``static-auth-secret``: with it, TURN credentials are minted per user."""
    turn_ttl: int = 24 * 3600
    """Lifetime in seconds of minted TURN credentials."""
    cors_origins: tuple[str, ...] = ()
    """Extra origins allowed to open Socket.IO connections; same origin is always allowed."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from command-line flags, falling back to environment variables."""
    env = os.environ if env is None else env
    defaults = Settings()

    def env_or(name: str, default: object) -> object:
        return env.get(name, default) if env.get(name, "") != "" else default

    parser = argparse.ArgumentParser(
        prog="python -m server", description="Percolate: video and chat meeting rooms."
    )
    parser.add_argument("--host", default=env_or("HOST", defaults.host), help="[HOST]")
    parser.add_argument("--port", type=int, default=env_or("PORT", defaults.port), help="[PORT]")
    parser.add_argument(
        "--data-dir", type=Path, default=env_or("DATA_DIR", defaults.data_dir), help="[DATA_DIR]"
    )
    parser.add_argument(
        "--redis-url", default=env_or("REDIS_URL", defaults.redis_url), help="[REDIS_URL]"
    )
    parser.add_argument(
        "--redis-prefix",
        default=env_or("REDIS_PREFIX", defaults.redis_prefix),
        help="[REDIS_PREFIX]",
    )
    parser.add_argument(
        "--reconnect-grace",
        type=float,
        default=env_or("RECONNECT_GRACE", defaults.reconnect_grace),
        help="[RECONNECT_GRACE]",
    )
    parser.add_argument(
        "--presence-ttl",
        type=float,
        default=env_or("PRESENCE_TTL", defaults.presence_ttl),
        help="[PRESENCE_TTL]",
    )
    parser.add_argument(
        "--chat-rate",
        type=float,
        default=env_or("CHAT_RATE", defaults.chat_rate),
        help="chat messages per second per user, sustained [CHAT_RATE]",
    )
    parser.add_argument(
        "--chat-burst",
        type=int,
        default=env_or("CHAT_BURST", defaults.chat_burst),
        help="chat messages per user at once [CHAT_BURST]",
    )
    parser.add_argument(
        "--stun-urls",
        type=_split,
        default=_split(str(env_or("STUN_URLS", ""))),
        help="comma-separated [STUN_URLS]",
    )
    parser.add_argument(
        "--turn-urls",
        type=_split,
        default=_split(str(env_or("TURN_URLS", ""))),
        help="comma-separated [TURN_URLS]",
    )
    parser.add_argument("--turn-secret", default=env_or("TURN_SECRET", None), help="[TURN_SECRET]")
    parser.add_argument(
        "--cors-origins",
        type=_split,
        default=_split(str(env_or("CORS_ORIGINS", ""))),
        help="comma-separated [CORS_ORIGINS]",
    )
    args = parser.parse_args(argv)
    ttl = float(args.presence_ttl)
    return dataclasses.replace(
        defaults,
        host=str(args.host),
        port=int(args.port),
        data_dir=Path(args.data_dir),
        redis_url=args.redis_url or None,
        redis_prefix=str(args.redis_prefix),
        reconnect_grace=float(args.reconnect_grace),
        presence_ttl=ttl,
        heartbeat_interval=ttl / 3,
        chat_rate=float(args.chat_rate),
        chat_burst=int(args.chat_burst),
        stun_urls=tuple(args.stun_urls),
        turn_urls=tuple(args.turn_urls),
        turn_secret=args.turn_secret or None,
        cors_origins=tuple(args.cors_origins),
    )
