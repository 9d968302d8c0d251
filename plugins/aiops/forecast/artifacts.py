"""Saving and loading a fitted ForecastSet: JSON and npz only, never a pickle.

    forecast_set.json        format, configuration, series, choices with scores, skipped
    intervals.npz            per candidate kept: <name>_lower, <name>_upper (horizon x series)
    baseline/                the seasonal baseline (its own JSON + npz) and decay.json,
                             when a series uses it (or keep_all)
    prophet_models.json.gz   key -> Prophet's model JSON (prophet.serialize), when any

Floats go through JSON as their shortest repr and through npz as raw float64, so a loaded
set predicts bit for bit what the saved one did. `load` reads everything into memory: the
hourly job loads from a temporary copy that is deleted before it predicts.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiops.forecast.baseline import BaselineForecaster
from aiops.forecast.config import ForecastConfig, config_from_dict, config_to_dict
from aiops.forecast.errors import ForecastError
from aiops.forecast.naive import SeasonalNaive
from aiops.forecast.prophet_model import ProphetPredictor

if TYPE_CHECKING:
    from aiops.forecast.forecast_set import ForecastSet

FORMAT_VERSION = 1
KIND = "forecast-set"
META_FILE = "forecast_set.json"
INTERVALS_FILE = "intervals.npz"
BASELINE_DIR = "baseline"
PROPHET_FILE = "prophet_models.json.gz"


def save(fs: ForecastSet, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = fs.config
    arrays: dict[str, np.ndarray] = {}
    interval_keys: dict[str, list[str]] = {}
    for name, per_key in sorted(fs._offsets.items()):
        keys = [k for k in fs.keys_ if k in per_key]
        interval_keys[name] = keys
        arrays[f"{name}_lower"] = np.column_stack([per_key[k][0] for k in keys])
        arrays[f"{name}_upper"] = np.column_stack([per_key[k][1] for k in keys])
    with (folder / INTERVALS_FILE).open("wb") as fh:
        np.savez(fh, **arrays)
    uses_baseline = cfg.keep_all or any(c["model"] == "baseline" for c in fs.choices_.values())
    if fs._baseline is not None and uses_baseline:
        fs._baseline.save(folder / BASELINE_DIR)
    if fs._prophet.models_json:
        text = json.dumps(fs._prophet.models_json, sort_keys=True)
        with (
            (folder / PROPHET_FILE).open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(text.encode())
    meta = {
        "format": FORMAT_VERSION,
        "kind": KIND,
        "config": config_to_dict(cfg),
        "keys": list(fs.keys_),
        "choices": fs.choices_,
        "skipped": fs.skipped_,
        "train_end": fs.train_end_.isoformat(),
        "interval_keys": interval_keys,
        "baseline": (folder / BASELINE_DIR).exists(),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def load(cls: type[ForecastSet], folder: Path) -> ForecastSet:
    meta = _read_meta(folder / META_FILE)
    cfg = config_from_dict(ForecastConfig, meta["config"], f"{folder / META_FILE}: config")
    fs = cls(cfg)
    fs.keys_ = tuple(meta["keys"])
    fs.choices_ = {k: meta["choices"][k] for k in fs.keys_}
    fs.skipped_ = dict(meta["skipped"])
    fs.train_end_ = pd.Timestamp(meta["train_end"])
    fs._offsets = {}
    with np.load(folder / INTERVALS_FILE, allow_pickle=False) as arrays:
        for name, keys in meta["interval_keys"].items():
            lower, upper = arrays[f"{name}_lower"], arrays[f"{name}_upper"]
            if lower.shape != (cfg.horizon_steps, len(keys)):
                raise ForecastError(
                    f"{folder / INTERVALS_FILE}: {name}_lower has shape {lower.shape}, "
                    f"expected ({cfg.horizon_steps}, {len(keys)})"
                )
            fs._offsets[name] = {k: (lower[:, j], upper[:, j]) for j, k in enumerate(keys)}
    fs._baseline = None
    if meta["baseline"]:
        fs._baseline = BaselineForecaster.for_config(cfg).load(folder / BASELINE_DIR)
    models: dict[str, str] = {}
    if (folder / PROPHET_FILE).exists():
        with gzip.open(folder / PROPHET_FILE, "rb") as gz:
            models = json.loads(gz.read().decode())
    fs._prophet = ProphetPredictor(models)
    fs._naive = SeasonalNaive(cfg.naive, cfg.season_steps, cfg.horizon_steps)
    fs._naive.keys_ = fs.keys_
    return fs


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ForecastError(f"{path}: cannot read forecast set metadata: {exc}") from exc
    if meta.get("kind") != KIND or meta.get("format") != FORMAT_VERSION:
        raise ForecastError(
            f"{path}: kind {meta.get('kind')!r} format {meta.get('format')!r}, "
            f"expected {KIND!r} format {FORMAT_VERSION}"
        )
    return meta
