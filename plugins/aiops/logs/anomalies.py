"""Log anomalies of one service and interval, from the stored template counts.

- spike / drop: a template's lines in the interval against what its baseline expects for
  that hour. With three days of history the baseline is the seasonal one of the metrics
  (`SeasonalBaseline`, hour-of-day profile, no trend) fitted on hourly counts; with less, a
  flat one (the median hour). The z-score divides by the larger of the baseline's spread and
  the Poisson noise of the expected count, so a template logging twice an hour does not
  "spike" when it logs five times;
- silence: a template expected at least `chatty_per_hour` times that logs nothing;
- new_template: first seen in the interval (from mining), with its sample lines;
- error_ratio: the share of ERROR/FATAL lines against the service's history (a binomial z).

Counts only ever come from buckets that were mined (log_volume has a row, zero or not), so
a gap in mining is not mistaken for silence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from aiops.baselines.seasonal import SeasonalBaseline, SeasonalBaselineConfig
from aiops.catalog import LogSettings
from aiops.logs.templates import Cluster, ServiceTemplates
from aiops.store import Store

SEASONAL_MIN_DAYS = 3.0  # a median of two days is their mean: one burst would move it
USUAL_PRESENCE = 0.5  # share of history hours a template must log in to go "silent"


def service_log_anomalies(
    store: Store,
    service: str,
    start: datetime,
    end: datetime,
    new: Sequence[Cluster],
    templates: ServiceTemplates | None,
    settings: LogSettings,
) -> list[dict[str, Any]]:
    """log_anomalies rows for one service and [start, end), `templates` being its mined
    ones. Counts stored under a template that has since merged into another are counted as
    that one's (`ServiceTemplates.resolve`)."""
    since = start - timedelta(days=settings.baseline_days)
    volume = _frame(store, "log_volume", service, since, end)
    counts = _frame(store, "log_template_counts", service, since, end)
    rows = [_new_row(service, start, end, c) for c in new]
    if volume.empty:
        return rows
    # a service's history begins with its first line: hours mined before it ever logged
    # (before its logs were collected) say nothing about what it normally logs
    logged = volume.loc[volume["lines"] > 0, "bucket_start"]
    if logged.empty:
        return rows
    volume = volume[volume["bucket_start"] >= logged.min().floor("h")]
    covered = pd.DatetimeIndex(sorted(set(volume["bucket_start"])))
    hours_before = covered[covered < start].floor("h").unique()
    hours_now = covered[(covered >= start) & (covered < end)]
    if len(hours_now) == 0 or len(hours_before) < settings.min_history_hours:
        return rows
    rows += _ratio_rows(service, start, end, volume, settings)
    if counts.empty:
        return rows
    if templates is not None:
        counts = counts.assign(template_id=[
            templates.resolve(tid) or tid for tid in counts["template_id"]
        ])  # fmt: skip
    hourly = (
        counts.assign(hour=counts["bucket_start"].dt.floor("h"))
        .pivot_table(index="hour", columns="template_id", values="count", aggfunc="sum")
        .reindex(hours_before.union(hours_now.floor("h").unique()))
        .fillna(0.0)
    )
    history = hourly[hourly.index < start]
    observed = hourly[(hourly.index >= start) & (hourly.index < end)].sum()
    expected, spread = _expectation(history, hourly.index[hourly.index >= start], settings)
    fresh = {c.id for c in new}
    for tid in hourly.columns:
        if tid in fresh or tid not in expected.index or history[tid].sum() == 0:
            continue
        obs, exp = float(observed[tid]), float(expected[tid])
        z = (obs - exp) / max(float(spread[tid]), math.sqrt(max(exp, 1.0)))
        kind, silent_since = None, _silent_since(counts, tid, start, end, settings)
        quiet = 0.0 if silent_since is None else (end - silent_since) / (end - start)
        # "normally chatty" means usually there: a burst that filled a few hours of a short
        # history can make a high expectation, and its end is not news
        usual = float((history[tid] > 0).mean()) >= USUAL_PRESENCE
        if usual and silent_since is not None and exp * quiet >= settings.chatty_per_hour / 2:
            kind = "silence"  # expected >= chatty/2 lines in the quiet stretch, got none
        elif obs >= settings.min_count and z >= settings.k and obs >= 2 * exp:
            kind = "spike"
        elif usual and exp >= settings.chatty_per_hour and z <= -settings.k and obs <= exp / 2:
            kind = "drop"
        if kind:
            cluster = templates.clusters.get(tid) if templates else None
            rows.append({
                "interval_start": start, "interval_end": end, "service": service,
                "kind": kind, "template_id": tid,
                "template": cluster.template if cluster else "", "level": cluster.level if cluster else "",
                "observed": obs, "expected": round(exp, 3), "score": round(z, 3),
                "detail": {"baseline": "seasonal" if _seasonal(history) else "flat",
                           "silent_since": silent_since and silent_since.isoformat(),
                           "history_hours": len(history),
                           "samples": list(cluster.samples) if cluster else []},
            })  # fmt: skip
    return rows


