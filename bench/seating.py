"""How long ``server.seating.seat`` takes, and how often it repeats a pair it could have avoided.

    PYTHONPATH=. .venv/bin/python bench/seating.py [--rounds 40] [--seeds 3] [--people 13 24 ...]

For each group size and table size, ``--seeds`` series of rounds for a fixed group, each
round's pairs added to ``met``, calling ``seat`` alone (no ``round_robin``):

- ``sure``: the rounds, over all series, that began with everybody having met fewer people
  than the round has tables. A seating without a repeat then exists whatever came before
  (Hajnal-Szemeredi: a graph of maximum degree d has an equitable colouring with any k > d
  colours; here the graph is ``met``, the colours the tables). ``missed``: how many of those
  rounds ``seat`` still gave a repeated pair. This is the measured rate the module's
  docstring quotes.
- ``clean``: per series, the rounds before the first repeated pair, out of ``max`` (the
  rounds asked for, at most ``(n - 1) // (size - 1)``, the most any series could have).
- the time per round in milliseconds: median and slowest (the slowest is a round where no
  seating without a repeat was found and the repair spent its whole budget).

Then, for ``--graphs`` random ``met`` per line, the hardest case the theorem covers: pairs
met at random (not by rounds) until everybody has met up to one fewer people than the
round has tables; ``missed``: how many of those rounds got a repeat anyway.

No test asserts any of this; the module's docstring quotes one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from server.seating import pairs, repeats, seat, sizes


def series(n: int, size: int, rounds: int, seed: int) -> tuple[int, int, int, list[float]]:
    """(sure rounds, sure rounds with a repeat, rounds before the first repeat, times)."""
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(n)]
    met: set[frozenset[str]] = set()
    seen = {p: 0 for p in people}
    sure = missed = clean = 0
    repeated = False
    times = []
    for _ in range(rounds):
        certain = max(seen.values()) < len(sizes(n, size))
        start = time.perf_counter()
        tables = seat(people, size, met, rng)
        times.append(time.perf_counter() - start)
        again = repeats(tables, met)
        sure += certain
        missed += certain and again > 0
        repeated = repeated or again > 0
        clean += not repeated
        new = pairs(tables) - met
        for pair in new:
            for p in pair:
                seen[p] += 1
        met |= new
    return sure, missed, clean, times


def random_met(people: list[str], most: int, rng: random.Random) -> set[frozenset[str]]:
    """Random pairs, nobody in more than ``most`` of them."""
    seen = dict.fromkeys(people, 0)
    met: set[frozenset[str]] = set()
    for _ in range(3 * most * len(people)):
        a, b = rng.sample(people, 2)
        pair = frozenset((a, b))
        if pair not in met and seen[a] < most and seen[b] < most:
            met.add(pair)
            seen[a] += 1
            seen[b] += 1
    return met


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--graphs", type=int, default=50)
    parser.add_argument("--people", type=int, nargs="*", default=[13, 24, 50, 100, 200, 300])
    args = parser.parse_args()
    print("people size  sure missed   max clean(per series)     ms/round(median, slowest)")
    for n in args.people:
        for size in (2, 3, 4):
            most = min(args.rounds, (n - 1) // (size - 1))
            sure = missed = 0
            cleans, times = [], []
            for seed in range(args.seeds):
                s, m, c, t = series(n, size, most, seed)
                sure, missed = sure + s, missed + m
                cleans.append(c)
                times += t
            print(
                f"{n:6} {size:4} {sure:5} {missed:6} {most:5} {' '.join(map(str, cleans)):20}"
                f"{statistics.median(times) * 1000:8.1f}, {max(times) * 1000:.1f}"
            )
    print("\npeople size tables random-met missed  ms/round(median, slowest)")
    for n in args.people:
        people = [f"p{i}" for i in range(n)]
        for size in (2, 3, 4):
            tables = len(sizes(n, size))
            missed, times = 0, []
            for seed in range(args.graphs):
                rng = random.Random(seed)
                met = random_met(people, tables - 1, rng)
                start = time.perf_counter()
                seating = seat(people, size, met, rng)
                times.append(time.perf_counter() - start)
                missed += repeats(seating, met) > 0
            print(
                f"{n:6} {size:4} {tables:6} {args.graphs:10} {missed:6}"
                f"{statistics.median(times) * 1000:10.1f}, {max(times) * 1000:.1f}"
            )


if __name__ == "__main__":
    main()
