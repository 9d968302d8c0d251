"""Time to breach: when a forecast crosses an SLO threshold, with the interval's spread.

A static threshold fires when the line is already crossed; this reads the forecast instead.
Its mean path gives the expected crossing, and the 80% interval brackets it: the upper end
crosses first (the earliest plausible breach) and the lower end last (the latest). So
"memory will reach its limit in ~2h 10m, 80% interval 1h 40m to 2h 50m" is three first
crossings of three paths, each interpolated linearly between forecast steps.

Thresholds are upper limits (latency, error ratio, CPU, memory, request rate all hurt when
they rise), so a crossing is a rise to or above the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from aiops.units import format_duration, format_value

SIGNAL_WORDS = {
    "latency_p95": "p95 latency",
    "error_ratio": "error ratio",
    "cpu": "CPU",
    "memory": "memory",
    "request_rate": "request rate",
}


@dataclass(frozen=True)
class Breach:
    """A predicted (or current) crossing of `threshold` by one signal of one service."""

    service: str
    signal: str
    threshold: float
    origin: datetime  # the forecast's origin: the end of the data interval
    horizon: timedelta
    observed: float | None  # the last observed value before the origin
    at: datetime | None  # the mean forecast's first crossing (None: only the upper end crosses)
    earliest: datetime  # the interval's upper end crosses (== origin when already breached)
    latest: datetime | None  # the lower end's crossing (None: not within the horizon)
    level: float = 0.8  # the forecast interval's coverage
    unit: str | None = None  # the catalog's unit of the signal, for the message

    @property
    def already(self) -> bool:
        return self.observed is not None and self.observed >= self.threshold

    @property
    def severity(self) -> str:
        if self.already:
            return "critical"
        return "warning" if self.at is not None else "info"

    def message(self) -> str:
        what = f"{self.service} {SIGNAL_WORDS.get(self.signal, self.signal)}"
        limit = f"its limit {format_value(self.signal, self.threshold, self.unit)}"
        now = (
            ""
            if self.observed is None
            else f"; now {format_value(self.signal, self.observed, self.unit)}"
        )
        pct = f"{self.level:.0%}"
        if self.already:
            return f"{what} is at or above {limit}{now}"
        late = (
            f"beyond the {format_duration(self.horizon.total_seconds())} horizon"
            if self.latest is None
            else _in(self.latest - self.origin)
        )
        if self.at is None:
            return (
                f"{what} may reach {limit} within {format_duration(self.horizon.total_seconds())}: "
                f"the upper end of the {pct} interval crosses in {_in(self.earliest - self.origin)}, "
                f"the mean forecast stays below{now}"
            )
        return (
            f"{what} will reach {limit} in ~{_in(self.at - self.origin)} "
            f"(at {self.at:%Y-%m-%d %H:%M} UTC), {pct} interval "
            f"{_in(self.earliest - self.origin)} to {late}{now}"
        )

    def row(self, model: str, model_version: str) -> dict[str, object]:
        """The `predictive_alerts` row of this breach."""
        return {
            "service": self.service,
            "signal": self.signal,
            "generated_at": self.origin,
            "severity": self.severity,
            "threshold": self.threshold,
            "observed": self.observed,
            "breach_at": self.at,
            "breach_earliest": self.earliest,
            "breach_latest": self.latest,
            "horizon_seconds": self.horizon.total_seconds(),
            "message": self.message(),
            "model": model,
            "model_version": model_version,
        }


def _in(delta: timedelta) -> str:
    """A lead time rounded to whole minutes, as people say it ("2h 10m", "45m")."""
    minutes = max(0, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def first_crossing(
    times: pd.DatetimeIndex,
    values: np.ndarray,
    threshold: float,
    start: tuple[datetime, float] | None = None,
) -> datetime | None:
    """The first time the path `values` (at `times`) rises to `threshold`, interpolated.

    `start` is an optional (time, value) the path begins from (the last observation), so a
    crossing before the first forecast step is placed between the two, not at that step.
    NaN steps are skipped (the path is joined across them).
    """
    t = times.as_unit("ns").asi8.astype(np.float64)
    v = np.asarray(values, dtype=np.float64)
    if start is not None and start[1] is not None and math.isfinite(start[1]):
        t = np.concatenate([[pd.Timestamp(start[0]).as_unit("ns").value], t])
        v = np.concatenate([[start[1]], v])
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    above = np.flatnonzero(v >= threshold)
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return _as_datetime(t[0])
    v0, v1 = v[i - 1], v[i]
    frac = (threshold - v0) / (v1 - v0)
    return _as_datetime(t[i - 1] + frac * (t[i] - t[i - 1]))


def _as_datetime(ns: float) -> datetime:
    # whole seconds: a crossing is reported to the minute, and reruns must give equal rows
    return pd.Timestamp(int(round(ns / 1e9)), unit="s", tz="UTC").to_pydatetime()


def time_to_breach(
    service: str,
    signal: str,
    forecast: pd.DataFrame,
    threshold: float,
    origin: datetime,
    observed: float | None = None,
    level: float = 0.8,
    unit: str | None = None,
) -> Breach | None:
    """The breach the forecast (columns mean, lower, upper; index target times after
    `origin`) predicts for `threshold`, or None when even the interval's upper end stays
    below it. A last observation at or above the threshold is a breach now."""
    if forecast.empty:
        return None
    horizon = forecast.index[-1].to_pydatetime() - origin
    times = pd.DatetimeIndex(forecast.index)
    start = (origin, observed) if observed is not None else None
    if observed is not None and math.isfinite(observed) and observed >= threshold:
        return Breach(service, signal, threshold, origin, horizon, observed, origin, origin,
                      origin, level, unit)  # fmt: skip
    earliest = first_crossing(times, forecast["upper"].to_numpy(), threshold, start)
    if earliest is None:
        return None
    return Breach(
        service=service,
        signal=signal,
        threshold=threshold,
        origin=origin,
        horizon=horizon,
        observed=observed,
        at=first_crossing(times, forecast["mean"].to_numpy(), threshold, start),
        earliest=earliest,
        latest=first_crossing(times, forecast["lower"].to_numpy(), threshold, start),
        level=level,
        unit=unit,
    )
