"""Sessions as their owner sees them: listed, signed out one by one or all but this one.

A login (the protocol's *session*; ``server/archive/logins.py``) is the row behind a resume
token. It expires once unused for ``SESSION_DAYS``: each connection with its token slides
that on, and so does staying connected, but the archive hears of it at most once an hour per
login (``touch``), so 10,000 members coming back at once write nothing on the way in. A
revoked login's connections are closed at once on every process (a ``Revoke`` command), and
its token no longer connects (``Sessions.authenticate``).
"""

from __future__ import annotations

import logging
import re

import msgspec

from . import wire
from .archive import Archive
from .clock import now_ms
from .control import Control
from .errors import Code, not_found
from .protocol import Empty, SessionInfo, SessionRef
from .replies import Reply, Revoked, SessionsListed
from .sessions import Session, Sessions
from .tasks import Tasks

log = logging.getLogger(__name__)

SEEN_EVERY_MS = 3_600_000
"""A login in use is marked seen in the archive at most this often (``touch``)."""
_LIST_MAX = 100
_LABEL_MAX = 80

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
_PRODUCT = re.compile(r"[\w.-]+")


def label(user_agent: str) -> str:
    """What a new login is called for its owner: "Firefox on Linux", from the User-Agent of
    the request that opened its first connection; another client's first product name."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser is not None:
        return f"{browser} on {system}" if system else browser
    product = _PRODUCT.match(user_agent.strip())
    return product.group()[:_LABEL_MAX] if product else "an unknown device"


class Revoke(msgspec.Struct, tag="logins:revoke"):
    """The user's connections on these logins close: they were signed out."""

    user: str
    ids: list[str]


class Logins:
    def __init__(
        self,
        sio: wire.Server,
        archive: Archive,
        sessions: Sessions,
        control: Control,
        tasks: Tasks,
    ) -> None:
        self._sio = sio
        self._archive = archive
        self._sessions = sessions
        self._control = control
        self._tasks = tasks
        control.register(Revoke, self._revoked)

    async def list_mine(self, session: Session, request: Empty) -> SessionsListed:
        now = now_ms()
        listed: list[SessionInfo] = []
        for login in await self._archive.logins(session.user.id, _LIST_MAX):
            current = login.id == session.login
            # The asking connection is using its login right now, whatever the archive heard.
            seen = now if current else login.seen_at
            expires = self._sessions.expires(msgspec.structs.replace(login, seen_at=seen))
            if expires <= now:
                continue
            info = SessionInfo(login.id, login.label, login.created_at, seen, expires, current)
            listed.append(info)
        listed.sort(key=lambda info: not info.current)  # stable: then the latest seen first
        return SessionsListed(sessions=listed)

    async def revoke(self, session: Session, request: SessionRef) -> Reply:
        # Somebody else's session is as unknown as one that never was.
        revoked = await self._archive.revoke_logins(session.user.id, now_ms(), [request.id])
        if not revoked:
            raise not_found("no such session")
        log.info("user=%s revoked session=%s", session.user.id, request.id)
        await self._control.send(Revoke(user=session.user.id, ids=revoked))
        return Reply()

    async def revoke_others(self, session: Session, request: Empty) -> Revoked:
        user = session.user.id
        revoked = await self._archive.revoke_logins(user, now_ms(), None, keep=session.login)
        if revoked:
            log.info("user=%s revoked %d other sessions", user, len(revoked))
            await self._control.send(Revoke(user=user, ids=revoked))
        return Revoked(revoked=len(revoked))

    async def _revoked(self, command: Revoke) -> None:
        """On every process: close the connections of the revoked logins."""
        ids = set(command.ids)
        for session in self._sessions.of_user(command.user):
            if session.login in ids:
                # A task of its own: the ack of a connection revoking its own login goes first.
                self._tasks.spawn(self._close(session.sid), name=f"sign out {session.sid}")

    async def _close(self, sid: str) -> None:
        closing = {
            "code": Code.UNAUTHORIZED.value,
            "message": "this session was signed out",
            "retry_after": 0,
        }
        # ignore_queue: the connection is ours.
        await self._sio.emit("closing", closing, to=sid, ignore_queue=True)
        await self._sio.disconnect(sid, ignore_queue=True)

    async def touch(self) -> None:
        """Mark seen the logins of this process's connections not marked for an hour."""
        now = now_ms()
        stale = [s for s in self._sessions.by_sid.values() if now - s.seen_at >= SEEN_EVERY_MS]
        if not stale:
            return
        await self._archive.touch_logins(sorted({s.login for s in stale}), now)
        for session in stale:
            session.seen_at = now
