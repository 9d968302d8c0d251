"""Detectors over whole requests: critical-path hotspots and where errors originate.

Each detector's kind of finding (its label and why sentence) is declared just above its
class and its registration (`DetectorSpec`) just below; see aiops.traces.detectors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from aiops.findings.kinds import FindingKind
from aiops.findings.model import Effort, Evidence, Finding
from aiops.traces import suggest
from aiops.traces.model import Span
from aiops.traces.tally import Tally
from aiops.traces.view import (
    AnalysisConfig,
    DetectorSpec,
    FindingContext,
    TraceView,
    fmt_ms,
    fmt_share,
    ms,
)

SOURCE = "traces"


@dataclass(frozen=True, slots=True)
class _PathRow:
    trace_ms: float
    trace_id: str
    sampling_rate: float | None
    spans: int
    on_path: tuple[tuple[tuple[str, str], int], ...]  # ((service, operation), microseconds)


CRITICAL_PATH_HOTSPOT = FindingKind(
    "critical_path_hotspot",
    label="hotspot",
    why="Time saved here comes straight off the slowest requests' latency.",
)


class CriticalPathHotspot:
    """One operation dominating the critical path of an entry point's slowest requests."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_share = config.hotspot_min_share
        self.min_traces = config.hotspot_min_traces
        self.rows: dict[tuple[str, str], list[_PathRow]] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        per_op: dict[tuple[str, str], int] = {}
        for i, micros in view.path.items():
            span = spans[i]
            key = (span.service, span.operation)
            per_op[key] = per_op.get(key, 0) + micros
        entry = (view.entry.service, view.entry.operation)
        self.rows.setdefault(entry, []).append(
            _PathRow(
                view.trace_ms,
                view.trace_id,
                view.trace.sampling_rate,
                len(spans),
                tuple(per_op.items()),
            )
        )

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (entry_service, entry_op), rows in sorted(self.rows.items()):
            if len(rows) < self.min_traces or np.mean([r.spans for r in rows]) < 2:
                continue
            durations = np.array([r.trace_ms for r in rows])
            p95 = float(np.quantile(durations, 0.95))
            slow = [r for r in rows if r.trace_ms >= p95]
            totals: Counter[tuple[str, str]] = Counter()
            for row in slow:
                totals.update({k: v for k, v in row.on_path})
            (service, operation), micros = min(totals.items(), key=lambda kv: (-kv[1], kv[0]))
            share = ms(micros) / sum(r.trace_ms for r in slow)
            if share < self.min_share:
                continue
            tally = Tally()
            for row in rows:
                cost = dict(row.on_path).get((service, operation))
                if cost:
                    tally.add(row.trace_id, row.trace_ms, ms(cost), sampling_rate=row.sampling_rate)
            impact = tally.impact(ctx.per_day)
            entry = f"{entry_service} {entry_op}"
            examples = tuple(
                r.trace_id for r in sorted(slow, key=lambda r: (-r.trace_ms, r.trace_id))
            )[:3]
            out.append(
                Finding(
                    source=SOURCE,
                    kind=CRITICAL_PATH_HOTSPOT.name,
                    service=service,
                    operation=operation,
                    title=f"Hotspot: {service} {operation} is {100 * share:.0f}% of the critical "
                    f"path of the slowest {entry} requests",
                    impact=type(impact)(
                        ms_per_request=impact.ms_per_request,
                        requests_affected=impact.requests_affected,
                        p95_share=share,
                        requests_per_day=impact.requests_per_day,
                    ),
                    evidence=Evidence(
                        {
                            "entry": entry,
                            "entry_p95_ms": round(p95, 3),
                            "requests": len(rows),
                            "share_of_slowest_5pct": round(share, 4),
                            "on_path_ms_p50": round(tally.quantile("cost_ms", 0.5), 3),
                        },
                        examples,
                        ctx.links(examples),
                    ),
                    suggestion=suggest.hotspot(service, operation, entry, share),
                    expected_improvement=f"every millisecond saved in {operation} is saved on the "
                    f"{entry} p95 ({fmt_ms(p95)}) up to {fmt_share(share)} of it",
                    action="code_change",
                    effort=Effort.MEDIUM,
                    confidence=min(1.0, 0.4 + 0.6 * len(slow) / 20),
                    key={"entry": entry},
                )
            )
        return out


