"""The service dependency map: who calls whom, how often, how fast, how often it fails.

An edge is counted where a span's parent belongs to another service (the callee's span under
the caller's), and where a client span names a `peer.service` that recorded no span of its own
(a database, a cache, a third-party API). Maps are stored per day; `diff_edges` says what
changed from one day to the next: new and vanished dependencies, latency and error shifts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aiops.traces.model import Edge, Trace


@dataclass
class _EdgeData:
    durations: list[int] = field(default_factory=list)  # microseconds
    errors: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    instrumented: bool = False
    asynchronous: bool = False


class DependencyMap:
    """Accumulates edges trace by trace; `edges()` summarises them."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], _EdgeData] = {}
        self.service_traces: Counter[str] = Counter()  # traces each service (or peer) is in
        self.service_weight: Counter[str] = Counter()  # ... each scaled by 1 / sampling rate
        self.service_examples: dict[str, list[str]] = {}

    def add(self, trace: Trace) -> None:
        spans = trace.spans
        data = self._data
        touched: set[str] = set()
        for span in spans:
            touched.add(span.service)
            if span.parent >= 0:
                parent = spans[span.parent]
                if parent.service != span.service:
                    edge = data.get((parent.service, span.service))
                    if edge is None:
                        edge = data[(parent.service, span.service)] = _EdgeData()
                    edge.durations.append(span.duration)
                    edge.errors += span.error
                    edge.operations[span.operation] += 1
                    edge.instrumented = True
                    edge.asynchronous = edge.asynchronous or span.follows
            if span.peer and span.peer != span.service and (span.kind in ("client", "producer")):
                if any(spans[c].service != span.service for c in span.children):
                    continue
                touched.add(span.peer)
                edge = data.get((span.service, span.peer))
                if edge is None:
                    edge = data[(span.service, span.peer)] = _EdgeData()
                edge.durations.append(span.duration)
                edge.errors += span.error
                edge.operations[span.statement or span.operation] += 1
                edge.asynchronous = edge.asynchronous or span.kind == "producer"
        self.service_traces.update(touched)
        weight = 1.0 / trace.sampling_rate if trace.sampling_rate else 1.0
        for service in touched:
            self.service_weight[service] += weight
        for service in touched:
            examples = self.service_examples.setdefault(service, [])
            if len(examples) < 3 or trace.trace_id < examples[-1]:
                examples.append(trace.trace_id)
                examples.sort()
                del examples[3:]

    def edges(self) -> list[Edge]:
        out = []
        for (parent, child), edge in sorted(self._data.items()):
            q = np.quantile(np.asarray(edge.durations, dtype=np.float64), [0.5, 0.95, 0.99])
            ops = sorted(edge.operations.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(
                Edge(
                    parent=parent,
                    child=child,
                    call_count=len(edge.durations),
                    error_count=edge.errors,
                    p50_ms=float(q[0]) / 1000.0,
                    p95_ms=float(q[1]) / 1000.0,
                    p99_ms=float(q[2]) / 1000.0,
                    operations=tuple(op for op, _ in ops[:10]),
                    instrumented=edge.instrumented,
                    asynchronous=edge.asynchronous,
                )
            )
        return out


@dataclass(frozen=True)
class EdgeDiff:
    new: list[Edge]
    vanished: list[Edge]
    shifts: list[dict[str, Any]]  # p95 or error-rate changes worth a look

    def to_json(self) -> dict[str, Any]:
        return {
            "new": [f"{e.parent} -> {e.child}" for e in self.new],
            "vanished": [f"{e.parent} -> {e.child}" for e in self.vanished],
            "shifts": self.shifts,
        }

    def __bool__(self) -> bool:
        return bool(self.new or self.vanished or self.shifts)


def diff_edges(
    previous: list[Edge],
    current: list[Edge],
    *,
    latency_ratio: float = 1.5,
    latency_min_ms: float = 5.0,
    error_rate_delta: float = 0.02,
) -> EdgeDiff:
    """What changed between two days' maps. A latency shift is a p95 that moved by more than
    ``latency_ratio`` and ``latency_min_ms`` (small edges jitter by large ratios); an error
    shift is an error rate that moved by more than ``error_rate_delta``."""
    before = {(e.parent, e.child): e for e in previous}
    after = {(e.parent, e.child): e for e in current}
    shifts = []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        low, high = sorted((old.p95_ms, new.p95_ms))
        if high - low >= latency_min_ms and high >= latency_ratio * max(low, 1e-9):
            shifts.append(
                {
                    "edge": f"{key[0]} -> {key[1]}",
                    "what": "p95_ms",
                    "before": round(old.p95_ms, 3),
                    "after": round(new.p95_ms, 3),
                }
            )
        if abs(new.error_rate - old.error_rate) >= error_rate_delta:
            shifts.append(
                {
                    "edge": f"{key[0]} -> {key[1]}",
                    "what": "error_rate",
                    "before": round(old.error_rate, 4),
                    "after": round(new.error_rate, 4),
                }
            )
    return EdgeDiff(
        new=[after[k] for k in sorted(after.keys() - before.keys())],
        vanished=[before[k] for k in sorted(before.keys() - after.keys())],
        shifts=shifts,
    )
