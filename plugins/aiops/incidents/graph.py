"""The dependency map as correlation needs it: who calls whom, and how far apart two
services are.

Built from the trace analysis' edges (`dependency_edges`), caller -> callee. A failure
travels the other way, from a callee up to its callers, so grouping asks "are these two
services within `max_hops` calls of each other, in either direction" and the ranking walks
from a symptom toward what it calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiops.traces.model import Edge


@dataclass(frozen=True)
class DependencyGraph:
    callees: dict[str, dict[str, float]]  # caller -> {callee: weight}
    callers: dict[str, dict[str, float]]  # callee -> {caller: weight}
    window: str = ""  # which trace window the map comes from, for the record
    _distances: dict[str, dict[str, int]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_edges(
        cls, edges: Iterable[Edge], *, async_weight: float = 0.5, window: str = ""
    ) -> DependencyGraph:
        """Self-calls are dropped; an asynchronous edge (a queue) carries `async_weight` of a
        synchronous one's blame, since the producer does not wait for the consumer."""
        callees: dict[str, dict[str, float]] = {}
        callers: dict[str, dict[str, float]] = {}
        for e in edges:
            if e.parent == e.child:
                continue
            weight = async_weight if e.asynchronous else 1.0
            previous = callees.get(e.parent, {}).get(e.child, 0.0)
            weight = max(weight, previous)
            callees.setdefault(e.parent, {})[e.child] = weight
            callers.setdefault(e.child, {})[e.parent] = weight
        return cls(callees, callers, window)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], window: str = "") -> DependencyGraph:
        """caller -> callee pairs, all synchronous (tests, scenarios, hand-made maps)."""
        callees: dict[str, dict[str, float]] = {}
        callers: dict[str, dict[str, float]] = {}
        for parent, child in pairs:
            if parent != child:
                callees.setdefault(parent, {})[child] = 1.0
                callers.setdefault(child, {})[parent] = 1.0
        return cls(callees, callers, window)

    def __bool__(self) -> bool:
        return bool(self.callees)

    @property
    def services(self) -> set[str]:
        return set(self.callees) | set(self.callers)

    def calls(self, caller: str, callee: str) -> bool:
        return callee in self.callees.get(caller, {})

    def distance(self, a: str, b: str) -> int | None:
        """Calls between two services in either direction (0 for the same service); None
        when they are not connected or not in the map."""
        if a == b:
            return 0
        if a not in self._distances:
            self._distances[a] = self._bfs(a)
        return self._distances[a].get(b)

    def neighbours(self, service: str) -> set[str]:
        return set(self.callees.get(service, {})) | set(self.callers.get(service, {}))

    def edges_among(self, services: Iterable[str]) -> list[tuple[str, str, float]]:
        """(caller, callee, weight) of every edge with both ends in `services`, sorted."""
        inside = set(services)
        return sorted(
            (caller, callee, w)
            for caller in inside
            for callee, w in self.callees.get(caller, {}).items()
            if callee in inside
        )

    def connectors(self, services: Iterable[str], max_hops: int) -> set[str]:
        """Services outside `services` on a shortest path (at most `max_hops` long) between
        two of them: a quiet service in the middle of a chain belongs in the picture."""
        inside = sorted(set(services))
        out: set[str] = set()
        if max_hops < 2:
            return out
        for i, a in enumerate(inside):
            for b in inside[i + 1 :]:
                d = self.distance(a, b)
                if d is None or d < 2 or d > max_hops:
                    continue
                out |= {
                    s
                    for s in self.services - set(inside)
                    if (da := self.distance(a, s)) is not None
                    and (db := self.distance(s, b)) is not None
                    and da + db == d
                }
        return out

    def _bfs(self, source: str) -> dict[str, int]:
        seen = {source: 0}
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for nxt in sorted(self.neighbours(node)):
                if nxt not in seen:
                    seen[nxt] = seen[node] + 1
                    queue.append(nxt)
        return seen
