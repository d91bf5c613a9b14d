"""Settings: read once from flags and the environment, then passed around frozen.

Nothing else in Percolate reads ``os.environ``. Timeouts and limits live here so tests can
shorten them by building a ``Settings`` of their own instead of patching.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
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
    database_url: str | None = None
    """``postgresql://...``: the archive lives in PostgreSQL, shared by every process."""
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
    ping_interval: int = 25
    """Seconds between the server's Engine.IO pings of a connection (whole seconds: the
    handshake announces them so)."""
    ping_timeout: float = 20.0
    """Seconds a connection has to answer a ping; then it counts as gone and is closed."""
    max_depth: int = 32
    """Deepest nesting of a packet's JSON (its outer array counts); deeper is ``bad_request``,
    found before the JSON is decoded. Percolate's own requests nest 3 deep."""
    max_elements: int = 4096
    """Most elements of a packet's JSON (the members of all its arrays and objects; an empty
    one counts as one); more is ``bad_request``, found before the JSON is decoded."""
    max_strikes: int = 5
    """Packets past ``max_depth`` or ``max_elements`` after which a connection is closed."""
    connect_timeout: float = 5.0
    """Seconds a new Engine.IO session has to connect to Socket.IO (its CONNECT accepted)
    before it is closed; until then it counts against its address all the same."""
    max_signal_bytes: int = 64 * 1024
    """Largest ``data`` of a ``signal`` event, JSON-encoded."""
    chat_rate: float = 5.0
    """Chat messages per second a user may send, sustained."""
    chat_burst: int = 20
    """Chat messages a user may send at once before ``rate_limited``."""
    react_rate: float = 5.0
    """``chat:react`` per second a user may send, sustained (not the chat's budget)."""
    react_burst: int = 20
    """``chat:react`` a user may send at once."""
    typing_rate: float = 2.0
    """``chat:typing`` notices per second a connection may send, sustained."""
    typing_burst: int = 20
    """``chat:typing`` notices a connection may send at once."""
    media_rate: float = 2.0
    """``media:state`` requests per second a connection may send, sustained."""
    media_burst: int = 20
    """``media:state`` requests a connection may send at once."""
    hand_rate: float = 2.0
    """``hand:raise`` and ``hand:lower`` per second a connection may send, sustained."""
    hand_burst: int = 20
    """``hand:raise`` and ``hand:lower`` a connection may send at once."""
    signal_rate: float = 20.0
    """``signal`` messages per second a connection may send, sustained."""
    signal_burst: int = 400
    """``signal`` messages a connection may send at once (a mesh's offers and ICE candidates
    to some 20 peers)."""
    sfu_rate: float = 20.0
    """``sfu:answer``, ``sfu:candidate`` and ``sfu:leave`` per second a connection may send,
    sustained."""
    sfu_burst: int = 200
    """``sfu:answer``, ``sfu:candidate`` and ``sfu:leave`` a connection may send at once."""
    read_rate: float = 5.0
    """``room:list``, ``dm:list``, ``chat:history`` and ``chat:search`` per second a connection
    may send, sustained."""
    read_burst: int = 100
    """``room:list``, ``dm:list``, ``chat:history`` and ``chat:search`` a connection may send at
    once."""
    room_rate: float = 2.0
    """``room:leave`` and ``dm:open`` per second a connection may send, sustained."""
    room_burst: int = 50
    """``room:leave`` and ``dm:open`` a connection may send at once."""
    moderation_rate: float = 5.0
    """Workshop host actions per second a connection may send, sustained."""
    moderation_burst: int = 50
    """Workshop host actions a connection may send at once."""
    tables_rate: float = 5.0
    """``tables:*``, ``rounds:*`` and ``people:*`` requests per second a connection may send,
    sustained."""
    tables_burst: int = 50
    """``tables:*``, ``rounds:*`` and ``people:*`` requests a connection may send at once."""
    unknown_rate: float = 1.0
    """Events of a name the server does not know per second a connection may send, sustained
    (a client that speaks the protocol sends none)."""
    unknown_burst: int = 10
    """Events of a name the server does not know a connection may send at once."""
    flood_refusals: int = 50
    """Refusals for going over the budget within ``flood_window`` that disconnect a
    connection."""
    flood_window: float = 10.0
    """Seconds within which ``flood_refusals`` disconnect a connection; also how long the
    user's next connections on this process start with their budget spent."""
    join_rate: float = 2.0
    """``room:join`` attempts per second, sustained, per user and per address."""
    join_burst: int = 20
    """``room:join`` attempts at once, per user and per address."""
    passcode_failures: int = 10
    """Wrong passcodes or host keys an address may try per minute."""
    rooms_per_hour: int = 30
    """Rooms a user may create per hour."""
    max_members: int = 200
    """People in one room (hosts and co-hosts may always join their workshop)."""
    max_backlog_kib: int = 16 * 1024
    """KiB unsent to one connection past which it is dropped (a client that stopped reading)."""
    max_connections_per_ip: int = 50
    """Connections to one server process from one address, counted from the first request of
    each Engine.IO session; past twice as many, the transport itself is refused (HTTP 429)."""
    new_users_per_minute: int = 20
    """Fresh identities (connections without a known token) one address may make per minute."""
    session_days: float = 30.0
    """A session (the login behind a resume token) not used for this many days expires."""
    passkey_rp_id: str = ""
    """WebAuthn Relying Party ID: the domain passkeys are bound to (unset: the host name of
    each request, for development on ``localhost``)."""
    passkey_rp_name: str = "Percolate"
    """The Relying Party's name, which browsers show when a passkey is made."""
    passkey_origins: tuple[str, ...] = ()
    """Origins a passkey ceremony may come from, as the browser says it (``https://host``);
    unset: the request's own scheme and host."""
    passkey_challenge_seconds: float = 180.0
    """Seconds a passkey ceremony has between its options and its answer."""
    passkey_requests_per_minute: int = 30
    """Requests to the passkey routes one address may make per minute."""
    passkey_attempts_per_minute: int = 10
    """Passkey registrations per user, and sign-ins per credential, tried per minute."""
    erase_messages: str = "delete"
    """What ``account:erase`` does to the person's messages: ``delete`` (tombstones) or
    ``anonymise`` (kept, by "Former member"); docs/security.md, "Your data"."""
    exports_per_hour: int = 4
    """Downloads of one person's data (``/api/me/export``) per hour."""
    export_page: int = 500
    """Messages an export reads from the archive (and writes out) at a time; an erase tells
    its rooms their changed messages a page at a time too."""
    erase_told_max: int = 1000
    """Changed messages of one room an erase tells one by one (``chat:change``); past them,
    only the room's last, and clients fetch the gap with ``chat:changes``."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses of reverse proxies whose ``X-Forwarded-For`` names the real client."""
    room_idle_hours: float = 72.0
    """A public room nobody is in, with no message for this long, leaves the lobby's list."""
    moderators: tuple[str, ...] = ()
    """User ids who moderate the lobby and every other room the server made (no owner)."""

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

    tables_max: int = 100
    """Tables one room may have at once (a round of pairs for ``max_members`` needs half as
    many)."""
    table_size_max: int = 12
    """Most people at one breakout table."""
    breakout_max_seconds: int = 4 * 3600
    """Longest duration of breakout tables."""
    rounds_max: int = 20
    """Rounds in one speed-networking series."""
    round_min_seconds: int = 10
    """Shortest speed-networking round (and shortest duration of breakout tables)."""
    round_max_seconds: int = 3600
    """Longest speed-networking round."""
    break_min_seconds: int = 5
    """Shortest break between rounds (and time to say yes before the first one)."""
    tables_tick: float = 0.5
    """Seconds between looks for rounds and tables whose time has come (every process)."""

    mesh_max_cameras: int = 4
    """Cameras (or screens) a coffee room sends peer to peer; one more switches it to the SFU."""
    media_url: str | None = None
    """This process's public Socket.IO URL, told to clients whose room's media lives here
    (unset: clients use the server they are connected to, as in the embedded mode)."""
    media_ttl: float = 30.0
    """Seconds a room's media placement lives without a heartbeat from its process."""
    sfu_keyframe_interval: float = 0.5
    """Least seconds between two keyframe requests the SFU sends one publisher."""
    sfu_backlog_kib: int = 256
    """KiB waiting unsent in a subscriber's socket before it counts as fallen behind, has
    frames dropped and resumes at a keyframe."""
    recordings_dir: str | None = None
    """Folder of workshop recordings (unset: ``recordings`` in ``data_dir``)."""
    recording_max_minutes: float = 240.0
    """Longest recording: it stops by itself then, and hosts are told."""
    recording_min_free_mb: int = 1024
    """Free disk (MiB) below which a recording does not start, or stops, hosts told."""
    recording_check_seconds: float = 5.0
    """Seconds between looks at each running recording's disk and length."""
    log_level: str = "info"
    """``debug`` adds a line for every room join and leave to ``info``'s connections."""
    metrics_host: str = "127.0.0.1"
    """Address of the Prometheus metrics listener."""
    metrics_port: int = 0
    """TCP port of the Prometheus metrics listener (0: no listener)."""

    @property
    def recordings_folder(self) -> Path:
        """Where recordings go: ``recordings_dir``, or ``recordings`` in ``data_dir``."""
        if self.recordings_dir:
            return Path(self.recordings_dir)
        return self.data_dir / "recordings"


