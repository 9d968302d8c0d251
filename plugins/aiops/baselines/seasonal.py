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

The model is additive: a trend that scales the daily swing with it (multiplicative
growth) leaves a residual that grows with the distance from the training window, which
nightly retraining keeps small.

Series whose observed data span fewer than `min_days` (or that are mostly NaN over their
span, `min_coverage`) are not fitted: `skipped_` maps them to
the reason and `score` returns NaN for them, so one new service does not stop the nightly
training of the others. If no series has enough data, `fit` raises
`InsufficientHistoryError` naming them.

`save(folder)` writes `seasonal_baseline.npz` (arrays only, loaded with allow_pickle=False)
and `seasonal_baseline.json` (configuration, series keys, skipped series); `load(folder)`
restores the same arrays bit for bit.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

BUCKETS = {"hour_of_week": 168, "hour_of_day": 24}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ARRAYS_FILE = "seasonal_baseline.npz"
META_FILE = "seasonal_baseline.json"
FORMAT_VERSION = 1

_NS_PER_S = 1_000_000_000
_DAY_NS = 86_400 * _NS_PER_S
_EPOCH_TO_MONDAY_S = 3 * 86_400  # 1970-01-01 was a Thursday; Monday 00:00 was 3 days earlier
_TRIM = 0.8  # share of the smallest |residuals| a bucket's spread is the mean of
_TRIMMED_ABS_MEAN = 0.5586  # E|Z| over the smallest 80% of |Z|, Z standard normal
_SPARSE = 0.2  # share of exact zeros above which a bucket is treated as counts (see spread)


class BaselineError(ValueError):
    """Input a baseline cannot use; the message names the series or the value that was wrong."""


class InsufficientHistoryError(BaselineError):
    """No series had `min_days` of data to learn from."""


