"""Every knob of the forecasters, in frozen dataclasses validated on construction.

`ForecastConfig` holds what the whole set shares (the forecast grid, the backtest, the
interval), the candidates by name (aiops.forecast.registry) and each candidate's own
config: the built-ins' in the fields `naive`, `baseline` and `prophet` (their config
classes live with them: aiops.forecast.naive, .baseline, .prophet_model), any other's in
`candidate_configs` by name. `config_to_dict` / `config_from_dict` turn it into JSON and
back exactly (timedeltas as tagged seconds), so a saved model carries the configuration
it was trained with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import timedelta
from typing import Any, Literal

from aiops.baselines.seasonal import BaselineError
from aiops.forecast.baseline import BaselineForecastConfig
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import timedelta_ns
from aiops.forecast.naive import SeasonalNaiveConfig
from aiops.forecast.prophet_model import ProphetConfig
from aiops.forecast.registry import CANDIDATES, forecaster_class, forecaster_names

__all__ = [
    "CANDIDATES",
    "BaselineForecastConfig",
    "CandidateConfigs",
    "ForecastConfig",
    "ProphetConfig",
    "SeasonalNaiveConfig",
    "config_from_dict",
    "config_to_dict",
    "default_workers",
    "timedelta_ns",
]


def default_workers() -> int:
    """Prophet fits in at most two processes unless told otherwise: the nightly job shares
    the machine with Airflow's other tasks."""
    return max(1, min(2, os.cpu_count() or 1))


class CandidateConfigs(Mapping[str, Any]):
    """Forecaster name -> its config, read-only: a frozen ForecastConfig stays frozen (the
    caller's dict is copied), hashable, comparable and picklable, as its other fields are."""

    def __init__(self, configs: Mapping[str, Any] | None = None) -> None:
        self._configs = dict(configs or {})

    def __getitem__(self, name: str) -> Any:
        return self._configs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def __hash__(self) -> int:
        return hash(frozenset(self._configs.items()))

    def __repr__(self) -> str:
        return f"CandidateConfigs({self._configs!r})"


