"""`ForecastSet`: one forecaster per series of a wide frame, each chosen by backtest.

fit(frame): average the frame onto the forecast grid; set aside the series that cannot be
forecast (`skipped_`: no data, less than one season of it, or silent for longer than the
naive look-back) and those that need no contest (constant: seasonal naive); backtest every
candidate on the rest (aiops.forecast.backtest), choose per series the lowest MASE (ties to
the cheaper), refit each candidate on all the data for the series that chose it, and
derive each series' interval from its chosen candidate's backtest errors
(aiops.forecast.intervals). A series whose chosen candidate failed that final fit gets the
next best among the candidates that did fit it (its choice's "note" says so). Series the
backtest could not score (too little history for any origin) fall back to seasonal naive
with intervals from their season-lag differences; their choice carries a "note" too.

The candidates are names in `config.candidates`, looked up in aiops.forecast.registry and
driven through the aiops.forecast.candidate.Forecaster protocol only; seasonal naive is
also always held as every series' fallback. `forecasters_` maps each name to its fitted
forecaster.

predict(history, origin): forecasts origin + step .. origin + horizon from the history
before the origin, for the fitted series present in `history`; works from any origin,
including a day or two after the training data ended (the hourly runs between nightly
fits), because no candidate's state is tied to the end of training.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.forecast import artifacts
from aiops.forecast.backtest import choose, run_backtest, score_backtest
from aiops.forecast.candidate import Forecaster
from aiops.forecast.config import ForecastConfig
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid, ns_index, timestamp_ns, to_step_grid
from aiops.forecast.intervals import fallback_offsets, interval_offsets
from aiops.forecast.naive import SeasonalNaive
from aiops.forecast.registry import forecaster_class
from aiops.forecast.sparing import carried_checks, carry_plan, carry_scores, due_keys

log = logging.getLogger(__name__)

Bounds = Mapping[str, tuple[float | None, float | None]]
FALLBACK = SeasonalNaive.name  # every series' last resort: it needs one season and no fit


class ForecastSet:
    """Fit on a wide frame (columns "service:signal"), then `predict` from any origin."""

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = config or ForecastConfig()

    def __repr__(self) -> str:
        fitted = f", {len(self.choices_)} series" if hasattr(self, "choices_") else ""
        return f"ForecastSet({self.config!r}{fitted})"

    def is_log(self, key: str) -> bool:
        """Whether `key` ("service:signal") is modelled as log1p(value): then a forecast's
        `mean` is its centre back-transformed, a median, and the interval is multiplicative."""
        return _is_log(key, self.config)

    @property
    def history_needed(self) -> timedelta:
        """History before the origin that `predict` needs (the seasons seasonal naive
        reaches back to, plus an hour or a candidate's longer recent window)."""
        return self.config.history_needed

    # --- fit ----------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, previous: ForecastSet | None = None) -> ForecastSet:
        """Backtest the candidates on every series, keep each series' best; returns self.

        `previous` (the last night's set) spares the costly candidates (`config.sparing`):
        each is backtested only on a series' first night and on its re-check day; where it
        is the series' choice in between, its scores and interval offsets are carried from
        `previous` and it is only refitted (aiops.forecast.sparing)."""
        cfg = self.config
        started = time.perf_counter()
        grid = to_step_grid(_to_model_scale(frame, cfg), cfg.step_ns, "fit")
        skipped, constant, eligible = _triage(grid, cfg)
        forecasters = candidate_forecasters(cfg)
        choices: dict[str, dict[str, Any]] = {}
        offsets: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        night = pd.Timestamp(int(grid.t_ns[-1]), tz="UTC").date()
        before = previous.choices_ if previous is not None else None
        only = {
            name: due_keys(name, eligible, before, night, cfg.recheck_days)
            for name in cfg.sparing if name in forecasters
        }  # fmt: skip
        # a changed config carries nothing: its offsets may be for another level or horizon
        held = previous._offsets if previous is not None and previous.config == cfg else {}
        carried = carry_plan(only, eligible, before, held)
        if eligible:
            sub = grid.columns(eligible)
            backtest = run_backtest(sub, cfg, forecasters, only)
            scores = score_backtest(backtest, cfg)
            # no backtest origins (too little data tonight): nothing to carry scores into
            carried = {n: keys for n, keys in carried.items() if n in backtest.forecasts}
            carry_scores(scores, carried, eligible, before)
            first_choice = choose(scores, cfg, len(backtest.origins), len(eligible))
            for name, forecaster in forecasters.items():
                wanted = [
                    k
                    for k, c in zip(eligible, first_choice, strict=True)
                    if c == name or cfg.keep_all
                ]
                forecaster.fit(sub, wanted)
            chosen = _after_final_fits(
                first_choice, scores, forecasters, eligible, len(backtest.origins), cfg
            )
            fallback = fallback_offsets(sub.values, cfg.season_steps, cfg.level, cfg.horizon_steps)
            for name in backtest.forecasts:
                lo, hi = interval_offsets(backtest.errors(name), cfg.level, cfg.n_interval_buckets)
                lo = np.where(np.isnan(lo), fallback[0], lo)
                hi = np.where(np.isnan(hi), fallback[1], hi)
                offsets[name] = {k: (lo[:, j], hi[:, j]) for j, k in enumerate(eligible)}
            for name, keys in carried.items():
                offsets[name].update({k: previous._offsets[name][k] for k in keys})
            for j, key in enumerate(eligible):
                entry: dict[str, Any] = {"model": chosen[j], "scores": _scores_of(scores, j)}
                if only:
                    entry["checked"] = carried_checks(
                        key, before, {n: set(k) for n, k in only.items()}, night
                    )
                if chosen[j] != first_choice[j]:
                    entry["note"] = f"{first_choice[j]}'s final fit failed: next best"
                if chosen[j] is None:
                    entry["model"] = FALLBACK
                    entry["note"] = "no candidate could be backtested: seasonal naive fallback"
                    offsets.setdefault(FALLBACK, {})[key] = (
                        fallback[0][:, j],
                        fallback[1][:, j],
                    )
                choices[key] = entry
        if constant:
            sub = grid.columns(constant)
            lo, hi = fallback_offsets(sub.values, cfg.season_steps, cfg.level, cfg.horizon_steps)
            for j, key in enumerate(constant):
                choices[key] = {
                    "model": FALLBACK,
                    "scores": {},
                    "note": "constant over the training data: seasonal naive, not backtested",
                }
                offsets.setdefault(FALLBACK, {})[key] = (lo[:, j], hi[:, j])
        if not choices:
            listed = "; ".join(f"{k}: {why}" for k, why in skipped.items())
            raise ForecastError(f"fit: no series can be forecast ({listed})")

        self.keys_ = tuple(k for k in grid.keys if k in choices)
        self.choices_ = {k: choices[k] for k in self.keys_}
        self.skipped_ = skipped
        self.train_end_ = pd.Timestamp(int(grid.t_ns[-1]), tz="UTC")
        self._offsets = _offset_arrays(offsets, self.keys_, self.choices_, cfg)
        if FALLBACK not in forecasters:
            forecasters[FALLBACK] = SeasonalNaive.from_config(cfg)
        forecasters[FALLBACK].fit(grid, grid.keys)  # no state: every series, even constant
        for name, forecaster in forecasters.items():
            forecaster.keep([k for k in self.keys_ if cfg.keep_all or self._chose(k, name)])
        self.forecasters_: dict[str, Forecaster] = forecasters
        models = pd.Series([c["model"] for c in self.choices_.values()]).value_counts()
        log.info(
            "forecast: fitted %d series (%s), skipped %d, in %.1f s",
            len(self.keys_),
            ", ".join(f"{n} {c}" for n, c in models.items()),
            len(skipped),
            time.perf_counter() - started,
        )
        return self

    def _chose(self, key: str, name: str) -> bool:
        return self.choices_.get(key, {}).get("model") == name

    # --- predict ------------------------------------------------------------------------

    def predict(
        self,
        history: pd.DataFrame,
        origin: object,
        bounds: Bounds | None = None,
        model: str | None = None,
    ) -> dict[str, pd.DataFrame]:
        """key -> DataFrame (index: targets origin + step .. origin + horizon; columns mean,
        lower, upper) for every fitted series among history's columns.

        `history` holds observations up to `origin` (at least `history_needed` of them;
        later rows are ignored); `origin` is a tz-aware instant on the step grid. `bounds`
        maps a signal (the part of the key after ':') to (min, max), either may be None,
        and clips all three columns. `model` forecasts with that candidate instead of the
        chosen one (needs keep_all=True). Series that were
        skipped, are unknown, or whose history has no usable data are left out (logged).
        """
        self._check_fitted()
        cfg = self.config
        if model is not None and model not in self.forecasters_:
            raise ForecastError(
                f"predict: model must be one of this set's {tuple(self.forecasters_)}, "
                f"got {model!r}"
            )
        if model is not None and not cfg.keep_all:
            raise ForecastError(
                f"predict: model={model!r} needs a set fitted with keep_all=True "
                "(otherwise only each series' chosen candidate is kept)"
            )
        origin_ns = timestamp_ns(origin, "predict: origin")
        if origin_ns % cfg.step_ns:
            raise ForecastError(
                f"predict: origin {pd.Timestamp(origin_ns, tz='UTC')} is not on the "
                f"{cfg.step} forecast grid"
            )
        grid = to_step_grid(_to_model_scale(history, cfg), cfg.step_ns, "predict", end_ns=origin_ns)
        unknown = [k for k in grid.keys if k not in self.choices_ and k not in self.skipped_]
        if unknown:
            log.warning("predict: series never fitted, left out: %s", unknown)
        by_model: dict[str, list[str]] = {}
        for key in grid.keys:
            if key in self.choices_:
                name = model or self.choices_[key]["model"]
                by_model.setdefault(name, []).append(key)
        lead = np.arange(1, cfg.horizon_steps + 1, dtype=np.int64)
        index = ns_index(origin_ns + lead * cfg.step_ns)
        out: dict[str, pd.DataFrame] = {}
        empty: list[str] = []
        for name, keys in by_model.items():
            mean = self.forecasters_[name].forecast(grid.columns(keys), len(grid.t_ns) - 1)
            for j, key in enumerate(keys):
                lo, hi = self._offsets.get(name, {}).get(key, (None, None))
                if lo is None or not np.isfinite(mean[:, j]).any():
                    empty.append(key)
                    continue
                m = mean[:, j]
                frame = np.column_stack([m, m + lo, m + hi])
                if _is_log(key, cfg):
                    frame = np.expm1(frame)
                low, high = _bounds_of(bounds, key)
                if low is not None or high is not None:
                    frame = np.clip(frame, low, high)
                out[key] = pd.DataFrame(frame, index=index, columns=["mean", "lower", "upper"])
        if empty:
            log.warning(
                "predict: no forecast (no usable history or no %s model): %s",
                model or "chosen",
                empty,
            )
        return {k: out[k] for k in grid.keys if k in out}

    # --- persistence --------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """JSON and npz files (no pickle) into folder; `load` restores identical predictions."""
        self._check_fitted()
        return artifacts.save(self, Path(folder))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ForecastSet:
        """Read everything into memory (the folder may be deleted afterwards)."""
        return artifacts.load(cls, Path(folder))

    def _check_fitted(self) -> None:
        if not hasattr(self, "choices_"):
            raise ForecastError("ForecastSet is not fitted: call fit(frame) or load(folder)")


def candidate_forecasters(config: ForecastConfig) -> dict[str, Forecaster]:
    """Unfitted forecasters of the configured candidates, in their order."""
    return {name: forecaster_class(name).from_config(config) for name in config.candidates}


def _after_final_fits(
    first_choice: list[str | None],
    scores: dict[str, dict[str, np.ndarray]],
    forecasters: Mapping[str, Forecaster],
    keys: list[str],
    n_origins: int,
    cfg: ForecastConfig,
) -> list[str | None]:
    """The first choice where its final fit holds the series; elsewhere the best of the
    candidates whose final fit does (a candidate cannot be used without its fit)."""
    fitted = {name: set(f.keys_) for name, f in forecasters.items()}
    masked = {
        name: {**s, "mase": np.where([k in fitted[name] for k in keys], s["mase"], np.nan)}
        for name, s in scores.items()
    }
    second = choose(masked, cfg, n_origins, len(keys))
    return [
        c if c is None or keys[j] in fitted[c] else second[j] for j, c in enumerate(first_choice)
    ]


def _is_log(key: str, cfg: ForecastConfig) -> bool:
    return key.rsplit(":", 1)[-1] in cfg.log_signals


def _to_model_scale(frame: pd.DataFrame, cfg: ForecastConfig) -> pd.DataFrame:
    """log1p of the `log_signals` columns (negative values, impossible for load, clip to 0):
    the backtest, the choice and the interval are then all on that scale, and `predict`
    maps the forecast back with expm1 (the interval stays an 80% interval; it becomes
    asymmetric, wider above, as load is)."""
    logs = [c for c in frame.columns if _is_log(str(c), cfg)]
    if not logs:
        return frame
    out = frame.copy()
    out[logs] = np.log1p(out[logs].clip(lower=0.0))
    return out


def _triage(grid: StepGrid, cfg: ForecastConfig) -> tuple[dict[str, str], list[str], list[str]]:
    """(skipped key -> reason, constant keys, keys to backtest)."""
    skipped: dict[str, str] = {}
    constant: list[str] = []
    eligible: list[str] = []
    values = grid.values
    valid = np.isfinite(values)
    n = len(grid.t_ns)
    first = np.argmax(valid, axis=0)
    last = n - 1 - np.argmax(valid[::-1], axis=0)
    silent_limit = cfg.naive.lookback_seasons * cfg.season_steps
    for j, key in enumerate(grid.keys):
        if not valid[:, j].any():
            skipped[key] = "no observed values"
            continue
        span = (last[j] - first[j] + 1) * cfg.step
        if span < cfg.season:
            skipped[key] = (
                f"only {_fmt(span)} of data; at least one season ({_fmt(cfg.season)}) is needed"
            )
        elif n - 1 - last[j] >= silent_limit:
            skipped[key] = (
                f"no data in the last {_fmt(silent_limit * cfg.step)} of the training frame"
            )
        elif np.nanmin(values[:, j]) == np.nanmax(values[:, j]):
            constant.append(key)
        else:
            eligible.append(key)
    for key, why in skipped.items():
        log.warning("forecast: %s skipped: %s", key, why)
    return skipped, constant, eligible


def _fmt(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def _scores_of(scores: dict[str, dict[str, np.ndarray]], j: int) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "mase": _num(s["mase"][j]),
            "smape": _num(s["smape"][j]),
            "origins": int(s["origins"][j]),
        }
        for name, s in scores.items()
    }


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _offset_arrays(
    offsets: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
    keys: tuple[str, ...],
    choices: dict[str, dict[str, Any]],
    cfg: ForecastConfig,
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Keep the chosen candidate's offsets per series (every candidate's with keep_all)."""
    kept: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for name, per_key in offsets.items():
        for key, pair in per_key.items():
            if key in keys and (cfg.keep_all or choices[key]["model"] == name):
                kept.setdefault(name, {})[key] = pair
    return kept


def _bounds_of(bounds: Bounds | None, key: str) -> tuple[float | None, float | None]:
    if not bounds:
        return None, None
    signal = key.split(":", 1)[1] if ":" in key else key
    low, high = bounds.get(signal, (None, None))
    return low, high
