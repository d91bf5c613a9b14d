"""A person's profile as both archives store it: one row per user in ``profiles``, written by
``profile:set`` (docs/protocol.md, "Profiles"). A user with no row has the empty profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..protocol import Profile, ProfileField, User

EVERY_FIELD = tuple(ProfileField)


class StoredProfile(msgspec.Struct, frozen=True, kw_only=True):
    headline: str = ""
    organisation: str = ""
    link: str = ""
    about: str = ""
    public: tuple[ProfileField, ...] = EVERY_FIELD
    """Which fields everybody sees: all of them until the person says otherwise."""
    invisible: bool = False
    """Left out of ``online:list``."""

    def shown(self, user: User, *, own: bool) -> Profile:
        """The profile as ``profile:get`` answers it: all of it to its owner, else the public
        fields (the others empty, so nobody learns that a hidden field is filled in)."""
        if own:
            return Profile(
                user=user,
                headline=self.headline,
                organisation=self.organisation,
                link=self.link,
                about=self.about,
                public=list(self.public),
                invisible=self.invisible,
            )
        public = set(self.public)
        return Profile(
            user=user,
            **{field.value: getattr(self, field.value) for field in public},
        )

    @property
    def public_headline(self) -> str:
        return self.headline if ProfileField.HEADLINE in self.public else ""


COLUMNS = "user_id, headline, organisation, link, about, public, invisible, updated_at"


def values(user_id: str, profile: StoredProfile, at: int) -> tuple[Any, ...]:
    """The row of ``COLUMNS``; ``public`` as the field names joined by commas."""
    return (
        user_id,
        profile.headline,
        profile.organisation,
        profile.link,
        profile.about,
        ",".join(field.value for field in profile.public),
        bool(profile.invisible),
        at,
    )


def profile_of(row: Sequence[Any]) -> StoredProfile:
    """A profile from its row (``COLUMNS`` from ``headline`` on)."""
    return StoredProfile(
        headline=row[0],
        organisation=row[1],
        link=row[2],
        about=row[3],
        public=tuple(ProfileField(name) for name in row[4].split(",") if name),
        invisible=bool(row[5]),
    )
