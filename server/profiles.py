"""Profiles: what people say about themselves (``profile:*``) and who is online in the public
rooms (``online:list``), as docs/protocol.md describes under "Profiles".

A room's members carry no profile: the join path stays as light as it was, and clients ask
for headlines (``profile:headlines``) and whole profiles (``profile:get``) when they show them.
"""

from __future__ import annotations

import logging
import time

import msgspec
from msgspec import UNSET

from . import wire
from .archive import Archive, StoredProfile
from .errors import not_found
from .presence import Presence
from .protocol import (
    Empty,
    HeadlinesGet,
    Online,
    ProfileField,
    ProfileGet,
    ProfileSet,
    RoomBrief,
    User,
)
from .replies import Headlines, OnlineList, ProfileShown
from .rooms import Rooms
from .sessions import Session

log = logging.getLogger(__name__)

ONLINE_MAX = 200
"""People one ``online:list`` answers with."""
_CANDIDATES_MAX = 1000
"""People looked at for ``online:list`` (the invisible among them are left out)."""


class Profiles:
    def __init__(self, sio: wire.Server, archive: Archive, presence: Presence, rooms: Rooms):
        self._sio = sio
        self._archive = archive
        self._presence = presence
        self._rooms = rooms

    async def _stored(self, user_id: str) -> StoredProfile:
        return (await self._archive.profiles([user_id])).get(user_id) or StoredProfile()

    async def get(self, session: Session, request: ProfileGet) -> ProfileShown:
        own = request.user == session.user.id
        user = session.user if own else await self._archive.get_user(request.user)
        if user is None:
            raise not_found("no such user")
        stored = await self._stored(user.id)
        return ProfileShown(profile=stored.shown(user, own=own))

    async def set(self, session: Session, request: ProfileSet) -> ProfileShown:
        user = session.user
        old = await self._stored(user.id)
        given = {
            name: value
            for name in ("headline", "organisation", "link", "about", "invisible")
            if (value := getattr(request, name)) is not UNSET
        }
        if request.public is not UNSET:
            given["public"] = tuple(field for field in ProfileField if field in request.public)
        new = msgspec.structs.replace(old, **given)
        await self._archive.set_profile(user.id, new, int(time.time() * 1000))
        log.debug("user=%s profile set", user.id)
        if new.public_headline != old.public_headline:
            # The people in a room with them show the headline beside the name.
            changed = {"user": user.id, "headline": new.public_headline}
            for room in await self._presence.rooms_of(user.id):
                await self._sio.emit("profile:changed", {"room": room, **changed}, room=room)
        return ProfileShown(profile=new.shown(user, own=True))

    async def headlines(self, session: Session, request: HeadlinesGet) -> Headlines:
        stored = await self._archive.profiles(list(dict.fromkeys(request.users)))
        return Headlines(
            headlines={
                user: profile.public_headline
                for user, profile in stored.items()
                if profile.public_headline
            }
        )

    async def online(self, session: Session, request: Empty) -> OnlineList:
        """Who is in the public rooms now, the rooms other than the lobby first: one entry
        per person with every such room they are in; oneself and the invisible left out."""
        rooms = [room for room in await self._rooms.public() if room.members > 0]
        rooms.sort(key=lambda room: room.id == "lobby")  # stable: room:list's order otherwise
        found: dict[str, tuple[User, list[RoomBrief]]] = {}
        more = False
        for room in rooms:
            if len(found) >= _CANDIDATES_MAX:
                more = True
                break
            brief = RoomBrief(id=room.id, title=room.title)
            for member in await self._presence.members(room.id):
                if member.id == session.user.id:
                    continue
                entry = found.get(member.id)
                if entry is None:
                    found[member.id] = entry = (User(id=member.id, name=member.name), [])
                entry[1].append(brief)
        stored = await self._archive.profiles(list(found))
        people = [
            Online(user=user, headline=profile.public_headline, rooms=briefs)
            for user, briefs in found.values()
            if not (profile := stored.get(user.id) or StoredProfile()).invisible
        ]
        return OnlineList(people=people[:ONLINE_MAX], more=more or len(people) > ONLINE_MAX)
