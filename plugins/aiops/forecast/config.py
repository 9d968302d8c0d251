"""Every knob of the forecasters, in frozen dataclasses validated on construction.

`ForecastConfig` holds what the whole set shares (the forecast grid, the backtest, the
interval) and one nested config per candidate. `config_to_dict` / `config_from_dict` turn
it into JSON and back exactly (timedeltas as tagged seconds), so a saved model carries the
configuration it was trained with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import timedelta
from typing import Any, Literal

from aiops.baselines.seasonal import BaselineError, SeasonalBaselineConfig
from aiops.forecast.errors import ForecastError

# cheapest first: on a tie the earlier candidate wins
CANDIDATES = ("seasonal_naive", "baseline", "prophet")


def default_workers() -> int:
    """Prophet fits in at most two processes unless told otherwise: the nightly job shares
    the machine with Airflow's other tasks."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class SeasonalNaiveConfig:
    """y(t + h) = y(t + h - k * season), k the fewest seasons that reach observed data."""

    lookback_seasons: int = 7  # seasons tried past a missing value before persistence

    def __post_init__(self) -> None:
        if self.lookback_seasons < 1:
            raise ForecastError(
                f"SeasonalNaiveConfig.lookback_seasons: must be >= 1, got {self.lookback_seasons}"
            )


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


