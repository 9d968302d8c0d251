"""A post-mortem's trace edges as anomaly events: what the callers saw, blamed on one end.

`aiops.traces.edge_signals.edge_frame` gives, per caller -> callee edge and minute, the calls,
errors and client-side latency. A network delay or a code fault shows there and nowhere
else: the faulty service's own metrics stay flat. This module scores each edge's error ratio
and latency p50/p95 around the moment a post-mortem names and returns the rows
`anomaly_events` holds, so they join the metric events and are ranked by the same code.

Which end is to blame (`blamed`). A slow callee moves the edges of all its callers; a caller
starved of CPU, or whose own network is delayed, stretches every call it makes while its
callees' other callers see nothing. So each moved edge becomes an event of the callee
(``callers_latency_p95``, "as checkout sees its calls to payment") or of the caller
(``calls_latency_p95``, its outgoing calls), whichever explains the edges that moved.
Several callers seeing one callee make one event of it (the loudest edge's).

The baseline is the export outside the incident's span. Trace exports are not continuous
series: a capture taken around incidents holds a few minutes here and there (the Nezha data
set keeps 63 minutes of a four-hour day), often none before the fault, so a baseline from the
hours before (the hourly path's short tier) has nothing to fit on. A post-mortem knows what
came after as well, and "normal" for an edge is what it was the rest of the time. The model
is the short tier's (`SeasonalBaseline`, flat, no trend: median and robust spread), fitted on
every minute of the export outside [start, end) however sparse (`min_coverage` 0), so
z-scores, bands and calibrated scores mean what the metric events' do. An edge measure with
fewer than `min_baseline_points` minutes outside the span is not scored and is reported in
`EdgeScores.unscored`, never silently used.

Not the call count: an export window that starts or ends mid-minute holds part of that
minute's calls, so the traced call rate drops at every boundary of a sparse capture, and a
traffic event sends the ranking to the callers for no reason. The hourly path, where traces
are continuous, reads the call rate as `callers_calls` from the servicegraph connector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from aiops.baselines.seasonal import SeasonalBaseline, SeasonalBaselineConfig
from aiops.metrics.events import EventConfig, events_for_series

#: The detector named on the events (each names its model, like "trailing-robust").
DETECTOR = "trace-edges"
#: The per-edge measures scored, as the callee's signal when the callee is to blame.
CALLEE_SIGNALS = {
    "error_ratio": "callers_error_ratio",
    "latency_p50": "callers_latency_p50",
    "latency_p95": "callers_latency_p95",
}
#: ... and as the caller's when every call it makes moved at once (see `blamed`).
CALLER_SIGNALS = {
    "error_ratio": "calls_error_ratio",
    "latency_p50": "calls_latency_p50",
    "latency_p95": "calls_latency_p95",
}
KINDS = {"error_ratio": "errors", "latency_p50": "latency", "latency_p95": "latency"}
UNITS = {"error_ratio": "ratio", "latency_p50": "s", "latency_p95": "s"}


@dataclass(frozen=True)
class EdgeScoringConfig:
    """Which measures of each edge are scored, on how much baseline, into which events."""

    measures: tuple[str, ...] = ("error_ratio", "latency_p50", "latency_p95")
    step: timedelta = timedelta(minutes=1)
    #: minutes outside the span an edge needs before its baseline is trusted
    min_baseline_points: int = 10
    #: share of a caller's edges (with calls in the span, at least two) that must move
    #: together for the caller to be blamed instead of each callee
    caller_share: float = 0.5
    #: a sparse capture may hold two minutes of a fault: an edge event needs this many points
    events: EventConfig = field(default_factory=lambda: EventConfig(min_points=2))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.measures) - set(CALLEE_SIGNALS))
        if unknown:
            raise ValueError(
                f"measures: {unknown} are not edge measures ({sorted(CALLEE_SIGNALS)})"
            )
        if self.min_baseline_points < 3:
            raise ValueError(f"min_baseline_points: must be >= 3, got {self.min_baseline_points}")
        if self.step <= timedelta(0):
            raise ValueError(f"step: must be > 0, got {self.step}")
        if not 0 < self.caller_share <= 1:
            raise ValueError(f"caller_share: must be in (0, 1], got {self.caller_share}")


@dataclass(frozen=True)
class EdgeScores:
    """The anomaly rows of one span, and the edges that could not be scored, with why."""

    rows: list[dict[str, Any]]
    unscored: dict[str, str]  # "caller->callee:measure" -> reason


def edge_anomalies(
    edges: pd.DataFrame,
    span: tuple[datetime, datetime],
    config: EdgeScoringConfig = EdgeScoringConfig(),
) -> EdgeScores:
    """Anomaly rows of the edges in [start, end), each against the rest of the export.

    `edges` is `edge_frame`'s (``timestamp, caller, callee, calls, errors, latency_p50,
    latency_p95``). Each edge's events go to the service `blamed` names; rows are shaped like
    the hourly scoring's (`aiops.metrics.events.events_for_series`), with the signal's kind,
    so `from_anomaly_event` reads them."""
    start, end = span
    wide = _wide(edges, config)
    if wide.empty:
        return EdgeScores([], {})
    inside = (wide.index >= start) & (wide.index < end)
    if not inside.any():
        return EdgeScores([], {})
    baseline = wide.mask(pd.Series(inside, index=wide.index), axis=0)
    counts = baseline.notna().sum()
    unscored = {
        str(k): f"{int(n)} minutes of traces outside the window, under {config.min_baseline_points}"
        for k, n in counts.items()
        if n < config.min_baseline_points
    }
    active = {_edge(c) for c in wide.columns if wide.loc[inside, c].notna().any()}
    scored = [c for c in wide.columns if c not in unscored and _edge(c) in active]
    if not scored:
        return EdgeScores([], unscored)
    model = SeasonalBaseline(_model_config(config.step)).fit(baseline[scored])
    window = wide.loc[inside, scored]
    z = model.score(window)
    calibrated = model.calibrate(z)
    _, low, high = model.expected(window.index, scored)
    by_edge: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key in scored:
        (caller, callee), measure = _edge(key), key.rpartition(":")[2]
        kind = KINDS[measure]
        found = events_for_series(
            callee, measure, z[key], window[key], low[key], high[key],
            step=config.step, detector=DETECTOR, model_version="",
            bucket_label=lambda ts: "the rest of the trace export", config=config.events,
            unit=UNITS[measure], bad_direction="up", calibrated=calibrated[key],
            signal_kind=kind,
        )  # fmt: skip
        by_edge.setdefault((caller, callee), []).extend(found)
    moved = {edge for edge, rows in by_edge.items() if rows}
    rows = []
    for edge in sorted(moved):
        side = blamed(edge, moved, active, config.caller_share)
        for row in by_edge[edge]:
            rows.append(_attributed(row, edge, side))
    return EdgeScores(_strongest(rows), unscored)


def blamed(
    edge: tuple[str, str],
    moved: set[tuple[str, str]],
    active: set[tuple[str, str]],
    caller_share: float = 0.5,
) -> str:
    """ "caller" or "callee": which end of a moved edge its trouble belongs to.

    A slow caller (starved of CPU, its own network delayed) stretches every call it makes, so
    all its edges move at once while its callees' other callers see nothing; a slow callee
    moves the edges of all its callers. Over the edges with calls in the window, the caller
    is blamed when at least `caller_share` of its edges moved and either it explains more
    moved edges than the callee (two edges at least) or every call it makes moved while some
    of the callee's other callers saw nothing. Otherwise
    the callee, which is also the answer when the edge is the only one either has: a
    network delay is seen by the callers."""
    caller, callee = edge
    out = [e for e in active if e[0] == caller]
    into = [e for e in active if e[1] == callee]
    moved_out = sum(e in moved for e in out)
    moved_in = sum(e in moved for e in into)
    out_share, in_share = moved_out / len(out), moved_in / len(into)
    if out_share < caller_share:
        return "callee"
    if len(out) >= 2 and moved_out > moved_in:  # it explains more moved edges
        return "caller"
    # every call it makes moved, while some of the callee's other callers saw nothing
    return "caller" if out_share == 1.0 and in_share < 1.0 else "callee"


def _attributed(row: dict[str, Any], edge: tuple[str, str], side: str) -> dict[str, Any]:
    """The edge's event as its blamed service's, the edge named in the explanation."""
    caller, callee = edge
    measure = row["signal"]
    if side == "caller":
        service, signal = caller, CALLER_SIGNALS[measure]
        why = f"{caller}'s calls to {callee} and most of its other callees moved together"
    else:
        service, signal = callee, CALLEE_SIGNALS[measure]
        why = f"as {caller} sees its calls to {callee}"
    return {**row, "service": service, "signal": signal,
            "explanation": f"{why}: {row['explanation']}"}  # fmt: skip


def _strongest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per service, signal and start: the loudest edge's (several callers seeing one
    slow callee are one event of it, not one per caller)."""
    best: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (row["service"], row["signal"], row["start"])
        if key not in best or row["peak_score"] > best[key]["peak_score"]:
            best[key] = row
    return sorted(best.values(), key=lambda r: (r["start"], r["service"], r["signal"]))


