"""Seasonal naive: tomorrow looks like today.

y(t + h) = y(t + h - k * season) with k the fewest whole seasons that land at or before the
origin, i.e. the most recent observed season. Where that bin is missing, the same phase one
season earlier is tried, up to `lookback_seasons`; where all of those are missing, the last
observed value (persistence). It learns nothing, so `fit` only records the series, and it
is the yardstick of MASE: a candidate that cannot beat it is not worth its cost. It is also
every series' fallback (aiops.forecast.forecast_set): constant series, series too short to
backtest, and series whose chosen candidate failed everywhere get it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aiops.forecast.candidate import BacktestPlan, forecast_per_refit
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid

if TYPE_CHECKING:
    from aiops.forecast.config import ForecastConfig


@dataclass(frozen=True)
class SeasonalNaiveConfig:
    """y(t + h) = y(t + h - k * season), k the fewest seasons that reach observed data."""

    lookback_seasons: int = 7  # seasons tried past a missing value before persistence

    def __post_init__(self) -> None:
        if self.lookback_seasons < 1:
            raise ForecastError(
                f"SeasonalNaiveConfig.lookback_seasons: must be >= 1, got {self.lookback_seasons}"
            )


class SeasonalNaive:
    """Vectorised over every series of a grid; deterministic; no learned state."""

    name = "seasonal_naive"
    cost = 10
    config_type = SeasonalNaiveConfig
    config_field = "naive"

    def __init__(self, config: SeasonalNaiveConfig, season_steps: int, horizon_steps: int) -> None:
        self.config = config
        self.season_steps = season_steps
        self.horizon_steps = horizon_steps
        self.keys_: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: ForecastConfig) -> SeasonalNaive:
        return cls(config.naive, config.season_steps, config.horizon_steps)

    @classmethod
    def check_config(cls, config: ForecastConfig) -> None:
        """Nothing depends on the set's grid (the season is the set's own knob)."""

    @classmethod
    def recent_history(cls, config: ForecastConfig) -> timedelta:
        return timedelta(0)  # whole seasons only, which the set always fetches

    def backtest(self, grid: StepGrid, plan: BacktestPlan) -> np.ndarray:
        return forecast_per_refit(self._refit, grid, plan)

    def _refit(self, grid: StepGrid) -> SeasonalNaive:
        return SeasonalNaive(self.config, self.season_steps, self.horizon_steps).fit(grid)

    def fit(self, grid: StepGrid, keys: Sequence[str] | None = None) -> SeasonalNaive:
        """Records grid's series: any of them can be forecast (so can any other)."""
        self.keys_ = tuple(grid.keys)
        return self

    def keep(self, keys: Sequence[str]) -> None:
        """No per-series state to drop."""

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        """(horizon steps, series) forecasts for the targets after row `origin_pos`."""
        return seasonal_naive_forecast(
            grid.values[: origin_pos + 1],
            self.season_steps,
            self.horizon_steps,
            self.config.lookback_seasons,
        )

    def save(self, folder: Path) -> None:
        """Nothing to save: it learns nothing."""

    @classmethod
    def load(cls, config: ForecastConfig, folder: Path, keys: Sequence[str]) -> SeasonalNaive:
        naive = cls.from_config(config)
        naive.keys_ = tuple(keys)
        return naive


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
