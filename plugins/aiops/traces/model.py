"""The shapes trace analytics works on: a parsed span, a parsed trace, a dependency edge.

A span here is a flat record with its parent as an index into the trace's span list, so the
analyses walk lists of small objects instead of the query API's nested dicts. Times stay in
integer microseconds, as Jaeger sends them, until a number is reported in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Span kinds as OpenTracing / OpenTelemetry tag them (`span.kind`); "" when untagged.
CLIENT_KINDS = frozenset({"client", "producer"})


@dataclass(slots=True, eq=False)
class Span:
    span_id: str
    service: str
    operation: str
    start: int  # unix microseconds
    duration: int  # microseconds, >= 0
    parent: int = -1  # index of the parent span in Trace.spans; -1 for a root
    follows: bool = False  # the parent reference is FOLLOWS_FROM (asynchronous)
    kind: str = ""  # span.kind: server, client, producer, consumer, internal or ""
    error: bool = False  # error tag, otel.status_code=ERROR or an HTTP 5xx status
    peer: str = ""  # peer.service (or db.system when that is all a client span names)
    statement: str = ""  # db.statement, normalised (literals replaced by ?)
    http_method: str = ""
    error_message: str = ""  # error.kind and message from the span's logs, for error spans
    children: list[int] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass(slots=True, eq=False)
class Trace:
    trace_id: str
    spans: list[Span]
    roots: list[int]  # indices of spans without a parent inside the trace, by start time
    sampling_rate: float | None = None  # probabilistic sampler.param of the root, when tagged
    warnings: tuple[str, ...] = ()

    @property
    def start(self) -> int:
        return min(s.start for s in self.spans)

    @property
    def end(self) -> int:
        return max(s.end for s in self.spans)

    @property
    def duration(self) -> int:
        return self.end - self.start

    def root(self) -> Span:
        """The entry span: the longest root (several roots happen when a parent was lost)."""
        return max((self.spans[i] for i in self.roots), key=lambda s: (s.duration, -s.start))


@dataclass(frozen=True, slots=True)
class Edge:
    """Calls from one service to another over an analysis window.

    ``instrumented`` is False for a dependency seen only as a client span's ``peer.service``
    (a database, a cache, a third-party API): its latency is the caller's client span.
    Otherwise the latency is the callee's span (its server or consumer side).
    """

    parent: str
    child: str
    call_count: int
    error_count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    operations: tuple[str, ...]  # the callee's operations, most called first
    instrumented: bool = True
    asynchronous: bool = False  # reached through FOLLOWS_FROM (a queue, a fire-and-forget)

    @property
    def error_rate(self) -> float:
        return self.error_count / self.call_count if self.call_count else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "child": self.child,
            "call_count": self.call_count,
            "error_count": self.error_count,
            "error_rate": round(self.error_rate, 6),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "operations": list(self.operations),
            "instrumented": self.instrumented,
            "asynchronous": self.asynchronous,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Edge:
        return cls(
            parent=str(doc["parent"]),
            child=str(doc["child"]),
            call_count=int(doc["call_count"]),
            error_count=int(doc["error_count"]),
            p50_ms=float(doc["p50_ms"]),
            p95_ms=float(doc["p95_ms"]),
            p99_ms=float(doc["p99_ms"]),
            operations=tuple(doc.get("operations") or ()),
            instrumented=bool(doc.get("instrumented", True)),
            asynchronous=bool(doc.get("asynchronous", False)),
        )
