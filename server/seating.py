"""Seating: who sits with whom at the tables of a speed-networking round or a breakout.

Pure functions over names (no I/O, no clock, no imports from the rest of the server): the
caller passes the people present now, the pairs who already sat together (``met``, grown
with ``pairs`` after each round) and a ``random.Random``, and stores what comes back. People
who arrive or leave between rounds are simply the next call's ``people``.

- ``sizes(n, size)``: the tables a round of ``n`` people gets at ``size`` (2, 3 or 4).
  ``n // size`` tables, the remainder joining some of them (a table of ``size + 1``: with
  pairs and an odd count, one table of 3); when the remainder is more than the tables can
  take, one more table and balanced sizes (6 at tables of 4: 3 and 3). Sizes differ by at
  most one, no table is ever larger than ``size + 1``, and nobody sits alone.
- ``seat(people, size, met, rng)``: one round's tables, with as few repeated pairs (two
  people at one table who are in ``met``) as it can find. The search runs in an order
  drawn from ``rng``, so any of the equally good seatings can come out (not each with the
  same chance) and rounds differ; the same ``rng`` state gives the same seating. It can
  take a second or two for a few hundred people (below), so a caller on an event loop
  may want to run it in a thread.
- ``round_robin(people, rng)``: a whole series of pairs planned ahead for a fixed, even
  group: ``n - 1`` rounds in which everybody meets everybody exactly once (the circle
  method: one person stays, the others rotate). No round-by-round choice can promise that
  (after three rounds of six people the pairs left may form two triangles), so a series
  whose group does not change should follow this plan, and call ``seat`` with the plan's
  ``pairs`` in ``met`` from the first round the group changes.
- ``split(people, tables=|size=, rng)``: breakout tables at random, balanced.
- ``pairs(tables)``: the pairs a seating puts together; ``repeats(tables, met)``: how many
  of them already met.

What ``seat`` guarantees:

- Always: every person at exactly one table, the tables of ``sizes``, nobody alone.
- Up to ``EXACT`` (12) people: the fewest repeated pairs possible, found by an exhaustive
  search (pruned by the best seating so far; it stops at the first seating without a repeat).
  So nobody meets somebody again while a seating without that exists.
  Costs at most about 0.2 s (12 people who have all met: no branch can be cut short).
- Beyond: best effort. A greedy seating repaired by swapping two people between tables
  while that lowers the count (and sideways moves, random kicks, restarts, within a fixed
  budget of 40 swaps per person, so the result depends only on the arguments and the
  ``rng``'s state). A seating without a repeat surely exists while everybody present has
  met fewer people present than the round has tables (Hajnal-Szemeredi: a graph of
  maximum degree d has an equitable colouring with any k > d colours; the graph is
  ``met``, the colours the tables). In that range the search has not been seen to miss:
  ``bench/seating.py --rounds 40 --seeds 3 --graphs 50`` (13 to 300 people, tables of 2, 3
  and 4) gave no repeat in 945 such rounds of series and in 900 random ``met`` at the
  theorem's limit. Series of pairs went on without a repeat far beyond it (24 people: all
  23 rounds; 50 to 300: all 40 asked for). A round took a median of 25 to 55 ms for 300
  people; a round that spends the whole budget without finding a seating free of repeats
  (none may exist) took up to 2 s for 100 people at tables of 4.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Sequence

EXACT = 12
"""Up to this many people ``seat`` searches every seating."""

SIZES = (2, 3, 4)
"""The table sizes of a speed-networking round."""

_STEPS_PER_PERSON = 40
"""The repair's budget: this many swaps per person, over all restarts."""

_RESTARTS = 4


def sizes(n: int, size: int) -> list[int]:
    """The table sizes for ``n`` people at tables of ``size``, largest first."""
    if size < 2:
        raise ValueError(f"a table seats at least 2, not {size}")
    if n == 0:
        return []
    if n == 1:
        raise ValueError("one person cannot be seated: nobody sits alone")
    tables, extra = divmod(n, size)
    if extra > tables:
        tables += 1
    return _balanced(n, tables)


def _balanced(n: int, tables: int) -> list[int]:
    base, extra = divmod(n, tables)
    return [base + 1] * extra + [base] * (tables - extra)


