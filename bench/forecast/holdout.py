"""Out-of-sample scoring that mirrors production: refit nightly, forecast hourly in between.

For each held-out day: fit a ForecastSet on the `train` days before it (its per-series
choice is made on its own backtest inside those days), then forecast the horizon from
origins every `every` through that day without refitting, as the hourly runs do with last
night's model. Each forecast is scored against the held-out step means with MASE (scaled
by that fit's training data's season-lag naive MAE on the same grid) and sMAPE; per
series the scores are averaged over all origins of all held-out days.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from aiops.forecast import ForecastConfig, ForecastSet, mase, naive_scale, smape
from aiops.forecast.grid import to_step_grid

CHOICE = "choice"


@dataclass
class Holdout:
    """Per model (a candidate or "choice"): key -> mean MASE / sMAPE over the origins."""

    mase: dict[str, dict[str, float]]
    smape: dict[str, dict[str, float]]
    origins: int
    inside: dict[str, list[int]] = field(default_factory=dict)  # model -> [inside, total]
    fits: list[ForecastSet] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)


def rolling_holdout(
    frame: pd.DataFrame,
    config: ForecastConfig,
    end: pd.Timestamp,
    days: int,
    train: timedelta,
    every: timedelta,
    models: tuple[str, ...],
    on_fit: Callable[[ForecastSet, float], None] | None = None,
    chain: bool = False,
) -> Holdout:
    """Hold out the `days` days before `end`, refitting before each (config needs keep_all
    for `models` other than the choice); `chain`: each fit is given the day before's as its
    previous night, as the nightly does (costly candidates spared, aiops.forecast.sparing)."""
    step_ns = config.step_ns
    truth = to_step_grid(frame, step_ns, "holdout").frame()
    per: dict[str, dict[str, list[tuple[float, float]]]] = {m: {} for m in (CHOICE, *models)}
    out = Holdout({}, {}, 0)
    for day in range(days, 0, -1):
        train_end = end - timedelta(days=day)
        data = frame[(frame.index >= train_end - train) & (frame.index < train_end)]
        t0 = time.perf_counter()
        previous = out.fits[-1] if chain and out.fits else None
        fs = ForecastSet(config).fit(data, previous)
        out.fits.append(fs)
        out.fit_seconds.append(time.perf_counter() - t0)
        if on_fit is not None:
            on_fit(fs, out.fit_seconds[-1])
        train_truth = truth[(truth.index > train_end - train) & (truth.index <= train_end)]
        scales = naive_scale(train_truth.to_numpy(), config.season_steps)
        scale = dict(zip(truth.columns, scales, strict=True))
        origin = train_end
        while origin < train_end + timedelta(days=1) and origin + config.horizon <= end:
            history = frame[(frame.index < origin) & (frame.index >= origin - fs.history_needed)]
            for model in (CHOICE, *models):
                paths = fs.predict(history, origin, model=None if model == CHOICE else model)
                for key, path in paths.items():
                    actual = truth[key].reindex(path.index).to_numpy()
                    m = float(mase(actual, path["mean"].to_numpy(), scale[key]))
                    s = float(smape(actual, path["mean"].to_numpy()))
                    if np.isfinite(m):
                        per[model].setdefault(key, []).append((m, s))
                    seen = np.isfinite(actual)
                    hit = (actual >= path["lower"].to_numpy()) & (
                        actual <= path["upper"].to_numpy()
                    )
                    counts = out.inside.setdefault(model, [0, 0])
                    counts[0] += int((hit & seen).sum())
                    counts[1] += int(seen.sum())
            origin += every
            out.origins += 1
    out.mase = {
        m: {k: float(np.mean([a for a, _ in v])) for k, v in d.items()} for m, d in per.items()
    }
    out.smape = {
        m: {k: float(np.mean([b for _, b in v])) for k, v in d.items()} for m, d in per.items()
    }
    return out


def common_keys(scores: Holdout, models: tuple[str, ...]) -> list[str]:
    """Series every model was scored on (a fair median compares the same series)."""
    keys = set(scores.mase[CHOICE])
    for model in models:
        keys &= set(scores.mase[model])
    return sorted(keys)


def backtest_mase(fits: list[ForecastSet], key: str, model: str) -> float:
    """The series' backtest MASE of a model (CHOICE: of the chosen one), mean over fits."""
    values = []
    for fs in fits:
        choice = fs.choices_.get(key)
        if not choice or not choice["scores"]:
            continue
        name = choice["model"] if model == CHOICE else model
        value = choice["scores"].get(name, {}).get("mase")
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else float("nan")
