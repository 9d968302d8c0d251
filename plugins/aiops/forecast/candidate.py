"""What a forecaster must do to be a candidate of a ForecastSet: the `Forecaster` protocol.

A ForecastSet never asks which candidate it holds. For every name in
`ForecastConfig.candidates` it looks the class up in aiops.forecast.registry and, through
this protocol only:

1. builds it from the set's configuration (`from_config`: its own knobs, from its own
   frozen config dataclass `config_type`, plus the set's grid: step, horizon, season);
2. asks for its backtest forecasts from every origin (`backtest`), each made by a fit on the
   data up to the first origin of that origin's refit group, as production refits nightly.
   How is the forecaster's business: the cheap vectorised ones fit every series at once in
   this process (`forecast_per_refit` does the loop for them), Prophet sends one job per
   series to its process pool;
3. fits it once more on all the training data (`fit(grid, keys)`), where `keys` are the
   series whose backtest chose it (every series with keep_all), so a costly forecaster fits
   only those; a cheap one may fit every series, which then lets series whose chosen
   candidate failed its final fit fall back to it (`keys_`: the series it can forecast);
4. tells it which series it is kept for (`keep`), so it holds and saves only their state;
5. forecasts any series from any origin on a grid of the history (`forecast`);
6. saves its fitted state beside the set's own files and loads it back (`save`, `load`), in
   JSON and npz, never a pickle, so a loaded set predicts bit for bit what the saved one did.

The order candidates are visited in when choosing is `cost`, cheapest first: a costlier
candidate wins a series only by beating the best cheaper one by `tie_tolerance` (see
aiops.forecast.backtest.choose).

Naming its files: a forecaster writes in the set's folder only entries named after itself
(`<name>/` or `<name>_*`; the built-ins' `baseline/` and `prophet_models.json.gz` are the
names format 1 used), so forecasters cannot overwrite each other or the set's
`forecast_set.json` and `intervals.npz`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from aiops.forecast.grid import StepGrid

if TYPE_CHECKING:
    from typing import Self

    from aiops.forecast.config import ForecastConfig


@dataclass(frozen=True)
class BacktestPlan:
    """The backtest origins and when the forecasters are refitted (aiops.forecast.backtest)."""

    origins: np.ndarray  # (origins,) grid rows, oldest first
    # (fit origin, the origins that use that fit): indices into `origins`
    groups: list[tuple[int, list[int]]]
    horizon_steps: int

    def empty(self, n_series: int) -> np.ndarray:
        """An all-NaN (origins, horizon steps, series) array to fill with forecasts."""
        return np.full((len(self.origins), self.horizon_steps, n_series), np.nan)


class Forecaster(Protocol):
    """A candidate of the per-series choice; see the module docstring for the life cycle."""

    name: ClassVar[str]  # what ForecastConfig.candidates and the choices call it
    cost: ClassVar[int]  # rank, cheapest first: a tie in MASE goes to the cheaper
    config_type: ClassVar[type]  # its frozen config dataclass; defaults must construct
    # the ForecastConfig field holding its config: the built-ins' (naive, baseline, prophet),
    # kept for saved models and callers; None (every other forecaster): its config is
    # ForecastConfig.candidate_configs[name], or config_type() when not given
    config_field: ClassVar[str | None]
    keys_: tuple[str, ...]  # the series it can forecast (after fit or load)

    @classmethod
    def from_config(cls, config: ForecastConfig) -> Self:
        """Unfitted, with its knobs (config.candidate_config(name)) and the set's grid."""
        ...

    @classmethod
    def check_config(cls, config: ForecastConfig) -> None:
        """Raise ForecastError naming the field if its knobs do not fit the set's (e.g. a
        width that must be a multiple of the step); its own config class checks the rest."""
        ...

    @classmethod
    def recent_history(cls, config: ForecastConfig) -> timedelta:
        """The stretch of history right before the origin that `forecast` reads (beyond the
        whole seasons seasonal naive, every series' fallback, reaches back to)."""
        ...

    def backtest(self, grid: StepGrid, plan: BacktestPlan) -> np.ndarray:
        """(origins, horizon steps, series) forecasts for grid's series from every origin of
        the plan, fitted once per refit group on the bins up to its first origin; NaN where
        it cannot forecast."""
        ...

    def fit(self, grid: StepGrid, keys: Sequence[str]) -> Self:
        """Fit on all of grid's bins, at least for `keys`; sets keys_; returns self."""
        ...

    def keep(self, keys: Sequence[str]) -> None:
        """Drop the state of every series but `keys` (the series it was chosen for, or all
        of them with keep_all): what is held is what is saved."""
        ...

    def forecast(self, grid: StepGrid, origin_pos: int) -> np.ndarray:
        """(horizon steps, series) forecasts for grid's series after row `origin_pos`,
        reading no row after it; NaN for series it has no state for."""
        ...

    def save(self, folder: Path) -> None:
        """Write its state into the set's folder, in entries named after itself."""
        ...

    @classmethod
    def load(cls, config: ForecastConfig, folder: Path, keys: Sequence[str]) -> Self:
        """Read what `save` wrote into the set's folder; `keys` are the set's series (for a
        forecaster without per-series state); nothing written: no series fitted."""
        ...


def forecast_per_refit(
    fit: Callable[[StepGrid], Any], grid: StepGrid, plan: BacktestPlan
) -> np.ndarray:
    """The backtest of an in-process forecaster: `fit(grid up to a group's first origin)`
    returns a fitted model whose `forecast(grid, origin_pos)` reads the grid up to each
    origin of the group only (as an hourly run does with last night's model)."""
    out = plan.empty(len(grid.keys))
    for f, members in plan.groups:
        model = fit(grid.upto(int(plan.origins[f])))
        for i in members:
            out[i] = model.forecast(grid, int(plan.origins[i]))
    return out
