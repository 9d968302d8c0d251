"""The newest trace window's dependency map: its edges for the graph page and for a service's
neighbourhood, with the findings of that window.
"""

from __future__ import annotations

from datetime import datetime

from aiops.store import Store
from aiops.traces.model import Edge
from aiops.ui.records import MapWindow
from aiops.ui.row_summaries import costliest_first, finding_summary
from aiops.ui.store_reads import newest_time, require_aware


def newest_map(store: Store, now: datetime) -> MapWindow | None:
    """The newest trace window's dependency map at or before ``now``, with the findings of
    that window; None when no window was analysed yet."""
    require_aware(now)
    edges, window = newest_edges(store, now)
    if window is None:
        return None
    start, end = window
    runs = store.read("trace_runs", interval_start=start, interval_end=end)
    findings = store.read("findings", interval_start=start, interval_end=end)
    return MapWindow(
        start=start,
        end=end,
        edges=tuple(edges),
        findings=tuple(finding_summary(f) for f in costliest_first(findings)),
        traces=runs[0]["traces"] if runs else None,
        spans=runs[0]["spans"] if runs else None,
    )


def newest_edges(
    store: Store, now: datetime
) -> tuple[list[Edge], tuple[datetime, datetime] | None]:
    """The edges of the newest trace window ending at or before ``now`` and that window
    (start, end); no edges and None when no window was analysed yet."""
    end = newest_time(store, "dependency_edges", "interval_end", now)
    if end is None:
        return [], None
    rows = store.read("dependency_edges", interval_end=end)
    start = max(r["interval_start"] for r in rows)
    edges = [Edge.from_json(r) for r in rows if r["interval_start"] == start]
    return edges, (start, end)
