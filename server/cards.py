"""Contact cards: an e-mail address, a phone number and a link that only contacts see, each
contact only the fields its owner shares with them (docs/protocol.md, "Contact cards").

A card is never shown to anybody but a contact (both said "stay in touch", nobody blocking):
``people:list`` carries the cards of one's contacts, and a contact hears ``card:changed`` when
what they see changes. Who is not in touch, or no longer, gets nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import msgspec
from msgspec import UNSET

from . import wire
from .archive import Archive, StoredCard
from .audiences import user_room
from .errors import bad_request, not_found
from .protocol import Card, CardField, CardSet, CardShare, Empty
from .replies import CardShared, OwnCardReply
from .sessions import Session

log = logging.getLogger(__name__)

CONTACTS_MAX = 500
"""Contacts one ``card:set`` tells (as many as ``people:list`` lists)."""


class Cards:
    def __init__(self, sio: wire.Server, archive: Archive) -> None:
        self._sio = sio
        self._archive = archive

    async def _stored(self, user_id: str) -> StoredCard:
        return (await self._archive.cards([user_id])).get(user_id) or StoredCard()

    async def get(self, session: Session, request: Empty) -> OwnCardReply:
        return OwnCardReply(card=(await self._stored(session.user.id)).own())

    async def set(self, session: Session, request: CardSet) -> OwnCardReply:
        me = session.user.id
        old = await self._stored(me)
        given = {
            name: value
            for name in ("email", "phone", "link")
            if (value := getattr(request, name)) is not UNSET
        }
        if request.share is not UNSET:
            given["share"] = tuple(field for field in CardField if field in request.share)
        new = msgspec.structs.replace(old, **given)
        await self._archive.set_card(me, new, int(time.time() * 1000))
        log.debug("user=%s card set", me)
        if (old.email, old.phone, old.link) != (new.email, new.phone, new.link):
            contacts = [m.user.id for m in await self._archive.people_met(me, CONTACTS_MAX)]
            for contact, fields in (await self.shared_by(me, contacts, new)).items():
                if old.shown(fields) != (card := new.shown(fields)):
                    await self._tell(contact, me, card)
        return OwnCardReply(card=new.own())

    async def share(self, session: Session, request: CardShare) -> CardShared:
        me, other = session.user.id, request.user
        if other == me:
            raise bad_request("that is you")
        fields = [field for field in CardField if field in request.fields]
        if not await self._archive.share_card(me, other, fields):
            # Whether they never were in touch, no longer are, or one blocks: all the same.
            raise not_found("you are not in touch with this person")
        await self._tell(other, me, (await self._stored(me)).shown(fields))
        return CardShared(user=other, fields=fields)

    async def shared_by(
        self, owner: str, contacts: Sequence[str], card: StoredCard | None = None
    ) -> dict[str, list[CardField]]:
        """Which fields ``owner`` shares with each of ``contacts`` (who must be in touch)."""
        default = list((card or await self._stored(owner)).share)
        chosen = await self._archive.card_shares([(owner, contact) for contact in contacts])
        return {c: list(chosen.get((owner, c), default)) for c in contacts}

    async def shown_to(self, viewer: str, contacts: Sequence[str]) -> dict[str, Card]:
        """The card each of ``contacts`` (who must be in touch) shows ``viewer``."""
        cards = await self._archive.cards(contacts)
        chosen = await self._archive.card_shares([(contact, viewer) for contact in contacts])
        shown = {}
        for contact in contacts:
            card = cards.get(contact) or StoredCard()
            shown[contact] = card.shown(chosen.get((contact, viewer), card.share))
        return shown

    async def _tell(self, contact: str, owner: str, card: Card) -> None:
        await self._sio.emit("card:changed", {"user": owner, "card": card}, room=user_room(contact))
