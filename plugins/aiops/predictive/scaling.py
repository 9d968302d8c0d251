"""Predictive scaling values: the replicas a service needs when the load arrives.

KEDA's HPA computes replicas = ceil(metric / target) from the value the scaler serves; this
is the same arithmetic done ahead of time, for the report and the predictions table, so
people can read what KEDA will do. The value a replica count at time t is computed from is
the forecast at t + lead time: a replica started at t is useful only after the lead time.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd

from aiops.catalog import Scaling


def desired_replicas(load: float, capacity_per_replica: float, low: int, high: int) -> int:
    """ceil(load / capacity), clamped to [low, high]; a missing load keeps the minimum.

    A tiny tolerance keeps 120.0000001 / 40 from becoming 4 replicas through float noise.
    """
    if capacity_per_replica <= 0:
        raise ValueError(f"capacity_per_replica must be > 0, got {capacity_per_replica}")
    if load is None or not math.isfinite(load):
        return low
    needed = math.ceil(max(load, 0.0) / capacity_per_replica - 1e-9)
    return int(min(max(needed, low), high))


def scaling_values(forecast: pd.DataFrame, scaling: Scaling) -> pd.Series:
    """The value replicas follow at each target time: the mean, or the interval's upper end."""
    column = "upper" if scaling.forecast == "upper" else "mean"
    return forecast[column].astype(float)


def replicas_plan(forecast: pd.DataFrame, scaling: Scaling) -> pd.Series:
    """Desired replicas at each target time t, from the scaling value at t + lead time.

    Target times whose t + lead falls past the forecast's end get no value (NA): the
    forecast does not say what is needed then. Between forecast steps the value is
    interpolated linearly, so a 10-minute lead on a 5-minute grid reads an exact step and
    a 7-minute lead reads between two.
    """
    values = scaling_values(forecast, scaling)
    lead = timedelta(seconds=scaling.lead_time)
    t = forecast.index.as_unit("ns").asi8.astype(np.float64)
    ahead = t + lead.total_seconds() * 1e9
    inside = ahead <= t[-1] if len(t) else np.array([], dtype=bool)
    loads = np.interp(ahead, t, values.to_numpy()) if len(t) else np.array([])
    out = [
        desired_replicas(
            load, scaling.capacity_per_replica, scaling.min_replicas, scaling.max_replicas
        )
        if ok
        else pd.NA
        for load, ok in zip(loads, inside, strict=True)
    ]
    return pd.Series(out, index=forecast.index, dtype="Int64", name="desired_replicas")