@dataclass(frozen=True)
class ProphetConfig:
    """Prophet with daily and weekly seasonality, fitted on `resolution`-wide bin means."""

    # width of the bins Prophet is fitted on, a multiple of the forecast step; None: the
    # smallest multiple of the step that is at least 15 minutes
    resolution: timedelta | None = None
    daily_seasonality: bool = True
    weekly_seasonality: bool = True
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    history: timedelta | None = None  # fit on at most this much history (None: all)
    min_points: int = 48  # observed resolution bins needed to fit at all
    seed: int = 0  # passed to cmdstan's optimizer

    def __post_init__(self) -> None:
        if self.resolution is not None and self.resolution <= timedelta(0):
            raise ForecastError(
                f"ProphetConfig.resolution: must be > 0 or None, got {self.resolution}"
            )
        if self.history is not None and self.history <= timedelta(0):
            raise ForecastError(f"ProphetConfig.history: must be > 0 or None, got {self.history}")
        if self.min_points < 2:
            raise ForecastError(f"ProphetConfig.min_points: must be >= 2, got {self.min_points}")
        for name in ("changepoint_prior_scale", "seasonality_prior_scale"):
            if not getattr(self, name) > 0:
                raise ForecastError(f"ProphetConfig.{name}: must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class ForecastConfig:
    """The forecast grid, the rolling-origin backtest, the choice rule and the interval."""

    step: timedelta = timedelta(minutes=5)  # forecast grid: bin means labelled by bin end
    horizon: timedelta = timedelta(hours=6)  # targets origin + step .. origin + horizon
    season: timedelta = timedelta(days=1)  # seasonal naive's lag and MASE's scale lag
    candidates: tuple[str, ...] = CANDIDATES
    # origins lie in the training data's last `backtest_window`, `origin_every` apart, the
    # last one a horizon before its end; a week, so every weekday (and the weekend, where
    # "same time yesterday" fails) is in the backtest, not just the last two days
    backtest_window: timedelta = timedelta(days=7)
    origin_every: timedelta = timedelta(hours=6)
    refit_every: timedelta = timedelta(days=1)  # backtest refits as often as production does
    min_origins: int = 2  # scored origins a candidate needs to be chosen for a series
    choice_stat: Literal["mean", "median"] = "mean"  # of the per-origin MASEs
    # the mean weighs an origin by 0.5 ** (age / half-life): how a model did on the last days
    # (a ramp that began two days ago) counts more than a week ago. None: equal weights
    recency_half_life: timedelta | None = timedelta(days=2)
    # signals (the part of a key after ':') modelled as log1p(x): load whose daily swing
    # grows with its level (multiplicative), so a ramp lifts the peak, not just the mean
    log_signals: tuple[str, ...] = ()
    tie_tolerance: float = 0.02  # a costlier candidate must beat a cheaper one by this share
    level: float = 0.8  # central coverage of [lower, upper]
    interval_buckets: int = 6  # lead-time buckets for the interval (at most one per step)
    workers: int = field(default_factory=default_workers)  # Prophet process pool size
    keep_all: bool = False  # also keep every non-chosen candidate (diagnostics, benchmarks)
    naive: SeasonalNaiveConfig = field(default_factory=SeasonalNaiveConfig)
    baseline: BaselineForecastConfig = field(default_factory=BaselineForecastConfig)
    prophet: ProphetConfig = field(default_factory=ProphetConfig)

    def __post_init__(self) -> None:
        for name in ("step", "horizon", "season", "backtest_window", "origin_every", "refit_every"):
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                raise ForecastError(
                    f"ForecastConfig.{name}: expected a timedelta, got {type(value).__name__}"
                )
            if value <= timedelta(0):
                raise ForecastError(f"ForecastConfig.{name}: must be > 0, got {value}")
        for name in ("horizon", "season", "origin_every"):
            self._multiple_of_step(f"ForecastConfig.{name}", getattr(self, name))
        if self.recency_half_life is not None and (
            not isinstance(self.recency_half_life, timedelta)
            or self.recency_half_life <= timedelta(0)
        ):
            raise ForecastError(
                "ForecastConfig.recency_half_life: expected a positive timedelta or None, "
                f"got {self.recency_half_life!r}"
            )
        if isinstance(self.log_signals, str):
            raise ForecastError(
                f"ForecastConfig.log_signals: expected a tuple of signal names, got {self.log_signals!r}"
            )
        if self.baseline.recent is not None:
            self._multiple_of_step("BaselineForecastConfig.recent", self.baseline.recent)
        if self.prophet.resolution is not None:
            self._multiple_of_step("ProphetConfig.resolution", self.prophet.resolution)
        if isinstance(self.candidates, str) or not self.candidates:
            raise ForecastError(
                f"ForecastConfig.candidates: expected a non-empty tuple of {CANDIDATES}, "
                f"got {self.candidates!r}"
            )
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or len(set(self.candidates)) != len(self.candidates):
            raise ForecastError(
                f"ForecastConfig.candidates: each of {CANDIDATES} at most once, "
                f"got {self.candidates!r}"
            )
        if self.backtest_window < self.horizon:
            raise ForecastError(
                f"ForecastConfig.backtest_window: must be >= horizon ({self.horizon}), "
                f"got {self.backtest_window}"
            )
        if self.min_origins < 1:
            raise ForecastError(f"ForecastConfig.min_origins: must be >= 1, got {self.min_origins}")
        if self.choice_stat not in ("mean", "median"):
            raise ForecastError(
                f"ForecastConfig.choice_stat: expected 'mean' or 'median', got {self.choice_stat!r}"
            )
        if not 0 <= self.tie_tolerance < 1:
            raise ForecastError(
                f"ForecastConfig.tie_tolerance: must be in [0, 1), got {self.tie_tolerance}"
            )
        if not 0 < self.level < 1:
            raise ForecastError(f"ForecastConfig.level: must be in (0, 1), got {self.level}")
        if isinstance(self.interval_buckets, bool) or not (
            isinstance(self.interval_buckets, int) and self.interval_buckets >= 1
        ):
            raise ForecastError(
                f"ForecastConfig.interval_buckets: must be an integer >= 1, "
                f"got {self.interval_buckets!r}"
            )
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ForecastError(
                f"ForecastConfig.workers: must be an integer >= 1, got {self.workers!r}"
            )
        for name, kind in (
            ("naive", SeasonalNaiveConfig),
            ("baseline", BaselineForecastConfig),
            ("prophet", ProphetConfig),
        ):
            if not isinstance(getattr(self, name), kind):
                raise ForecastError(
                    f"ForecastConfig.{name}: expected a {kind.__name__}, "
                    f"got {type(getattr(self, name)).__name__}"
                )

    def _multiple_of_step(self, name: str, value: timedelta) -> None:
        if value <= timedelta(0) or value % self.step:
            raise ForecastError(
                f"{name}: must be a positive multiple of step ({self.step}), got {value}"
            )

    @property
    def step_ns(self) -> int:
        return timedelta_ns(self.step)

    def _at_least(self, minimum: timedelta) -> timedelta:
        return -(-minimum // self.step) * self.step

    @property
    def baseline_recent(self) -> timedelta:
        """The baseline's recent window (see BaselineForecastConfig.recent)."""
        return self.baseline.recent or self._at_least(timedelta(minutes=30))

    @property
    def n_interval_buckets(self) -> int:
        return min(self.interval_buckets, self.horizon_steps)

    @property
    def prophet_resolution(self) -> timedelta:
        """The width of Prophet's training bins (see ProphetConfig.resolution)."""
        return self.prophet.resolution or self._at_least(timedelta(minutes=15))

    @property
    def horizon_steps(self) -> int:
        return self.horizon // self.step

    @property
    def season_steps(self) -> int:
        return self.season // self.step

    @property
    def history_needed(self) -> timedelta:
        """History before the origin that `predict` uses: the seasons the naive forecast
        reaches back to, plus an hour (at least the baseline's recent window)."""
        seasons = -(-self.horizon // self.season)
        return seasons * self.season + max(self.baseline_recent, timedelta(hours=1))


def timedelta_ns(value: timedelta) -> int:
    """Exact nanoseconds of a timedelta (no float seconds on the way)."""
    return value // timedelta(microseconds=1) * 1000


def config_to_dict(config: Any) -> Any:
    """JSON-ready form of a (nested) config: timedeltas become {"seconds": ...}."""
    if is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in fields(config)}
    if isinstance(config, timedelta):
        return {"seconds": config.total_seconds()}
    if isinstance(config, tuple):
        return list(config)
    return config


def config_from_dict(kind: type, data: dict[str, Any], where: str = "config") -> Any:
    """Rebuild a config dataclass from `config_to_dict`'s output; errors name the bad key."""
    known = {f.name: f for f in fields(kind)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ForecastError(f"{where}: unknown key(s) {unknown}")
    defaults = kind()
    values: dict[str, Any] = {}
    for name, raw in data.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            values[name] = config_from_dict(type(default), raw, f"{where}.{name}")
        elif isinstance(raw, dict) and set(raw) == {"seconds"}:
            values[name] = timedelta(seconds=raw["seconds"])
        elif isinstance(default, tuple):
            values[name] = tuple(raw)
        else:
            values[name] = raw
    try:
        return kind(**values)
    except BaselineError as exc:
        raise ForecastError(f"{where}: {exc}") from exc
