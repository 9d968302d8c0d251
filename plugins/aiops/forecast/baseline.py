"""Baseline forecaster: the seasonal baseline's centre plus the current deviation, decaying.

forecast(origin + k) = centre(origin + k) + beta ** (d_k / L) * r0, where

- centre is `SeasonalBaseline.expected`: the hour-of-week profile plus the Theil-Sen trend
  extrapolated past the training data (capped by the baseline's `trend_horizon_days`), so
  predicting a day or two after the nightly fit needs no refit;
- r0 is the mean residual (observed minus centre) over the `recent` window before the
  origin: what the series is doing now that the profile does not explain (a busy day, a
  leak's level above its trend). No observation in that window: r0 = 0, the centre alone;
- beta is the regression coefficient, clipped to [0, 1), of the `recent`-window mean
  residual `L` steps later on the current one, measured on the in-sample residuals
  (AR(1)-like); d_k is the distance from the middle of the recent window to the target.
  L defaults to half the horizon: the decay is calibrated where most of a 6-hour forecast's
  error is made, not at one step, where fast noise would make any deviation look fleeting.

One `SeasonalBaseline` is fitted over all series of the grid at once, in the backtest and
in the final fit alike (fitting every series costs about what fitting the chosen few
does, and any series whose chosen candidate failed its final fit can then fall back to
this one); series it skips (too little history) get NaN forecasts, and the set chooses
another candidate for them.

Saved in the set's folder as `baseline/`: the seasonal baseline's own JSON + npz and
`decay.json` (the series and their beta); nothing when no series uses it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aiops.baselines.seasonal import (
    InsufficientHistoryError,
    SeasonalBaseline,
    SeasonalBaselineConfig,
)
from aiops.forecast.candidate import BacktestPlan, forecast_per_refit
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid, ns_index, timedelta_ns

if TYPE_CHECKING:
    from aiops.forecast.config import ForecastConfig

_MIN_PAIRS = 8  # window pairs needed to estimate beta; fewer: beta = 0 (centre only)
_BETA_MAX = 0.999
BASELINE_DIR = "baseline"  # in the set's folder
DECAY_FILE = "decay.json"


@dataclass(frozen=True)
class BaselineForecastConfig:
    """The seasonal baseline's centre plus the current deviation from it, decaying."""

    seasonal: SeasonalBaselineConfig = field(default_factory=SeasonalBaselineConfig)
    # window whose mean residual is the current deviation, a multiple of the forecast step;
    # None: the smallest multiple of the step that is at least 30 minutes
    recent: timedelta | None = None
    decay_lag: timedelta | None = None  # lag the decay is calibrated at; None: horizon / 2

    def __post_init__(self) -> None:
        if not isinstance(self.seasonal, SeasonalBaselineConfig):
            raise ForecastError(
                "BaselineForecastConfig.seasonal: expected a SeasonalBaselineConfig, "
                f"got {type(self.seasonal).__name__}"
            )
        if self.recent is not None and self.recent <= timedelta(0):
            raise ForecastError(
                f"BaselineForecastConfig.recent: must be > 0 or None, got {self.recent}"
            )
        if self.decay_lag is not None and self.decay_lag <= timedelta(0):
            raise ForecastError(
                f"BaselineForecastConfig.decay_lag: must be > 0 or None, got {self.decay_lag}"
            )


