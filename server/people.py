"""People one stays in touch with: "stay in touch" asked of anybody, answered or declined.

``people:stay`` asks (from a table, a member list, a DM); the person asked is told
(``people:asked``) unless either blocks the other. When both have asked, both are told
(``people:met``) and each finds the other in ``people:list``, with the card the other shares
(``server.cards``). A declined request is only hidden from who declined it: the asker is never
told, and asking again tells nobody again; nor does withdrawing and asking again within
``REASK_QUIET_MS``. Either may end it (``people:remove``), after which both are strangers
again. ``people:list`` also lists the people one met and is not in touch with
(``server.encounters``); a block hides a person from every list.
"""

from __future__ import annotations

import logging
import time
from typing import TypeVar

import msgspec

from . import wire
from .archive import Archive
from .audiences import user_room
from .cards import CONTACTS_MAX, Cards
from .errors import bad_request, forbidden, not_found
from .protocol import Empty, Encounter, Met, PeopleStay, PersonRef
from .replies import Done, People
from .sessions import Session

log = logging.getLogger(__name__)

_PEOPLE_MAX = CONTACTS_MAX
"""At most this many of each list: contacts, asked, asking, met."""
REASK_QUIET_MS = 12 * 3600 * 1000
"""A request withdrawn and made again within this time is not told again (``Archive.nudge``)."""


class Contacts:
    def __init__(self, sio: wire.Server, archive: Archive, cards: Cards) -> None:
        self._sio = sio
        self._archive = archive
        self._cards = cards

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
        now = int(time.time() * 1000)
        wish = await self._archive.stay(me.id, other, room, now)
        if wish.mutual:
            await self._tell_met(me.id, other)
        elif (
            wish.new
            and not await self._archive.blocking(me.id, other)
            and await self._archive.nudge(me.id, other, now, now - REASK_QUIET_MS)
        ):
            asked = next(
                (p for p in (await self._archive.wishes(other, _PEOPLE_MAX))[0] if p.user == me),
                None,
            )
            if asked is not None:
                (asked,) = await self._headlined([asked])
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
        contacts = await self._with_cards(me, await self._archive.people_met(me, _PEOPLE_MAX))
        met = await self._archive.encounters(me, _PEOPLE_MAX)
        users = [p.user.id for p in (*contacts, *asked, *asking)] + [e.user.id for e in met]
        headlines = await self._headlines(users)
        return People(
            people=_headlined(contacts, headlines),
            asked=_headlined(asked, headlines),
            asking=_headlined(asking, headlines),
            encounters=_headlined(met, headlines),
        )

    async def _with_cards(self, me: str, contacts: list[Met]) -> list[Met]:
        """Contacts with the card each shows ``me``, and which fields ``me`` shares back."""
        ids = [m.user.id for m in contacts]
        shown = await self._cards.shown_to(me, ids)
        sharing = await self._cards.shared_by(me, ids)
        return [
            msgspec.structs.replace(m, card=shown[m.user.id], sharing=sharing[m.user.id])
            for m in contacts
        ]

    async def _headlines(self, users: list[str]) -> dict[str, str]:
        profiles = await self._archive.profiles(list(dict.fromkeys(users)))
        return {user: profile.public_headline for user, profile in profiles.items()}

    async def _headlined(self, people: list[Met]) -> list[Met]:
        return _headlined(people, await self._headlines([p.user.id for p in people]))

    async def _tell_met(self, a: str, b: str) -> None:
        """Both are in touch now: each hears of the other, as ``people:list`` shows them."""
        for me, other in ((a, b), (b, a)):
            person = await self._met(me, other)
            if person is not None:
                await self._sio.emit("people:met", {"person": person}, room=user_room(me))

    async def _met(self, me: str, other: str) -> Met | None:
        found = [p for p in await self._archive.people_met(me, _PEOPLE_MAX) if p.user.id == other]
        shown = await self._headlined(await self._with_cards(me, found))
        return shown[0] if shown else None


Person = TypeVar("Person", Met, Encounter)


def _headlined(people: list[Person], headlines: dict[str, str]) -> list[Person]:
    return [msgspec.structs.replace(p, headline=headlines.get(p.user.id, "")) for p in people]
