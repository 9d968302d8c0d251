"""Which service most likely started an incident, and how it reached the others.

Three pieces of evidence, each a number in [0, 1] per service, weighted into one score:

- **walk**: a random walk with restart over the incident's part of the dependency map. A
  walker standing on an anomalous service moves toward what it calls, in proportion to how
  anomalous each callee is (a caller's trouble is explained by its callee's), steps back to
  a caller with a smaller weight (the map is not the whole truth), and stays put in
  proportion to its strength only when none of its callees is anomalous (nothing below it
  explains it; a caller louder than its anomalous callee is still explained by it, since
  callers amplify). It restarts on the anomalies, weighted by their strength. Where the walker
  spends its time is where the anomaly drains to: the root. This is MicroRCA's and
  CloudRanger's idea, on the trace-derived map rather than a learned one.
  How an anomaly propagates depends on its signal's kind (events carry it): latency and
  errors flow from a callee up to its callers, so they draw the walker down to the callee;
  traffic flows down (a caller sending fewer or more requests moves its callee's rate), so
  a service whose only anomaly is its traffic sends the walker back to its callers and never
  holds it; saturation (CPU, memory) is a cause rather than a symptom: it draws the walker
  from the callers like latency does, and holds it whatever its own callees do. A kind the ranking does not know (a log, a forecast, a
  combination of signals, an event stored before kinds were) propagates like latency.
- **onset**: the share of the other services whose anomaly began later than this one's (a
  tie within `tolerance` counts half). Only onsets known to the minute take part.
- **strength**: the service's peak anomaly against the incident's largest.

A callee's failure can show weaker than its callers' (a cache 20 ms slower makes a page that
calls it thirty times 600 ms slower), which is why strength alone (the baseline this is
measured against) so often names a symptom. With no edges among the incident's services the
walk has nothing to walk on; the ranking then falls back to onset order and says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent

#: A quiet service still passes a walker on (a connector between two anomalous ones).
_QUIET = 0.05


@dataclass(frozen=True)
class RankingConfig:
    restart: float = 0.15  # probability the walker jumps back to the anomalies
    backward: float = 0.3  # weight of stepping back to a caller, against a callee's 1
    walk_weight: float = 0.6
    onset_weight: float = 0.3
    strength_weight: float = 0.1
    tolerance: timedelta = timedelta(seconds=30)  # onsets closer than this are a tie
    iterations: int = 500
    epsilon: float = 1e-10


@dataclass(frozen=True)
class Candidate:
    service: str
    score: float
    walk: float  # [0, 1], the walk's visit share against the most visited service
    onset: float  # [0, 1], share of the others that began later
    strength: float  # [0, 1], peak against the incident's largest
    peak: float  # robust sigma
    first_onset: datetime | None  # earliest known onset of its events
    signal: str  # its leading signal: the earliest, then the strongest
    signals: tuple[str, ...]
    role: str  # "root", "symptom", "unexplained", "shared callee" or "connector" (quiet, on a path)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["first_onset"] = self.first_onset.isoformat() if self.first_onset else None
        doc["signals"] = list(self.signals)
        for k in ("score", "walk", "onset", "strength", "peak"):
            doc[k] = round(doc[k], 4)
        return doc


@dataclass(frozen=True)
class ChainLink:
    service: str
    signal: str
    onset: datetime | None
    lag_seconds: float | None  # after the root's onset
    via: tuple[str, ...]  # the call path from the root up to this service

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "signal": self.signal,
            "onset": self.onset.isoformat() if self.onset else None,
            "lag_seconds": self.lag_seconds,
            "via": list(self.via),
        }


@dataclass(frozen=True)
class Ranking:
    method: str  # "random_walk" | "onset_order" | "single_service"
    note: str  # how the ranking was made, in a sentence
    candidates: tuple[Candidate, ...]  # best first
    chain: tuple[ChainLink, ...]  # root first, then the symptoms it explains, by onset
    confidence: float  # how clearly the first candidate beats the second

    @property
    def root(self) -> Candidate:
        return self.candidates[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "note": self.note,
            "confidence": round(self.confidence, 4),
            "candidates": [c.to_json() for c in self.candidates],
            "chain": [link.to_json() for link in self.chain],
        }


#: Signal kinds by how they propagate on the call graph (see the module docstring).
DOWNSTREAM_KINDS = frozenset({"traffic"})  # caller -> callee
LOCAL_KINDS = frozenset({"saturation"})  # stays where it is: points at a cause
#: The role of a quiet service every troubled service calls (see `_shared_callees`).
SHARED_CALLEE = "shared callee"


@dataclass(frozen=True)
class _Service:
    name: str
    peak: float
    onset: datetime | None
    signal: str
    signals: tuple[str, ...]
    upstream: float = 0.0  # peak of its latency, errors and unknown kinds (callee -> caller)
    downstream: float = 0.0  # peak of its traffic anomalies (caller -> callee)
    local: float = 0.0  # peak of its saturation anomalies


def rank_root_causes(
    events: Sequence[IncidentEvent],
    graph: DependencyGraph | None,
    config: RankingConfig = RankingConfig(),
    *,
    connectors: Sequence[str] = (),
) -> Ranking:
    """Rank the services of one incident's events as its root cause. `connectors` are
    quiet services on the map paths between them (see DependencyGraph.connectors)."""
    if not events:
        raise ValueError("rank_root_causes: an incident needs at least one event")
    services = _services(events)
    if len(services) == 1:
        return _single_service(services[0], events)
    onset = _onset_shares(services, config.tolerance)
    top = max(s.peak for s in services)
    strength = {s.name: s.peak / top if top > 0 else 0.0 for s in services}
    shared = _shared_callees(services, graph) if graph else []
    services += shared
    names = [s.name for s in services] + sorted(set(connectors) - {s.name for s in services})
    edges = graph.edges_among(names) if graph else []
    if not edges:
        why = (
            "no dependency map was available"
            if not graph
            else f"the dependency map{_of(graph)} has no edge between "
            + ", ".join(s.name for s in services)
        )
        return _onset_order(services, onset, strength, why)
    walk = _walk(names, edges, {s.name: s for s in services}, top, config)
    by_name = {s.name: s for s in services}
    candidates = []
    for name in names:
        s = by_name.get(name)
        if s is None or s in shared:  # a connector, or a quiet callee all the troubled share
            role = "connector" if s is None else SHARED_CALLEE
            score = config.walk_weight * walk[name] + (
                0.0 if s is None else 0.5 * config.onset_weight
            )
            candidates.append(Candidate(name, score, walk[name], 0.5, 0.0, 0.0, None, "", (),
                                        role))  # fmt: skip
            continue
        score = (
            config.walk_weight * walk[name]
            + config.onset_weight * onset[name]
            + config.strength_weight * strength[name]
        )
        candidates.append(Candidate(name, score, walk[name], onset[name], strength[name],
                                    s.peak, s.onset, s.signal, s.signals, "symptom"))  # fmt: skip
    anomalous = sorted(
        (c for c in candidates if c.role != "connector"),
        key=lambda c: (-round(c.score, 9), _onset_key(c.first_onset), -c.peak, c.service),
    )
    root = anomalous[0]
    chain, reached = _chain(root, by_name, graph, set(names))
    ranked = [
        _with_role(c, "root" if c is root else c.role if c.role == SHARED_CALLEE
                   else "symptom" if c.service in reached else "unexplained")
        for c in anomalous
    ]  # fmt: skip
    ranked += sorted((c for c in candidates if c.role == "connector"), key=lambda c: c.service)
    note = (
        f"random walk on the dependency map{_of(graph)} from the anomalous services toward "
        f"what they call, weighted by anomaly strength, plus onset order"
    )
    return Ranking("random_walk", note, tuple(ranked), chain, _confidence(ranked))


def _services(events: Sequence[IncidentEvent]) -> list[_Service]:
    by: dict[str, list[IncidentEvent]] = {}
    for e in events:
        by.setdefault(e.service, []).append(e)
    out = []
    for name, evs in sorted(by.items()):
        known = [e for e in evs if e.onset_known]
        lead = (
            min(known, key=lambda e: (e.start, -e.strength, e.signal))
            if known
            else max(evs, key=lambda e: (e.strength, e.signal))
        )
        signals = tuple(dict.fromkeys(e.signal for e in sorted(evs, key=_event_order)))

        def peak(kinds: frozenset[str] | None, evs: list[IncidentEvent] = evs) -> float:
            chosen = [e.strength for e in evs if (e.signal_kind in kinds if kinds is not None
                      else e.signal_kind not in DOWNSTREAM_KINDS | LOCAL_KINDS)]  # fmt: skip
            return max(chosen, default=0.0)

        out.append(
            _Service(name, max(e.strength for e in evs),
                     min((e.start for e in known), default=None), lead.signal, signals,
                     peak(None), peak(DOWNSTREAM_KINDS), peak(LOCAL_KINDS))
        )  # fmt: skip
    return out


def _shared_callees(services: list[_Service], graph: DependencyGraph) -> list[_Service]:
    """Quiet services that every service with latency or error trouble calls (two at least),
    when none of those calls another (nothing in the incident explains them): a callee that
    answers all of them slowly may have no signal of its own (a network delay leaves its
    metrics flat, an uninstrumented database has none). Each is drawn to like an anomalous
    callee as strong as the weakest of those callers, and restarts no walk."""
    troubled = [s for s in services if s.upstream > 0]
    names_troubled = {s.name for s in troubled}
    explained = any(set(graph.callees.get(s.name, {})) & names_troubled for s in troubled)
    if len(troubled) < 2 or explained:
        return []
    names = {s.name for s in services}
    common = set.intersection(*(set(graph.callees.get(s.name, {})) for s in troubled)) - names
    weakest = min(s.upstream for s in troubled)
    return [_Service(name, 0.0, None, "", (), upstream=weakest) for name in sorted(common)]


def _event_order(e: IncidentEvent) -> tuple:
    return (not e.onset_known, e.start, -e.strength, e.signal)


def _onset_shares(services: Sequence[_Service], tolerance: timedelta) -> dict[str, float]:
    known = [s for s in services if s.onset is not None]
    out = {}
    for s in services:
        others = [o for o in known if o.name != s.name]
        if s.onset is None or not others:
            out[s.name] = 0.5
            continue
        total = 0.0
        for o in others:
            gap = (o.onset - s.onset).total_seconds()
            total += 1.0 if gap > tolerance.total_seconds() else (
                0.5 if abs(gap) <= tolerance.total_seconds() else 0.0
            )  # fmt: skip
        out[s.name] = total / len(others)
    return out


def _walk(
    names: list[str],
    edges: list[tuple[str, str, float]],
    services: dict[str, _Service],
    top: float,
    config: RankingConfig,
) -> dict[str, float]:
    """Visit shares of the random walk with restart, scaled so the most visited is 1.

    Strengths are per kind and relative to the incident's largest (`top`): a callee draws
    the walker by all but its traffic (latency, errors, saturation); a service whose trouble
    is traffic sends it back to its callers in proportion to that share; a service holds it
    by its saturation always, and by its other trouble when no callee has any to explain
    it."""
    n = len(names)
    index = {name: i for i, name in enumerate(names)}

    def part(field: str) -> np.ndarray:
        values = [getattr(services[m], field) if m in services else 0.0 for m in names]
        return np.array(values) / top if top > 0 else np.zeros(n)

    a, up, down, local = part("peak"), part("upstream"), part("downstream"), part("local")
    draws = np.maximum(up, local)  # what explains a caller's trouble: all but traffic
    traffic_share = np.divide(down, a, out=np.zeros(n), where=a > 0) * (draws < down)
    weights = np.zeros((n, n))
    below = np.zeros(n)
    for caller, callee, w in edges:
        i, j = index[caller], index[callee]
        weights[i, j] += w * (draws[j] + _QUIET)  # toward what it calls
        # back to a caller: always a little (the map is not the whole truth), and as much as
        # a forward step when the callee's trouble is its traffic, which its caller drives
        weights[j, i] += (config.backward + traffic_share[j]) * w * (a[i] + _QUIET)
        below[i] = max(below[i], draws[j])
    weights[np.arange(n), np.arange(n)] += local + np.where(below > 0, 0.0, up)
    totals = weights.sum(axis=1)
    weights[totals == 0, :] = 0.0
    weights[totals == 0, np.flatnonzero(totals == 0)] = 1.0
    transition = weights / weights.sum(axis=1, keepdims=True)
    restart = a / a.sum() if a.sum() > 0 else np.full(n, 1.0 / n)
    visits = np.full(n, 1.0 / n)
    for _ in range(config.iterations):
        nxt = (1.0 - config.restart) * visits @ transition + config.restart * restart
        if np.abs(nxt - visits).sum() < config.epsilon:
            visits = nxt
            break
        visits = nxt
    visits = visits / visits.max()
    return {name: float(visits[index[name]]) for name in names}


def _chain(
    root: Candidate, by_name: dict[str, _Service], graph: DependencyGraph, inside: set[str]
) -> tuple[tuple[ChainLink, ...], set[str]]:
    """Paths from the root up through its callers, within the incident (connectors
    included); one link per anomalous service reached, by onset."""
    paths = {root.service: (root.service,)}
    queue = deque([root.service])
    while queue:
        node = queue.popleft()
        for caller in sorted(graph.callers.get(node, {})):
            if caller in inside and caller not in paths:
                paths[caller] = (*paths[node], caller)
                queue.append(caller)
    reached = {name for name in paths if name in by_name}
    links = [_link(by_name[name], root.first_onset, paths[name]) for name in reached]
    links.sort(key=lambda link: (link.service != root.service, _onset_key(link.onset),
                                 len(link.via), link.service))  # fmt: skip
    return tuple(links), reached


def _link(s: _Service, root_onset: datetime | None, via: tuple[str, ...]) -> ChainLink:
    lag = (s.onset - root_onset).total_seconds() if s.onset and root_onset else None
    return ChainLink(s.name, s.signal, s.onset, lag, via)


def _onset_order(
    services: list[_Service], onset: dict[str, float], strength: dict[str, float], why: str
) -> Ranking:
    ordered = sorted(services, key=lambda s: (_onset_key(s.onset), -s.peak, s.name))
    candidates = tuple(
        Candidate(s.name, 0.75 * onset[s.name] + 0.25 * strength[s.name], 0.0, onset[s.name],
                  strength[s.name], s.peak, s.onset, s.signal, s.signals,
                  "root" if i == 0 else "unexplained")
        for i, s in enumerate(ordered)
    )  # fmt: skip
    root = ordered[0]
    chain = tuple(_link(s, root.onset, ()) for s in ordered)
    note = f"{why}: ranked by onset (earliest first), then by strength"
    return Ranking("onset_order", note, candidates, chain, _confidence(list(candidates)))


def _single_service(s: _Service, events: Sequence[IncidentEvent]) -> Ranking:
    ordered = sorted(events, key=_event_order)
    first = ordered[0]
    origin = first.start if first.onset_known else None
    chain = tuple(
        ChainLink(s.name, e.signal, e.start if e.onset_known else None,
                  (e.start - origin).total_seconds() if origin and e.onset_known else None, ())
        for e in ordered
    )  # fmt: skip
    candidate = Candidate(s.name, 1.0, 1.0, 0.5, 1.0, s.peak, s.onset, s.signal, s.signals, "root")
    note = "one service: its signals in the order they moved"
    return Ranking("single_service", note, (candidate,), chain, 1.0)


def _with_role(c: Candidate, role: str) -> Candidate:
    return Candidate(**{**c.__dict__, "role": role})


def _confidence(ranked: list[Candidate]) -> float:
    """0.5 when the first two tie, toward 1 as the first pulls ahead."""
    if len(ranked) < 2 or ranked[0].score <= 0:
        return 1.0
    return 0.5 + 0.5 * max(0.0, ranked[0].score - ranked[1].score) / ranked[0].score


def _onset_key(onset: datetime | None) -> tuple[bool, float]:
    return (onset is None, onset.timestamp() if onset else 0.0)


def _of(graph: DependencyGraph | None) -> str:
    return f" of {graph.window}" if graph and graph.window else ""
