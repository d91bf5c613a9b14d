"""Names of the Socket.IO rooms the server emits to (audiences), beside the rooms themselves.

A room's own id is the audience of everybody who joined it. These others are per process,
made global by the fan-out; clients never choose them.
"""

from __future__ import annotations


def member_room(room: str, user_id: str) -> str:
    """One member's connections in one room: ``signal``, ``moderation``."""
    return f"m:{room}:{user_id}"


def user_room(user_id: str) -> str:
    """Every connection of one user: direct messages, ``room:admitted``, ``host:key``."""
    return f"u:{user_id}"


def host_room(room: str) -> str:
    """The hosts' and co-hosts' connections in one room: the waiting room, removed users."""
    return f"h:{room}"