def pairs(tables: Iterable[Sequence[str]]) -> set[frozenset[str]]:
    """Every pair of people the seating puts at one table (to add to ``met``)."""
    return {
        frozenset((a, b)) for table in tables for i, a in enumerate(table) for b in table[i + 1 :]
    }


def repeats(tables: Iterable[Sequence[str]], met: Collection[frozenset[str]]) -> int:
    """How many pairs at the seating's tables are in ``met``."""
    return sum(1 for pair in pairs(tables) if pair in met)


def split(
    people: Sequence[str],
    *,
    tables: int | None = None,
    size: int | None = None,
    rng: random.Random,
) -> list[list[str]]:
    """Breakout tables: ``tables`` of them, or as many as make tables of about ``size``.

    People are assigned at random; sizes differ by at most one. With ``size``, the number of
    tables is ``round(n / size)`` (at least one), so tables hold ``size`` give or take a bit:
    10 people at size 4 make 3 tables (4, 3, 3). Never an empty table: with more ``tables``
    than people, there are as many tables as people.
    """
    n = len(people)
    if tables is not None and size is None:
        if tables < 1:
            raise ValueError(f"at least one table, not {tables}")
        count = tables
    elif size is not None and tables is None:
        if size < 1:
            raise ValueError(f"a table seats at least one, not {size}")
        count = max(1, round(n / size))
    else:
        raise ValueError("give either tables or size")
    if n == 0:
        return []
    order = list(people)
    rng.shuffle(order)
    return _cut(order, _balanced(n, min(count, n)))


def _cut(order: Sequence[str], table_sizes: Sequence[int]) -> list[list[str]]:
    out, start = [], 0
    for length in table_sizes:
        out.append(list(order[start : start + length]))
        start += length
    return out


