"""Vectorised arithmetic of the seasonal baseline: time buckets, grouped robust statistics,
daily levels and their trend. Pure numpy over (time x series) arrays, no model state."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from aiops.baselines.errors import BaselineError

#: Buckets per period: a week of hours, a day of hours, or one ("flat": no season, for
#: series with hours of history only).
BUCKETS = {"hour_of_week": 168, "hour_of_day": 24, "flat": 1}

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_NS_PER_S = 1_000_000_000

DAY_NS = 86_400 * _NS_PER_S

_EPOCH_TO_MONDAY_S = 3 * 86_400  # 1970-01-01 was a Thursday; Monday 00:00 was 3 days earlier

_TRIM = 0.8  # share of the smallest |residuals| a bucket's spread is the mean of

_TRIMMED_ABS_MEAN = 0.5586  # E|Z| over the smallest 80% of |Z|, Z standard normal

_SPARSE = 0.2  # share of exact zeros above which a bucket is treated as counts (see spread)


def bucket_label(bucket: int, kind: str = "hour_of_week") -> str:
    """'Tue 14:00' for an hour-of-week bucket (Monday 00:00 is 0), '14:00' for hour-of-day."""
    if kind == "hour_of_week":
        return f"{DAY_NAMES[bucket // 24]} {bucket % 24:02d}:00"
    if kind == "flat":
        return "recent hours"
    return f"{bucket:02d}:00"


def day_pos(t_ns: np.ndarray, end_ns: int) -> np.ndarray:
    """Time relative to the end of the training data, in days (negative inside it)."""
    return (t_ns - end_ns) / DAY_NS


def utc_ns(index: pd.Index, what: str) -> np.ndarray:
    if not isinstance(index, pd.DatetimeIndex):
        raise BaselineError(f"{what}: expected a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise BaselineError(f"{what}: the index must be timezone-aware (UTC), got naive times")
    return index.tz_convert("UTC").as_unit("ns").asi8


def as_float(frame: pd.DataFrame) -> np.ndarray:
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise BaselineError(f"expected numeric columns: {exc}") from exc
    values = np.array(values, dtype=np.float64, copy=True)  # never write into the caller's frame
    values[~np.isfinite(values)] = np.nan
    return values


def history(values: np.ndarray, t_ns: np.ndarray, step_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series: days from the first to the last observed point, and the observed share."""
    valid = ~np.isnan(values)
    n = len(t_ns)
    first = np.argmax(valid, axis=0)
    last = n - 1 - np.argmax(valid[::-1], axis=0)
    span_ns = np.where(valid.any(axis=0), t_ns[last] - t_ns[first] + step_ns, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(span_ns > 0, valid.sum(axis=0) * step_ns / span_ns, 0.0)
    return span_ns / DAY_NS, np.minimum(coverage, 1.0)


def positions(t_ns: np.ndarray, kind: str) -> np.ndarray:
    """Fractional hours since the start of the period (Monday 00:00 UTC, or midnight)."""
    seconds = t_ns // _NS_PER_S
    if kind == "flat":
        return np.zeros(len(t_ns))
    if kind == "hour_of_week":
        return ((seconds + _EPOCH_TO_MONDAY_S) % (7 * 86_400)) / 3600.0
    return (seconds % 86_400) / 3600.0


def interp_weights(
    pos: np.ndarray, n_buckets: int, interpolate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring buckets and the weight of the second; bucket values sit at midpoints."""
    if not interpolate:
        b = np.floor(pos).astype(np.intp) % n_buckets
        return b, b, np.zeros(len(pos))
    u = pos - 0.5
    lower = np.floor(u)
    b0 = lower.astype(np.intp) % n_buckets
    return b0, (b0 + 1) % n_buckets, u - lower


def lookup(table: np.ndarray, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(rows, series) values of a (buckets, series) table at interpolated bucket positions."""
    w = w[:, None]
    return table[b0] * (1.0 - w) + table[b1] * w


def _grouped(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """(groups, max rows per group, series), padded with NaN: one sort serves all series."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(len(g)) - starts[g]
    out = np.full((n_groups, max(int(counts.max()), 1), values.shape[1]), np.nan)
    out[g, slot] = values[order]
    return out


def quantum(x: np.ndarray, max_levels_share: float = 0.05) -> np.ndarray:
    """Per series, the smallest step between the values it takes, when it takes few distinct
    values (at most `max_levels_share` of its observed points: replica counts, integer
    gauges, a ratio of small counts), at least 1 for whole-number series; 0 for continuous
    series.

    A series that can only move by whole steps cannot deviate by less than one: its spread
    is floored at that step, so a flat series that moves by one quantum is not "hundreds of
    sigma" louder than a real regression."""
    ordered = np.sort(x, axis=0)  # NaN last; their diffs are NaN and count as no step
    with np.errstate(invalid="ignore"):
        steps = np.diff(ordered, axis=0)
        positive = steps > 0
    levels = positive.sum(axis=0) + 1
    observed = np.isfinite(x).sum(axis=0)
    smallest = np.where(positive, steps, np.inf).min(axis=0, initial=np.inf)
    few = (levels >= 2) & (levels <= np.maximum(2, max_levels_share * observed))
    step = np.where(few & np.isfinite(smallest), smallest, 0.0)
    # whole numbers (counts, replicas) move by at least one, even when training saw one level
    with np.errstate(invalid="ignore"):
        whole = np.all(np.isnan(x) | (x == np.round(x)), axis=0) & (observed > 0)
    return np.where(whole, np.maximum(step, 1.0), step)


def nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    """Median ignoring NaN, vectorised (np.nanmedian loops in Python over long slices)."""
    s = np.sort(a, axis=axis)  # NaN sorts last
    n = np.sum(~np.isnan(a), axis=axis, keepdims=True)
    lo = np.maximum((n - 1) // 2, 0)
    hi = np.maximum(n // 2, 0)
    med = 0.5 * (np.take_along_axis(s, lo, axis) + np.take_along_axis(s, hi, axis))
    return np.squeeze(med, axis=axis)


def group_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    return nanmedian(_grouped(values, groups, n_groups), axis=1)


def bucket_spread(
    residual: np.ndarray, zeros: np.ndarray, bucket: np.ndarray, n_buckets: int
) -> np.ndarray:
    """Robust sigma of the residual per bucket.

    Usually the mean of the smallest 80% of |r|, scaled to a normal sigma: it ignores up to
    20% of odd minutes (an incident in the training window) and is steadier than the MAD.
    Where at least `_SPARSE` of the values are exactly zero (the error ratio of a quiet
    service: no failed request in most minutes), any robust scale is about 0 and one failed
    request would score z > 4; there the root mean square of the residual is used (|r|
    clipped at its 99th percentile), which is what the Poisson-like noise of counts needs.
    """
    abs_res = np.sort(np.abs(_grouped(residual, bucket, n_buckets)), axis=1)  # NaN last
    n = np.sum(~np.isnan(abs_res), axis=1, keepdims=True)
    k = np.maximum(np.floor(_TRIM * n).astype(np.intp), 1)
    sums = np.cumsum(np.nan_to_num(abs_res), axis=1)
    trimmed = np.take_along_axis(sums, k - 1, axis=1) / k / _TRIMMED_ABS_MEAN
    q99 = np.take_along_axis(abs_res, np.maximum(np.floor(0.99 * (n - 1)), 0).astype(np.intp), 1)
    with np.errstate(invalid="ignore"):
        rms = np.sqrt(np.nanmean(np.minimum(abs_res, q99) ** 2, axis=1, keepdims=True))
        zero_share = _group_mean(zeros, bucket, n_buckets)[:, None, :]
    spread = np.where(zero_share >= _SPARSE, np.fmax(trimmed, rms), trimmed)
    return np.squeeze(np.where(n > 0, spread, np.nan), axis=1)


def _group_mean(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group mean of a (rows, series) array of 0/1 or NaN, NaN ignored."""
    valid = ~np.isnan(values)
    sums = np.zeros((n_groups, values.shape[1]))
    counts = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, groups, np.where(valid, values, 0.0))
    np.add.at(counts, groups, valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def fill_rows(table: np.ndarray) -> np.ndarray:
    """Buckets never observed take the series' median over its observed buckets."""
    if not np.isnan(table).any():
        return table
    return np.where(np.isnan(table), nanmedian(table, axis=0), table)


def fill_days(levels: np.ndarray) -> np.ndarray:
    """Days without data take the nearest observed day's level (row 0 is the newest day)."""
    if not np.isnan(levels).any():
        return levels
    filled = pd.DataFrame(levels).ffill().bfill().to_numpy()
    return np.where(np.isnan(filled), 0.0, filled)


def weekly_levels(daily: np.ndarray) -> np.ndarray:
    """Daily levels without the weekly cycle: centred 7-day means of the daily medians
    (row 0 is the newest day), continued linearly past the first and last complete window
    with the slope over the neighbouring week. Zero when there is less than a week."""
    n = daily.shape[0]
    if n < 7:
        return np.zeros_like(daily)
    valid = ~np.isnan(daily)
    zero = np.zeros((1, daily.shape[1]))
    sums = np.concatenate((zero, np.cumsum(np.where(valid, daily, 0.0), axis=0)))
    counts = np.concatenate((zero, np.cumsum(valid, axis=0)))
    centers = np.arange(3, n - 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[centers + 4] - sums[centers - 3]) / (
            counts[centers + 4] - counts[centers - 3]
        )
    out = np.full_like(daily, np.nan)
    out[centers] = means
    out = fill_days(out)
    first, last = 3, n - 4
    k = min(7, last - first)
    newest_slope = (out[first] - out[first + k]) / k if k else np.zeros(daily.shape[1])
    oldest_slope = (out[last - k] - out[last]) / k if k else np.zeros(daily.shape[1])
    for d in range(first):
        out[d] = out[first] + newest_slope * (first - d)
    for d in range(last + 1, n):
        out[d] = out[last] - oldest_slope * (d - last)
    return out


def level_path(
    levels: np.ndarray,
    tc: np.ndarray,
    slope: np.ndarray | None = None,
    horizon_days: float = 0.0,
) -> np.ndarray:
    """The level at times tc (days relative to the end of training), for every series.

    Inside the window: linear between the midpoints of the daily blocks (flat before the
    first). After the last midpoint: the last level plus slope x time, the time capped at
    horizon_days past the end of the data.
    """
    n_days = levels.shape[0]
    knots = -(np.arange(n_days)[::-1] + 0.5)  # oldest first; the newest is -0.5
    ordered = levels[::-1]
    tin = np.clip(tc, knots[0], knots[-1])
    right = np.clip(np.searchsorted(knots, tin, side="left"), 1, max(n_days - 1, 1))
    if n_days == 1:
        path = np.repeat(ordered[:1], len(tc), axis=0)
    else:
        left = right - 1
        w = ((tin - knots[left]) / (knots[right] - knots[left]))[:, None]
        path = ordered[left] * (1.0 - w) + ordered[right] * w
    if slope is not None:
        ahead = np.clip(np.minimum(tc, horizon_days) - knots[-1], 0.0, None)
        path = path + ahead[:, None] * slope[None, :]
    return path


def theil_sen(levels: np.ndarray) -> np.ndarray:
    """Median pairwise slope per series, levels[d] at d + 0.5 days before the end; per day."""
    n = levels.shape[0]
    i, j = np.triu_indices(n, k=1)
    # row d is older for larger d: slope between rows i < j is (newer - older) / (j - i)
    slopes = (levels[i] - levels[j]) / (j - i)[:, None]
    return np.nan_to_num(nanmedian(slopes, axis=0), nan=0.0)


def bound(bounds: Mapping[str, tuple[float | None, float | None]], key: str, side: int) -> float:
    limits = bounds.get(key.split(":", 1)[-1]) or bounds.get(key)
    value = None if limits is None else limits[side]
    if value is None:
        return -np.inf if side == 0 else np.inf
    return float(value)