CRITICAL_PATH_HOTSPOT_DETECTOR = DetectorSpec(
    "critical_path_hotspot",
    CriticalPathHotspot,
    kinds=(CRITICAL_PATH_HOTSPOT,),
    knobs=("hotspot_min_share", "hotspot_min_traces"),
)


def _origin(spans: list[Span], span: Span) -> tuple[str, str]:
    """Where a failing span's error starts: the callee named by a client span that has no
    span of its own (a database, a cache), else the span's own service."""
    uninstrumented = not any(spans[c].service != span.service for c in span.children)
    if span.kind in ("client", "producer") and span.peer and uninstrumented:
        return span.peer, span.operation
    return span.service, span.operation


ERROR_HOTSPOT = FindingKind(
    "error_hotspot",
    label="errors start here",
    why="Callers pass these errors up, so fixing them here fixes them everywhere.",
)


class ErrorHotspot:
    """Where failed requests' errors start, as opposed to every span they pass through."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_share = config.error_min_share
        self.failed = 0
        self.tallies: dict[tuple[str, str], Tally] = {}
        self.messages: dict[tuple[str, str], Counter[str]] = {}
        self.callers: dict[tuple[str, str], Counter[str]] = {}
        self.propagated: dict[tuple[str, str], Counter[str]] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        origins: dict[tuple[str, str], float] = {}
        for span in spans:
            if not span.error or any(spans[c].error for c in span.children):
                continue
            key = _origin(spans, span)
            origins.setdefault(key, ms(span.duration))
            if span.error_message:
                self.messages.setdefault(key, Counter())[span.error_message] += 1
            if key[0] != span.service:
                self.callers.setdefault(key, Counter())[span.service] += 1
            up, seen = span.parent, set()
            while up >= 0:
                parent = spans[up]
                if parent.error and parent.service != key[0] and parent.service not in seen:
                    seen.add(parent.service)
                up = parent.parent
            self.propagated.setdefault(key, Counter()).update(seen)
        if not origins:
            return
        self.failed += 1
        for key, cost in origins.items():
            self.tallies.setdefault(key, Tally()).add_view(view, cost)

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (service, operation), tally in sorted(self.tallies.items()):
            share = len(tally) / self.failed if self.failed else 0.0
            if len(tally) < ctx.config.min_traces or share < self.min_share:
                continue
            key = (service, operation)
            message = self.messages.get(key, Counter()).most_common(1)
            text = message[0][0] if message else ""
            propagated = [
                s for s, _ in sorted(self.propagated[key].items(), key=lambda kv: (-kv[1], kv[0]))
            ]
            callers = sorted(self.callers.get(key, Counter()))
            where = f" (seen from {', '.join(callers)})" if callers else ""
            out.append(
                Finding(
                    source=SOURCE,
                    kind=ERROR_HOTSPOT.name,
                    service=service,
                    operation=operation,
                    title=f"Errors start at {service} {operation}{where}: {100 * share:.0f}% of "
                    "failed requests",
                    impact=tally.impact(ctx.per_day),
                    evidence=Evidence(
                        {
                            "failed_requests": self.failed,
                            "failed_requests_from_here": len(tally),
                            "share_of_failed_requests": round(share, 4),
                            "error": text,
                            "propagates_through": ", ".join(propagated),
                        },
                        tally.examples(),
                        ctx.links(tally.examples()),
                    ),
                    suggestion=suggest.error_origin(service, operation, text, propagated),
                    expected_improvement=f"up to {100 * share:.0f}% fewer failed requests",
                    action="code_change",
                    effort=Effort.MEDIUM,
                    confidence=min(1.0, 0.5 + 0.5 * len(tally) / 30),
                    key={},
                )
            )
        return out


ERROR_HOTSPOT_DETECTOR = DetectorSpec(
    "error_hotspot", ErrorHotspot, kinds=(ERROR_HOTSPOT,), knobs=("error_min_share", "min_traces")
)
