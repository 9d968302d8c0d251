"""Predictive scaling values: the load a service's replicas must be ready for, decided from
the forecast's distribution, not its centre.

KEDA's HPA computes replicas = ceil(metric / target) from the value the scaler serves, and
the scaler serves the row whose target time is now + lead (`aiops.scaler.lookup`). So the
row at target time T holds the decision KEDA acts on at T - lead, and that decision must
carry the load from then until the next decision's replicas are ready:

1. the `target_quantile` of the predicted load at each time (`forecast_quantile`: read off
   the backtest-calibrated interval, in the space the series was modelled in), not the
   median-like point forecast, which sits below the load half the time;
2. its maximum over the whole window the decision covers, [T - lead, T + refresh]: a spike
   inside it is served, not only the load at one instant;
3. never below the load observed when the decision was made: a ramp the forecast missed is
   not scaled below;
4. scale-down stabilisation as the HPA's: a value drops only when it has been lower for a
   whole `scale_down_window`, the maximum of the decisions in it.

`replicas_plan` is the same arithmetic KEDA does, ahead of time, for people to read. The
benchmark that chose `target_quantile` (short of the load less often than reactive scaling,
at a bounded cost): bench/bench_scaling.py.
"""

from __future__ import annotations

import math
from datetime import timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd

from aiops.catalog import Scaling

_Z = NormalDist().inv_cdf


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


def forecast_quantile(
    forecast: pd.DataFrame, q: float, level: float, log_scale: bool = False
) -> np.ndarray:
    """The `q` quantile of the predicted load at each target time.

    `forecast` has the point forecast (`mean`: the centre, the median of the errors'
    distribution) and the ends of the central `level` interval (`lower`, `upper`: the
    backtest's error quantiles). Between and beyond them the quantile follows a normal
    shape fitted to each half on its own (the interval need not be symmetric), in log space
    for a series modelled as log1p(load), where the errors are multiplicative. A forecast
    without an interval (a history too short to backtest) gives its point forecast.
    """
    if not 0 < q < 1:
        raise ValueError(f"quantile must be in (0, 1), got {q}")
    centre, lower, upper = (forecast[c].to_numpy(dtype=float) for c in ("mean", "lower", "upper"))
    if log_scale:
        centre, lower, upper = (np.log1p(np.clip(a, 0.0, None)) for a in (centre, lower, upper))
    ratio = _Z(q) / _Z((1 + level) / 2)
    value = centre + ratio * ((upper - centre) if q >= 0.5 else (centre - lower))
    value = np.where(np.isfinite(value), value, centre)  # no interval yet: the point forecast
    return np.expm1(value) if log_scale else value


def unbiased_mean(forecast: pd.DataFrame, level: float, log_scale: bool = False) -> np.ndarray:
    """The mean of the predicted load: for a series modelled as log1p(load), the centre
    back-transformed is the median, below the mean by the spread (exp(mu + s^2 / 2) for a
    log-normal, s read off the interval's width); otherwise the centre itself."""
    centre = forecast["mean"].to_numpy(dtype=float)
    if not log_scale:
        return centre
    lower, upper = (np.log1p(np.clip(forecast[c].to_numpy(dtype=float), 0.0, None))
                    for c in ("lower", "upper"))  # fmt: skip
    spread = (upper - lower) / (2 * _Z((1 + level) / 2))
    spread = np.where(np.isfinite(spread), spread, 0.0)  # no interval yet: the centre
    return np.expm1(np.log1p(np.clip(centre, 0.0, None)) + spread**2 / 2)


def scaling_values(
    forecast: pd.DataFrame,
    scaling: Scaling,
    *,
    level: float,
    log_scale: bool = False,
    observed: float | None = None,
) -> pd.Series:
    """The load to serve, per target time T: what KEDA acts on at T - lead (see the module
    docstring for the four steps). Target times before the forecast's first cover what of
    their window the forecast has."""
    t = forecast.index.as_unit("ns").asi8
    quantile = forecast_quantile(forecast, scaling.target_quantile, level, log_scale)
    before = int(timedelta(seconds=scaling.lead_time).total_seconds() * 1e9)
    after = int(timedelta(seconds=scaling.refresh).total_seconds() * 1e9)
    covered = np.array([
        np.nanmax(quantile[(t >= s - before) & (t <= s + after)], initial=-np.inf) for s in t
    ])  # fmt: skip
    floor = observed if observed is not None and math.isfinite(observed) else -np.inf
    decided = np.maximum(covered, floor)
    hold = int(timedelta(seconds=scaling.scale_down_window).total_seconds() * 1e9)
    stable = np.array([decided[(t >= s - hold) & (t <= s)].max() for s in t]) if len(t) else decided
    stable = np.where(np.isfinite(stable), np.maximum(stable, 0.0), np.nan)
    return pd.Series(stable, index=forecast.index, name="scaling_value")


def replicas_plan(values: pd.Series, scaling: Scaling) -> pd.Series:
    """Desired replicas at each time t: what KEDA asks for at t, from the value served then
    (the row at t + lead). Times whose t + lead falls past the last row get no value (NA).
    Between rows the value is interpolated linearly, as the scaler does."""
    lead = timedelta(seconds=scaling.lead_time)
    t = values.index.as_unit("ns").asi8.astype(np.float64)
    ahead = t + lead.total_seconds() * 1e9
    inside = ahead <= t[-1] if len(t) else np.array([], dtype=bool)
    loads = np.interp(ahead, t, values.to_numpy(dtype=float)) if len(t) else np.array([])
    out = [
        desired_replicas(
            load, scaling.capacity_per_replica, scaling.min_replicas, scaling.max_replicas
        )
        if ok
        else pd.NA
        for load, ok in zip(loads, inside, strict=True)
    ]
    return pd.Series(out, index=values.index, dtype="Int64", name="desired_replicas")