def _silent_since(
    counts: pd.DataFrame, tid: str, start: datetime, end: datetime, settings: LogSettings
) -> datetime | None:
    """When the template's last line in the interval was followed by at least
    `silence_minutes` without one (None: it logged until the end, or stopped too late)."""
    mine = counts[(counts["template_id"] == tid) & (counts["bucket_start"] < end)]
    last = mine["bucket_start"].max() if not mine.empty else None
    since = (
        start
        if last is None or last < start
        else last + pd.Timedelta(minutes=settings.bucket_minutes)
    )
    return since if end - since >= timedelta(minutes=settings.silence_minutes) else None


def _expectation(
    history: pd.DataFrame, hours: pd.DatetimeIndex, settings: LogSettings
) -> tuple[pd.Series, pd.Series]:
    """Expected lines per template over `hours`, and the spread of that sum."""
    if _seasonal(history):
        # hourly line counts: their counting noise is judged by min_count, not a step floor
        config = SeasonalBaselineConfig(
            min_days=SEASONAL_MIN_DAYS, bucket="hour_of_day", trend="none", k=settings.k,
            quantum_floor=False,
        )  # fmt: skip
        model = SeasonalBaseline(config).fit(history.astype(float))
        center, low, high = model.expected(hours, model.keys_)
        spread = (high - center) / settings.k
        expected = center.clip(lower=0).sum()
        total_spread = np.sqrt((spread**2).sum())
        flat_e, flat_s = _flat(
            history[[c for c in history.columns if c not in model.keys_]], len(hours)
        )
        return pd.concat([expected, flat_e]), pd.concat([total_spread, flat_s])
    return _flat(history, len(hours))


def _flat(history: pd.DataFrame, n_hours: int) -> tuple[pd.Series, pd.Series]:
    median = history.median()
    mad = (history - median).abs().median() * 1.4826
    return median * n_hours, mad * math.sqrt(n_hours)


def _seasonal(history: pd.DataFrame) -> bool:
    return len(history) >= SEASONAL_MIN_DAYS * 24


def _ratio_rows(
    service: str, start: datetime, end: datetime, volume: pd.DataFrame, settings: LogSettings
) -> list[dict[str, Any]]:
    before = volume[volume["bucket_start"] < start]
    now = volume[(volume["bucket_start"] >= start) & (volume["bucket_start"] < end)]
    n, errors = int(now["lines"].sum()), int(now["errors"].sum())
    base_n, base_errors = int(before["lines"].sum()), int(before["errors"].sum())
    if n == 0 or base_n == 0 or errors < settings.min_count:
        return []
    p, p0 = errors / n, (base_errors + 0.5) / (base_n + 1.0)  # never exactly 0
    z = (p - p0) / math.sqrt(p0 * (1 - p0) / n)
    if z < settings.k or p < 2 * p0:
        return []
    return [{
        "interval_start": start, "interval_end": end, "service": service,
        "kind": "error_ratio", "template_id": "", "template": "", "level": "ERROR",
        "observed": round(p, 5), "expected": round(p0, 5), "score": round(z, 3),
        "detail": {"errors": errors, "lines": n, "history_lines": base_n},
    }]  # fmt: skip


def _new_row(service: str, start: datetime, end: datetime, cluster: Cluster) -> dict[str, Any]:
    first = pd.Timestamp(cluster.first_ms, unit="ms", tz="UTC").isoformat()
    return {
        "interval_start": start, "interval_end": end, "service": service,
        "kind": "new_template", "template_id": cluster.id, "template": cluster.template,
        "level": cluster.level, "observed": float(cluster.size), "expected": None,
        "score": float(cluster.size),
        "detail": {"first_seen": first, "samples": list(cluster.samples)},
    }  # fmt: skip


def _frame(store: Store, table: str, service: str, since: datetime, end: datetime) -> pd.DataFrame:
    """The service's rows with since <= bucket_start < end (the bounds go into the query)."""
    rows = store.read(
        table, service=service, at_least={"bucket_start": since},
        at_most={"bucket_start": end - timedelta(microseconds=1)},
    )  # fmt: skip
    frame = pd.DataFrame.from_records(rows, columns=list(store.table(table).c.keys()))
    return frame.assign(bucket_start=pd.to_datetime(frame["bucket_start"], utc=True))
