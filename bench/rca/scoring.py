"""AC@k and Avg@5 as the RCA literature scores them.

AC@k is the share of faults whose root-cause service is among a ranking's top k; Avg@5 is
the mean of AC@1..AC@5. A root absent from the ranking (no event, so nothing to rank) is a
miss at every k. Each fault is kept as its hits at k = 1..5 (a number in [0, 1], so the
random peer's expectation, k/n, sits beside the rankings' 0s and 1s).
"""

from __future__ import annotations

from collections.abc import Sequence

KS = (1, 2, 3, 4, 5)


def hits(ranking: Sequence[str], root: str, ks: Sequence[int] = KS) -> tuple[float, ...]:
    """1.0 at each k whose top k holds the root, else 0.0."""
    ranked = list(ranking)
    position = ranked.index(root) + 1 if root in ranked else None
    return tuple(1.0 if position is not None and position <= k else 0.0 for k in ks)


def random_hits(n: int, ks: Sequence[int] = KS) -> tuple[float, ...]:
    """The expected hits of a uniformly random ranking of n services: min(k, n) / n."""
    if n < 1:
        raise ValueError(f"random_hits: need at least one service, got {n}")
    return tuple(min(k, n) / n for k in ks)


def ac_at(per_fault: Sequence[Sequence[float]], k: int, ks: Sequence[int] = KS) -> float | None:
    """AC@k over faults; None without faults."""
    if not per_fault:
        return None
    i = list(ks).index(k)
    return sum(h[i] for h in per_fault) / len(per_fault)


def avg_at_5(per_fault: Sequence[Sequence[float]], ks: Sequence[int] = KS) -> float | None:
    """The mean of AC@1..AC@5; None without faults."""
    if not per_fault:
        return None
    values = [ac_at(per_fault, k, ks) for k in range(1, 6)]
    return sum(v for v in values if v is not None) / 5


def rank_of(ranking: Sequence[str], root: str) -> int | None:
    """The root's 1-based place in the ranking; None when absent."""
    ranked = list(ranking)
    return ranked.index(root) + 1 if root in ranked else None
