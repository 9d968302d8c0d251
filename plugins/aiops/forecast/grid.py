"""The forecast grid: raw observations averaged into `step`-wide bins.

A bin is labelled by its right edge and holds the samples in [label - step, label), half
open like Airflow's data intervals; labels are multiples of the step since the epoch. So
the bin labelled with a forecast origin (the end of an hourly data interval, exclusive)
holds the interval's last `step` of samples, a sample stamped exactly at the origin already
belongs to the first target (origin + step), and a frame of whole minutes from a data
interval's start to its end fills every bin. Fit, backtest and predict all work on
this grid, which is why a forecast of 5-minute means does not depend on whether the
source scraped every 15 s or every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from aiops.forecast.errors import ForecastError


@dataclass(frozen=True)
class StepGrid:
    """Rows: consecutive bins, `step_ns` apart, labelled `t_ns`; columns: `keys`."""

    values: np.ndarray  # (bins, series), float64, NaN where no sample fell in the bin
    t_ns: np.ndarray  # (bins,) int64 labels (bin right edges, exclusive; UTC epoch ns)
    keys: tuple[str, ...]
    step_ns: int

    @property
    def index(self) -> pd.DatetimeIndex:
        return ns_index(self.t_ns)

    def upto(self, pos: int) -> StepGrid:
        """The bins up to and including row `pos` (what was known at that origin)."""
        return StepGrid(self.values[: pos + 1], self.t_ns[: pos + 1], self.keys, self.step_ns)

    def columns(self, keys: Sequence[str]) -> StepGrid:
        col = {k: i for i, k in enumerate(self.keys)}
        idx = [col[k] for k in keys]
        return StepGrid(self.values[:, idx], self.t_ns, tuple(keys), self.step_ns)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.index, columns=list(self.keys))


def timedelta_ns(value: timedelta) -> int:
    """Exact nanoseconds of a timedelta (no float seconds on the way)."""
    return value // timedelta(microseconds=1) * 1000


def ns_index(t_ns: np.ndarray) -> pd.DatetimeIndex:
    """A UTC DatetimeIndex (nanosecond unit) from epoch nanoseconds."""
    return pd.DatetimeIndex(np.asarray(t_ns, dtype="datetime64[ns]")).tz_localize("UTC")


def utc_ns(index: pd.Index, what: str) -> np.ndarray:
    """Epoch nanoseconds of a tz-aware DatetimeIndex, whatever its unit (pandas 3: us)."""
    if not isinstance(index, pd.DatetimeIndex):
        raise ForecastError(f"{what}: expected a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise ForecastError(f"{what}: the index must be timezone-aware (UTC), got naive times")
    return index.tz_convert("UTC").as_unit("ns").asi8


def timestamp_ns(value: object, what: str) -> int:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ForecastError(f"{what}: must be timezone-aware (UTC), got {value!r}")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


def to_step_grid(
    frame: pd.DataFrame,
    step_ns: int,
    what: str,
    end_ns: int | None = None,
) -> StepGrid:
    """Bin means of every column on the step grid, one vectorised pass over all series.

    With `end_ns` (a prediction origin, on the grid) samples at or after it are ignored and
    the grid runs up to `end_ns` even when its last bins are empty, so row -1 is the origin.
    """
    t_ns = utc_ns(frame.index, what)
    keys = tuple(str(c) for c in frame.columns)
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ForecastError(f"{what}: duplicate series {dupes}")
    if len(t_ns) > 1 and not (np.diff(t_ns) > 0).all():
        raise ForecastError(f"{what}: the index must be increasing and free of duplicates")
    if len(t_ns) > 2:
        data_step = int(np.median(np.diff(t_ns)))
        if data_step > step_ns:
            raise ForecastError(
                f"{what}: the data's median spacing ({data_step / 1e9:g} s) is coarser than "
                f"the forecast step ({step_ns / 1e9:g} s); use a step of at least the data's"
            )
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ForecastError(f"{what}: expected numeric columns: {exc}") from exc
    if end_ns is not None:
        keep = t_ns < end_ns
        t_ns, values = t_ns[keep], values[keep]
    if len(t_ns) == 0 and end_ns is None:
        raise ForecastError(f"{what}: the frame has no rows")
    labels = (t_ns // step_ns + 1) * step_ns  # bin [label - step, label)
    valid = np.isfinite(values)
    first = int(labels[0]) if len(labels) else int(end_ns)  # type: ignore[arg-type]
    last = int(end_ns) if end_ns is not None else int(labels[-1])
    n_bins = (last - first) // step_ns + 1
    out = np.full((n_bins, len(keys)), np.nan)
    if len(labels):
        uniq, starts = np.unique(labels, return_index=True)
        sums = np.add.reduceat(np.where(valid, values, 0.0), starts, axis=0)
        counts = np.add.reduceat(valid.astype(np.int64), starts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        out[(uniq - first) // step_ns] = means
    grid_t = first + step_ns * np.arange(n_bins, dtype=np.int64)
    return StepGrid(out, grid_t, keys, step_ns)
