"""The budget: how many events of each kind a connection may send, and what sending more costs.

Every client event belongs to one class (``allowances``), and every class has a token
bucket: a burst at once, then a steady rate (``Settings``; the table with its defaults is
in docs/security.md, "The budget"). Most buckets are the connection's own, kept in its
``Spending`` in this process: checking one is a few float operations, with no Redis round
trip and nothing shared. The classes limited per user (chat messages, joins, media sessions,
new rooms; joins per address too) draw on one bucket for every connection of that user,
shared by every process through ``Limits`` when there is Redis, as before the budget.

An event over its budget is refused with ``rate_limited`` before it is decoded, authorised
or handled, so it costs nothing else and nobody else sees it. Every refusal is counted: a
connection refused ``flood_refusals`` times within ``flood_window`` seconds is to be closed
(``OverBudget.last``; ``Events`` closes it), and for ``flood_window`` seconds the user's
next connections on this process start with their own buckets empty, so that reconnecting
does not buy a fresh burst.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import enum
import math
import time

from .config import Settings
from .errors import Code, ProtocolError
from .limits import Limiter, Limits


class Scope(enum.Enum):
    """Whose bucket an event draws on."""

    CONNECTION = "connection"
    USER = "user"
    USER_AND_ADDRESS = "user and address"


@dataclasses.dataclass(frozen=True, slots=True)
class Allowance:
    """One class of client events and its token bucket."""

    name: str
    """The class, as logged; a shared bucket's limit in Redis (``<prefix>:rl:<name>:<key>``)."""
    events: tuple[str, ...]
    """The client events it covers."""
    rate: float
    """Events per second, sustained."""
    burst: int
    """Events at once."""
    scope: Scope
    message: str
    """What a refusal says."""
    hot: bool = False
    """A shared bucket on a path where a Redis round trip per event would cost throughput:
    shared a moment late instead of exactly (``Limits.limiter``)."""


UNKNOWN = "unknown"
"""The class of event names the server does not know (each answered ``bad_request``)."""

MODERATION = (
    "stage:invite",
    "stage:remove",
    "member:mute",
    "member:remove",
    "member:allow",
    "member:role",
    "host:handover",
    "room:lock",
    "room:waiting",
    "waiting:admit",
    "waiting:decline",
    "chat:enable",
    "chat:pin",
    "workshop:end",
    "recording:start",
    "recording:stop",
    "room:slow",
    "room:edit",
    "room:moderator",
    "reports:list",
    "report:resolve",
    "chat:versions",
    "audit:list",
)


TABLES = (
    "tables:open",
    "tables:move",
    "tables:choose",
    "tables:notice",
    "tables:close",
    "rounds:start",
    "rounds:join",
    "rounds:leave",
    "rounds:stop",
    "people:stay",
    "people:decline",
    "people:remove",
    "people:list",
    "card:get",
    "card:set",
    "card:share",
)


def allowances(settings: Settings) -> tuple[Allowance, ...]:
    """The budget: the class and bucket of every client event."""
    s, connection = settings, Scope.CONNECTION
    return (
        Allowance("chat", ("chat:send", "chat:edit", "chat:delete", "chat:report"), s.chat_rate,
                  s.chat_burst,
                  Scope.USER, "you are sending too fast; slow down", hot=True),
        Allowance("react", ("chat:react",), s.react_rate, s.react_burst, Scope.USER,
                  "too many reactions; slow down"),
        Allowance("join", ("room:join",), s.join_rate, s.join_burst, Scope.USER_AND_ADDRESS,
                  "too many joins; wait a moment"),
        # Each sfu:join builds a peer connection: as costly as a room:join, limited alike.
        Allowance("sfu-join", ("sfu:join",), s.join_rate, s.join_burst, Scope.USER,
                  "too many media sessions; wait a moment"),
        Allowance("create", ("room:create",), s.rooms_per_hour / 3600, s.rooms_per_hour,
                  Scope.USER, "you have created many rooms lately; wait a while"),
        Allowance("typing", ("chat:typing",), s.typing_rate, s.typing_burst, connection,
                  "too many typing notices; slow down"),
        Allowance("media", ("media:state",), s.media_rate, s.media_burst, connection,
                  "too many media changes; slow down"),
        Allowance("hand", ("hand:raise", "hand:lower"), s.hand_rate, s.hand_burst, connection,
                  "too many hands raised and lowered; slow down"),
        Allowance("signal", ("signal",), s.signal_rate, s.signal_burst, connection,
                  "too many signals; slow down"),
        Allowance("sfu", ("sfu:answer", "sfu:candidate", "sfu:leave"), s.sfu_rate,
                  s.sfu_burst, connection, "too many media session messages; slow down"),
        Allowance("read", ("room:list", "dm:list", "chat:history", "chat:search",
                           "search", "chat:changes", "chat:thread", "mentions:list",
                           "chat:pins", "profile:get", "profile:headlines", "online:list"),
                  s.read_rate,
                  s.read_burst, connection, "too many requests; slow down"),
        Allowance("room", ("room:leave", "goodbye", "dm:open", "user:block", "blocks:list",
                           "profile:set", "sessions:list", "session:revoke",
                           "sessions:revoke_others", "account:erase"),
                  s.room_rate, s.room_burst,
                  connection, "too many requests; slow down"),
        Allowance("moderation", MODERATION, s.moderation_rate, s.moderation_burst, connection,
                  "too many host actions; slow down"),
        Allowance("tables", TABLES, s.tables_rate, s.tables_burst, connection,
                  "too many table requests; slow down"),
        Allowance(UNKNOWN, (), s.unknown_rate, s.unknown_burst, connection,
                  "too many unknown events; slow down"),
    )  # fmt: skip


