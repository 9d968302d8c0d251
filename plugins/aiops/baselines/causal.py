"""The default univariate detector: causal robust z-scores, calibrated, with suppression.

A row's score uses only the rows before it and the row itself (the sampling step used to
find "same time yesterday" is learnt from the probation rows), so scores are the same
whether a series is scored in one batch or row by row as it arrives, and the first k scores
never change when later rows do. There is no fit step: the detector learns each series from
its own past, with the same configuration for every series.

Three named steps, as in Merlion's detectors (raw score, calibration, threshold):

1. raw score: each row is predicted by the median of the `baseline_window` rows before it
   and, where the sampling allows, by the median of the same time of day 1..3 days back
   and of the same time of week 1..3 weeks back (`seasons`); the predictor with the
   smallest mean absolute error over the last `selection_window` rows is used. The raw
   score is the largest robust z-score (residual minus its trailing median, over its
   trailing inter-quartile range) of the mean residual of the last 1, 5 and 20 rows
   (`short_windows`): one row catches spikes, longer windows changes of level;
2. calibration (`anomaly_score`, in [0, 1]): like HTM's anomaly likelihood, the mean raw
   score of the last `likelihood_short` rows against the mean and standard deviation of
   the raw score over the `likelihood_long` rows before; the score is the normal
   probability below that z, so about 0.5 is ordinary and values near 1 are rare for
   this series, whatever its scale or noise;
3. decision (`is_anomaly`): anomaly_score >= `threshold`, never in the first `probation`
   rows, and at most one detection per `suppress` rows (an incident is reported once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

SCORE_COLUMNS = ["timestamp", "value", "anomaly_score", "is_anomaly"]


@dataclass(frozen=True)
class CausalDetectorConfig:
    """Every knob of the default detector; the defaults are used for every series."""

    baseline_window: int = 500
    seasons: tuple[str, ...] = ("1D", "7D")  # seasonal predictors: same time, earlier periods
    seasonal_cycles: int = 3  # median over this many earlier periods
    selection_window: int = 50  # rows of past error used to pick the best predictor
    short_windows: tuple[int, ...] = (1, 5, 20)
    min_scale_fraction: float = 0.001  # scale floor, as a fraction of the baseline's |median|
    likelihood_short: int = 5
    likelihood_long: int = 500
    probation: int = 150
    threshold: float = 0.9995  # chosen by leave-one-category-out on NAB (bench/bench_nab.py --grid)
    suppress: int = 30


class CausalDetector:
    """`score(timestamps, values)` -> anomaly scores in [0, 1]; `detect(scores)` -> booleans.

    Stateless between series: `chosen_` (the predictor used at each row: 0 = trailing
    median, 1.. = `seasons`) describes the last series scored.
    """

    def __init__(self, config: CausalDetectorConfig | None = None) -> None:
        self.config = config or CausalDetectorConfig()

    def predictions(self, timestamps: pd.Series, values: np.ndarray) -> list[np.ndarray]:
        """Causal predictions of each row: the trailing median, then one per season."""
        cfg = self.config
        x = pd.Series(np.asarray(values, dtype=float))
        minp = max(10, min(cfg.baseline_window, cfg.probation) // 2)
        preds = [x.shift(1).rolling(cfg.baseline_window, min_periods=minp).median().to_numpy()]
        ts = pd.DatetimeIndex(pd.to_datetime(pd.Series(timestamps))).as_unit("ns").asi8
        if len(ts) < 3:
            return preds
        step = np.median(np.diff(ts[: max(3, cfg.probation)]))  # learnt in probation
        for season in cfg.seasons:
            period = pd.Timedelta(season).value
            if period < 4 * step:
                continue
            lagged = []
            for k in range(1, cfg.seasonal_cycles + 1):
                target = ts - k * period
                j = np.clip(np.searchsorted(ts, target), 0, len(ts) - 1)
                jprev = np.clip(j - 1, 0, len(ts) - 1)
                nearest = np.where(np.abs(ts[jprev] - target) < np.abs(ts[j] - target), jprev, j)
                ok = np.abs(ts[nearest] - target) <= step / 2
                lagged.append(np.where(ok, x.to_numpy()[nearest], np.nan))
            stacked = np.vstack(lagged)
            enough = np.sum(np.isfinite(stacked), axis=0) >= max(1, cfg.seasonal_cycles - 1)
            stacked[:, ~enough] = 0.0  # placeholder; masked out just below
            preds.append(np.where(enough, np.nanmedian(stacked, axis=0), np.nan))
        return preds

    def raw_scores(self, timestamps: pd.Series, values: np.ndarray) -> np.ndarray:
        """Robust z-score of each row against the best predictor so far (unbounded, >= 0)."""
        cfg = self.config
        x = np.asarray(values, dtype=float)
        best_err = np.full(len(x), np.inf)
        raw = np.zeros(len(x))
        chosen = np.full(len(x), -1)
        for m, pred in enumerate(self.predictions(timestamps, x)):
            e = pd.Series(x - pred)
            minp = max(10, min(cfg.baseline_window, cfg.probation) // 2)
            past = e.shift(1)
            q75 = past.rolling(cfg.baseline_window, min_periods=minp).quantile(0.75)
            q25 = past.rolling(cfg.baseline_window, min_periods=minp).quantile(0.25)
            center = past.rolling(cfg.baseline_window, min_periods=minp).median()
            floor = np.maximum(cfg.min_scale_fraction * np.abs(pred), 1e-9)
            scale = np.maximum(((q75 - q25) / 1.349).to_numpy(), floor)
            err = (
                past.abs()
                .rolling(cfg.selection_window, min_periods=min(minp, cfg.selection_window))
                .mean()
                .to_numpy()
            )
            z = np.zeros(len(x))
            for k in cfg.short_windows:
                recent = (e - center).rolling(k, min_periods=k).mean().to_numpy()
                z = np.fmax(z, np.abs(recent) / scale)
            better = np.isfinite(err) & (err < best_err)
            best_err = np.where(better, err, best_err)
            raw = np.where(better, z, raw)
            chosen = np.where(better, m, chosen)
        self.chosen_ = chosen
        return np.nan_to_num(raw, nan=0.0)

    def score(self, timestamps: pd.Series, values: np.ndarray) -> np.ndarray:
        """Calibrated anomaly scores in [0, 1]; 0 throughout the probation rows."""
        cfg = self.config
        raw = pd.Series(self.raw_scores(timestamps, values))
        short = raw.rolling(cfg.likelihood_short, min_periods=1).mean()
        hist = raw.shift(1).rolling(cfg.likelihood_long, min_periods=max(2, cfg.probation // 2))
        mean, std = hist.mean(), hist.std()
        z = (short - mean) / np.maximum(std, 1e-6)
        scores = ndtr(z.to_numpy())
        scores = np.nan_to_num(scores, nan=0.0)
        scores[: cfg.probation] = 0.0
        return np.clip(scores, 0.0, 1.0)

    def detect(self, scores: np.ndarray) -> np.ndarray:
        """is_anomaly: the threshold, after probation, at most once per `suppress` rows."""
        cfg = self.config
        candidates = np.flatnonzero(np.asarray(scores) >= cfg.threshold)
        flags = np.zeros(len(scores), dtype=bool)
        last = -math.inf
        for i in candidates:
            if i >= cfg.probation and i - last > cfg.suppress:
                flags[i] = True
                last = i
        return flags


def detect_frame(frame: pd.DataFrame, config: CausalDetectorConfig | None = None) -> pd.DataFrame:
    """timestamp,value -> timestamp,value,anomaly_score,is_anomaly (rows in the given order)."""
    detector = CausalDetector(config)
    values = frame["value"].to_numpy(dtype=float)
    scores = detector.score(frame["timestamp"], values)
    return pd.DataFrame(
        {
            "timestamp": frame["timestamp"].to_numpy(),
            "value": values,
            "anomaly_score": scores,
            "is_anomaly": detector.detect(scores),
        }
    )