def _edge(column: str) -> tuple[str, str]:
    caller, _, callee = column.rpartition(":")[0].partition("->")
    return caller, callee


def _wide(edges: pd.DataFrame, config: EdgeScoringConfig) -> pd.DataFrame:
    """A column per ``caller->callee:measure`` on the full step grid of the export (NaN where
    the edge has no calls), so the model's step is the export's step."""
    if edges.empty:
        return pd.DataFrame()
    frame = edges.assign(
        error_ratio=edges["errors"] / edges["calls"],
        edge=edges["caller"].astype(str) + "->" + edges["callee"].astype(str),
    )
    long = frame.melt(
        id_vars=["timestamp", "edge"], value_vars=list(config.measures), var_name="measure"
    )
    long["column"] = long["edge"] + ":" + long["measure"]
    wide = long.pivot(index="timestamp", columns="column", values="value")
    wide.index = pd.DatetimeIndex(wide.index)
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq=config.step)
    wide = wide.reindex(grid).astype("float64")
    wide.index.name, wide.columns.name = "timestamp", None
    return wide


def _model_config(step: timedelta) -> SeasonalBaselineConfig:
    """The short tier's model, fitted on whatever minutes there are: any span, any coverage
    (`min_baseline_points` is the guard)."""
    return SeasonalBaselineConfig(
        bucket="flat", trend="none", min_days=step / timedelta(days=1), min_coverage=0.0
    )
