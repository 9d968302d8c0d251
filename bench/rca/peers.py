"""The rankings ours is measured against, on the same events and the same call graph.

- largest anomaly first: a service's peak |strength| (the baseline the current ranking's
  docstring says names a symptom so often);
- earliest onset first, ties by strength;
- personalised PageRank on the call graph (MicroRCA's family): rank flows from a caller to
  what it calls, i.e. against the way a failure travels (callee -> caller), restarting on
  each service in proportion to its peak strength;
- random: every service equally likely; its expected AC@k, k/n, is in bench.rca.scoring.

Each peer is a `RankFn` (bench.rca.replay), so ours and the peers are called the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent


def peak_strength(events: Sequence[IncidentEvent]) -> dict[str, float]:
    """Service -> its largest |strength| over the events."""
    out: dict[str, float] = {}
    for e in events:
        out[e.service] = max(out.get(e.service, 0.0), abs(e.strength))
    return out


def largest_anomaly(events: Sequence[IncidentEvent], graph: DependencyGraph) -> list[str]:
    """Services by peak strength, largest first (ties by name)."""
    peaks = peak_strength(events)
    return sorted(peaks, key=lambda s: (-peaks[s], s))


def earliest_onset(events: Sequence[IncidentEvent], graph: DependencyGraph) -> list[str]:
    """Services by their first event's start, earliest first; ties by peak strength."""
    peaks = peak_strength(events)
    first: dict[str, float] = {}
    for e in events:
        first[e.service] = min(first.get(e.service, np.inf), e.start.timestamp())
    return sorted(first, key=lambda s: (first[s], -peaks[s], s))


@dataclass(frozen=True)
class PageRankConfig:
    damping: float = 0.85
    floor: float = 0.0  # personalisation of a service without events
    iterations: int = 1000
    tolerance: float = 1e-12


def personalised_pagerank(
    edges: Sequence[tuple[str, str]],
    personalisation: Mapping[str, float],
    config: PageRankConfig = PageRankConfig(),
) -> dict[str, float]:
    """PageRank over the directed `edges` (rank flows from the first of a pair to the
    second), teleporting by `personalisation` (normalised; nodes missing from it get
    `config.floor`). A node without out-edges hands its rank back by the personalisation,
    as networkx does. Empty when the personalisation is all zero."""
    nodes = sorted({n for edge in edges for n in edge} | set(personalisation))
    index = {n: i for i, n in enumerate(nodes)}
    p = np.array([max(personalisation.get(n, config.floor), 0.0) for n in nodes], dtype=float)
    if not nodes or p.sum() <= 0:
        return {}
    p /= p.sum()
    out = np.zeros((len(nodes), len(nodes)))
    for a, b in edges:
        if a != b:
            out[index[a], index[b]] = 1.0
    degree = out.sum(axis=1)
    transition = np.divide(out, degree[:, None], out=np.zeros_like(out), where=degree[:, None] > 0)
    dangling = degree == 0
    rank = p.copy()
    d = config.damping
    for _ in range(config.iterations):
        nxt = d * (rank @ transition + rank[dangling].sum() * p) + (1.0 - d) * p
        done = np.abs(nxt - rank).sum() < config.tolerance
        rank = nxt
        if done:
            break
    return {n: float(rank[index[n]]) for n in nodes}


def pagerank(events: Sequence[IncidentEvent], graph: DependencyGraph) -> list[str]:
    """Every service of the graph (and of the events) by personalised PageRank, highest
    first; ties by name. Empty without events."""
    edges = [(caller, callee) for caller, callee, _ in graph.edges_among(graph.services)]
    scores = personalised_pagerank(edges, peak_strength(events))
    return sorted(scores, key=lambda s: (-round(scores[s], 12), s))
