"""The series bench_forecast.py forecasts: the demo world, NAB files, a synthetic fleet."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

SIGNALS = ("request_rate", "error_ratio", "latency_p95", "cpu", "memory")
NAB_FOLDERS = ("realTraffic", "realKnownCause")


def demo_signals(root: Path) -> tuple[pd.DataFrame, str]:
    """The demo world's ground-truth signals (60 series at 60 s) and where they came from:
    out/world/signals.csv.gz when `make demo` already built it, else a fresh build in a
    temporary folder (about 30 s)."""
    path = root / "out" / "world" / "signals.csv.gz"
    if path.exists():
        return _read_signals(path), str(path.relative_to(root))
    from aiops.dev.sim.world import WorldConfig, build_world

    with tempfile.TemporaryDirectory(prefix="aiops-bench-forecast-") as tmp:
        build_world(WorldConfig(), Path(tmp))
        return _read_signals(Path(tmp) / "signals.csv.gz"), "build_world(WorldConfig()) (temporary)"


def _read_signals(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True)
    return frame


def nab_series(nab: Path) -> dict[str, pd.Series]:
    """NAB realTraffic + realKnownCause files, each on its median step (UTC, NaN in gaps)."""
    out = {}
    for folder in NAB_FOLDERS:
        for path in sorted((nab / "data" / folder).glob("*.csv")):
            raw = pd.read_csv(path)
            ts = pd.to_datetime(raw["timestamp"]).dt.tz_localize("UTC")
            series = pd.Series(raw["value"].to_numpy(dtype=float), index=pd.DatetimeIndex(ts))
            series = series[~series.index.duplicated()].sort_index()
            step = series.index.to_series().diff().median()
            step = max(pd.Timedelta(minutes=1), step.round("1min"))
            grid = series.resample(step, closed="left", label="left").mean()
            out[f"{folder}/{path.stem}"] = grid
    return out


def synthetic_fleet(n_series: int, days: int, step_s: int = 60, seed: int = 42) -> pd.DataFrame:
    """n_series columns of days at step_s: daily and weekly cycle, trend, AR(1) noise."""
    rng = np.random.default_rng(seed)
    per_day = 86_400 // step_s
    index = pd.date_range("2026-10-05", periods=days * per_day, freq=f"{step_s}s", tz="UTC")
    hours = (np.arange(len(index)) % per_day)[:, None] * step_s / 3600.0
    weekend = np.isin(index.day_of_week, (5, 6))[:, None]
    t_days = np.arange(len(index))[:, None] / per_day
    level = rng.lognormal(3.0, 1.0, n_series)
    phase = rng.uniform(0, 24, n_series)
    daily = 1.0 + rng.uniform(0.1, 0.6, n_series) * np.sin(2 * np.pi * (hours - phase) / 24.0)
    weekly = np.where(weekend, 1.0 - rng.uniform(0.0, 0.35, n_series), 1.0)
    trend = 1.0 + rng.normal(0.0, 0.003, n_series) * t_days
    shocks = rng.normal(0.0, 1.0, (len(index), n_series)) * rng.uniform(0.005, 0.02, n_series)
    noise = lfilter([1.0], [1.0, -0.97], shocks, axis=0)
    values = level * daily * weekly * trend * np.exp(noise)
    columns = [f"svc{i // len(SIGNALS):04d}:{SIGNALS[i % len(SIGNALS)]}" for i in range(n_series)]
    return pd.DataFrame(values, index=index, columns=columns)
