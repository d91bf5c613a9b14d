"""ICE servers handed to clients on ``room:join``.

With a TURN shared secret, credentials are minted per user in coturn's ``use-auth-secret``
scheme (draft-uberti-behave-turn-rest-00 section 2.2): the username is ``<expiry>:<user id>``
and the password is base64(HMAC-SHA1(secret, username)), so coturn can check them without a
database and they stop working at ``expiry``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class IceConfig:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: int = 24 * 3600


def turn_credentials(secret: str, user_id: str, expiry: int) -> tuple[str, str]:
    username = f"{expiry}:{user_id}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


def ice_servers(config: IceConfig, user_id: str, now: float | None = None) -> list[dict[str, Any]]:
    """The ``RTCIceServer`` list for one user, in the shape ``RTCPeerConnection`` takes."""
    servers: list[dict[str, Any]] = []
    if config.stun_urls:
        servers.append({"urls": list(config.stun_urls)})
    if config.turn_urls:
        turn: dict[str, Any] = {"urls": list(config.turn_urls)}
        if config.turn_secret:
            expiry = int(time.time() if now is None else now) + config.turn_ttl
            turn["username"], turn["credential"] = turn_credentials(
                config.turn_secret, user_id, expiry
            )
        servers.append(turn)
    return servers
