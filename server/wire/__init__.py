"""The wire: everything that makes Socket.IO, Engine.IO and WebSocket connections work, and
the only package that touches python-socketio, python-engineio, wsproto or aiohttp's
internals.

- ``stream``: a WebSocket connection below aiohttp (wsproto, the hand-over ``_detach``);
- ``engine``: the Engine.IO server and its ping timers;
- ``peers``: the clients of its sessions, counted per address from the first request;
- ``sockets``: the Socket.IO server and its one-frame broadcast (``Broadcast``);
- ``codec``: the JSON codec of Socket.IO packets, and their ``Bounds``;
- ``fanout``: emits and commands between processes on one Redis channel;
- ``http``: aiohttp's own answers to HTTP it cannot read (the security headers, no echo);
- ``seams``: every private name of those libraries used here, checked at start-up.

The rest of ``server/`` uses what this module exports.
"""

from __future__ import annotations

from .codec import Bounds
from .engine import release
from .fanout import Fanout
from .http import install
from .seams import SeamError, check
from .sockets import Broadcast, Server, refusal

__all__ = [
    "Bounds",
    "Broadcast",
    "Fanout",
    "SeamError",
    "Server",
    "check",
    "install",
    "refusal",
    "release",
]