@dataclass(frozen=True)
class SeasonalBaselineConfig:
    """Every knob of the seasonal baseline; the defaults suit per-minute or 5-minute data."""

    min_days: float = 14.0  # days from a series' first to its last observed point
    min_coverage: float = 0.5  # share of those days' points that must be observed (not NaN)
    bucket: Literal["hour_of_week", "hour_of_day"] = "hour_of_week"
    trend: Literal["linear", "none"] = "linear"
    trend_days: int = 7  # daily levels the Theil-Sen slope is fitted on
    trend_horizon_days: float = 3.0  # extrapolate the slope at most this far past the data
    k: float = 4.0  # band half-width, in spreads: expected() returns center +- k * spread
    spread_shrink: float = 0.25  # weight of the series' typical spread in each bucket's spread
    spread_floor: float = 1e-9  # absolute minimum spread
    spread_floor_ratio: float = 1e-3  # minimum spread as a fraction of the series' median |x|
    interpolate: bool = True  # interpolate profile and spread between bucket midpoints

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
        t_ns = _utc_ns(frame.index, "fit")
        if len(t_ns) < 2:
            raise BaselineError(f"fit: need at least 2 timestamps, got {len(t_ns)}")
        if not (np.diff(t_ns) > 0).all():
            raise BaselineError("fit: the index must be increasing and free of duplicates")
        step_ns = int(np.median(np.diff(t_ns)))
        keys = [str(c) for c in frame.columns]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise BaselineError(f"fit: duplicate series {dupes}")
        values = _as_float(frame)

        history_days, coverage = _history(values, t_ns, step_ns)
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
        pos = _positions(t_ns, cfg.bucket)
        bucket = np.floor(pos).astype(np.intp) % n_buckets
        b0, b1, w = _interp_weights(pos, n_buckets, cfg.interpolate)
        day = ((end_ns - 1 - t_ns) // _DAY_NS).astype(np.intp)  # 0: the last 24 hours
        n_days = int(day.max()) + 1

        tc = day_pos(t_ns, end_ns)
        levels = np.zeros((n_days, x.shape[1]))
        slope = np.zeros(x.shape[1])
        if cfg.trend == "linear":
            # 1. a level free of the weekly cycle, so the profile does not absorb the trend
            weekly = _weekly_levels(_group_median(x, day, n_days))
            profile = _fill_rows(_group_median(x - _level_path(weekly, tc), bucket, n_buckets))
            # 2. daily levels of the deseasonalised series: the in-sample path and the slope
            levels = _fill_days(_group_median(x - _lookup(profile, b0, b1, w), day, n_days))
            slope = _theil_sen(levels[: min(cfg.trend_days, n_days)])
        else:
            profile = _fill_rows(_group_median(x, bucket, n_buckets))
        horizon = cfg.trend_horizon_days
        residual = x - _lookup(profile, b0, b1, w) - _level_path(levels, tc, slope, horizon)
        zeros = np.where(np.isnan(x), np.nan, x == 0)
        spread = _bucket_spread(residual, zeros, bucket, n_buckets)
        typical = _nanmedian(spread, axis=0)
        spread = np.sqrt((1 - cfg.spread_shrink) * spread**2 + cfg.spread_shrink * typical**2)
        spread = np.where(np.isnan(spread), typical, spread)
        floor = np.maximum(cfg.spread_floor, cfg.spread_floor_ratio * _nanmedian(np.abs(x), 0))
        spread = np.maximum(spread, floor)

        self.keys_ = [k for k, ok in zip(keys, enough, strict=True) if ok]
        self.skipped_ = skipped
        self.profile_ = profile
        self.spread_ = spread
        self.levels_ = levels
        self.slope_ = slope
        self.history_days_ = history_days[enough]
        self.end_ns_ = end_ns
        self.step_ns_ = step_ns
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
        t_ns = _utc_ns(index, "expected")
        center, spread = self._center_spread(t_ns, cols)
        low = center - self.config.k * spread
        high = center + self.config.k * spread
        if bounds:
            lo_b = np.array([_bound(bounds, k, 0) for k in keys], dtype=float)
            hi_b = np.array([_bound(bounds, k, 1) for k in keys], dtype=float)
            center, low, high = (np.clip(a, lo_b, hi_b) for a in (center, low, high))
        frames = (pd.DataFrame(a, index=index, columns=keys) for a in (center, low, high))
        return tuple(frames)  # type: ignore[return-value]

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Signed robust z-scores, same shape as frame; NaN where the input is NaN or the
        series is unknown (never fitted, or skipped for lack of history)."""
        self._check_fitted()
        t_ns = _utc_ns(frame.index, "score")
        values = _as_float(frame)
        out = np.full(values.shape, np.nan)
        known = [j for j, c in enumerate(frame.columns) if str(c) in self._column]
        if known:
            cols = np.array([self._column[str(frame.columns[j])] for j in known])
            center, spread = self._center_spread(t_ns, cols)
            out[:, known] = (values[:, known] - center) / spread
        return pd.DataFrame(out, index=frame.index, columns=frame.columns)

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
        bucket = int(np.floor(_positions(t_ns, self.config.bucket)[0])) % self.config.n_buckets
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
        meta_path = folder / META_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BaselineError(f"{meta_path}: cannot read baseline metadata: {exc}") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise BaselineError(
                f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT_VERSION}"
            )
        known = {f.name for f in fields(SeasonalBaselineConfig)}
        unknown = sorted(set(meta["config"]) - known)
        if unknown:
            raise BaselineError(f"{meta_path}: config: unknown key(s) {unknown}")
        model = cls(SeasonalBaselineConfig(**meta["config"]))
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            model.profile_ = arrays["profile"]
            model.spread_ = arrays["spread"]
            model.levels_ = arrays["levels"]
            model.slope_ = arrays["slope"]
            model.history_days_ = arrays["history_days"]
            end_ns, step_ns = (int(v) for v in arrays["clock"])
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

    def _columns_of(self, keys: Sequence[str], what: str) -> np.ndarray:
        missing = [k for k in keys if k not in self._column]
        if missing:
            raise BaselineError(f"{what}: series not fitted: {missing}")
        return np.array([self._column[k] for k in keys], dtype=np.intp)

    def _center_spread(self, t_ns: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        b0, b1, w = _interp_weights(_positions(t_ns, cfg.bucket), cfg.n_buckets, cfg.interpolate)
        tc = day_pos(t_ns, self.end_ns_)
        center = _lookup(self.profile_[:, cols], b0, b1, w)
        center += _level_path(self.levels_[:, cols], tc, self.slope_[cols], cfg.trend_horizon_days)
        spread = _lookup(self.spread_[:, cols], b0, b1, w)
        return center, spread


def bucket_label(bucket: int, kind: str = "hour_of_week") -> str:
    """'Tue 14:00' for an hour-of-week bucket (Monday 00:00 is 0), '14:00' for hour-of-day."""
    if kind == "hour_of_week":
        return f"{DAY_NAMES[bucket // 24]} {bucket % 24:02d}:00"
    return f"{bucket:02d}:00"


def day_pos(t_ns: np.ndarray, end_ns: int) -> np.ndarray:
    """Time relative to the end of the training data, in days (negative inside it)."""
    return (t_ns - end_ns) / _DAY_NS


# --- vectorised helpers (rows: time, columns: series) ----------------------------------------


def _utc_ns(index: pd.Index, what: str) -> np.ndarray:
    if not isinstance(index, pd.DatetimeIndex):
        raise BaselineError(f"{what}: expected a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise BaselineError(f"{what}: the index must be timezone-aware (UTC), got naive times")
    return index.tz_convert("UTC").as_unit("ns").asi8


def _as_float(frame: pd.DataFrame) -> np.ndarray:
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise BaselineError(f"expected numeric columns: {exc}") from exc
    values = np.array(values, dtype=np.float64, copy=True)  # never write into the caller's frame
    values[~np.isfinite(values)] = np.nan
    return values


def _history(values: np.ndarray, t_ns: np.ndarray, step_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series: days from the first to the last observed point, and the observed share."""
    valid = ~np.isnan(values)
    n = len(t_ns)
    first = np.argmax(valid, axis=0)
    last = n - 1 - np.argmax(valid[::-1], axis=0)
    span_ns = np.where(valid.any(axis=0), t_ns[last] - t_ns[first] + step_ns, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(span_ns > 0, valid.sum(axis=0) * step_ns / span_ns, 0.0)
    return span_ns / _DAY_NS, np.minimum(coverage, 1.0)


def _positions(t_ns: np.ndarray, kind: str) -> np.ndarray:
    """Fractional hours since the start of the period (Monday 00:00 UTC, or midnight)."""
    seconds = t_ns // _NS_PER_S
    if kind == "hour_of_week":
        return ((seconds + _EPOCH_TO_MONDAY_S) % (7 * 86_400)) / 3600.0
    return (seconds % 86_400) / 3600.0


def _interp_weights(
    pos: np.ndarray, n_buckets: int, interpolate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring buckets and the weight of the second; bucket values sit at midpoints."""
    if not interpolate:
        b = np.floor(pos).astype(np.intp) % n_buckets
        return b, b, np.zeros(len(pos))
    u = pos - 0.5
    lower = np.floor(u)
    b0 = lower.astype(np.intp) % n_buckets
    return b0, (b0 + 1) % n_buckets, u - lower


def _lookup(table: np.ndarray, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(rows, series) values of a (buckets, series) table at interpolated bucket positions."""
    w = w[:, None]
    return table[b0] * (1.0 - w) + table[b1] * w


def _grouped(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """(groups, max rows per group, series), padded with NaN: one sort serves all series."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(len(g)) - starts[g]
    out = np.full((n_groups, max(int(counts.max()), 1), values.shape[1]), np.nan)
    out[g, slot] = values[order]
    return out


def _nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    """Median ignoring NaN, vectorised (np.nanmedian loops in Python over long slices)."""
    s = np.sort(a, axis=axis)  # NaN sorts last
    n = np.sum(~np.isnan(a), axis=axis, keepdims=True)
    lo = np.maximum((n - 1) // 2, 0)
    hi = np.maximum(n // 2, 0)
    med = 0.5 * (np.take_along_axis(s, lo, axis) + np.take_along_axis(s, hi, axis))
    return np.squeeze(med, axis=axis)


def _group_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    return _nanmedian(_grouped(values, groups, n_groups), axis=1)


def _bucket_spread(
    residual: np.ndarray, zeros: np.ndarray, bucket: np.ndarray, n_buckets: int
) -> np.ndarray:
    """Robust sigma of the residual per bucket.

    Usually the mean of the smallest 80% of |r|, scaled to a normal sigma: it ignores up to
    20% of odd minutes (an incident in the training window) and is steadier than the MAD.
    Where at least `_SPARSE` of the values are exactly zero (the error ratio of a quiet
    service: no failed request in most minutes), any robust scale is about 0 and one failed
    request would score z > 4; there the root mean square of the residual is used (|r|
    clipped at its 99th percentile), which is what the Poisson-like noise of counts needs.
    """
    abs_res = np.sort(np.abs(_grouped(residual, bucket, n_buckets)), axis=1)  # NaN last
    n = np.sum(~np.isnan(abs_res), axis=1, keepdims=True)
    k = np.maximum(np.floor(_TRIM * n).astype(np.intp), 1)
    sums = np.cumsum(np.nan_to_num(abs_res), axis=1)
    trimmed = np.take_along_axis(sums, k - 1, axis=1) / k / _TRIMMED_ABS_MEAN
    q99 = np.take_along_axis(abs_res, np.maximum(np.floor(0.99 * (n - 1)), 0).astype(np.intp), 1)
    with np.errstate(invalid="ignore"):
        rms = np.sqrt(np.nanmean(np.minimum(abs_res, q99) ** 2, axis=1, keepdims=True))
        zero_share = _group_mean(zeros, bucket, n_buckets)[:, None, :]
    spread = np.where(zero_share >= _SPARSE, np.fmax(trimmed, rms), trimmed)
    return np.squeeze(np.where(n > 0, spread, np.nan), axis=1)


def _group_mean(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group mean of a (rows, series) array of 0/1 or NaN, NaN ignored."""
    valid = ~np.isnan(values)
    sums = np.zeros((n_groups, values.shape[1]))
    counts = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, groups, np.where(valid, values, 0.0))
    np.add.at(counts, groups, valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _fill_rows(table: np.ndarray) -> np.ndarray:
    """Buckets never observed take the series' median over its observed buckets."""
    if not np.isnan(table).any():
        return table
    return np.where(np.isnan(table), _nanmedian(table, axis=0), table)


def _fill_days(levels: np.ndarray) -> np.ndarray:
    """Days without data take the nearest observed day's level (row 0 is the newest day)."""
    if not np.isnan(levels).any():
        return levels
    filled = pd.DataFrame(levels).ffill().bfill().to_numpy()
    return np.where(np.isnan(filled), 0.0, filled)


def _weekly_levels(daily: np.ndarray) -> np.ndarray:
    """Daily levels without the weekly cycle: centred 7-day means of the daily medians
    (row 0 is the newest day), continued linearly past the first and last complete window
    with the slope over the neighbouring week. Zero when there is less than a week."""
    n = daily.shape[0]
    if n < 7:
        return np.zeros_like(daily)
    valid = ~np.isnan(daily)
    zero = np.zeros((1, daily.shape[1]))
    sums = np.concatenate((zero, np.cumsum(np.where(valid, daily, 0.0), axis=0)))
    counts = np.concatenate((zero, np.cumsum(valid, axis=0)))
    centers = np.arange(3, n - 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[centers + 4] - sums[centers - 3]) / (
            counts[centers + 4] - counts[centers - 3]
        )
    out = np.full_like(daily, np.nan)
    out[centers] = means
    out = _fill_days(out)
    first, last = 3, n - 4
    k = min(7, last - first)
    newest_slope = (out[first] - out[first + k]) / k if k else np.zeros(daily.shape[1])
    oldest_slope = (out[last - k] - out[last]) / k if k else np.zeros(daily.shape[1])
    for d in range(first):
        out[d] = out[first] + newest_slope * (first - d)
    for d in range(last + 1, n):
        out[d] = out[last] - oldest_slope * (d - last)
    return out


def _level_path(
    levels: np.ndarray,
    tc: np.ndarray,
    slope: np.ndarray | None = None,
    horizon_days: float = 0.0,
) -> np.ndarray:
    """The level at times tc (days relative to the end of training), for every series.

    Inside the window: linear between the midpoints of the daily blocks (flat before the
    first). After the last midpoint: the last level plus slope x time, the time capped at
    horizon_days past the end of the data.
    """
    n_days = levels.shape[0]
    knots = -(np.arange(n_days)[::-1] + 0.5)  # oldest first; the newest is -0.5
    ordered = levels[::-1]
    tin = np.clip(tc, knots[0], knots[-1])
    right = np.clip(np.searchsorted(knots, tin, side="left"), 1, max(n_days - 1, 1))
    if n_days == 1:
        path = np.repeat(ordered[:1], len(tc), axis=0)
    else:
        left = right - 1
        w = ((tin - knots[left]) / (knots[right] - knots[left]))[:, None]
        path = ordered[left] * (1.0 - w) + ordered[right] * w
    if slope is not None:
        ahead = np.clip(np.minimum(tc, horizon_days) - knots[-1], 0.0, None)
        path = path + ahead[:, None] * slope[None, :]
    return path


def _theil_sen(levels: np.ndarray) -> np.ndarray:
    """Median pairwise slope per series, levels[d] at d + 0.5 days before the end; per day."""
    n = levels.shape[0]
    i, j = np.triu_indices(n, k=1)
    # row d is older for larger d: slope between rows i < j is (newer - older) / (j - i)
    slopes = (levels[i] - levels[j]) / (j - i)[:, None]
    return np.nan_to_num(_nanmedian(slopes, axis=0), nan=0.0)


def _bound(bounds: Mapping[str, tuple[float | None, float | None]], key: str, side: int) -> float:
    limits = bounds.get(key.split(":", 1)[-1]) or bounds.get(key)
    value = None if limits is None else limits[side]
    if value is None:
        return -np.inf if side == 0 else np.inf
    return float(value)