# Settings that flags and the environment may set: field -> help. The flag is the field's
# name in kebab case (--data-dir) and the variable in upper case (DATA_DIR); a flag wins.
_OPTIONS = {
    "host": "address to listen on",
    "port": "TCP port (0 picks a free one)",
    "data_dir": "folder of the SQLite archive",
    "database_url": "PostgreSQL for the archive, shared by processes (unset: SQLite in data-dir)",
    "redis_url": "Redis for presence and fan-out between processes (unset: in memory)",
    "redis_prefix": "prefix of every Redis key and channel",
    "reconnect_grace": "seconds a dropped connection keeps its place in its rooms",
    "presence_ttl": "seconds a member of a crashed process lingers at most",
    "chat_rate": "chat messages per second per user, sustained",
    "chat_burst": "chat messages per user at once",
    "react_rate": "chat:react per second per user, sustained",
    "react_burst": "chat:react per user at once",
    "typing_rate": "chat:typing notices per second per connection, sustained",
    "typing_burst": "chat:typing notices per connection at once",
    "media_rate": "media:state requests per second per connection, sustained",
    "media_burst": "media:state requests per connection at once",
    "hand_rate": "hand:raise and hand:lower per second per connection, sustained",
    "hand_burst": "hand:raise and hand:lower per connection at once",
    "signal_rate": "signal messages per second per connection, sustained",
    "signal_burst": "signal messages per connection at once",
    "sfu_rate": "sfu:answer, sfu:candidate and sfu:leave per second per connection, sustained",
    "sfu_burst": "sfu:answer, sfu:candidate and sfu:leave per connection at once",
    "read_rate": "room:list, dm:list, chat:history and chat:search per second per connection",
    "read_burst": "room:list, dm:list, chat:history and chat:search per connection at once",
    "room_rate": "room:leave and dm:open per second per connection, sustained",
    "room_burst": "room:leave and dm:open per connection at once",
    "moderation_rate": "workshop host actions per second per connection, sustained",
    "moderation_burst": "workshop host actions per connection at once",
    "tables_rate": "tables:*, rounds:* and people:* requests per second per connection",
    "tables_burst": "tables:*, rounds:* and people:* requests per connection at once",
    "tables_max": "tables one room may have at once",
    "table_size_max": "most people at one breakout table",
    "breakout_max_seconds": "longest duration of breakout tables, seconds",
    "rounds_max": "rounds in one speed-networking series",
    "round_min_seconds": "shortest speed-networking round (and breakout duration), seconds",
    "round_max_seconds": "longest speed-networking round, seconds",
    "break_min_seconds": "shortest break between speed-networking rounds, seconds",
    "tables_tick": "seconds between looks for rounds and tables whose time has come",
    "flood_refusals": "refusals over the budget within flood-window that disconnect a connection",
    "flood_window": "seconds in which flood-refusals disconnect; then the user starts spent",
    "join_rate": "room:join attempts per second per user and per address, sustained",
    "join_burst": "room:join attempts at once per user and per address",
    "passcode_failures": "wrong passcodes or host keys an address may try per minute",
    "rooms_per_hour": "rooms a user may create per hour",
    "max_members": "people in one room",
    "max_backlog_kib": "KiB unsent to one connection before it is dropped as too slow",
    "ping_interval": "seconds between pings of a connection (whole seconds)",
    "ping_timeout": "seconds a connection has to answer a ping before it is closed as gone",
    "max_connections_per_ip": "connections to one process from one address",
    "new_users_per_minute": "fresh identities one address may make per minute",
    "session_days": "days a session (resume token) lasts unused before it expires",
    "passkey_rp_id": "WebAuthn RP ID, the domain of passkeys (unset: each request's host name)",
    "passkey_rp_name": "the name browsers show when a passkey is made",
    "passkey_origins": "comma-separated origins of passkey ceremonies (unset: the request's own)",
    "passkey_challenge_seconds": "seconds between a passkey ceremony's options and its answer",
    "passkey_requests_per_minute": "requests to the passkey routes per address per minute",
    "passkey_attempts_per_minute": "passkey registrations per user, sign-ins per key, per minute",
    "erase_messages": "what erasing an identity does to its messages: delete or anonymise",
    "exports_per_hour": "downloads of one person's data per hour",
    "moderators": "comma-separated user ids who moderate the lobby",
    "room_idle_hours": "hours without people or messages after which a public room leaves the list",
    "trusted_proxies": "comma-separated reverse-proxy addresses whose X-Forwarded-For is believed",
    "max_text": "longest chat message, in characters",
    "join_history": "messages sent with room:join",
    "max_page": "largest page of chat:history and chat:search",
    "max_packet_bytes": "largest Socket.IO packet accepted",
    "max_signal_bytes": "largest signal data accepted",
    "stun_urls": "comma-separated STUN URLs handed to clients",
    "turn_urls": "comma-separated TURN URLs handed to clients",
    "turn_secret": "coturn static-auth-secret for per-user TURN credentials",
    "turn_ttl": "lifetime of minted TURN credentials, seconds",
    "cors_origins": "comma-separated extra origins allowed to connect",
    "mesh_max_cameras": "cameras a coffee room sends peer to peer before it uses the SFU",
    "media_url": "this process's public Socket.IO URL for media (unset: the same server)",
    "media_ttl": "seconds a room's media placement outlives its process's last heartbeat",
    "sfu_keyframe_interval": "least seconds between keyframe requests to one publisher",
    "sfu_backlog_kib": "KiB unsent to a subscriber before it skips ahead to a keyframe",
    "recordings_dir": "folder of workshop recordings (unset: recordings in data-dir)",
    "recording_max_minutes": "longest workshop recording, minutes; then it stops by itself",
    "recording_min_free_mb": "free disk (MiB) below which a recording stops, hosts told",
    "log_level": "debug, info, warning or error (debug: every room join and leave too)",
    "metrics_host": "address of the Prometheus metrics listener",
    "metrics_port": "port of the Prometheus metrics listener (0: off)",
}


