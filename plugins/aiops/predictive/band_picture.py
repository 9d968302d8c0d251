"""The picture a predictive alert is raised on: the signal's last day, the forecast with its
band, and the threshold it crosses (aiops.pictures ForecastPicture).

Made by the hourly run from what it holds in memory (the history it forecast from, the
predictions rows it wrote), and stored with the alert: the predictions table keeps only the
newest forecast of each target time, so the picture of an alert could not be redrawn exactly
from it later. Both halves are thinned to a bounded number of points (the history to
`HISTORY_BUCKET` means, the forecast to every k-th step) so an alert row stays a few
kilobytes, the same input always gives the same points.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from aiops.pictures.model import BandPoint, ForecastPicture

HISTORY = timedelta(days=1)  # "the last day"
HISTORY_BUCKET = "10min"  # history as 10-minute means: 144 points a day
MAX_FORECAST_POINTS = 96


def band_picture(
    service: str,
    signal: str,
    unit: str,
    now: datetime,
    history: pd.Series,
    predictions: Sequence[dict[str, Any]],
    threshold: float | None,
) -> ForecastPicture:
    """The picture of ``signal``'s last day before ``now`` (``history``, a UTC-indexed series,
    NaN gaps allowed) and its forecast (``predictions``, `predictions` rows: target_time,
    value, lower, upper), with ``threshold``."""
    recent = history[(history.index > now - HISTORY) & (history.index <= now)].dropna()
    means = recent.resample(HISTORY_BUCKET, label="right", closed="right").mean().dropna()
    observed = tuple((t.to_pydatetime(), round(float(v), 6)) for t, v in means.items() if t <= now)
    rows = sorted((r for r in predictions if r["target_time"] > now),
                  key=lambda r: r["target_time"])  # fmt: skip
    stride = max(1, -(-len(rows) // MAX_FORECAST_POINTS))  # ceil: never more than the cap
    kept = rows[stride - 1 :: stride]
    if rows and kept[-1] is not rows[-1]:
        kept = [*kept[:-1], rows[-1]]  # the horizon's end is always drawn
    forecast = tuple(
        BandPoint(r["target_time"], _round(r["value"]), _round(r.get("lower")),
                  _round(r.get("upper")))
        for r in kept
    )  # fmt: skip
    return ForecastPicture(
        service=service,
        signal=signal,
        unit=unit,
        now=now,
        observed=observed,
        forecast=forecast,
        threshold=None if threshold is None else float(threshold),
    )


def _round(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)
