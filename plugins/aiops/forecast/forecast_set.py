"""`ForecastSet`: one forecaster per series of a wide frame, each chosen by backtest.

fit(frame): average the frame onto the forecast grid; set aside the series that cannot be
forecast (`skipped_`: no data, less than one season of it, or silent for longer than the
naive look-back) and those that need no contest (constant: seasonal naive); backtest every
candidate on the rest (aiops.forecast.backtest), choose per series the lowest MASE (ties to
the cheaper), refit what was chosen on all the data, and derive each series' interval from
its chosen candidate's backtest errors (aiops.forecast.intervals). Series the backtest
could not score (too little history for any origin) fall back to seasonal naive with
intervals from their season-lag differences; their choice carries a "note" saying so.

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
from aiops.forecast.backtest import choose, prophet_jobs, run_backtest, score_backtest
from aiops.forecast.baseline import BaselineForecaster
from aiops.forecast.config import CANDIDATES, ForecastConfig
from aiops.forecast.errors import ForecastError
from aiops.forecast.grid import StepGrid, ns_index, timestamp_ns, to_step_grid
from aiops.forecast.intervals import fallback_offsets, interval_offsets
from aiops.forecast.naive import SeasonalNaive
from aiops.forecast.prophet_model import ProphetPool, ProphetPredictor

log = logging.getLogger(__name__)

Bounds = Mapping[str, tuple[float | None, float | None]]


class ForecastSet:
    """Fit on a wide frame (columns "service:signal"), then `predict` from any origin."""

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = config or ForecastConfig()

    def __repr__(self) -> str:
        fitted = f", {len(self.choices_)} series" if hasattr(self, "choices_") else ""
        return f"ForecastSet({self.config!r}{fitted})"

    @property
    def history_needed(self) -> timedelta:
        """History before the origin that `predict` needs (the seasons seasonal naive
        reaches back to, plus an hour)."""
        return self.config.history_needed

    # --- fit ----------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> ForecastSet:
        """Backtest the candidates on every series, keep each series' best; returns self."""
        cfg = self.config
        started = time.perf_counter()
        grid = to_step_grid(_to_model_scale(frame, cfg), cfg.step_ns, "fit")
        skipped, constant, eligible = _triage(grid, cfg)
        choices: dict[str, dict[str, Any]] = {}
        offsets: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        self._baseline: BaselineForecaster | None = None
        prophet_models: dict[str, str] = {}
        if eligible:
            sub = grid.columns(eligible)
            with ProphetPool(cfg.workers) as pool:
                backtest = run_backtest(sub, cfg, pool)
                scores = score_backtest(backtest, cfg)
                chosen = choose(scores, cfg, len(backtest.origins), len(eligible))
                if "baseline" in cfg.candidates:
                    self._baseline = BaselineForecaster.for_config(cfg).fit(sub)
                wanted = [
                    k
                    for k, c in zip(eligible, chosen, strict=True)
                    if c == "prophet" or cfg.keep_all
                ]
                if "prophet" in cfg.candidates and wanted:
                    jobs = prophet_jobs(sub, cfg, (), int(sub.t_ns[-1]), wanted)
                    prophet_models = {r.key: r.model_json for r in pool.run(jobs) if r.model_json}
            # a candidate whose final fit failed cannot be chosen: the next best is
            available = self._available(eligible, set(wanted), prophet_models)
            masked = {
                name: {**s, "mase": np.where(available[name], s["mase"], np.nan)}
                for name, s in scores.items()
            }
            first_choice, chosen = chosen, choose(masked, cfg, len(backtest.origins), len(eligible))
            fallback = fallback_offsets(sub.values, cfg.season_steps, cfg.level, cfg.horizon_steps)
            for name in backtest.forecasts:
                lo, hi = interval_offsets(backtest.errors(name), cfg.level, cfg.n_interval_buckets)
                lo = np.where(np.isnan(lo), fallback[0], lo)
                hi = np.where(np.isnan(hi), fallback[1], hi)
                offsets[name] = {k: (lo[:, j], hi[:, j]) for j, k in enumerate(eligible)}
            for j, key in enumerate(eligible):
                entry: dict[str, Any] = {"model": chosen[j], "scores": _scores_of(scores, j)}
                if chosen[j] != first_choice[j]:
                    entry["note"] = f"{first_choice[j]}'s final fit failed: next best"
                if chosen[j] is None:
                    entry["model"] = "seasonal_naive"
                    entry["note"] = "no candidate could be backtested: seasonal naive fallback"
                    offsets.setdefault("seasonal_naive", {})[key] = (
                        fallback[0][:, j],
                        fallback[1][:, j],
                    )
                choices[key] = entry
        if constant:
            sub = grid.columns(constant)
            lo, hi = fallback_offsets(sub.values, cfg.season_steps, cfg.level, cfg.horizon_steps)
            for j, key in enumerate(constant):
                choices[key] = {
                    "model": "seasonal_naive",
                    "scores": {},
                    "note": "constant over the training data: seasonal naive, not backtested",
                }
                offsets.setdefault("seasonal_naive", {})[key] = (lo[:, j], hi[:, j])
        if not choices:
            listed = "; ".join(f"{k}: {why}" for k, why in skipped.items())
            raise ForecastError(f"fit: no series can be forecast ({listed})")

        self.keys_ = tuple(k for k in grid.keys if k in choices)
        self.choices_ = {k: choices[k] for k in self.keys_}
        self.skipped_ = skipped
        self.train_end_ = pd.Timestamp(int(grid.t_ns[-1]), tz="UTC")
        self._offsets = _offset_arrays(offsets, self.keys_, self.choices_, cfg)
        self._prophet = ProphetPredictor(
            {k: v for k, v in prophet_models.items() if cfg.keep_all or self._chose(k, "prophet")}
        )
        self._naive = SeasonalNaive(cfg.naive, cfg.season_steps, cfg.horizon_steps).fit(grid)
        models = pd.Series([c["model"] for c in self.choices_.values()]).value_counts()
        log.info(
            "forecast: fitted %d series (%s), skipped %d, in %.1f s",
            len(self.keys_),
            ", ".join(f"{n} {c}" for n, c in models.items()),
            len(skipped),
            time.perf_counter() - started,
        )
        return self

    def _available(
        self, keys: list[str], attempted: set[str], prophet_models: dict[str, str]
    ) -> dict[str, np.ndarray]:
        """Per candidate, whether its final fit exists for each key (Prophet: or was not
        attempted, because the key did not choose it)."""
        fitted = set(self._baseline.keys_) if self._baseline is not None else set()
        return {
            "seasonal_naive": np.ones(len(keys), dtype=bool),
            "baseline": np.array([k in fitted for k in keys], dtype=bool),
            "prophet": np.array(
                [k in prophet_models or k not in attempted for k in keys], dtype=bool
            ),
        }

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
        if model is not None and model not in CANDIDATES:
            raise ForecastError(f"predict: model must be one of {CANDIDATES}, got {model!r}")
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
        targets_ns = origin_ns + lead * cfg.step_ns
        index = ns_index(targets_ns)
        out: dict[str, pd.DataFrame] = {}
        empty: list[str] = []
        for name, keys in by_model.items():
            mean = self._forecast(name, grid.columns(keys), targets_ns)
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

    def _forecast(self, name: str, grid: StepGrid, targets_ns: np.ndarray) -> np.ndarray:
        last = len(grid.t_ns) - 1
        if name == "seasonal_naive":
            return self._naive.forecast(grid, last)
        if name == "baseline":
            if self._baseline is None:
                return np.full((len(targets_ns), len(grid.keys)), np.nan)
            return self._baseline.forecast(grid, last)
        centres = targets_ns - self.config.step_ns // 2
        out = np.full((len(targets_ns), len(grid.keys)), np.nan)
        for j, key in enumerate(grid.keys):
            if key in self._prophet.models_json:
                out[:, j] = self._prophet.forecast(key, centres)
        return out

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
