"""Per-series data summaries: how much of each signal actually arrived for an interval.

This is the first thing an operator wants to see (is the data there at all?), and the later
quality gate builds on the same counts: points, missing steps, the longest hole, non-finite
values and the value range.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from aiops.catalog import Catalog
from aiops.sources.signals import SignalSeries, SignalSource
from aiops.store import Store

log = logging.getLogger(__name__)


def summarize_series(
    series: SignalSeries, start: datetime, end: datetime, step: timedelta
) -> dict[str, Any]:
    """Counts and range of one series on the grid [start, end) by step.

    A gap is a grid step without a sample; non-finite samples count as present but are
    reported separately, never folded into min/max/mean.
    """
    grid = pd.date_range(start, end, freq=step, inclusive="left")
    values = series.values
    on_grid = values[values.index.isin(grid)]
    present = grid.isin(on_grid.index)
    expected = len(grid)
    finite = on_grid[np.isfinite(on_grid.to_numpy())]
    return {
        "source": series.source,
        "query": series.query,
        "step_seconds": step.total_seconds(),
        "points": int(len(on_grid)),
        "expected_points": expected,
        "gaps": int(expected - present.sum()),
        "max_gap_seconds": _longest_gap(present) * step.total_seconds(),
        "non_finite": int(len(on_grid) - len(finite)),
        "value_min": float(finite.min()) if len(finite) else None,
        "value_max": float(finite.max()) if len(finite) else None,
        "value_mean": float(finite.mean()) if len(finite) else None,
        "value_last": float(finite.iloc[-1]) if len(finite) else None,
        "first_ts": on_grid.index[0].to_pydatetime() if len(on_grid) else None,
        "last_ts": on_grid.index[-1].to_pydatetime() if len(on_grid) else None,
        "warnings": sorted(set(series.warnings)),
    }


def _longest_gap(present: np.ndarray) -> int:
    """Length of the longest run of missing steps."""
    longest = run = 0
    for ok in present:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return longest


@dataclass(frozen=True)
class ShardSummary:
    rows: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, int]:
        return {
            "services": len({r["service"] for r in self.rows}),
            "series": len(self.rows),
            "points": sum(r["points"] for r in self.rows),
            "expected_points": sum(r["expected_points"] for r in self.rows),
            "empty_series": sum(1 for r in self.rows if r["points"] == 0),
            "series_with_gaps": sum(1 for r in self.rows if r["gaps"] > 0),
            "non_finite": sum(r["non_finite"] for r in self.rows),
        }


def summarize_services(
    source: SignalSource, catalog: Catalog, services: Iterable[str], start: datetime, end: datetime
) -> ShardSummary:
    """Fetch and summarise every catalog signal of the given services for [start, end)."""
    step = timedelta(seconds=catalog.defaults.step)
    rows: list[dict[str, Any]] = []
    for service in services:
        if service not in catalog.services:
            raise KeyError(f"service {service!r} is not in the catalog")
        for signal in catalog.signals_of(service):
            query = catalog.query(service, signal)
            series = source.fetch(service, signal, query, start, end, step)
            row = summarize_series(series, start, end, step)
            if row["points"] == 0:
                log.warning(
                    "no data for %s/%s in [%s, %s) from %s",
                    service,
                    signal,
                    start.isoformat(),
                    end.isoformat(),
                    source.name,
                )
            rows.append(
                {
                    "interval_start": start,
                    "interval_end": end,
                    "service": service,
                    "signal": signal,
                    **row,
                }
            )
    return ShardSummary(rows)


def store_series_summaries(
    store: Store,
    source: SignalSource,
    catalog: Catalog,
    services: Iterable[str],
    start: datetime,
    end: datetime,
) -> dict[str, int]:
    """The ingest step: summarise the services' signals for [start, end), upsert the rows
    (keyed by interval, so a rerun rewrites the same ones) and return the totals."""
    services = list(services)
    summary = summarize_services(source, catalog, services, start, end)
    store.upsert("series_summary", summary.rows)
    totals = summary.totals
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), services,
             totals)  # fmt: skip
    return totals
