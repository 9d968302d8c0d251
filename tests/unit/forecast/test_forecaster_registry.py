"""A forecaster that is not built in joins the per-series choice by registering one class:
its own module, its own config, one `register_forecaster` call, nothing else edited.

The toy here is persistence (the mean of the last `window` before the origin, carried
flat), which is the best forecast of a random walk: there it must win the backtest against
all three built-ins; on a day that repeats exactly, seasonal naive must still win. The toy
registers for this module only and the registry is restored afterwards.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.baselines import SeasonalBaselineConfig
from aiops.forecast import (
    CANDIDATES,
    BacktestPlan,
    ForecastConfig,
    ForecastError,
    ForecastSet,
    ProphetConfig,
    forecast_per_refit,
    forecaster_names,
    register_forecaster,
    unregister_forecaster,
)
from aiops.forecast.config import BaselineForecastConfig, config_from_dict, config_to_dict
from aiops.forecast.grid import StepGrid

START = pd.Timestamp("2026-10-05", tz="UTC")
DAYS = 10
PER_DAY = 288  # 5-minute bins


@dataclass(frozen=True)
class PersistenceConfig:
    """The mean of the observed bins in the last `window` before the origin, for every lead."""

    window: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ForecastError(f"PersistenceConfig.window: must be > 0, got {self.window}")


class Persistence:
    """Fitted state: each series' last observed training value, carried forward when the
    window before an origin holds no observation."""

    name = "persistence"
    cost = 40  # the costliest: it must beat every built-in by tie_tolerance to be chosen
    config_type = PersistenceConfig
    config_field = None

    def __init__(self, config: PersistenceConfig, step: timedelta, horizon_steps: int) -> None:
        self.config = config
        self.window_steps = config.window // step
        self.horizon_steps = horizon_steps
        self.step = step
        self.keys_: tuple[str, ...] = ()
        self.last_ = np.zeros(0)

    @classmethod
    def from_config(cls, config: ForecastConfig) -> Persistence:
        return cls(config.candidate_config(cls.name), config.step, config.horizon_steps)

    @classmethod
    def check_config(cls, config: ForecastConfig) -> None:
        own = config.candidate_config(cls.name)
        config.require_step_multiple("PersistenceConfig.window", own.window)

    @classmethod
    def recent_history(cls, config: ForecastConfig) -> timedelta:
        return config.candidate_config(cls.name).window

    def backtest(self, grid: StepGrid, plan: BacktestPlan) -> np.ndarray:
        fresh = Persistence(self.config, self.step, self.horizon_steps)
        return forecast_per_refit(lambda g: fresh.fit(g, g.keys), grid, plan)

    def fit(self, grid: StepGrid, keys: Sequence[str]) -> Persistence:
        values = grid.columns(keys).values
        seen = np.isfinite(values)
        last_row = len(values) - 1 - np.argmax(seen[::-1], axis=0)
        keep = seen.any(axis=0)
        self.keys_ = tuple(k for k, ok in zip(keys, keep, strict=True) if ok)
        self.last_ = values[last_row, np.arange(len(keys))][keep]
        return self

    def keep(self, keys: Sequence[str]) -> None:
        wanted = [j for j, k in enumerate(self.keys_) if k in set(keys)]
        self.keys_ = tuple(self.keys_[j] for j in wanted)
        self.last_ = self.last_[wanted]

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        out = np.full((self.horizon_steps, len(grid.keys)), np.nan)
        column = {k: j for j, k in enumerate(self.keys_)}
        lo = max(0, origin_pos - self.window_steps + 1)
        for j, key in enumerate(grid.keys):
            if key not in column:
                continue
            recent = grid.values[lo : origin_pos + 1, j]
            recent = recent[np.isfinite(recent)]
            out[:, j] = recent.mean() if len(recent) else self.last_[column[key]]
        return out

    def save(self, folder: Path) -> None:
        (folder / self.name).mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / self.name / "last.npz", keys=np.array(self.keys_, dtype=str), last=self.last_
        )

    @classmethod
    def load(cls, config: ForecastConfig, folder: Path, keys: Sequence[str]) -> Persistence:
        self = cls.from_config(config)
        with np.load(folder / cls.name / "last.npz", allow_pickle=False) as saved:
            self.keys_ = tuple(str(k) for k in saved["keys"])
            self.last_ = saved["last"]
        return self


@pytest.fixture(scope="module", autouse=True)
def persistence_registered() -> Iterator[None]:
    register_forecaster(Persistence)
    try:
        yield
    finally:
        unregister_forecaster(Persistence.name)
    assert forecaster_names() == CANDIDATES  # the next module sees the built-ins only


def make_frame(days: int = DAYS) -> pd.DataFrame:
    """A random walk (persistence's home ground) and a day that repeats exactly (seasonal
    naive's), at 5 minutes."""
    rng = np.random.default_rng(11)
    n = days * PER_DAY
    index = pd.date_range(START, periods=n, freq="5min")
    one_day = 50.0 + 10.0 * np.sin(2 * np.pi * np.arange(PER_DAY) / PER_DAY)
    return pd.DataFrame(
        {
            "walk:level": 500.0 + np.cumsum(rng.normal(0.0, 1.0, n)),
            "loop:cpu": np.tile(one_day + rng.normal(0.0, 1.0, PER_DAY), days),
        },
        index=index,
    )


def config(**overrides) -> ForecastConfig:
    """Ten days of data: a baseline that learns from a few days and a two-day backtest."""
    values = {
        "candidates": (*CANDIDATES, "persistence"),
        "candidate_configs": {"persistence": PersistenceConfig(window=timedelta(minutes=5))},
        "baseline": BaselineForecastConfig(
            seasonal=SeasonalBaselineConfig(bucket="hour_of_day", min_days=3)
        ),
        "backtest_window": timedelta(days=2),
        "workers": 1,
    }
    return ForecastConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame) -> ForecastSet:
    return ForecastSet(config()).fit(frame)