LOG_LEVELS = ("debug", "info", "warning", "error")
ERASE_MESSAGES = ("delete", "anonymise")


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _converter(default: object) -> Callable[[str], object]:
    if isinstance(default, tuple):
        return _split
    if isinstance(default, bool | None):
        return str
    return type(default)


def parse(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from command-line flags, falling back to environment variables."""
    env = os.environ if env is None else env
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m server", description="Percolate: video and chat meeting rooms."
    )
    for name, help_text in _OPTIONS.items():
        variable = name.upper()
        convert = _converter(getattr(defaults, name))
        raw = env.get(variable, "")
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=convert,
            # A string default goes through ``type`` like a flag would, so a bad environment
            # value gets the same clean usage error as a bad flag.
            default=raw if raw else getattr(defaults, name),
            help=f"{help_text} [{variable}]",
        )
    values = vars(parser.parse_args(argv))
    for name in ("database_url", "redis_url", "turn_secret", "media_url", "recordings_dir"):
        values[name] = values[name] or None
    values["log_level"] = values["log_level"].lower()
    if values["log_level"] not in LOG_LEVELS:
        parser.error(f"--log-level [LOG_LEVEL] must be one of {', '.join(LOG_LEVELS)}")
    if not values["session_days"] > 0:
        parser.error("--session-days [SESSION_DAYS] must be more than 0")
    if not values["passkey_challenge_seconds"] > 0:
        parser.error("--passkey-challenge-seconds [PASSKEY_CHALLENGE_SECONDS] must be more than 0")
    if values["erase_messages"] not in ERASE_MESSAGES:
        parser.error(f"--erase-messages [ERASE_MESSAGES] must be {' or '.join(ERASE_MESSAGES)}")
    database_url = values["database_url"]
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url [DATABASE_URL] must be a postgresql:// URL")
    return dataclasses.replace(defaults, **values, heartbeat_interval=values["presence_ttl"] / 3)
