"""Trace analysis end to end: parse, map dependencies, walk critical paths, run detectors.

Traces stream through once: each is parsed, looked at by every accumulator and dropped, so a
night of traces never sits in memory as JSON. What stays is a few numbers per span (edge
latencies), per cross-service call (`TraceAnalysis.calls`, what the callers' edge signals of
aiops.traces.edge_signals are computed from) and per affected trace (detector samples).

The cyclic garbage collector is paused while the traces stream (`collector_paused`): parsing
allocates objects fast enough to start it over and over, and each pass walks the decoded
document and everything the analysis holds, for nothing: the analysis makes no reference
cycles, so reference counting frees each trace when the next one comes. That was a quarter
to two fifths of the analysis' time on a million spans (bench/bench_traces.py's shapes).

A trace belongs to the window its entry span starts in. The query API returns every trace
touching a window, so a trace that started before midnight comes back for both days; counting
it only where it started keeps a day's analysis exact and a rerun identical.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from aiops.findings.model import Finding
from aiops.sources.jaeger_files import collector_paused
from aiops.traces.critical_path import self_times
from aiops.traces.dependencies import DependencyMap
from aiops.traces.detectors import DETECTORS
from aiops.traces.edge_signals import CallsAccumulator
from aiops.traces.model import Edge
from aiops.traces.parse import parse_trace
from aiops.traces.picture import with_neighbourhoods
from aiops.traces.view import AnalysisConfig, FindingContext, TraceView

log = logging.getLogger(__name__)

DUPLICATE_TRACE = "duplicate_trace"  # the same traceID again in the input: skipped
DUPLICATE_TRACE_DIFFERS = "duplicate_trace_differs"  # ... and that copy has other spans
OUTSIDE_WINDOW = "outside_window"  # started outside the window: another day's trace
DAY_SECONDS = 86_400.0
MIN_SECONDS_FOR_DAILY = 3_600.0  # scaling less than an hour of traces to a day misleads


@dataclass(frozen=True)
class DroppedTrace:
    """A trace that could not be analysed, kept whole for the quarantine."""

    origin: str  # where it came from: "file.json: data[3]" or the endpoint
    trace_id: str
    reason: str
    detail: str
    raw: Any


@dataclass(frozen=True)
class OperationStats:
    service: str
    operation: str
    spans: int
    errors: int
    self_ms: float  # total self time
    critical_path_ms: float  # total time on the entry span's critical path

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "spans": self.spans,
            "errors": self.errors,
            "self_ms": round(self.self_ms, 3),
            "critical_path_ms": round(self.critical_path_ms, 3),
        }


def _no_calls() -> pd.DataFrame:
    return CallsAccumulator().frame()


@dataclass(frozen=True)
class TraceAnalysis:
    traces: int
    spans: int
    issues: dict[str, int]  # repairs and drops by reason
    dropped: list[DroppedTrace]
    edges: list[Edge]
    findings: list[Finding]
    operations: list[OperationStats]
    window: tuple[datetime, datetime] | None = None
    first_start_us: int | None = None
    last_start_us: int | None = None
    #: One row per cross-service call of the analysed traces, as
    #: `aiops.traces.edge_signals.calls_frame` gives it: feed it to `signals_from_calls` /
    #: `edges_from_calls` for the callers' view of each service without reading the traces
    #: again. Not part of the JSON (a row per call), nor of equality.
    calls: pd.DataFrame = field(default_factory=_no_calls, compare=False, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "window": None
            if self.window is None
            else [self.window[0].isoformat(), self.window[1].isoformat()],
            "observed": None  # when the first and the last analysed trace started
            if self.first_start_us is None or self.last_start_us is None
            else [_iso_us(self.first_start_us), _iso_us(self.last_start_us)],
            "traces": self.traces,
            "spans": self.spans,
            "services": len({e.parent for e in self.edges} | {e.child for e in self.edges}),
            "dropped_traces": len(self.dropped),
            "issues": dict(sorted(self.issues.items())),
            "findings_by_kind": dict(sorted(Counter(f.kind for f in self.findings).items())),
        }

    def to_json(self, top_operations: int = 25) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "findings": [f.to_json() for f in self.findings],
            "edges": [e.to_json() for e in self.edges],
            "operations": [o.to_json() for o in self.operations[:top_operations]],
            "dropped": [
                {"origin": d.origin, "trace_id": d.trace_id, "reason": d.reason, "detail": d.detail}
                for d in self.dropped
            ],
        }


@dataclass
class _Operations:
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        own = self_times(view.trace)
        counts = self.counts
        for i, span in enumerate(spans):
            key = (span.service, span.operation)
            row = counts.get(key)
            if row is None:
                row = counts[key] = [0, 0, 0, 0]
            row[0] += 1
            row[1] += span.error
            row[2] += own[i]
        for i, micros in view.path.items():
            span = spans[i]
            counts[(span.service, span.operation)][3] += micros

    def stats(self) -> list[OperationStats]:
        rows = [
            OperationStats(s, o, n, e, own / 1000.0, path / 1000.0)
            for (s, o), (n, e, own, path) in self.counts.items()
        ]
        return sorted(rows, key=lambda r: (-r.critical_path_ms, -r.self_ms, r.service, r.operation))


def _items(raw_traces: Iterable[Any]) -> Iterable[tuple[Any, str]]:
    for n, item in enumerate(raw_traces):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            yield item
        else:
            yield item, f"input[{n}]"


def analyze_traces(
    raw_traces: Iterable[Any],
    *,
    config: AnalysisConfig | None = None,
    window: tuple[datetime, datetime] | None = None,
    link: Callable[[str], str] | None = None,
) -> TraceAnalysis:
    """Analyse raw Jaeger trace objects (or ``(trace, origin)`` pairs, the origin naming the
    file or endpoint for the quarantine). ``window`` keeps the traces whose entry span starts
    in ``[start, end)`` and scales counts to a day; ``link`` makes a Jaeger UI URL of a trace
    ID for the evidence. The detectors are the registered ones (aiops.traces.detectors), in
    their registration order."""
    config = config or AnalysisConfig()
    lo = hi = None
    if window is not None:
        if window[0].tzinfo is None or window[1].tzinfo is None or window[1] <= window[0]:
            raise ValueError(f"analyze_traces: window must be aware and non-empty, got {window}")
        lo, hi = round(window[0].timestamp() * 1e6), round(window[1].timestamp() * 1e6)
    dependencies = DependencyMap()
    operations = _Operations()
    calls = CallsAccumulator()
    registered = DETECTORS.build(config)
    detectors = [detector for _, detector in registered]
    issues: Counter[str] = Counter()
    dropped: list[DroppedTrace] = []
    seen: dict[str, int] = {}  # trace ID -> spans of the copy analysed
    traces = spans = 0
    first = last = None
    with collector_paused():
        for raw, origin in _items(raw_traces):
            parsed = parse_trace(raw)
            issues.update(parsed.issues)
            trace = parsed.trace
            if trace is None:
                trace_id = str(raw.get("traceID", "")) if isinstance(raw, dict) else ""
                reason = parsed.issues[-1]
                dropped.append(DroppedTrace(origin, trace_id, reason, parsed.detail, raw))
                log.warning("%s: trace %s dropped (%s): %s", origin, trace_id or "?", reason,
                            parsed.detail)  # fmt: skip
                continue
            start = trace.root().start
            if lo is not None and not lo <= start < hi:
                issues[OUTSIDE_WINDOW] += 1
                continue
            first_copy = seen.get(trace.trace_id)
            if first_copy is not None:
                if first_copy == len(trace.spans):
                    issues[DUPLICATE_TRACE] += 1
                    continue
                # another trace under a known ID (or an incomplete copy): kept for a person to see
                issues[DUPLICATE_TRACE_DIFFERS] += 1
                detail = (
                    f"traceID already analysed with {first_copy} spans; "
                    f"this copy has {len(trace.spans)}"
                )
                dropped.append(
                    DroppedTrace(origin, trace.trace_id, DUPLICATE_TRACE_DIFFERS, detail, raw)
                )
                continue
            seen[trace.trace_id] = len(trace.spans)
            view = TraceView.of(trace)
            first = start if first is None or start < first else first
            last = start if last is None or start > last else last
            traces += 1
            spans += len(trace.spans)
            dependencies.add(trace)
            operations.add(view)
            for detector in detectors:
                detector.add(view)
            calls.add(trace)
    edges = dependencies.edges()
    ctx = FindingContext(config, _per_day(window, first, last), edges, link, traces, dependencies)
    findings = [f for spec, d in registered for f in spec.checked(d.findings(ctx))]
    findings = with_neighbourhoods(sorted(findings, key=_rank), edges)
    return TraceAnalysis(
        traces, spans, dict(issues), dropped, edges, findings, operations.stats(), window,
        first, last, calls.frame(),
    )  # fmt: skip


def _per_day(
    window: tuple[datetime, datetime] | None, first: int | None, last: int | None
) -> float | None:
    if window is not None:
        return DAY_SECONDS / (window[1] - window[0]).total_seconds()
    if first is None or last is None or (last - first) / 1e6 < MIN_SECONDS_FOR_DAILY:
        return None
    return DAY_SECONDS / ((last - first) / 1e6)


def _rank(finding: Finding) -> tuple[float, str, str, str]:
    """Costliest first: time per request times requests; then by kind and fingerprint."""
    cost = finding.impact.ms_per_request * finding.impact.requests_affected
    return (-cost, finding.kind, finding.service, finding.fingerprint)


def _iso_us(micros: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)).isoformat()
