"""Saving and loading a fitted ForecastSet: JSON and npz only, never a pickle.

    forecast_set.json        format, configuration, series, choices with scores, skipped
    intervals.npz            per candidate kept: <name>_lower, <name>_upper (horizon x series)
    <the forecasters' own>   each candidate's fitted state, written by the candidate itself
                             (aiops.forecast.candidate) under names that start with its
                             own; the built-ins: baseline/ (the seasonal baseline's JSON +
                             npz and decay.json) when a series uses it (or keep_all), and
                             prophet_models.json.gz (key -> Prophet's model JSON) when any;
                             seasonal naive learns nothing and writes nothing

Format 2 adds `candidate_configs` to the configuration (the configs of forecasters that
are not built in); a format 1 folder (written before the forecaster registry) has the same
files and loads as it always did. Loading needs every forecaster the set names to be
registered (aiops.forecast.registry), and fails naming the one that is not.

Floats go through JSON as their shortest repr and through npz as raw float64, so a loaded
set predicts bit for bit what the saved one did. `load` reads everything into memory: the
hourly job loads from a temporary copy that is deleted before it predicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiops.forecast.config import ForecastConfig, config_from_dict, config_to_dict
from aiops.forecast.errors import ForecastError
from aiops.forecast.naive import SeasonalNaive
from aiops.forecast.registry import forecaster_class

if TYPE_CHECKING:
    from aiops.forecast.forecast_set import ForecastSet

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
KIND = "forecast-set"
META_FILE = "forecast_set.json"
INTERVALS_FILE = "intervals.npz"


def save(fs: ForecastSet, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    interval_keys: dict[str, list[str]] = {}
    for name, per_key in sorted(fs._offsets.items()):
        keys = [k for k in fs.keys_ if k in per_key]
        interval_keys[name] = keys
        arrays[f"{name}_lower"] = np.column_stack([per_key[k][0] for k in keys])
        arrays[f"{name}_upper"] = np.column_stack([per_key[k][1] for k in keys])
    with (folder / INTERVALS_FILE).open("wb") as fh:
        np.savez(fh, **arrays)
    for forecaster in fs.forecasters_.values():
        forecaster.save(folder)
    meta = {
        "format": FORMAT_VERSION,
        "kind": KIND,
        "config": config_to_dict(fs.config),
        "keys": list(fs.keys_),
        "choices": fs.choices_,
        "skipped": fs.skipped_,
        "train_end": fs.train_end_.isoformat(),
        "interval_keys": interval_keys,
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
    names = dict.fromkeys([*cfg.candidates, SeasonalNaive.name])  # the fallback too
    fs.forecasters_ = {
        name: forecaster_class(name, f"{folder / META_FILE}").load(cfg, folder, fs.keys_)
        for name in names
    }
    return fs


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ForecastError(f"{path}: cannot read forecast set metadata: {exc}") from exc
    if meta.get("kind") != KIND or meta.get("format") not in READABLE_FORMATS:
        raise ForecastError(
            f"{path}: kind {meta.get('kind')!r} format {meta.get('format')!r}, "
            f"expected {KIND!r} format {' or '.join(map(str, READABLE_FORMATS))}"
        )
    return meta