class BaselineForecaster:
    """Fit on a StepGrid, forecast any of its series from any origin after training."""

    name = "baseline"
    cost = 20
    config_type = BaselineForecastConfig
    config_field = "baseline"

    def __init__(
        self, config: BaselineForecastConfig, horizon_steps: int, step_ns: int, recent: timedelta
    ) -> None:
        self.config = config
        self.horizon_steps = horizon_steps
        self.step_ns = step_ns
        self.recent = recent
        self.keys_: tuple[str, ...] = ()
        self.beta_ = np.zeros(0)
        self.model_: SeasonalBaseline | None = None

    @classmethod
    def from_config(cls, config: ForecastConfig) -> BaselineForecaster:
        return cls(
            config.baseline, config.horizon_steps, config.step_ns, cls.recent_history(config)
        )

    @classmethod
    def check_config(cls, config: ForecastConfig) -> None:
        if config.baseline.recent is not None:
            config.require_step_multiple("BaselineForecastConfig.recent", config.baseline.recent)

    @classmethod
    def recent_history(cls, config: ForecastConfig) -> timedelta:
        """The recent window (see BaselineForecastConfig.recent)."""
        return config.baseline.recent or config.step_multiple_at_least(timedelta(minutes=30))

    def backtest(self, grid: StepGrid, plan: BacktestPlan) -> np.ndarray:
        return forecast_per_refit(self._refit, grid, plan)

    def _refit(self, grid: StepGrid) -> BaselineForecaster:
        return BaselineForecaster(self.config, self.horizon_steps, self.step_ns, self.recent).fit(
            grid
        )

    @property
    def recent_steps(self) -> int:
        return max(1, timedelta_ns(self.recent) // self.step_ns)

    @property
    def lag_steps(self) -> int:
        """The decay's calibration lag, a whole number of recent windows."""
        m = self.recent_steps
        lag = self.config.decay_lag
        steps = self.horizon_steps // 2 if lag is None else timedelta_ns(lag) // self.step_ns
        return max(1, round(steps / m)) * m

    def fit(self, grid: StepGrid, keys: Sequence[str] | None = None) -> BaselineForecaster:
        """Fit the seasonal baseline on every series of grid (not only `keys`, see the
        module docstring) and the decay on its residuals."""
        self.keys_ = ()
        self.beta_ = np.zeros(0)
        self.model_ = None
        try:
            with warnings.catch_warnings():  # buckets without data in gappy series
                warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
                model = SeasonalBaseline(self.config.seasonal).fit(grid.frame())
        except InsufficientHistoryError:
            return self
        keys = tuple(model.keys_)
        center = model.expected(grid.index, list(keys))[0].to_numpy()
        residual = grid.columns(keys).values - center
        self.model_, self.keys_ = model, keys
        self.beta_ = _decay(residual, self.recent_steps, self.lag_steps)
        return self

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        """(horizon steps, series) forecasts for grid.keys after row `origin_pos`; NaN for
        series the baseline did not fit."""
        out = np.full((self.horizon_steps, len(grid.keys)), np.nan)
        column = {k: i for i, k in enumerate(self.keys_)}
        known = [i for i, k in enumerate(grid.keys) if k in column]
        if not known or self.model_ is None:
            return out
        keys = [grid.keys[i] for i in known]
        cols = np.array([column[k] for k in keys])
        origin_ns = int(grid.t_ns[origin_pos])
        lead = np.arange(1, self.horizon_steps + 1)
        targets = ns_index(origin_ns + lead * self.step_ns)
        center = self.model_.expected(targets, keys)[0].to_numpy()
        m = self.recent_steps
        lo = max(0, origin_pos - m + 1)
        recent = grid.values[lo : origin_pos + 1, known]
        recent_center = self.model_.expected(ns_index(grid.t_ns[lo : origin_pos + 1]), keys)[0]
        dev = recent - recent_center.to_numpy()
        ok = np.isfinite(dev)
        with np.errstate(invalid="ignore", divide="ignore"):
            r0 = np.where(ok.any(axis=0), np.where(ok, dev, 0.0).sum(0) / ok.sum(0), 0.0)
        distance = lead + (m - 1) / 2.0
        decay = self.beta_[cols][None, :] ** (distance[:, None] / self.lag_steps)
        out[:, known] = center + decay * r0[None, :]
        return out

    def keep(self, keys: Sequence[str]) -> None:
        """All or nothing: one SeasonalBaseline holds every series, so its state is kept
        whole when any series uses it and dropped (not saved) when none does."""
        if not keys:
            self.keys_, self.beta_, self.model_ = (), np.zeros(0), None

    # --- persistence ------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """`baseline/` in the set's folder, when it holds any series."""
        if not self.keys_:
            return
        folder = Path(folder) / BASELINE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        if self.model_ is not None:
            self.model_.save(folder)
        decay = {"keys": list(self.keys_), "beta": [float(b) for b in self.beta_]}
        (folder / DECAY_FILE).write_text(json.dumps(decay, indent=2) + "\n")

    @classmethod
    def load(cls, config: ForecastConfig, folder: Path, keys: Sequence[str]) -> BaselineForecaster:
        self = cls.from_config(config)
        folder = Path(folder) / BASELINE_DIR
        if not folder.exists():  # no series used it
            return self
        try:
            decay = json.loads((folder / DECAY_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ForecastError(f"{folder / DECAY_FILE}: cannot read the decay: {exc}") from exc
        self.keys_ = tuple(decay["keys"])
        self.beta_ = np.array(decay["beta"], dtype=float)
        self.model_ = SeasonalBaseline.load(folder) if self.keys_ else None
        if self.model_ is not None and tuple(self.model_.keys_) != self.keys_:
            raise ForecastError(f"{folder}: the baseline's series do not match {DECAY_FILE}")
        return self


def _decay(residual: np.ndarray, window: int, lag: int) -> np.ndarray:
    """Per series: regression slope of the window-mean residual `lag` steps later on the
    current window-mean residual, clipped to [0, _BETA_MAX]; 0 when it cannot be measured."""
    n, n_series = residual.shape
    blocks = n // window
    if blocks == 0:
        return np.zeros(n_series)
    tail = residual[n - blocks * window :].reshape(blocks, window, n_series)
    ok = np.isfinite(tail)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(ok, tail, 0.0).sum(axis=1) / ok.sum(axis=1)  # (blocks, series)
    step = lag // window
    if blocks <= step:
        return np.zeros(n_series)
    a, b = means[:-step], means[step:]
    pair = np.isfinite(a) & np.isfinite(b)
    count = pair.sum(axis=0)
    a0 = np.where(pair, a, 0.0)
    b0 = np.where(pair, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = a0.sum(0) / count, b0.sum(0) / count
        cov = (np.where(pair, (a - ma) * (b - mb), 0.0)).sum(0)
        var = (np.where(pair, (a - ma) ** 2, 0.0)).sum(0)
        beta = cov / var
    beta = np.where((count >= _MIN_PAIRS) & (var > 0) & np.isfinite(beta), beta, 0.0)
    return np.clip(beta, 0.0, _BETA_MAX)
