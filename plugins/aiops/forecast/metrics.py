"""Forecast accuracy: seasonal MASE (Hyndman and Koehler, 2006) and sMAPE.

MASE = MAE of the forecast / in-sample MAE of the season-lag naive forecast on the data the
forecaster was trained on (before the origin). Below 1 means better than what seasonal
naive achieved in-sample; it is scale-free, so it can be averaged over series as different
as a request rate and a memory gauge, and it stays finite on series that touch zero (an
error ratio), where percentage errors blow up.

sMAPE = mean of 200 |y - f| / (|y| + |f|), in percent (0 to 200; a point where both are 0
counts as 0). Reported beside MASE because people read percentages; never used to choose.

Both ignore points where the actual or the forecast is missing. All functions work on the
last axis or on whole arrays so the backtest scores every series at once.
"""

from __future__ import annotations

import numpy as np

# a season-lag MAE below this share of the series' mean |y| is treated as this, so a
# series that repeats exactly gets a large but finite MASE for anything but a perfect fit
SCALE_FLOOR_RATIO = 1e-9
_TINY = 1e-300


def naive_scale(values: np.ndarray, season_steps: int) -> np.ndarray:
    """In-sample MAE of the season-lag naive forecast, per column (rows: time)."""
    values = np.asarray(values, dtype=float)
    squeeze = values.ndim == 1
    if squeeze:
        values = values[:, None]
    csum, count, abs_sum, abs_count = naive_scale_sums(values, season_steps)
    scale = floored_scale(csum[-1], count[-1], abs_sum[-1], abs_count[-1])
    return scale[0] if squeeze else scale


def naive_scale_sums(
    values: np.ndarray, season_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative sums over rows, so every origin's scale costs one lookup:
    (sum |y_t - y_{t-m}|, count of such pairs, sum |y_t|, count of observed y_t), each
    (rows, series) and counting rows up to and including row t."""
    n, n_series = values.shape
    diff = np.full((n, n_series), np.nan)
    if n > season_steps:
        diff[season_steps:] = np.abs(values[season_steps:] - values[:-season_steps])
    d_ok = np.isfinite(diff)
    y_ok = np.isfinite(values)
    return (
        np.cumsum(np.where(d_ok, diff, 0.0), axis=0),
        np.cumsum(d_ok, axis=0),
        np.cumsum(np.where(y_ok, np.abs(values), 0.0), axis=0),
        np.cumsum(y_ok, axis=0),
    )


def floored_scale(
    diff_sum: np.ndarray, diff_count: np.ndarray, abs_sum: np.ndarray, abs_count: np.ndarray
) -> np.ndarray:
    """Season-lag MAE from the sums, floored (see SCALE_FLOOR_RATIO); NaN without pairs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mae = diff_sum / diff_count
        mean_abs = abs_sum / abs_count
    floor = np.maximum(SCALE_FLOOR_RATIO * np.nan_to_num(mean_abs), _TINY)
    return np.where(diff_count > 0, np.maximum(mae, floor), np.nan)


def mae(actual: np.ndarray, forecast: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean absolute error over the points where both are observed (NaN if none)."""
    err = np.abs(np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float))
    ok = np.isfinite(err)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, err, 0.0).sum(axis=axis) / ok.sum(axis=axis)


def mase(
    actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray | float, axis: int = -1
) -> np.ndarray:
    """MAE of the forecast divided by the naive in-sample MAE `scale` (from naive_scale)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return mae(actual, forecast, axis) / np.asarray(scale, dtype=float)


def smape(actual: np.ndarray, forecast: np.ndarray, axis: int = -1) -> np.ndarray:
    """Symmetric MAPE in percent, 0..200; 0/0 points count as 0."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    den = np.abs(y) + np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    ok = np.isfinite(y) & np.isfinite(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, term, 0.0).sum(axis=axis) / ok.sum(axis=axis)
