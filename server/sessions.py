"""Sessions: who is behind a Socket.IO connection, and what that connection has joined.

A connection authenticates with ``auth: {"name", "token"?}``. The resume token names a login
(the protocol's "session") of a user in the archive; coming back with it (after a network
drop, a reload, a server restart) gives the same user id, as long as the login was neither
revoked nor left unused for ``SESSION_DAYS`` (``server/logins.py``). The archive keeps only
the token's digest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import msgspec

from . import keys
from .archive import Archive, Login, NewLogin
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
    login: str
    """The id of the login its token names (``server/logins.py``)."""
    seen_at: int
    """When the login was last marked seen in the archive (``Logins.touch``)."""
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
        self._lifetime = settings.session_days * 86_400_000
        self.by_sid: dict[str, Session] = {}
        self._by_user: dict[str, set[str]] = {}
        self._identities = limits.limiter(
            "identity", settings.new_users_per_minute / 60, settings.new_users_per_minute
        )

    def get(self, sid: str) -> Session | None:
        return self.by_sid.get(sid)

    async def authenticate(self, auth: Any, address: str, label: str) -> tuple[Login, str]:
        """The login and resume token for a connection's ``auth``; raises ``ProtocolError``.

        ``label`` names a new login for its owner (``logins.label``).
        """
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
        now = int(time.time() * 1000)
        if token:
            login = await archive.login_by_token(keys.digest(token))
            if login is not None:
                # Refused rather than made anew: the client is told, and its person asks for
                # a new identity knowingly (docs/protocol.md, "Refusal").
                if login.revoked_at is not None:
                    raise ProtocolError(Code.UNAUTHORIZED, "this session was signed out")
                if now - login.seen_at > self._lifetime:
                    raise ProtocolError(Code.UNAUTHORIZED, "this session expired")
                if login.user.name != name:
                    await archive.rename_user(login.user.id, name)
                    login = msgspec.structs.replace(login, user=User(id=login.user.id, name=name))
                return login, token
        # No token, or one we never issued (say, a database reset): a fresh identity. Fresh
        # identities are cheap, so their rate per address is limited: otherwise a removed
        # guest or a spammer over the chat limit would just come back as somebody new.
        if not await self._identities.allow(address):
            raise ProtocolError(
                Code.RATE_LIMITED, "too many new identities from your address; reuse your token"
            )
        token = keys.new_token()
        new = NewLogin(id=keys.new_id("s"), token_digest=keys.digest(token), label=label, at=now)
        user = await archive.create_user(name, new)
        return Login(id=new.id, user=user, label=label, created_at=now, seen_at=now), token

    async def login_of(self, token: str) -> Login:
        """The login a resume token names, if it may still be used; else ``unauthorized``
        (an HTTP request made with the token: ``server/passkeys.py``)."""
        login = await self._archive.login_by_token(keys.digest(token))
        if login is None:
            raise ProtocolError(Code.UNAUTHORIZED, "no such session")
        if login.revoked_at is not None:
            raise ProtocolError(Code.UNAUTHORIZED, "this session was signed out")
        if int(time.time() * 1000) - login.seen_at > self._lifetime:
            raise ProtocolError(Code.UNAUTHORIZED, "this session expired")
        return login

    async def bearer(self, authorization: str | None) -> Login:
        """The live login of an HTTP request's ``Authorization: Bearer <resume token>``;
        else ``unauthorized`` (the passkey, export and replay routes)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > KEY_MAX:
            raise ProtocolError(Code.UNAUTHORIZED, "send your session's token as a Bearer")
        return await self.login_of(token)

    def expires(self, login: Login) -> int:
        """When ``login`` expires unless used again (ms since the epoch)."""
        return login.seen_at + int(self._lifetime)

    def add(self, sid: str, login: Login, address: str) -> Session:
        user = login.user
        session = Session(
            sid=sid, user=user, address=address, login=login.id, seen_at=login.seen_at
        )
        self.by_sid[sid] = session
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

    def of_user(self, user_id: str) -> list[Session]:
        """This process's connections of ``user_id``."""
        return [self.by_sid[sid] for sid in self._by_user.get(user_id, ())]

    def in_room(self, user_id: str, room: str) -> list[Session]:
        """This process's connections of ``user_id`` that have joined ``room``."""
        sessions = (self.by_sid[sid] for sid in self._by_user.get(user_id, ()))
        return [session for session in sessions if room in session.rooms]

    def __len__(self) -> int:
        return len(self.by_sid)
