"""Sessions: who is behind a Socket.IO connection, and what that connection has joined.

A connection authenticates with ``auth: {"name", "token"?}``. The resume token names a user in
the archive; coming back with it (after a network drop, a reload, a server restart) gives the
same user id. The archive keeps only the token's digest.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from . import keys
from .archive import Archive
from .budget import Spending
from .config import Settings
from .errors import Code, ProtocolError, bad_request, too_large
from .limits import Limits
from .protocol import KEY_MAX, Member, User, clean_name, valid_unicode

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Session:
    """One Socket.IO connection of this process."""

    sid: str
    user: User
    address: str
    rooms: dict[str, Member] = dataclasses.field(default_factory=dict)
    """Rooms this connection has joined, with the member as this process last set it."""
    knocking: set[str] = dataclasses.field(default_factory=set)
    """Workshops whose waiting room this connection waits in."""
    spending: Spending = dataclasses.field(default_factory=Spending)
    """What it has spent of its budget (``server/budget.py``)."""
    leaving: bool = False
    """The client said ``goodbye``: its disconnect, whatever the cause, leaves at once."""


class Sessions:
    def __init__(self, settings: Settings, archive: Archive, limits: Limits) -> None:
        self._archive = archive
        self.by_sid: dict[str, Session] = {}
        self._by_user: dict[str, set[str]] = {}
        self._identities = limits.limiter(
            "identity", settings.new_users_per_minute / 60, settings.new_users_per_minute
        )

    def get(self, sid: str) -> Session | None:
        return self.by_sid.get(sid)

    async def authenticate(self, auth: Any, address: str) -> tuple[User, str]:
        """The user and resume token for a connection's ``auth``; raises ``ProtocolError``."""
        if not isinstance(auth, dict):
            raise bad_request("auth must be an object with a name")
        if not valid_unicode(auth):
            raise bad_request("auth must be valid Unicode (it holds a lone surrogate)")
        name = clean_name(auth.get("name"))
        token = auth.get("token")
        if token is not None and not isinstance(token, str):
            raise bad_request("token must be a string")
        if token is not None and len(token) > KEY_MAX:
            raise too_large(f"token must be at most {KEY_MAX} characters")
        archive = self._archive
        if token:
            user = await archive.user_by_token(keys.digest(token))
            if user is not None:
                if user.name != name:
                    await archive.rename_user(user.id, name)
                    user = User(id=user.id, name=name)
                return user, token
        # No token, or one we do not know (say, a database reset): a fresh identity. Fresh
        # identities are cheap, so their rate per address is limited: otherwise a removed
        # guest or a spammer over the chat limit would just come back as somebody new.
        if not await self._identities.allow(address):
            raise ProtocolError(
                Code.RATE_LIMITED, "too many new identities from your address; reuse your token"
            )
        token = keys.new_token()
        return await archive.create_user(name, keys.digest(token)), token

    def add(self, sid: str, user: User, address: str) -> Session:
        session = self.by_sid[sid] = Session(sid=sid, user=user, address=address)
        self._by_user.setdefault(user.id, set()).add(sid)
        return session

    def remove(self, sid: str) -> Session | None:
        session = self.by_sid.pop(sid, None)
        if session is not None:
            sids = self._by_user[session.user.id]
            sids.discard(sid)
            if not sids:
                del self._by_user[session.user.id]
        return session

    def in_room(self, user_id: str, room: str) -> list[Session]:
        """This process's connections of ``user_id`` that have joined ``room``."""
        sessions = (self.by_sid[sid] for sid in self._by_user.get(user_id, ()))
        return [session for session in sessions if room in session.rooms]

    def __len__(self) -> int:
        return len(self.by_sid)