def round_robin(people: Sequence[str], rng: random.Random) -> list[list[list[str]]]:
    """``n - 1`` rounds of pairs for an even group: everybody meets everybody once.

    The circle method: one person (chosen at random) stays put, the others sit on a circle
    that turns by one seat each round. The people are shuffled first, so two series differ.
    """
    n = len(people)
    if n % 2 or len(set(people)) != n:
        raise ValueError(f"a round robin needs an even number of distinct people, not {n}")
    if n == 0:
        return []
    order = list(people)
    rng.shuffle(order)
    fixed, circle = order[0], order[1:]
    rounds = []
    for turn in range(n - 1):
        ring = circle[turn:] + circle[:turn]
        tables = [[fixed, ring[0]]]
        tables += [[ring[i], ring[-i]] for i in range(1, n // 2)]
        rng.shuffle(tables)
        rounds.append(tables)
    return rounds


def seat(
    people: Sequence[str],
    size: int,
    met: Collection[frozenset[str]],
    rng: random.Random,
) -> list[list[str]]:
    """One round's tables: the tables of ``sizes``, as few repeated pairs as found.

    Exact up to ``EXACT`` people, best effort beyond (the module's docstring says what that
    means). ``met`` may hold pairs of people who are not in ``people``; they are ignored.
    """
    if size not in SIZES:
        raise ValueError(f"tables of {size}: the sizes are {SIZES}")
    if len(set(people)) != len(people):
        raise ValueError("somebody is named twice")
    table_sizes = sizes(len(people), size)
    order = list(people)
    rng.shuffle(order)
    known = _known(order, met)
    if len(order) <= EXACT:
        return _exact(order, table_sizes, known)
    return _repair(order, table_sizes, known, rng)


def _known(people: Sequence[str], met: Collection[frozenset[str]]) -> dict[str, set[str]]:
    """Whom each person present has met, among those present."""
    here = set(people)
    known: dict[str, set[str]] = {p: set() for p in people}
    for pair in met:
        if len(pair) == 2 and pair <= here:
            a, b = pair
            known[a].add(b)
            known[b].add(a)
    return known


def _exact(order: list[str], table_sizes: list[int], known: dict[str, set[str]]) -> list[list[str]]:
    """The first seating with the fewest repeats, in the (shuffled) order of ``order``.

    The person first in line opens a table of each size still to fill, with each choice of
    companions among those left; a branch ends as soon as it has as many repeats as the best
    seating found, and the search ends at the first seating without one.
    """
    best: list[list[list[str]]] = []
    bound = [len(order) * len(order)]
    tables: list[list[str]] = []

    def search(left: list[str], todo: list[int], cost: int) -> bool:
        if not left:
            bound[0] = cost
            best[:] = [[list(t) for t in tables]]
            return cost == 0
        head, rest = left[0], left[1:]
        for length in sorted(set(todo), reverse=True):
            remaining = list(todo)
            remaining.remove(length)
            for mates in _choose(rest, length - 1):
                table = [head, *mates]
                added = sum(1 for i, a in enumerate(table) for b in table[i + 1 :] if b in known[a])
                if cost + added >= bound[0]:
                    continue
                tables.append(table)
                chosen = set(mates)
                done = search([p for p in rest if p not in chosen], remaining, cost + added)
                tables.pop()
                if done:
                    return True
        return False

    search(order, table_sizes, 0)
    return best[0]


def _choose(pool: list[str], k: int) -> Iterable[list[str]]:
    """Every ``k`` of ``pool``, in ``pool``'s order."""
    if k == 0:
        yield []
        return
    for i in range(len(pool) - k + 1):
        for tail in _choose(pool[i + 1 :], k - 1):
            yield [pool[i], *tail]


def _repair(
    order: list[str],
    table_sizes: list[int],
    known: dict[str, set[str]],
    rng: random.Random,
) -> list[list[str]]:
    """Greedy seating, then swaps between tables that lower the repeats, with restarts."""
    budget = _STEPS_PER_PERSON * len(order)
    best: list[list[str]] = []
    best_cost = -1
    for attempt in range(_RESTARTS):
        tables = _greedy(order, table_sizes, known, rng)
        cost, budget = _improve(tables, known, rng, budget // (_RESTARTS - attempt))
        if best_cost < 0 or cost < best_cost:
            best, best_cost = [list(t) for t in tables], cost
        if best_cost == 0 or budget <= 0:
            break
        rng.shuffle(order)
    return best


def _greedy(
    order: list[str], table_sizes: list[int], known: dict[str, set[str]], rng: random.Random
) -> list[list[str]]:
    """Fill the tables one by one, each with people who have met nobody at it yet.

    The person who has met the most people among those still standing opens each table:
    the hardest to place goes first, while there is still a choice.
    """
    standing = list(order)
    tables: list[list[str]] = []
    for length in table_sizes:
        standing.sort(key=lambda p: len(known[p]), reverse=True)
        table = [standing.pop(0)]
        while len(table) < length:
            fits = [i for i, p in enumerate(standing) if not any(q in known[p] for q in table)]
            pick = rng.choice(fits) if fits else rng.randrange(len(standing))
            table.append(standing.pop(pick))
        tables.append(table)
    return tables


def _improve(
    tables: list[list[str]], known: dict[str, set[str]], rng: random.Random, steps: int
) -> tuple[int, int]:
    """Swap people between tables while that lowers the repeats; returns (repeats, steps left).

    Each step takes a person with a repeat at their table and swaps them with whoever,
    elsewhere, lowers the count most (a swap that keeps it, if none lowers it; a random
    one, if neither exists: a way off a plateau). Leaves in ``tables`` the best seating seen.
    """
    where = {p: t for t, table in enumerate(tables) for p in table}

    def clashes(person: str, table: list[str], without: str) -> int:
        return sum(1 for q in table if q != person and q != without and q in known[person])

    cost = sum(clashes(p, table, p) for table in tables for p in table) // 2
    lowest_cost, kept = cost, [list(t) for t in tables]
    while cost and steps > 0:
        steps -= 1
        stuck = [p for table in tables for p in table if clashes(p, table, p)]
        p = rng.choice(stuck)
        home = tables[where[p]]
        lose = clashes(p, home, p)
        moves: list[tuple[int, str]] = []
        for t, table in enumerate(tables):
            if t == where[p]:
                continue
            for q in table:
                delta = clashes(q, home, p) - lose + clashes(p, table, q) - clashes(q, table, q)
                moves.append((delta, q))
        lowest = min(delta for delta, _ in moves)
        if lowest > 0:
            _, q = rng.choice(moves)
        else:
            q = rng.choice([q for delta, q in moves if delta == lowest])
        delta = next(d for d, other in moves if other == q)
        there = tables[where[q]]
        home[home.index(p)], there[there.index(q)] = q, p
        where[p], where[q] = where[q], where[p]
        cost += delta
        if cost < lowest_cost:
            lowest_cost, kept = cost, [list(t) for t in tables]
    tables[:] = kept
    return lowest_cost, steps