def test_a_registered_forecaster_is_backtested_with_the_built_ins_and_wins_where_best(
    fitted: ForecastSet, frame: pd.DataFrame
):
    walk = fitted.choices_["walk:level"]
    assert set(walk["scores"]) == {*CANDIDATES, "persistence"}
    assert all(s["origins"] == 8 for s in walk["scores"].values())
    assert walk["model"] == "persistence"
    best_built_in = min(walk["scores"][c]["mase"] for c in CANDIDATES)
    assert walk["scores"]["persistence"]["mase"] < 0.8 * best_built_in  # clearly, not a tie
    assert fitted.choices_["loop:cpu"]["model"] == "seasonal_naive"  # not a toy that wins all

    path = fitted.predict(frame, fitted.train_end_)["walk:level"]
    np.testing.assert_array_equal(path["mean"], frame["walk:level"].iloc[-1])  # flat, from now
    assert (path["lower"] < path["mean"]).all() and (path["mean"] < path["upper"]).all()


def test_its_state_round_trips_through_save_and_load_exactly(
    fitted: ForecastSet, frame: pd.DataFrame, tmp_path: Path
):
    fitted.save(tmp_path / "fs")
    assert (tmp_path / "fs" / "persistence" / "last.npz").exists()
    loaded = ForecastSet.load(tmp_path / "fs")
    assert loaded.config == fitted.config and loaded.choices_ == fitted.choices_
    before, after = fitted.forecasters_["persistence"], loaded.forecasters_["persistence"]
    assert after.keys_ == before.keys_ == ("walk:level",)  # kept only where it was chosen
    np.testing.assert_array_equal(after.last_, before.last_)

    # the last two hours missing: the forecast is the fitted state itself
    history = frame.copy()
    history.loc[fitted.train_end_ - timedelta(hours=2) :, "walk:level"] = np.nan
    origin = fitted.train_end_
    want = fitted.predict(history, origin)["walk:level"]
    got = loaded.predict(history, origin)["walk:level"]
    np.testing.assert_array_equal(want["mean"], before.last_[0])
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


def test_a_candidate_configs_knobs_are_validated_and_saved_with_the_set():
    with pytest.raises(
        ForecastError, match=r"PersistenceConfig.window: must be a positive multiple of step"
    ):
        config(candidate_configs={"persistence": PersistenceConfig(window=timedelta(minutes=7))})
    with pytest.raises(
        ForecastError, match=r"candidate_configs\['persistence'\]: expected a PersistenceConfig"
    ):
        config(candidate_configs={"persistence": ProphetConfig()})
    with pytest.raises(ForecastError, match=r"'prophet' is configured by ForecastConfig.prophet"):
        config(candidate_configs={"prophet": ProphetConfig()})
    hourly = config(candidate_configs={"persistence": PersistenceConfig(window=timedelta(hours=3))})
    assert hourly.candidate_config("persistence").window == timedelta(hours=3)
    assert hourly.history_needed == timedelta(days=1, hours=3)  # it reads the last 3 hours
    assert config_from_dict(ForecastConfig, config_to_dict(hourly)) == hourly
    assert replace(hourly, workers=2).candidate_configs == hourly.candidate_configs
    # still a frozen config: hashable, picklable, and the caller's dict cannot change it
    assert pickle.loads(pickle.dumps(hourly)) == hourly and hash(hourly) == hash(replace(hourly))
    knobs = {"persistence": PersistenceConfig()}
    frozen = config(candidate_configs=knobs)
    knobs["persistence"] = PersistenceConfig(window=timedelta(hours=3))
    assert frozen.candidate_config("persistence") == PersistenceConfig()


def test_an_unknown_candidate_fails_naming_the_known_ones():
    with pytest.raises(ForecastError) as error:
        ForecastConfig(candidates=("seasonal_naive", "persistance"))
    message = str(error.value)
    assert "ForecastConfig.candidates" in message and "'persistance'" in message
    for known in (*CANDIDATES, "persistence"):
        assert known in message


def test_forgetting_to_register_fails_clearly(fitted: ForecastSet, tmp_path: Path):
    class Drift(Persistence):
        name = "drift"

    with pytest.raises(ForecastError, match=r"unknown forecaster 'drift'.*register_forecaster"):
        ForecastConfig(candidates=("seasonal_naive", "drift"))
    # a set fitted with a forecaster that the loading process has not registered
    fitted.save(tmp_path / "fs")
    unregister_forecaster("persistence")
    try:
        with pytest.raises(
            ForecastError, match=r"forecast_set.json.*unknown forecaster 'persistence'"
        ):
            ForecastSet.load(tmp_path / "fs")
    finally:
        register_forecaster(Persistence)


def test_registering_checks_the_protocol_and_the_name():
    class Incomplete:
        name = "incomplete"
        cost = 50
        config_type = PersistenceConfig
        config_field = None

        def fit(self, grid, keys):
            return self

    with pytest.raises(
        ForecastError, match=r"not a Forecaster.*missing from_config.*forecast, save"
    ):
        register_forecaster(Incomplete)

    class Impostor(Persistence):
        pass

    with pytest.raises(
        ForecastError, match=r"'persistence' is already registered to .*Persistence"
    ):
        register_forecaster(Impostor)

    class Intervals(Persistence):
        name = "intervals"  # would write over the set's intervals.npz

    with pytest.raises(ForecastError, match="name must be"):
        register_forecaster(Intervals)
    assert forecaster_names() == (*CANDIDATES, "persistence")