class Spending:
    """One connection's own buckets and its latest refusals (held by its ``Session``).

    Kept small, as every idle member holds one: the buckets are one array of doubles, made at
    the connection's first event, and the refusals' deque only at its first refusal.
    """

    __slots__ = ("buckets", "closing", "refusals", "refused")

    def __init__(self) -> None:
        self.buckets: array.array[float] | None = None
        """Per class ``i``, the tokens left (at ``2 i``) when last counted (at ``2 i + 1``,
        ``time.monotonic``); None until the connection's first event."""
        self.refusals: collections.deque[float] | None = None
        """When the latest refusals were, at most ``flood_refusals`` of them."""
        self.refused = 0
        """Refusals since the connection opened."""
        self.closing = False
        """Refused too often: being closed."""


class OverBudget(ProtocolError):
    """An event over its class's budget: ``rate_limited``, with ``retry_after`` seconds."""

    def __init__(self, allowance: Allowance, retry_after: float | None, spending: Spending) -> None:
        extra = {} if retry_after is None else {"retry_after": retry_after}
        super().__init__(Code.RATE_LIMITED, allowance.message, **extra)
        self.allowance = allowance
        self.first = spending.refused == 1
        """The connection's first refusal."""
        self.last = False
        """The refusal that makes ``flood_refusals`` within ``flood_window``: close it."""


class Budget:
    """Charges every client event to its class's bucket (``charge``)."""

    def __init__(self, settings: Settings, limits: Limits, max_users: int = 100_000) -> None:
        self.allowances = allowances(settings)
        self._class = {event: i for i, a in enumerate(self.allowances) for event in a.events}
        self._unknown = next(i for i, a in enumerate(self.allowances) if a.name == UNKNOWN)
        self._shared: dict[int, Limiter] = {
            i: limits.limiter(a.name, a.rate, a.burst, hot=a.hot)
            for i, a in enumerate(self.allowances)
            if a.scope is not Scope.CONNECTION
        }
        self.refusals = settings.flood_refusals
        self.window = settings.flood_window
        self._max_users = max_users
        self._spent: dict[str, float] = {}
        """Users whose connection was closed for flooding, and until when (``time.monotonic``)
        their next connections start with their own buckets empty."""

    @property
    def events(self) -> frozenset[str]:
        """The client events the budget names (any other counts as unknown)."""
        return frozenset(self._class)

    async def charge(self, spending: Spending, event: str, user: str, address: str) -> None:
        """Take a token for ``event`` from its bucket, or raise ``OverBudget``."""
        i = self._class.get(event, self._unknown)
        allowance = self.allowances[i]
        now = time.monotonic()
        buckets = spending.buckets
        if buckets is None:
            buckets = spending.buckets = self._open(user, now)
        limiter = self._shared.get(i)
        if limiter is None:
            rate = allowance.rate
            tokens = min(allowance.burst, buckets[2 * i] + (now - buckets[2 * i + 1]) * rate)
            buckets[2 * i + 1] = now
            if tokens >= 1.0:
                buckets[2 * i] = tokens - 1.0
                return
            buckets[2 * i] = tokens
            wait = (1.0 - tokens) / rate if rate > 0 else None
        else:
            if await limiter.allow(user) and (
                allowance.scope is not Scope.USER_AND_ADDRESS or await limiter.allow(address)
            ):
                return
            # A shared bucket may be drained by the user's other connections too: a hint.
            wait = 1.0 / allowance.rate if allowance.rate > 0 else None
        raise self._refuse(spending, allowance, user, wait, now)

    def _open(self, user: str, now: float) -> array.array[float]:
        """A connection's first event: its buckets, full unless the user just flooded."""
        spent = self._spent.get(user, 0.0) > now
        return array.array(
            "d", [v for a in self.allowances for v in (0.0 if spent else a.burst, now)]
        )

    def _refuse(
        self, spending: Spending, allowance: Allowance, user: str, wait: float | None, now: float
    ) -> OverBudget:
        spending.refused += 1
        refusals = spending.refusals
        if refusals is None:
            refusals = spending.refusals = collections.deque(maxlen=max(1, self.refusals))
        refusals.append(now)
        retry_after = math.ceil(wait * 10) / 10 if wait is not None else None
        over = OverBudget(allowance, retry_after, spending)
        if (
            not spending.closing
            and len(refusals) == refusals.maxlen
            and now - refusals[0] <= self.window
        ):
            spending.closing = over.last = True
            if len(self._spent) >= self._max_users:
                self._spent = {key: until for key, until in self._spent.items() if until > now}
            self._spent[user] = now + self.window
        return over
