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
   the raw score over the `likelihood_long` rows before, the deviation floored at
   `likelihood_min_std`; the score is the
   normal probability below that z, so about 0.5 is ordinary and values near 1 are rare
   for this series, whatever its scale or noise. The floor matters on clean or perfectly
   periodic series: their raw-score history is almost constant, and without it one small
   blip (a square wave's flip that the trailing median calls a jump) looks infinitely rare;
3. decision (`is_anomaly`): anomaly_score >= `threshold`, never in the first `probation`
   rows, at most one detection per `suppress` rows, and with `rearm` a new detection only
   after the score has gone below the threshold (an incident is reported once, however
   long the score stays high).
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
    likelihood_short: int = 3  # chosen by leave-one-category-out on NAB, as `threshold`
    likelihood_long: int = 500
    probation: int = 150
    threshold: float = 0.9995  # chosen by leave-one-category-out on NAB (bench/bench_nab.py --grid)
    suppress: int = 30
    # report an incident once: after a detection, the next needs the score to have gone
    # below the threshold in between (besides the `suppress` rows)
    rearm: bool = True  # chosen by leave-one-category-out on NAB, as `threshold`
    # floor on the standard deviation of the raw-score history in the calibration: with a
    # near-constant history (a clean or perfectly periodic series) any blip would otherwise
    # look infinitely rare. In raw-score units (robust z); chosen by leave-one-category-out
    likelihood_min_std: float = 1.0


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
        center, spread = hist.mean(), hist.std()
        z = (short - center) / np.maximum(spread, max(cfg.likelihood_min_std, 1e-9))
        scores = ndtr(z.to_numpy())
        scores = np.nan_to_num(scores, nan=0.0)
        scores[: cfg.probation] = 0.0
        return np.clip(scores, 0.0, 1.0)

    def detect(self, scores: np.ndarray) -> np.ndarray:
        """is_anomaly: the threshold, after probation, at most once per `suppress` rows.

        With `rearm`, also at most once per stay above the threshold. Causal: a row's flag
        depends only on the scores up to it.
        """
        cfg = self.config
        above = np.asarray(scores) >= cfg.threshold
        candidates = np.flatnonzero(above)
        # rows where the score is below the threshold, to tell whether it went down between
        below = np.flatnonzero(~above)
        flags = np.zeros(len(scores), dtype=bool)
        last = -math.inf
        for i in candidates:
            if i < cfg.probation or i - last <= cfg.suppress:
                continue
            if cfg.rearm and last >= 0 and not _dropped_between(below, int(last), int(i)):
                continue
            flags[i] = True
            last = i
        return flags


def _dropped_between(below: np.ndarray, start: int, end: int) -> bool:
    """Whether a row strictly between `start` and `end` is in the sorted index `below`."""
    k = np.searchsorted(below, start, side="right")
    return bool(k < len(below) and below[k] < end)


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
