"""Writes format1/: a ForecastSet saved by the code before the forecaster registry, and what it
predicted, so tests/unit/forecast/test_forecaster_registry.py can prove a model trained
before the registry still loads and predicts bit for bit the same.

Made once, at commit d9a8e30 (seasonal_naive, baseline and prophet hard-wired by name), with

    PYTHONPATH=plugins .venv/bin/python tests/unit/forecast/data/make_format1_fixture.py

Rerunning it with later code would write that code's format instead, which defeats the
purpose: the committed files are the evidence, this script only says how they were made.

    format1/forecast_set/   the saved set (keep_all: every candidate's state, Prophet too)
    format1/history.npz     t_ns, values, keys: the history handed to predict
    format1/expected.json   origin, bounds, choices, the targets, and per model (the choice
                            and each candidate) per series: mean, lower, upper (floats as
                            their shortest repr, which JSON reads back exactly)
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.baselines import SeasonalBaselineConfig
from aiops.forecast import CANDIDATES, ForecastConfig, ForecastSet
from aiops.forecast.config import BaselineForecastConfig

HERE = Path(__file__).resolve().parent / "format1"
START = pd.Timestamp("2026-10-05", tz="UTC")
TRAIN_DAYS = 5
BOUNDS = {"error_ratio": (0.0, 1.0), "memory": (0.0, None)}


def frame(days: int) -> pd.DataFrame:
    """Four small series at 5 minutes: a log-scaled request rate, a leak, a repeating day,
    a constant."""
    rng = np.random.default_rng(7)
    per_day = 288
    index = pd.date_range(START, periods=days * per_day, freq="5min")
    n = len(index)
    phase = 2 * np.pi * np.arange(n) / per_day
    one_day = np.cumsum(rng.normal(0.0, 0.01, per_day)) + 0.5
    return pd.DataFrame(
        {
            "shop:request_rate": 100.0 + 30.0 * np.sin(phase) + rng.normal(0, 3.0, n),
            "shop:memory": 5e8 + 1e7 * np.arange(n) / per_day + rng.normal(0, 1e6, n),
            "shop:cpu": np.tile(one_day, days)[:n],
            "idle:cpu": np.full(n, 0.25),
        },
        index=index,
    )


def main() -> None:
    config = ForecastConfig(
        baseline=BaselineForecastConfig(
            seasonal=SeasonalBaselineConfig(bucket="hour_of_day", min_days=3)
        ),
        backtest_window=timedelta(days=2),
        workers=1,
        keep_all=True,
        log_signals=("request_rate",),
    )
    full = frame(TRAIN_DAYS + 1)
    train_end = START + timedelta(days=TRAIN_DAYS)
    fs = ForecastSet(config).fit(full[: train_end - timedelta(microseconds=1)])
    if HERE.exists():
        shutil.rmtree(HERE)
    fs.save(HERE / "forecast_set")
    origin = fs.train_end_ + timedelta(hours=20)
    history = full[(full.index >= origin - fs.history_needed) & (full.index < origin)]
    np.savez_compressed(
        HERE / "history.npz",
        t_ns=history.index.as_unit("ns").asi8,
        values=history.to_numpy(dtype=float),
        keys=np.array(history.columns, dtype=str),
    )
    expected: dict[str, object] = {
        "origin": origin.isoformat(),
        "bounds": {k: list(v) for k, v in BOUNDS.items()},
        "choices": {k: c["model"] for k, c in fs.choices_.items()},
        "index": [],  # every path's targets: origin + 5 min .. origin + 6 h
        "predictions": {},
    }
    for model in (None, *CANDIDATES):
        paths = fs.predict(history, origin, bounds=BOUNDS, model=model)
        expected["index"] = [t.isoformat() for t in next(iter(paths.values())).index]
        expected["predictions"][model or "choice"] = {  # type: ignore[index]
            key: {col: [float(v) for v in path[col]] for col in path.columns}
            for key, path in paths.items()
        }
    (HERE / "expected.json").write_text(json.dumps(expected, sort_keys=True) + "\n")
    print(f"wrote {HERE}: choices {expected['choices']}")


if __name__ == "__main__":
    main()
