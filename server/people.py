"""People one stays in touch with: "stay in touch" asked of anybody, answered or declined.

``people:stay`` asks (from a table, a member list, a DM); the person asked is told
(``people:asked``) unless either blocks the other. When both have asked, both are told
(``people:met``) and each finds the other in ``people:list``. A declined request is only
hidden from who declined it: the asker is never told, and asking again tells nobody again.
Either may end it (``people:remove``), after which both are strangers again.
"""

from __future__ import annotations

import logging
import time

from . import wire
from .archive import Archive
from .audiences import user_room
from .errors import bad_request, forbidden, not_found
from .protocol import Empty, Met, PeopleStay, PersonRef
from .replies import Done, People
from .sessions import Session

log = logging.getLogger(__name__)

_PEOPLE_MAX = 500
"""At most this many of each list: contacts, asked, asking."""


class Contacts:
    def __init__(self, sio: wire.Server, archive: Archive) -> None:
        self._sio = sio
        self._archive = archive

    async def stay(self, session: Session, request: PeopleStay) -> Done:
        me = session.user
        other = request.user
        if other == me.id:
            raise bad_request("that is you")
        if request.room is not None and request.room not in session.rooms:
            raise forbidden("you are not in this room")
        if not await self._archive.known_users([other]):
            raise not_found("no such user")
        # Where it was asked from: the room given, or the table they last shared.
        room = request.room or await self._archive.have_sat_together(me.id, other)
        wish = await self._archive.stay(me.id, other, room, int(time.time() * 1000))
        if wish.mutual:
            await self._tell_met(me.id, other)
        elif wish.new and not await self._archive.blocking(me.id, other):
            asked = next(
                (p for p in (await self._archive.wishes(other, _PEOPLE_MAX))[0] if p.user == me),
                None,
            )
            if asked is not None:
                await self._sio.emit("people:asked", {"person": asked}, room=user_room(other))
        log.debug("user=%s asked user=%s to stay in touch (mutual: %s)", me.id, other, wish.mutual)
        return Done()

    async def decline(self, session: Session, request: PersonRef) -> Done:
        await self._archive.decline(session.user.id, request.user)
        return Done()

    async def remove(self, session: Session, request: PersonRef) -> Done:
        me = session.user.id
        if await self._archive.unstay(me, request.user):
            # Both sides' lists follow, on every connection (the other loses a contact, or
            # a request that is no more).
            await self._sio.emit("people:removed", {"user": request.user}, room=user_room(me))
            await self._sio.emit("people:removed", {"user": me}, room=user_room(request.user))
        return Done()

    async def people(self, session: Session, request: Empty) -> People:
        me = session.user.id
        asked, asking = await self._archive.wishes(me, _PEOPLE_MAX)
        return People(
            people=await self._archive.people_met(me, _PEOPLE_MAX), asked=asked, asking=asking
        )

    async def _tell_met(self, a: str, b: str) -> None:
        """Both are in touch now: each hears of the other, as ``people:list`` shows them."""
        for me, other in ((a, b), (b, a)):
            person = await self._met(me, other)
            if person is not None:
                await self._sio.emit("people:met", {"person": person}, room=user_room(me))

    async def _met(self, me: str, other: str) -> Met | None:
        return next(
            (p for p in await self._archive.people_met(me, _PEOPLE_MAX) if p.user.id == other),
            None,
        )
