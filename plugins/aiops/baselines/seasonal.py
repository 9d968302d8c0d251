"""Seasonal robust baselines: per series, an hour-of-week profile, a robust spread and a trend.

One `SeasonalBaseline` holds every series of a wide frame (columns `service:signal`, a UTC
minute index) and does its heavy work as numpy over all columns at once: the timestamps are
shared, so rows are grouped by bucket (or by day) once and every statistic is a sort along
one axis of a (group, row, series) array. No Python loop runs over series.

The model of one series, x(t) = level(t) + profile[bucket(t)] + noise:

- profile: the median, per hour-of-week bucket (168; or hour-of-day, 24, for short
  histories), of the series minus its level; looked up with linear interpolation between
  bucket midpoints, so the expected value does not step at every full hour. The level it
  is computed against is the centred 7-day mean of the daily medians (continued linearly
  at both ends): a 7-day window holds every weekday once, so a trend cannot leak into the
  weekday part of the profile (with two weeks of data, free daily levels and weekday
  offsets are interchangeable, and the trend would end up in the profile, unextrapolated);
- level (the trend): the median of each 24-hour block of the deseasonalised series,
  interpolated between block midpoints inside the training window. Past the last block it
  continues from the last block's level with a Theil-Sen slope (the median of pairwise
  slopes over the last `trend_days` daily levels) for at most `trend_horizon_days`, then
  stays flat. Why this and not one straight line over the whole window: a single line
  cannot follow a trend that began during the window (the demo's memory leak starts ten
  days before the end) and, extrapolated backwards, would corrupt the profile; daily
  medians ignore incidents shorter than half a day, the Theil-Sen slope ignores a minority
  of odd days, and the horizon cap keeps a stale model from extrapolating a slope for days.
  A steady trend present in training is therefore *not* an anomaly to this baseline (a
  leak is the forecaster's to report, as a time to breach), a change of level is;
- spread: per bucket, the mean of the smallest 80% of the absolute residuals, scaled to a
  normal sigma (robust to an incident filling a fifth of a bucket; steadier than the MAD);
  in buckets where a fifth or more of the values are exactly 0 (the error ratio of a quiet
  service) the root mean square of the residual instead, as any robust scale is ~0 there
  and one failed request would otherwise score z > 4. Then shrunk towards the series'
  typical spread (`spread_shrink`), because one bucket holds only a few dozen points at
  5-minute resolution, and floored (`spread_floor`, `spread_floor_ratio` x median |x|) so
  a flat series gives large but finite z-scores.

Calibration: `fit` also keeps, per series, the tail of its in-sample |z| (a few quantiles
and the mean excess past the 99th percentile, `aiops.baselines.calibration`), and
`calibrate(z)` reads a z as the sigma-equivalent of its tail probability for that series.
Points are judged on z (the band), events are weighed on the calibrated score, so a series
that leaves its band every afternoon is not as loud as one that never does.

The model is additive: a trend that scales the daily swing with it (multiplicative
growth) leaves a residual that grows with the distance from the training window, which
nightly retraining keeps small.

Series whose observed data span fewer than `min_days` (or that are mostly NaN over their
span, `min_coverage`) are not fitted: `skipped_` maps them to
the reason and `score` returns NaN for them, so one new service does not stop the nightly
training of the others. If no series has enough data, `fit` raises
`InsufficientHistoryError` naming them.

`save(folder)` writes `seasonal_baseline.npz` (arrays only, loaded with allow_pickle=False;
models saved before the tail arrays existed load uncalibrated)
and `seasonal_baseline.json` (configuration, series keys, skipped series); `load(folder)`
restores the same arrays bit for bit.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from aiops.baselines import profile as stats
from aiops.baselines.artifacts import read_meta
from aiops.baselines.calibration import TailTable, calibrated_sigma, fit_tails
from aiops.baselines.errors import BaselineError, InsufficientHistoryError
from aiops.baselines.profile import BUCKETS, bucket_label, day_pos

ARRAYS_FILE = "seasonal_baseline.npz"
META_FILE = "seasonal_baseline.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SeasonalBaselineConfig:
    """Every knob of the seasonal baseline; the defaults suit per-minute or 5-minute data."""

    min_days: float = 14.0  # days from a series' first to its last observed point
    min_coverage: float = 0.5  # share of those days' points that must be observed (not NaN)
    bucket: Literal["hour_of_week", "hour_of_day", "flat"] = "hour_of_week"
    trend: Literal["linear", "none"] = "linear"
    trend_days: int = 7  # daily levels the Theil-Sen slope is fitted on
    trend_horizon_days: float = 3.0  # extrapolate the slope at most this far past the data
    k: float = 4.0  # band half-width, in spreads: expected() returns center +- k * spread
    spread_shrink: float = 0.25  # weight of the series' typical spread in each bucket's spread
    spread_floor: float = 1e-9  # absolute minimum spread
    spread_floor_ratio: float = 1e-3  # minimum spread as a fraction of the series' median |x|
    interpolate: bool = True  # interpolate profile and spread between bucket midpoints
    # floor a series' spread at its smallest step when it takes few values (profile.quantum)
    quantum_floor: bool = True

    def __post_init__(self) -> None:
        if self.bucket not in BUCKETS:
            raise BaselineError(f"bucket: expected one of {sorted(BUCKETS)}, got {self.bucket!r}")
        if self.trend not in ("linear", "none"):
            raise BaselineError(f"trend: expected 'linear' or 'none', got {self.trend!r}")
        if not self.min_days > 0:
            raise BaselineError(f"min_days: must be > 0, got {self.min_days}")
        if not 0 <= self.min_coverage <= 1:
            raise BaselineError(f"min_coverage: must be in [0, 1], got {self.min_coverage}")
        if self.bucket == "hour_of_week" and self.min_days < 7:
            raise BaselineError(
                f"min_days: hour_of_week buckets need at least 7 days, got {self.min_days}; "
                "use bucket='hour_of_day' for shorter histories"
            )
        if self.trend_days < 2:
            raise BaselineError(f"trend_days: must be >= 2, got {self.trend_days}")
        if self.trend_horizon_days < 0:
            raise BaselineError(f"trend_horizon_days: must be >= 0, got {self.trend_horizon_days}")
        if not self.k > 0:
            raise BaselineError(f"k: must be > 0, got {self.k}")
        if not 0 <= self.spread_shrink <= 1:
            raise BaselineError(f"spread_shrink: must be in [0, 1], got {self.spread_shrink}")
        if not self.spread_floor > 0:
            raise BaselineError(f"spread_floor: must be > 0, got {self.spread_floor}")
        if self.spread_floor_ratio < 0:
            raise BaselineError(f"spread_floor_ratio: must be >= 0, got {self.spread_floor_ratio}")

    @property
    def n_buckets(self) -> int:
        return BUCKETS[self.bucket]


@dataclass(frozen=True)
class Explanation:
    """What the baseline expected for one series at one time, and how far a value was off."""

    key: str
    timestamp: pd.Timestamp
    bucket: str  # e.g. "Tue 14:00" (the hour-of-week bucket the timestamp falls in)
    expected: float
    low: float
    high: float
    spread: float
    value: float | None = None
    z: float | None = None


class SeasonalBaseline:
    """Fit on a wide frame, then `expected`, `score` and `explain` any timestamps."""

    def __init__(self, config: SeasonalBaselineConfig | None = None) -> None:
        self.config = config or SeasonalBaselineConfig()

    def __repr__(self) -> str:
        fitted = f", {len(self.keys_)} series" if hasattr(self, "keys_") else ""
        return f"SeasonalBaseline({self.config!r}{fitted})"

    # --- fit ----------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> SeasonalBaseline:
        """Learn profile, spread and trend of every column with at least `min_days` of data."""
        cfg = self.config
        t_ns = stats.utc_ns(frame.index, "fit")
        if len(t_ns) < 2:
            raise BaselineError(f"fit: need at least 2 timestamps, got {len(t_ns)}")
        if not (np.diff(t_ns) > 0).all():
            raise BaselineError("fit: the index must be increasing and free of duplicates")
        step_ns = int(np.median(np.diff(t_ns)))
        keys = [str(c) for c in frame.columns]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise BaselineError(f"fit: duplicate series {dupes}")
        values = stats.as_float(frame)

        history_days, coverage = stats.history(values, t_ns, step_ns)
        skipped: dict[str, str] = {}
        for key, days, share in zip(keys, history_days, coverage, strict=True):
            if days < cfg.min_days:
                skipped[key] = f"only {days:.1f} days of data (min_days={cfg.min_days:g})"
            elif share < cfg.min_coverage:
                skipped[key] = (
                    f"only {share:.0%} of its {days:.1f} days observed "
                    f"(min_coverage={cfg.min_coverage:g})"
                )
        enough = np.array([k not in skipped for k in keys], dtype=bool)
        if not enough.any():
            listed = "; ".join(f"{k}: {why}" for k, why in skipped.items())
            raise InsufficientHistoryError(f"fit: no series has enough history ({listed})")
        x = values[:, enough]

        end_ns = int(t_ns[-1]) + step_ns
        n_buckets = cfg.n_buckets
        pos = stats.positions(t_ns, cfg.bucket)
        bucket = np.floor(pos).astype(np.intp) % n_buckets
        b0, b1, w = stats.interp_weights(pos, n_buckets, cfg.interpolate)
        day = ((end_ns - 1 - t_ns) // stats.DAY_NS).astype(np.intp)  # 0: the last 24 hours
        n_days = int(day.max()) + 1

        tc = day_pos(t_ns, end_ns)
        levels = np.zeros((n_days, x.shape[1]))
        slope = np.zeros(x.shape[1])
        if cfg.trend == "linear":
            # 1. a level free of the weekly cycle, so the profile does not absorb the trend
            weekly = stats.weekly_levels(stats.group_median(x, day, n_days))
            profile = stats.fill_rows(
                stats.group_median(x - stats.level_path(weekly, tc), bucket, n_buckets)
            )
            # 2. daily levels of the deseasonalised series: the in-sample path and the slope
            levels = stats.fill_days(
                stats.group_median(x - stats.lookup(profile, b0, b1, w), day, n_days)
            )
            slope = stats.theil_sen(levels[: min(cfg.trend_days, n_days)])
        else:
            profile = stats.fill_rows(stats.group_median(x, bucket, n_buckets))
        horizon = cfg.trend_horizon_days
        residual = (
            x - stats.lookup(profile, b0, b1, w) - stats.level_path(levels, tc, slope, horizon)
        )
        zeros = np.where(np.isnan(x), np.nan, x == 0)
        spread = stats.bucket_spread(residual, zeros, bucket, n_buckets)
        typical = stats.nanmedian(spread, axis=0)
        spread = np.sqrt((1 - cfg.spread_shrink) * spread**2 + cfg.spread_shrink * typical**2)
        spread = np.where(np.isnan(spread), typical, spread)
        floor = np.maximum(cfg.spread_floor, cfg.spread_floor_ratio * stats.nanmedian(np.abs(x), 0))
        if cfg.quantum_floor:
            floor = np.maximum(floor, stats.quantum(x))
        spread = np.maximum(spread, floor)
        # the in-sample |z| of every series: what its calibrated scores are read against
        in_sample = np.abs(residual) / stats.lookup(spread, b0, b1, w)

        self.keys_ = [k for k, ok in zip(keys, enough, strict=True) if ok]
        self.skipped_ = skipped
        self.profile_ = profile
        self.spread_ = spread
        self.levels_ = levels
        self.slope_ = slope
        self.history_days_ = history_days[enough]
        self.end_ns_ = end_ns
        self.step_ns_ = step_ns
        self.tails_ = fit_tails(in_sample, power=2.0)  # z-scores: normal-shaped tails
        self._column = {k: i for i, k in enumerate(self.keys_)}
        return self

    # --- use ----------------------------------------------------------------------------

    def expected(
        self,
        index: pd.DatetimeIndex,
        keys: Sequence[str] | None = None,
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(center, low, high) wide frames: the band is center +- k * spread.

        `bounds` maps a signal name (the part after ':' in a key) to its physical (min, max),
        e.g. from the catalog's SignalSpec, and clips all three frames to it.
        """
        self._check_fitted()
        keys = list(self.keys_ if keys is None else keys)
        cols = self._columns_of(keys, "expected")
        t_ns = stats.utc_ns(index, "expected")
        center, spread = self._center_spread(t_ns, cols)
        low = center - self.config.k * spread
        high = center + self.config.k * spread
        if bounds:
            lo_b = np.array([stats.bound(bounds, k, 0) for k in keys], dtype=float)
            hi_b = np.array([stats.bound(bounds, k, 1) for k in keys], dtype=float)
            center, low, high = (np.clip(a, lo_b, hi_b) for a in (center, low, high))
        frames = (pd.DataFrame(a, index=index, columns=keys) for a in (center, low, high))
        return tuple(frames)  # type: ignore[return-value]

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Signed robust z-scores, same shape as frame; NaN where the input is NaN or the
        series is unknown (never fitted, or skipped for lack of history)."""
        self._check_fitted()
        t_ns = stats.utc_ns(frame.index, "score")
        values = stats.as_float(frame)
        out = np.full(values.shape, np.nan)
        known, cols = self._known(frame.columns)
        if len(known):
            center, spread = self._center_spread(t_ns, cols)
            out[:, known] = (values[:, known] - center) / spread
        return pd.DataFrame(out, index=frame.index, columns=frame.columns)

    def calibrate(self, z: pd.DataFrame) -> pd.DataFrame:
        """The z-scores of `score` as sigma-equivalents of each series' own tail probability
        (`aiops.baselines.calibration`): comparable across series, never louder than z."""
        self._check_fitted()
        out = np.full(z.shape, np.nan)
        known, cols = self._known(z.columns)
        if len(known):
            values = stats.as_float(z)[:, known]
            out[:, known] = calibrated_sigma(values, self.tails_.take(cols))
        return pd.DataFrame(out, index=z.index, columns=z.columns)

    def explain(self, key: str, timestamp: object, value: float | None = None) -> Explanation:
        """The expected value, band and bucket for one series at one time (and z, given value)."""
        self._check_fitted()
        if key not in self._column:
            if key in self.skipped_:
                raise BaselineError(f"explain: {key} was not fitted: {self.skipped_[key]}")
            raise BaselineError(f"explain: unknown series {key!r}")
        ts = pd.Timestamp(timestamp)
        if ts.tzinfo is None:
            raise BaselineError(f"explain: timestamp must be timezone-aware (UTC), got {ts}")
        ts = ts.tz_convert("UTC")
        t_ns = np.array([ts.value], dtype=np.int64)
        center, spread = self._center_spread(t_ns, np.array([self._column[key]]))
        c, s = float(center[0, 0]), float(spread[0, 0])
        z = None if value is None or math.isnan(value) else (float(value) - c) / s
        bucket = int(np.floor(stats.positions(t_ns, self.config.bucket)[0])) % self.config.n_buckets
        return Explanation(
            key=key,
            timestamp=ts,
            bucket=bucket_label(bucket, self.config.bucket),
            expected=c,
            low=c - self.config.k * s,
            high=c + self.config.k * s,
            spread=s,
            value=None if value is None else float(value),
            z=z,
        )

    # --- persistence --------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the fitted state into folder (created if needed); returns the folder."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ARRAYS_FILE).open("wb") as fh:
            np.savez(
                fh,
                profile=self.profile_,
                spread=self.spread_,
                levels=self.levels_,
                slope=self.slope_,
                history_days=self.history_days_,
                clock=np.array([self.end_ns_, self.step_ns_], dtype=np.int64),
                tail_knots=self.tails_.knots,
                tail_scale=self.tails_.scale,
                tail_power=np.array(self.tails_.power),
            )
        meta = {
            "format": FORMAT_VERSION,
            "kind": "seasonal-baseline",
            "config": asdict(self.config),
            "keys": self.keys_,
            "skipped": self.skipped_,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> SeasonalBaseline:
        folder = Path(folder)
        meta = read_meta(folder / META_FILE, FORMAT_VERSION, SeasonalBaselineConfig, "baseline")
        model = cls(SeasonalBaselineConfig(**meta["config"]))
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            model.profile_ = arrays["profile"]
            model.spread_ = arrays["spread"]
            model.levels_ = arrays["levels"]
            model.slope_ = arrays["slope"]
            model.history_days_ = arrays["history_days"]
            end_ns, step_ns = (int(v) for v in arrays["clock"])
            model.tails_ = _saved_tails(arrays, len(meta["keys"]))
        model.end_ns_, model.step_ns_ = end_ns, step_ns
        model.keys_ = list(meta["keys"])
        model.skipped_ = dict(meta["skipped"])
        if model.profile_.shape != (model.config.n_buckets, len(model.keys_)):
            raise BaselineError(
                f"{folder / ARRAYS_FILE}: profile shape {model.profile_.shape} does not match "
                f"{model.config.n_buckets} buckets x {len(model.keys_)} series"
            )
        model._column = {k: i for i, k in enumerate(model.keys_)}
        return model

    # --- internals ----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "keys_"):
            raise BaselineError("SeasonalBaseline is not fitted: call fit(frame) or load(folder)")

    def _known(self, columns: pd.Index) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `columns`, fitted series index) of the columns this model fitted."""
        index = np.array([self._column.get(str(c), -1) for c in columns.tolist()], dtype=np.intp)
        known = np.flatnonzero(index >= 0)
        return known, index[known]

    def _columns_of(self, keys: Sequence[str], what: str) -> np.ndarray:
        missing = [k for k in keys if k not in self._column]
        if missing:
            raise BaselineError(f"{what}: series not fitted: {missing}")
        return np.array([self._column[k] for k in keys], dtype=np.intp)

    def _center_spread(self, t_ns: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        b0, b1, w = stats.interp_weights(
            stats.positions(t_ns, cfg.bucket), cfg.n_buckets, cfg.interpolate
        )
        tc = day_pos(t_ns, self.end_ns_)
        center = stats.lookup(self.profile_[:, cols], b0, b1, w)
        center += stats.level_path(
            self.levels_[:, cols], tc, self.slope_[cols], cfg.trend_horizon_days
        )
        spread = stats.lookup(self.spread_[:, cols], b0, b1, w)
        return center, spread


# --- vectorised helpers (rows: time, columns: series) ----------------------------------------


def _saved_tails(arrays: Mapping[str, np.ndarray], n_series: int) -> TailTable:
    """The saved tail table; a model saved before calibration existed has none, and its
    scores stay uncalibrated (NaN knots) until the next nightly refits it."""
    if "tail_knots" in arrays:
        return TailTable(arrays["tail_knots"], arrays["tail_scale"], float(arrays["tail_power"]))
    return fit_tails(np.full((0, n_series), np.nan), power=2.0)