@dataclass(frozen=True)
class ForecastConfig:
    """The forecast grid, the rolling-origin backtest, the choice rule and the interval."""

    step: timedelta = timedelta(minutes=5)  # forecast grid: bin means labelled by bin end
    horizon: timedelta = timedelta(hours=6)  # targets origin + step .. origin + horizon
    season: timedelta = timedelta(days=1)  # seasonal naive's lag and MASE's scale lag
    # registered forecaster names (aiops.forecast.registry); default: the built-ins
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
    # candidates backtested on a series only on its first night and on its re-check day
    # every `recheck_days`; where one is the choice in between, its scores are carried and
    # it is only refitted (aiops.forecast.sparing): Prophet costs about twenty times the
    # others and wins few series
    sparing: tuple[str, ...] = ("prophet",)
    recheck_days: int = 7
    # the built-in candidates' own configs (their `config_field`s)
    naive: SeasonalNaiveConfig = field(default_factory=SeasonalNaiveConfig)
    baseline: BaselineForecastConfig = field(default_factory=BaselineForecastConfig)
    prophet: ProphetConfig = field(default_factory=ProphetConfig)
    # any other registered forecaster's config by name (its config_type); one not given
    # here runs with its config class's defaults. Read-only once constructed
    candidate_configs: Mapping[str, Any] = field(default_factory=CandidateConfigs)

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
            self.require_step_multiple(f"ForecastConfig.{name}", getattr(self, name))
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
        self._check_candidates()
        if self.backtest_window < self.horizon:
            raise ForecastError(
                f"ForecastConfig.backtest_window: must be >= horizon ({self.horizon}), "
                f"got {self.backtest_window}"
            )
        if self.min_origins < 1:
            raise ForecastError(f"ForecastConfig.min_origins: must be >= 1, got {self.min_origins}")
        if self.recheck_days < 1:
            raise ForecastError(
                f"ForecastConfig.recheck_days: must be >= 1, got {self.recheck_days}"
            )
        if isinstance(self.sparing, str):
            raise ForecastError(
                f"ForecastConfig.sparing: expected a tuple of candidate names, got {self.sparing!r}"
            )
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

    def _check_candidates(self) -> None:
        """Candidates are registered names, each once; every candidate's own config has its
        class and fits the set's grid (the built-ins' always, as they are fields)."""
        if isinstance(self.candidates, str) or not self.candidates:
            raise ForecastError(
                f"ForecastConfig.candidates: expected a non-empty tuple of "
                f"{forecaster_names()}, got {self.candidates!r}"
            )
        for name in self.candidates:
            forecaster_class(name, "ForecastConfig.candidates")
        if len(set(self.candidates)) != len(self.candidates):
            raise ForecastError(
                f"ForecastConfig.candidates: each forecaster at most once, got {self.candidates!r}"
            )
        if not isinstance(self.candidate_configs, Mapping):
            raise ForecastError(
                "ForecastConfig.candidate_configs: expected a mapping of forecaster name to "
                f"its config, got {type(self.candidate_configs).__name__}"
            )
        # frozen means frozen: a read-only copy, so the caller's dict cannot change it later
        object.__setattr__(self, "candidate_configs", CandidateConfigs(self.candidate_configs))
        for name in self.candidate_configs:
            cls = forecaster_class(name, "ForecastConfig.candidate_configs")
            if cls.config_field is not None:
                raise ForecastError(
                    f"ForecastConfig.candidate_configs: {name!r} is configured by "
                    f"ForecastConfig.{cls.config_field}"
                )
        built_in = [n for n in forecaster_names() if forecaster_class(n).config_field is not None]
        for name in dict.fromkeys([*built_in, *self.candidates, *self.candidate_configs]):
            cls = forecaster_class(name)
            where = (
                f"ForecastConfig.{cls.config_field}"
                if cls.config_field is not None
                else f"ForecastConfig.candidate_configs[{name!r}]"
            )
            if cls.config_field is not None and cls.config_field not in {
                f.name for f in fields(self)
            }:
                raise ForecastError(
                    f"{cls.__qualname__}.config_field: {cls.config_field!r} is not a "
                    "ForecastConfig field (only the built-ins have one; leave it None and "
                    "pass the config in ForecastConfig.candidate_configs)"
                )
            own = self.candidate_config(name)
            if not isinstance(own, cls.config_type):
                raise ForecastError(
                    f"{where}: expected a {cls.config_type.__name__}, got {type(own).__name__}"
                )
            cls.check_config(self)

    def candidate_config(self, name: str) -> Any:
        """The candidate's own config: its field (built-ins), else candidate_configs[name],
        else its config class's defaults."""
        cls = forecaster_class(name, "ForecastConfig.candidate_config")
        if cls.config_field is not None:
            return getattr(self, cls.config_field)
        if name in self.candidate_configs:
            return self.candidate_configs[name]
        return cls.config_type()

    def require_step_multiple(self, name: str, value: timedelta) -> None:
        """Raise ForecastError naming the field unless value is a positive multiple of step."""
        if value <= timedelta(0) or value % self.step:
            raise ForecastError(
                f"{name}: must be a positive multiple of step ({self.step}), got {value}"
            )

    def step_multiple_at_least(self, minimum: timedelta) -> timedelta:
        """The smallest multiple of step that is at least `minimum` (a window's default)."""
        return -(-minimum // self.step) * self.step

    @property
    def step_ns(self) -> int:
        return timedelta_ns(self.step)

    @property
    def n_interval_buckets(self) -> int:
        return min(self.interval_buckets, self.horizon_steps)

    @property
    def horizon_steps(self) -> int:
        return self.horizon // self.step

    @property
    def season_steps(self) -> int:
        return self.season // self.step

    @property
    def history_needed(self) -> timedelta:
        """History before the origin that `predict` uses: the seasons the naive forecast
        (every series' fallback) reaches back to, plus an hour or the longest recent window
        a candidate reads (the baseline's), whichever is longer."""
        seasons = -(-self.horizon // self.season)
        recent = [forecaster_class(n).recent_history(self) for n in self.candidates]
        return seasons * self.season + max([timedelta(hours=1), *recent])


def config_to_dict(config: Any) -> Any:
    """JSON-ready form of a (nested) config: timedeltas become {"seconds": ...}."""
    if is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in fields(config)}
    if isinstance(config, timedelta):
        return {"seconds": config.total_seconds()}
    if isinstance(config, tuple):
        return list(config)
    if isinstance(config, Mapping):
        return {str(k): config_to_dict(v) for k, v in config.items()}
    return config


def config_from_dict(kind: type, data: dict[str, Any], where: str = "config") -> Any:
    """Rebuild a config dataclass from `config_to_dict`'s output; errors name the bad key.
    A mapping field (ForecastConfig.candidate_configs) holds forecaster name -> that
    forecaster's config, rebuilt as its registered config_type."""
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
        elif isinstance(default, Mapping):
            values[name] = {
                key: config_from_dict(
                    forecaster_class(key, f"{where}.{name}").config_type,
                    value,
                    f"{where}.{name}.{key}",
                )
                for key, value in raw.items()
            }
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
    except ForecastError as exc:
        raise ForecastError(f"{where}: {exc}") from exc
