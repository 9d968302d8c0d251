"""Forecast intervals from the backtest's own errors, by lead time (split-conformal style).

For the chosen candidate of a series, the signed errors (actual - forecast) of all backtest
origins are pooled per lead-time bucket (the horizon cut into `interval_buckets` equal
parts; 6 one-hour buckets by default, 28 origins x 12 leads = 336 errors each). In each
bucket the lower and upper offsets are order statistics of those n errors at ranks
floor(a/2 (n+1)) and ceil((1 - a/2)(n+1)), a = 1 - level: the split-conformal quantiles,
so with exchangeable errors the interval covers at least `level` of new points. Then:

- offsets are widened to include 0, so lower <= mean <= upper always holds;
- the upper offset is made non-decreasing and the lower non-increasing with lead
  (a running max / min over buckets): uncertainty never shrinks further out, and a
  time-to-breach read off the interval's ends is monotone;
- per lead, the offsets are interpolated linearly between bucket centres (flat beyond).

Why this and not each model's own interval: it is honest (measured out of sample, on this
series, at this lead), identical for every candidate (Prophet's, a baseline's and a naive
forecast's intervals are comparable), includes the staleness of a model fitted up to a day
earlier (see aiops.forecast.backtest), and costs nothing at predict time. Its limits: the
errors come from the last `backtest_window` only, and are not scaled by the level of the
series, so a night-time interval is as wide as a day-time one.

Series without backtest errors (too short to backtest) get the same quantiles of their
in-sample season-lag differences y(t) - y(t - season): exactly seasonal naive's error at
any lead up to one season, which is the forecast they fall back to.
"""

from __future__ import annotations

import numpy as np

_MIN_ERRORS = 5  # errors a bucket needs; fewer: it borrows the neighbouring bucket's offsets


def interval_offsets(
    errors: np.ndarray, level: float, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) offsets, each (horizon steps, series), from (origins, horizon, series)
    signed errors; NaN for series with no usable errors at all."""
    n_origins, horizon, n_series = errors.shape
    parts = np.array_split(np.arange(horizon), buckets)
    lo = np.full((buckets, n_series), np.nan)
    hi = np.full((buckets, n_series), np.nan)
    for b, leads in enumerate(parts):
        pooled = errors[:, leads, :].reshape(n_origins * len(leads), n_series)
        lo[b], hi[b] = conformal_quantiles(pooled, level)
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)  # NaN stays NaN
    lo, hi = _fill_buckets(lo), _fill_buckets(hi)
    lo = np.fmin.accumulate(lo, axis=0)
    hi = np.fmax.accumulate(hi, axis=0)
    centres = np.array([leads.mean() for leads in parts])
    lo, hi = (_interpolate(a, centres, horizon) for a in (lo, hi))
    return np.fmin.accumulate(lo, axis=0), np.fmax.accumulate(hi, axis=0)  # exact monotony


def fallback_offsets(
    values: np.ndarray, season_steps: int, level: float, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from in-sample season-lag differences, the same for every lead."""
    n, n_series = values.shape
    if n <= season_steps:
        nan = np.full((horizon, n_series), np.nan)
        return nan, nan.copy()
    diffs = values[season_steps:] - values[:-season_steps]
    lo, hi = conformal_quantiles(diffs, level)
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)  # NaN stays NaN
    return np.repeat(lo[None, :], horizon, axis=0), np.repeat(hi[None, :], horizon, axis=0)


def conformal_quantiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the order statistics at ranks floor(a/2 (n+1)) and ceil((1-a/2)(n+1))
    of the finite values (clipped to 1..n); NaN where fewer than _MIN_ERRORS."""
    alpha = 1.0 - level
    ordered = np.sort(np.where(np.isfinite(samples), samples, np.nan), axis=0)  # NaN last
    n = np.isfinite(ordered).sum(axis=0)
    eps = 1e-9  # 1 - 0.8 is 0.19999999999999996: do not lose a rank to rounding
    k_lo = np.clip(np.floor(alpha / 2 * (n + 1) + eps).astype(np.intp), 1, np.maximum(n, 1))
    k_hi = np.clip(np.ceil((1 - alpha / 2) * (n + 1) - eps).astype(np.intp), 1, np.maximum(n, 1))
    lo = np.take_along_axis(ordered, (k_lo - 1)[None, :], axis=0)[0]
    hi = np.take_along_axis(ordered, (k_hi - 1)[None, :], axis=0)[0]
    enough = n >= _MIN_ERRORS
    return np.where(enough, lo, np.nan), np.where(enough, hi, np.nan)


def _fill_buckets(a: np.ndarray) -> np.ndarray:
    """Fill NaN buckets from the previous bucket, then leading ones from the next."""
    out = a.copy()
    for b in range(1, len(out)):
        out[b] = np.where(np.isnan(out[b]), out[b - 1], out[b])
    for b in range(len(out) - 2, -1, -1):
        out[b] = np.where(np.isnan(out[b]), out[b + 1], out[b])
    return out


def _interpolate(values: np.ndarray, centres: np.ndarray, horizon: int) -> np.ndarray:
    """(horizon, series) linear interpolation of (buckets, series) between bucket centres,
    flat beyond the first and last centre; a column of NaN stays NaN."""
    if len(centres) == 1:
        return np.repeat(values, horizon, axis=0)
    x = np.clip(np.arange(horizon, dtype=float), centres[0], centres[-1])
    right = np.clip(np.searchsorted(centres, x, side="right"), 1, len(centres) - 1)
    left = right - 1
    w = ((x - centres[left]) / (centres[right] - centres[left]))[:, None]
    return values[left] + w * (values[right] - values[left])
