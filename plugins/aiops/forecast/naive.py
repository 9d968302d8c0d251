"""Seasonal naive: tomorrow looks like today.

y(t + h) = y(t + h - k * season) with k the fewest whole seasons that land at or before the
origin, i.e. the most recent observed season. Where that bin is missing, the same phase one
season earlier is tried, up to `lookback_seasons`; where all of those are missing, the last
observed value (persistence). It learns nothing, so `fit` only records the series, and it
is the yardstick of MASE: a candidate that cannot beat it is not worth its cost.
"""

from __future__ import annotations

import numpy as np

from aiops.forecast.config import SeasonalNaiveConfig
from aiops.forecast.grid import StepGrid


class SeasonalNaive:
    """Vectorised over every series of a grid; deterministic; no learned state."""

    name = "seasonal_naive"

    def __init__(self, config: SeasonalNaiveConfig, season_steps: int, horizon_steps: int) -> None:
        self.config = config
        self.season_steps = season_steps
        self.horizon_steps = horizon_steps

    def fit(self, grid: StepGrid) -> SeasonalNaive:
        self.keys_ = tuple(grid.keys)
        return self

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        """(horizon steps, series) forecasts for the targets after row `origin_pos`."""
        return seasonal_naive_forecast(
            grid.values[: origin_pos + 1],
            self.season_steps,
            self.horizon_steps,
            self.config.lookback_seasons,
        )


def seasonal_naive_forecast(
    values: np.ndarray, season_steps: int, horizon_steps: int, lookback_seasons: int
) -> np.ndarray:
    """Forecasts for rows n .. n + horizon - 1 of `values` (rows: bins up to the origin)."""
    n, n_series = values.shape
    if n == 0:
        return np.full((horizon_steps, n_series), np.nan)
    lead = np.arange(1, horizon_steps + 1)
    first_k = -(-lead // season_steps)  # fewest seasons back that reach the history
    k = first_k[:, None] + np.arange(lookback_seasons)[None, :]  # (H, lookback)
    src = (n - 1) + lead[:, None] - k * season_steps
    inside = src >= 0
    picked = np.where(inside[:, :, None], values[np.clip(src, 0, n - 1)], np.nan)
    observed = np.isfinite(picked)
    first_ok = np.argmax(observed, axis=1)  # (H, series): the most recent observed season
    out = np.take_along_axis(picked, first_ok[:, None, :], axis=1)[:, 0, :]
    out = np.where(observed.any(axis=1), out, np.nan)
    missing = np.isnan(out)
    if missing.any():
        out = np.where(missing, _last_observed(values)[None, :], out)
    return out


def _last_observed(values: np.ndarray) -> np.ndarray:
    """Per series, the last finite value (NaN if none)."""
    valid = np.isfinite(values)
    n = len(values)
    last = n - 1 - np.argmax(valid[::-1], axis=0)
    out = values[last, np.arange(values.shape[1])]
    return np.where(valid.any(axis=0), out, np.nan)
