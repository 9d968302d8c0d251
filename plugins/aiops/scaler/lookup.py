"""The value to serve for one query at one instant: a forecast, or a labelled fallback.

Interpolation: the DAG writes forecasts on a 5-minute grid of target times. The value at
now + lead is interpolated linearly between the two grid points around it (exact on a grid
point), so the served value moves smoothly between KEDA's polls instead of jumping every five
minutes. Two points further apart than ``MAX_GAP`` seconds (missing rows) are not bridged.

Age: a forecast is as old as the data it was made from. Its age is now minus the newest
observed point of its series (the row's ``observed_at``), not minus the run that stored it: a
run at 12:00 forecasting from a series silent since the evening before is 17 hours old.

Fallbacks, in order, when there is no fresh forecast for the target time (no rows, rows
whose data is older than ``max_age``, or the target beyond the newest forecast):
1. ``observed``: the last load observed before the newest forecast run, as the DAG stored it;
2. ``safe_value``: the configured safe replicas x target (default: the catalog's maximum).
Never 0 because the pipeline is late: scaling a service in on missing data is the one answer
that can cause an outage.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

from aiops.scaler.request import ScalingQuery
from aiops.scaler.snapshot import Snapshot

MAX_GAP = 900.0  # seconds: at most two missing 5-minute grid points are interpolated over

Source = Literal["prediction", "observed", "safe_value"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What to serve, where it came from and how old the data behind it is."""

    value: float
    source: Source
    target_time: float  # epoch seconds: now + lead
    generated_at: float | None  # the forecast run the value (or the fallback) comes from
    age_seconds: float | None  # now - observed_until; None when there is no data at all
    reason: str  # why a fallback was served; empty for a prediction
    observed_until: float | None = None  # the newest observed point behind the value

    @property
    def stale(self) -> bool:
        return self.source != "prediction"


def answer_for(snapshot: Snapshot, query: ScalingQuery, now: float, max_age: float) -> Answer:
    """The answer for ``query`` at epoch second ``now``; pure, no I/O."""
    target_time = now + query.lead_seconds
    series = snapshot.series.get((query.service, query.metric))
    if series is None:
        return Answer(
            query.safe_value,
            "safe_value",
            target_time,
            None,
            None,
            "no predictions in the store for this service and metric",
        )
    targets = series.targets
    i = bisect_right(targets, target_time) - 1  # last grid point at or before the target
    value: float | None = None
    generated = series.newest_generated
    data_end = series.newest_observed
    if i >= 0 and targets[i] == target_time:
        value, generated, data_end = series.values[i], series.generated[i], series.observed_until[i]
    elif 0 <= i < len(targets) - 1 and targets[i + 1] - targets[i] <= MAX_GAP:
        t0, t1 = targets[i], targets[i + 1]
        v0, v1 = series.values[i], series.values[i + 1]
        value = v0 + (v1 - v0) * (target_time - t0) / (t1 - t0)
        generated = min(series.generated[i], series.generated[i + 1])
        data_end = min(series.observed_until[i], series.observed_until[i + 1])

    if value is not None and now - data_end <= max_age:
        # a load cannot be negative; a forecast dipping below 0 means none
        return Answer(
            max(0.0, value), "prediction", target_time, generated, now - data_end, "", data_end
        )
    if value is None:
        reason = "no forecast covers now + lead time"
    else:
        reason = (
            f"forecast made from data that ended {now - data_end:.0f}s ago (max_age {max_age:.0f}s)"
        )
    if series.observed is not None:
        seen = series.observed_at if series.observed_at is not None else series.newest_observed
        return Answer(
            series.observed,
            "observed",
            target_time,
            series.newest_generated,
            now - seen,
            reason,
            seen,
        )
    return Answer(
        query.safe_value,
        "safe_value",
        target_time,
        series.newest_generated,
        now - series.newest_observed,
        reason + "; no observed load stored",
        series.newest_observed,
    )
