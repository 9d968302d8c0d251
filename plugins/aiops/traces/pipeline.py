"""The nightly trace step: a window's traces in, its map, findings and quarantine stored.

Everything written is keyed by the window and replaced as a set, so a rerun of a night writes
exactly what the first run wrote, and a finding that no longer shows up does not linger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.findings.model import finding_row
from aiops.store import Store
from aiops.traces.analyze import TraceAnalysis, analyze_traces
from aiops.traces.dependencies import diff_edges
from aiops.traces.model import Edge
from aiops.traces.view import AnalysisConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredAnalysis:
    analysis: TraceAnalysis
    diff: dict[str, Any] | None  # against the previous window's map; None without one

    def totals(self) -> dict[str, int]:
        a = self.analysis
        return {
            "traces": a.traces,
            "spans": a.spans,
            "edges": len(a.edges),
            "findings": len(a.findings),
            "quarantined_traces": len(a.dropped),
        }


def analyze_window(
    raw_traces: Iterable[Any],
    start: datetime,
    end: datetime,
    *,
    config: AnalysisConfig | None = None,
    link: Callable[[str], str] | None = None,
) -> TraceAnalysis:
    analysis = analyze_traces(raw_traces, config=config, window=(start, end), link=link)
    if analysis.traces == 0:
        log.warning("[%s, %s): no traces started in the window", start.isoformat(), end.isoformat())
    return analysis


def store_analysis(
    store: Store, analysis: TraceAnalysis, start: datetime, end: datetime, source: str
) -> StoredAnalysis:
    """Write the window's edges, findings, quarantined traces and run summary; return the
    summary with the day-over-day diff of the dependency map."""
    previous = [
        _edge(row) for row in store.read("dependency_edges", interval_end=start)
    ]  # the window just before this one, when it was analysed
    diff = diff_edges(previous, analysis.edges).to_json() if previous else None
    window = {"interval_start": start, "interval_end": end}
    store.replace(
        "dependency_edges", [{**window, **_edge_row(e)} for e in analysis.edges], **window
    )
    store.replace(
        "findings",
        [{**window, **finding_row(f.to_json())} for f in analysis.findings],
        **window,
        source="traces",
    )
    store.replace(
        "trace_quarantine",
        [
            {
                **window,
                "origin": d.origin,
                "trace_id": d.trace_id,
                "reason": d.reason,
                "detail": d.detail,
                "raw": d.raw if isinstance(d.raw, dict) else {"value": d.raw},
            }
            for d in analysis.dropped
        ],
        **window,
    )
    store.upsert(
        "trace_runs",
        [
            {
                **window,
                "source": source,
                "traces": analysis.traces,
                "spans": analysis.spans,
                "dropped": len(analysis.dropped),
                "issues": analysis.issues,
                "operations": [o.to_json() for o in analysis.operations[:25]],
                "edge_diff": {"previous": diff},
            }
        ],
    )
    return StoredAnalysis(analysis, diff)


def stored_findings(
    store: Store, start: datetime, end: datetime, source: str = "traces"
) -> list[dict[str, Any]]:
    """A window's findings as stored (the full records), costliest first as analysed."""
    rows = store.read("findings", interval_start=start, interval_end=end, source=source)
    rows.sort(key=lambda r: (-(r["ms_per_request"] * r["requests_affected"]), r["fingerprint"]))
    return [r["finding"] for r in rows]


def stored_edges(store: Store, start: datetime, end: datetime) -> list[Edge]:
    return [
        _edge(r) for r in store.read("dependency_edges", interval_start=start, interval_end=end)
    ]


def _edge_row(edge: Edge) -> dict[str, Any]:
    doc = edge.to_json()
    return {k: doc[k] for k in doc}


def _edge(row: dict[str, Any]) -> Edge:
    return Edge.from_json(row)


def graph_path(root: Path, start: datetime) -> Path:
    """Where the window's dependency picture goes: `<root>/traces/dependencies-<day>.svg`."""
    return root / "traces" / f"dependencies-{start:%Y-%m-%d}.svg"


def draw_window_graph(store: Store, start: datetime, end: datetime, root: Path) -> Path | None:
    """The window's stored dependency map drawn as SVG and PNG, the services with findings
    marked by their costliest kind; the SVG's path, or None when no dependency was seen.
    The same stored map gives byte-identical files, so a rerun changes nothing."""
    from aiops.findings.model import kind_label
    from aiops.traces.graph import draw_dependency_graph

    edges = stored_edges(store, start, end)
    if not edges:
        return None
    notes: dict[str, str] = {}
    for finding in stored_findings(store, start, end):
        notes.setdefault(finding["service"], kind_label(finding["kind"]))
    svg = graph_path(root, start)
    draw_dependency_graph(edges, svg, title=f"Service dependencies {start:%Y-%m-%d}",
                          highlight=notes)  # fmt: skip
    draw_dependency_graph(edges, svg.with_suffix(".png"), highlight=notes)
    return svg
