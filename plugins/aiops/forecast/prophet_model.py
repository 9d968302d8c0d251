"""Prophet as a candidate: daily and weekly seasonality, per series, fitted in a pool.

Prophet learns no state from recent observations: predicting from an origin after the
training data just evaluates its trend and seasonality further out. Daily and weekly
seasonality, no yearly; `uncertainty_samples=0` because the set's intervals come from the
backtest errors, the same way for every candidate. The fits run in a bounded pool of worker
processes (aiops.forecast.prophet_pool, which says why and how).

As a candidate (`ProphetForecaster`): the backtest is one pool run with a job per series;
the final fit is a second run for only the series that chose Prophet (every series with
keep_all), since it costs seconds per series. Each run has its own pool, closed when the
run ends; after the first, a pool starts from the fork server in ~0.05 s. The fitted
models are saved in the set's folder as `prophet_models.json.gz` (key -> Prophet's model
JSON), when there are any.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiops.forecast.candidate import BacktestPlan
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid, timedelta_ns
from aiops.forecast.prophet_pool import (
    ProphetJob,
    ProphetPool,
    ProphetResult,
    model_from_json,
    predict_at,
    resolution_bins,
)

if TYPE_CHECKING:
    from aiops.forecast.config import ForecastConfig

MODELS_FILE = "prophet_models.json.gz"  # in the set's folder


@dataclass(frozen=True)
class ProphetConfig:
    """Prophet with daily and weekly seasonality, fitted on `resolution`-wide bin means."""

    # width of the bins Prophet is fitted on, a multiple of the forecast step; None: the
    # smallest multiple of the step that is at least `resolution_floor`
    resolution: timedelta | None = None
    # chosen by cross-validation across the demo world and NAB (bench/bench_forecast.py
    # --only-resolution): fewer, wider bins fit faster, and Prophet's smooth daily and
    # weekly terms lose nothing measurable at an hour
    resolution_floor: timedelta = timedelta(hours=1)
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
        if self.resolution_floor <= timedelta(0):
            raise ForecastError(
                f"ProphetConfig.resolution_floor: must be > 0, got {self.resolution_floor}"
            )
        if self.history is not None and self.history <= timedelta(0):
            raise ForecastError(f"ProphetConfig.history: must be > 0 or None, got {self.history}")
        if self.min_points < 2:
            raise ForecastError(f"ProphetConfig.min_points: must be >= 2, got {self.min_points}")
        for name in ("changepoint_prior_scale", "seasonality_prior_scale"):
            if not getattr(self, name) > 0:
                raise ForecastError(f"ProphetConfig.{name}: must be > 0, got {getattr(self, name)}")


class ProphetForecaster:
    """Per series, in the pool: the candidate's side of aiops.forecast.candidate.Forecaster."""

    name = "prophet"
    cost = 30
    config_type = ProphetConfig
    config_field = "prophet"

    def __init__(
        self,
        config: ProphetConfig,
        horizon_steps: int,
        step_ns: int,
        resolution: timedelta,
        workers: int,
    ) -> None:
        self.config = config
        self.horizon_steps = horizon_steps
        self.step_ns = step_ns
        self.resolution = resolution
        self.workers = workers
        self.models_json: dict[str, str] = {}  # key -> Prophet's model JSON
        self.keys_: tuple[str, ...] = ()
        self._models: dict[str, Any] = {}  # deserialised on first use

    @classmethod
    def from_config(cls, config: ForecastConfig) -> ProphetForecaster:
        return cls(
            config.prophet,
            config.horizon_steps,
            config.step_ns,
            cls.resolution_of(config),
            config.workers,
        )

    @classmethod
    def resolution_of(cls, config: ForecastConfig) -> timedelta:
        """The width of Prophet's training bins (see ProphetConfig.resolution)."""
        return config.prophet.resolution or config.step_multiple_at_least(
            config.prophet.resolution_floor
        )

    @classmethod
    def check_config(cls, config: ForecastConfig) -> None:
        if config.prophet.resolution is not None:
            config.require_step_multiple("ProphetConfig.resolution", config.prophet.resolution)

    @classmethod
    def recent_history(cls, config: ForecastConfig) -> timedelta:
        return timedelta(0)  # Prophet reads no history at predict time

    def jobs(
        self,
        grid: StepGrid,
        fits: Sequence[tuple[int, Sequence[int]]],
        final_origin_ns: int | None,
        keys: Sequence[str] | None = None,
    ) -> list[ProphetJob]:
        """One job per series (of `keys`, default all): its resolution bins, the fits (end,
        origins; epoch ns) and the target offsets."""
        res_ns = timedelta_ns(self.resolution)
        sub = grid if keys is None else grid.columns(keys)
        labels, means = resolution_bins(sub, res_ns)
        lead = np.arange(1, self.horizon_steps + 1, dtype=np.int64)
        offsets = lead * grid.step_ns - grid.step_ns // 2
        return [
            ProphetJob(
                key=key,
                label_ns=labels,
                y=np.ascontiguousarray(means[:, j]),
                resolution_ns=res_ns,
                fits=tuple((int(end), tuple(int(o) for o in origins)) for end, origins in fits),
                target_offsets_ns=offsets,
                final_origin_ns=final_origin_ns,
                config=self.config,
            )
            for j, key in enumerate(sub.keys)
        ]

    def backtest(self, grid: StepGrid, plan: BacktestPlan) -> np.ndarray:
        """One job per series with all of its refits, in a pool for this run."""
        out = plan.empty(len(grid.keys))
        t = grid.t_ns[plan.origins]
        fits = [(t[f], [t[i] for i in members]) for f, members in plan.groups]
        order = [i for _, members in plan.groups for i in members]
        with ProphetPool(self.workers) as pool:
            for j, result in enumerate(pool.run(self.jobs(grid, fits, None))):
                out[order, :, j] = result.forecasts
        return out

    def fit(self, grid: StepGrid, keys: Sequence[str]) -> ProphetForecaster:
        """Fit `keys` only (seconds each) on all of grid's bins; a failed fit leaves its
        series out of keys_."""
        results: list[ProphetResult] = []
        if keys:
            with ProphetPool(self.workers) as pool:
                results = pool.run(self.jobs(grid, (), int(grid.t_ns[-1]), keys))
        self.models_json = {r.key: r.model_json for r in results if r.model_json}
        self.keys_ = tuple(self.models_json)
        self._models = {}
        return self

    def keep(self, keys: Sequence[str]) -> None:
        wanted = set(keys)
        self.models_json = {k: v for k, v in self.models_json.items() if k in wanted}
        self.keys_ = tuple(self.models_json)
        self._models = {k: v for k, v in self._models.items() if k in wanted}

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        """Each fitted series' model evaluated at the target bins' centres."""
        lead = np.arange(1, self.horizon_steps + 1, dtype=np.int64)
        centres = int(grid.t_ns[origin_pos]) + lead * self.step_ns - self.step_ns // 2
        out = np.full((self.horizon_steps, len(grid.keys)), np.nan)
        for j, key in enumerate(grid.keys):
            if key in self.models_json:
                if key not in self._models:
                    self._models[key] = model_from_json(self.models_json[key])
                out[:, j] = predict_at(self._models[key], centres)
        return out

    def save(self, folder: Path) -> None:
        """`prophet_models.json.gz` in the set's folder (gzip without a timestamp, so the
        same models give the same bytes), when any series has a model."""
        if not self.models_json:
            return
        text = json.dumps(self.models_json, sort_keys=True)
        with (
            (Path(folder) / MODELS_FILE).open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(text.encode())

    @classmethod
    def load(cls, config: ForecastConfig, folder: Path, keys: Sequence[str]) -> ProphetForecaster:
        self = cls.from_config(config)
        path = Path(folder) / MODELS_FILE
        if path.exists():
            try:
                with gzip.open(path, "rb") as gz:
                    self.models_json = json.loads(gz.read().decode())
            except (OSError, json.JSONDecodeError) as exc:
                raise ForecastError(f"{path}: cannot read the Prophet models: {exc}") from exc
        self.keys_ = tuple(self.models_json)
        return self
