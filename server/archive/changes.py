"""Changes to stored messages (edits, deletes, reactions, replies, pins), shared by the backends.

Each function takes a message as stored and says what it becomes, or None when the request
changes nothing (an edit to the same text, a reaction the user already has, a second delete):
nothing is written then and no revision is taken. A backend reads the message under its
write lock, calls one of these, and if there is a change, takes the room's next revision
(``rooms.last_rev``), stores the message with it (``Message.rev``) and keeps its mentions
table in step (``mentioned``).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from ..protocol import EMOJI, QUOTE_MAX, Message, Quote, Reaction, User, Version


class NoSuchMessage(LookupError):
    """No message of that ``seq`` in the room."""


class MessageDeleted(ValueError):
    """The message is a tombstone: no edits, reactions or replies."""


class NotYours(PermissionError):
    """Only the author (or, for a delete, a moderator) may do that."""


PINS_MAX = 50
"""Pinned messages a room holds at most."""


class TooManyPins(ValueError):
    """The room holds ``PINS_MAX`` pinned messages already."""


class Appended(NamedTuple):
    """What ``Archive.append`` did."""

    message: Message
    created: bool
    """False for a retried ``client_msg_id``: nothing was stored."""
    first: Message | None = None
    """For a new reply: its thread's first message, with the reply counted, at a new rev."""


class Change(NamedTuple):
    message: Message
    """The message as it is to be stored (its ``rev`` is the backend's to set)."""
    earlier: Version | None = None
    """An edit: the text it replaces (and when), kept for moderators."""
    purge: bool = False
    """A delete: earlier texts go too."""
    pins: bool = False
    """A pin: the backend refuses it (``TooManyPins``) while the room holds ``PINS_MAX``
    pinned messages, counted under its write lock."""


def edit(message: Message, user_id: str, text: str, mentions: list[str], now: int) -> Change | None:
    if message.user.id != user_id:
        raise NotYours("only its author can edit a message")
    if message.deleted:
        raise MessageDeleted("a deleted message cannot be edited")
    if message.text == text and message.mentions == mentions:
        return None
    changed = msgspec.structs.replace(message, text=text, mentions=mentions, edited_at=now)
    earlier = Version(text=message.text, replaced_at=now) if message.text != text else None
    return Change(changed, earlier=earlier)


def delete(
    message: Message, user_id: str, *, moderator: bool, protected: frozenset[str] = frozenset()
) -> Change | None:
    """``protected``: authors a moderator may not act on (the room's owner)."""
    if message.user.id != user_id:
        if not moderator:
            raise NotYours("only its author or a moderator can delete a message")
        if message.user.id in protected:
            raise NotYours("a moderator cannot act on the owner")
    if message.deleted:
        return None
    tombstone = msgspec.structs.replace(
        message,
        text="",
        deleted=True,
        reactions=[],
        mentions=[],
        edited_at=None,
        pinned_at=None,
        pinned_by=None,
    )
    return Change(tombstone, purge=True)


def react(message: Message, user: User, emoji: str, on: bool) -> Change | None:
    if message.deleted:
        raise MessageDeleted("a deleted message takes no reactions")
    by_emoji = {r.emoji: list(r.users) for r in message.reactions}
    users = by_emoji.get(emoji, [])
    has = any(u.id == user.id for u in users)
    if has == on:
        return None
    by_emoji[emoji] = [*users, user] if on else [u for u in users if u.id != user.id]
    reactions = [Reaction(emoji=e, users=by_emoji[e]) for e in EMOJI if by_emoji.get(e)]
    return Change(msgspec.structs.replace(message, reactions=reactions))


def pin(message: Message, user: User, on: bool, now: int) -> Change | None:
    """Pin (``on``) or unpin; pinning a pinned message, or unpinning one that is not, is no
    change."""
    if message.deleted:
        raise MessageDeleted("a deleted message cannot be pinned")
    if (message.pinned_at is not None) == on:
        return None
    if on:
        return Change(msgspec.structs.replace(message, pinned_at=now, pinned_by=user), pins=True)
    return Change(msgspec.structs.replace(message, pinned_at=None, pinned_by=None))


def replied(first: Message, now: int) -> Change:
    return Change(msgspec.structs.replace(first, replies=first.replies + 1, last_reply_at=now))


def quote_of(first: Message | None) -> Quote | None:
    """How a reply quotes its thread's first message (as ``rows.SELECT`` reads it)."""
    if first is None:
        return None
    return Quote(user=first.user, text=first.text[:QUOTE_MAX], deleted=first.deleted)


def thread_of(parent: Message | None) -> int:
    """The ``seq`` a reply to ``parent`` answers: its thread's first message."""
    if parent is None:
        raise NoSuchMessage("no such message")
    if parent.deleted:
        raise MessageDeleted("a deleted message takes no replies")
    return parent.reply_to if parent.reply_to is not None else parent.seq


def mentioned(message: Message, notify: list[str]) -> list[str]:
    """Who of ``notify`` the stored message still names (a tombstone names nobody)."""
    return [] if message.deleted else [u for u in notify if u in message.mentions]
