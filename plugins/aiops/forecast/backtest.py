"""Rolling-origin backtest: candidates fitted before each origin, scored on what came next.

Origins are `origin_every` apart, the last one a horizon before the training data ends and
none earlier than `backtest_window` before that end (nor within the first season, which
seasonal naive and the MASE scale need), so with the defaults (7 days, every 6 h, 6 h
horizon) 28 non-overlapping 6-hour forecasts cover the last week. A week, because a
shorter window sees only some weekdays: on the demo world a 2-day window of Wednesday and
Thursday chose seasonal naive for a quarter of the series, which then failed on Saturday
(hold-out MASE 1.5 against the baseline's 0.6).

Candidates are refitted the way they will be used: every `refit_every` (1 day, the nightly
retrain), at the first origin of each such period, on the bins up to that origin; origins
in between forecast with that fit and the history up to themselves, as an hourly run does
with last night's model. So a candidate that cannot follow the data it has not been
fitted on (Prophet has no notion of "now") pays for it in the backtest as it would in
production; `refit_every <= origin_every` refits at every origin (the textbook rolling
origin). How a candidate makes its forecasts is its own business (the plan of origins and
refits is handed to it, aiops.forecast.candidate): seasonal naive and the baseline run
over all series at once in this process, Prophet runs per series in a process pool.

Scores per (origin, series): MASE (scaled by the season-lag naive MAE on the bins up to
that origin) and sMAPE, over the origin's targets; an origin counts only if at least half
of its targets were observed and forecast. Per series they are then aggregated over the
scored origins with `choice_stat` (mean by default: a candidate that fails badly on a few
origins, say every Saturday, should pay for it; "median" forgives them).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from aiops.forecast.candidate import BacktestPlan, Forecaster
from aiops.forecast.config import ForecastConfig
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid, timedelta_ns
from aiops.forecast.metrics import floored_scale, mase, naive_scale_sums, smape
from aiops.forecast.registry import by_cost

_MIN_TARGET_SHARE = 0.5  # share of an origin's targets that must be observed and forecast


@dataclass(frozen=True)
class Backtest:
    """Forecasts of every candidate at every origin, and what actually happened."""

    origins: np.ndarray  # (origins,) row positions in the grid
    actual: np.ndarray  # (origins, horizon steps, series)
    forecasts: dict[str, np.ndarray]  # candidate -> (origins, horizon steps, series)
    scale: np.ndarray  # (origins, series) season-lag naive MAE before each origin

    def errors(self, name: str) -> np.ndarray:
        """actual - forecast, (origins, horizon steps, series)."""
        return self.actual - self.forecasts[name]


def origin_positions(n_bins: int, config: ForecastConfig) -> np.ndarray:
    """Grid rows of the backtest origins, oldest first (empty when the data are too short)."""
    horizon = config.horizon_steps
    every = config.origin_every // config.step
    window = config.backtest_window // config.step
    last = n_bins - 1 - horizon
    earliest = max(n_bins - 1 - window, config.season_steps)
    if last < earliest:
        return np.zeros(0, dtype=np.intp)
    return np.arange(last, earliest - 1, -every, dtype=np.intp)[::-1]


def fit_groups(origins: np.ndarray, config: ForecastConfig) -> list[tuple[int, list[int]]]:
    """(fit origin, the origins that use it), indices into `origins`: a refit at the first
    origin and then at the first origin at least `refit_every` after the previous refit."""
    groups: list[tuple[int, list[int]]] = []
    every = config.refit_every // config.step
    for i, o in enumerate(origins):
        if not groups or o - origins[groups[-1][0]] >= every:
            groups.append((i, []))
        groups[-1][1].append(i)
    return groups


def run_backtest(
    grid: StepGrid,
    config: ForecastConfig,
    forecasters: Mapping[str, Forecaster],
    only: Mapping[str, Sequence[str]] | None = None,
) -> Backtest:
    """Forecasts of each candidate from each origin, for every series of grid; a candidate
    in `only` just for those series (NaN elsewhere: it is not scored there, so it cannot be
    chosen; aiops.forecast.sparing)."""
    origins = origin_positions(len(grid.t_ns), config)
    horizon = config.horizon_steps
    n_series = len(grid.keys)
    actual = np.full((len(origins), horizon, n_series), np.nan)
    for i, o in enumerate(origins):
        actual[i] = grid.values[o + 1 : o + 1 + horizon]
    plan = BacktestPlan(origins, fit_groups(origins, config), horizon)
    forecasts: dict[str, np.ndarray] = {}
    for name, forecaster in forecasters.items() if len(origins) else ():
        subset = None if only is None else only.get(name)
        if subset is None:
            out = forecaster.backtest(grid, plan)
        else:
            out = np.full(actual.shape, np.nan)
            wanted = [k for k in grid.keys if k in set(subset)]
            if wanted:
                positions = [grid.keys.index(k) for k in wanted]
                out[:, :, positions] = forecaster.backtest(grid.columns(wanted), plan)
        if out.shape != actual.shape:
            raise ForecastError(
                f"{name}: backtest returned shape {out.shape}, expected {actual.shape} "
                "(origins, horizon steps, series)"
            )
        forecasts[name] = out
    sums = naive_scale_sums(grid.values, config.season_steps)
    scale = floored_scale(*(s[origins] for s in sums))
    return Backtest(origins, actual, forecasts, scale)


def score_backtest(backtest: Backtest, config: ForecastConfig) -> dict[str, dict[str, np.ndarray]]:
    """Per candidate: "mase", "smape" (aggregated over origins) and "origins" (the count
    of scored origins), each an array over series."""
    if config.choice_stat == "median":
        stat = np.nanmedian
    else:
        stat = partial(_weighted_mean, weights=_recency_weights(backtest.origins, config))
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, forecast in backtest.forecasts.items():
        both = np.isfinite(backtest.actual) & np.isfinite(forecast)
        scored = both.mean(axis=1) >= _MIN_TARGET_SHARE
        scored &= np.isfinite(backtest.scale)
        per_mase = np.where(scored, mase(backtest.actual, forecast, backtest.scale, axis=1), np.nan)
        per_smape = np.where(scored, smape(backtest.actual, forecast, axis=1), np.nan)
        count = scored.sum(axis=0)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
            out[name] = {
                "mase": np.where(count > 0, stat(per_mase, axis=0), np.nan),
                "smape": np.where(count > 0, stat(per_smape, axis=0), np.nan),
                "origins": count,
            }
    return out


def _recency_weights(origins: np.ndarray, config: ForecastConfig) -> np.ndarray:
    """0.5 ** (age / half-life) per origin, the newest weighing 1; equal without a half-life."""
    if config.recency_half_life is None or len(origins) == 0:
        return np.ones(len(origins))
    age_ns = (origins[-1] - origins).astype(np.float64) * config.step_ns
    return 0.5 ** (age_ns / timedelta_ns(config.recency_half_life))


def _weighted_mean(values: np.ndarray, axis: int, weights: np.ndarray) -> np.ndarray:
    """Mean over origins (axis 0) with per-origin weights, ignoring NaN entries."""
    w = np.where(np.isfinite(values), weights[:, None], 0.0)
    total = w.sum(axis=axis)
    return np.where(
        total > 0,
        (np.nan_to_num(values) * w).sum(axis=axis) / np.where(total > 0, total, 1),
        np.nan,
    )


def choose(
    scores: dict[str, dict[str, np.ndarray]],
    config: ForecastConfig,
    n_origins: int,
    n_series: int,
) -> list[str | None]:
    """Per series, the candidate with the lowest aggregated MASE among those scored on at
    least `min_origins` origins (or on all, when the backtest had fewer); candidates are
    visited cheapest first and a costlier one wins only by beating the best so far by
    more than `tie_tolerance` of its MASE. None: no candidate could be scored."""
    needed = max(1, min(config.min_origins, n_origins))
    names = by_cost(scores)  # cheapest first
    chosen: list[str | None] = []
    for s in range(n_series):
        best, best_mase = None, np.inf
        for name in names:
            value = float(scores[name]["mase"][s])
            if scores[name]["origins"][s] < needed or not np.isfinite(value):
                continue
            if best is None or value < best_mase * (1.0 - config.tie_tolerance):
                best, best_mase = name, value
        chosen.append(best)
    return chosen
