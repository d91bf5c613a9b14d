"""The clients of Engine.IO sessions, counted per address from the request that opens each
session until the session ends.

Counting Socket.IO connections once their CONNECT was accepted left two gaps: a check made
before an awaited look-up, with the count raised only after it, let simultaneous CONNECTs all
pass; and Engine.IO sessions that never send a CONNECT were not counted at all. Here a place
is taken, or refused, in one step with nothing awaited in between, as the request that opens
a session comes in (``Engine._open``), and given back when engineio forgets the session.
"""

from __future__ import annotations

import collections
import dataclasses

REFUSED = 2
"""Past this many times ``Peers.cap`` sessions from one address, a new one is refused outright
(HTTP 429) instead of opened and then refused at its Socket.IO CONNECT."""


@dataclasses.dataclass(slots=True)
class Peer:
    """What the engine knows of the client of one session (its socket's ``peer``)."""

    address: str
    """The client's address: what its session counts against."""
    admitted: bool
    """Opened while fewer than ``Peers.cap`` sessions from its address were open: it may
    connect to Socket.IO (the others are refused ``rate_limited``)."""
    sid: str | None = None
    """The session it is the client of, once engineio made it."""
    strikes: int = 0
    """Packets refused without closing the connection (``Engine.strike``)."""
    identified: bool = False
    """Its session connected to Socket.IO once (``Engine.connected``): it carried one
    identity, and may carry no other."""


class Peers:
    """Sessions open from each address: ``cap`` admitted, as many more opened to be refused
    at their CONNECT, none past that."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open: collections.Counter[str] = collections.Counter()
        """Sessions open, and being opened, from each address."""

    def enter(self, address: str) -> Peer | None:
        """A place for a session of ``address``, or None: it has too many."""
        count = self.open[address]
        if count >= REFUSED * self.cap:
            return None
        self.open[address] = count + 1
        return Peer(address, admitted=count < self.cap)

    def leave(self, peer: Peer) -> None:
        """``peer``'s session ended, or never came to be: its place is free."""
        count = self.open[peer.address] - 1
        if count > 0:
            self.open[peer.address] = count
        else:
            del self.open[peer.address]
