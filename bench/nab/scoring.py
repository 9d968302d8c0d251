"""NAB's scorer, standard profile: windows, earliest detection, sigmoid weighting.

A faithful port of numenta/NAB `nab/sweeper.py` (`Sweeper.calcSweepScore`,
`calcScoreByThreshold`) and the normalisation in `nab/runner.py`:

- every row gets a sweep score. Inside a labelled window it is the true-positive weight
  `scaled_sigmoid(-(right - i + 1) / width) / scaled_sigmoid(-1)`, so a detection on the
  window's first row is worth exactly tp_weight and one on its last row about 0. Outside a
  window it is `fp_weight * scaled_sigmoid(|prev_right - i| / (prev_width - 1))`: a false
  positive just after a window costs little, one three window-widths later (or before
  any window) costs the full fp_weight;
- rows in the probation period (the first `min(floor(0.15 n), 0.15 * 5000)` rows) are not
  scored, and a window with no row after probation is not counted;
- a row is a detection when its anomaly score >= the threshold; each window scores the
  best (that is, the earliest) detection in it, or -fn_weight when nothing fired in it;
  false positives add up;
- a file's raw score is the sum; the corpus raw score is the sum over files, normalised as
  `100 * (raw - null) / (perfect - null)` with null = the detector that never fires
  (-fn_weight per window) and perfect = tp_weight per labelled window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CostMatrix:
    tp_weight: float = 1.0
    fp_weight: float = 0.11
    fn_weight: float = 1.0


STANDARD = CostMatrix()
PROBATION_PERCENT = 0.15


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's `scaledSigmoid`: 2*sigmoid(-5x) - 1, and -1 from x >= 3 on."""
    if relative_position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * relative_position)) - 1.0


def probation_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> float:
    """Rows before this index are the probation period (NAB's `_getProbationaryLength`)."""
    return min(math.floor(probation_percent * n_rows), probation_percent * 5000)


@dataclass(frozen=True)
class PreparedFile:
    """One file's per-row sweep scores, ready to be scored at any threshold."""

    name: str
    sweep: np.ndarray  # weighted score of a detection at each row
    window: np.ndarray  # window index per row; -1 outside windows; -2 in probation
    n_windows: int  # windows with at least one scorable row (those that can be missed)
    n_labelled: int  # all labelled windows (the perfect detector's count)


def prepare_file(
    name: str,
    timestamps: Sequence,
    windows: Iterable[tuple],
    costs: CostMatrix = STANDARD,
    probation_percent: float = PROBATION_PERCENT,
) -> PreparedFile:
    """The sweep score and window of every row, as NAB's `calcSweepScore` computes them."""
    ts = pd.DatetimeIndex(pd.to_datetime(pd.Index(timestamps)))
    n = len(ts)
    position = {t: i for i, t in enumerate(ts)}
    bounds = []
    for start, end in windows:
        s, e = pd.Timestamp(start), pd.Timestamp(end)
        if s not in position or e not in position:
            raise ValueError(
                f"{name}: window {start} .. {end}: limits must be timestamps in the file"
            )
        bounds.append((position[s], position[e]))
    bounds.sort()
    max_tp = scaled_sigmoid(-1.0)
    sweep = np.empty(n)
    window = np.full(n, -1, dtype=np.int64)
    prev_right = prev_width = None
    k = 0
    cur = None  # (index, left, right, width)
    for i in range(n):
        if cur is None and k < len(bounds) and i == bounds[k][0]:
            left, right = bounds[k]
            cur = (k, left, right, float(right - left + 1))
            k += 1
        if cur is not None:
            sweep[i] = scaled_sigmoid(-(cur[2] - i + 1) / cur[3]) * costs.tp_weight / max_tp
            window[i] = cur[0]
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            sweep[i] = scaled_sigmoid(past) * costs.fp_weight
        if cur is not None and i == cur[2]:
            prev_right, prev_width = cur[2], cur[3]
            cur = None
    window[: int(math.ceil(probation_length(n, probation_percent)))] = -2
    n_windows = len(np.unique(window[window >= 0]))
    return PreparedFile(name, sweep, window, n_windows, len(bounds))


@dataclass(frozen=True)
class FileScore:
    name: str
    raw: float
    tp: int  # windows detected
    fn: int  # windows missed
    fp: int  # detections outside windows (after probation)


def score_detections(
    prepared: PreparedFile, detected: np.ndarray, costs: CostMatrix = STANDARD
) -> FileScore:
    """A file's raw score for a boolean detection per row."""
    detected = np.asarray(detected, dtype=bool)
    if detected.shape != prepared.sweep.shape:
        raise ValueError(
            f"{prepared.name}: {detected.shape[0]} detections for {prepared.sweep.shape[0]} rows"
        )
    fp_rows = detected & (prepared.window == -1)
    raw = float(prepared.sweep[fp_rows].sum())
    in_window = detected & (prepared.window >= 0)
    best = {}
    for w, s in zip(prepared.window[in_window], prepared.sweep[in_window], strict=True):
        best[w] = max(best.get(w, -np.inf), s)
    raw += sum(best.values()) - costs.fn_weight * (prepared.n_windows - len(best))
    return FileScore(
        prepared.name, raw, len(best), prepared.n_windows - len(best), int(fp_rows.sum())
    )


def null_and_perfect(
    prepared: Iterable[PreparedFile], costs: CostMatrix = STANDARD
) -> tuple[float, float]:
    """The corpus raw scores of the detector that never fires and of the perfect one."""
    prepared = list(prepared)
    null = -costs.fn_weight * sum(p.n_windows for p in prepared)
    perfect = costs.tp_weight * sum(p.n_labelled for p in prepared)
    return null, perfect


def normalised(raw_total: float, null: float, perfect: float) -> float:
    return 100.0 * (raw_total - null) / (perfect - null)


def score_corpus(
    prepared: Mapping[str, PreparedFile],
    scores: Mapping[str, np.ndarray],
    threshold: float,
    costs: CostMatrix = STANDARD,
) -> tuple[float, list[FileScore]]:
    """Normalised corpus score and per-file scores with detections = score >= threshold."""
    per_file = [
        score_detections(p, np.asarray(scores[name]) >= threshold, costs)
        for name, p in prepared.items()
    ]
    null, perfect = null_and_perfect(prepared.values(), costs)
    return normalised(sum(f.raw for f in per_file), null, perfect), per_file


def threshold_candidates(scores: Iterable[np.ndarray]) -> np.ndarray:
    """Thresholds worth trying: 401 quantiles of the pooled scores from the median up, 1, 1.1."""
    pooled = np.concatenate([np.asarray(s, dtype=float) for s in scores])
    pooled = pooled[np.isfinite(pooled)]
    qs = np.unique(np.quantile(pooled, np.linspace(0.5, 1.0, 401)))
    return np.unique(np.concatenate([qs, [1.0, 1.1]]))


def best_threshold(
    prepared: Mapping[str, PreparedFile],
    scores: Mapping[str, np.ndarray],
    costs: CostMatrix = STANDARD,
    candidates: Iterable[float] | None = None,
) -> tuple[float, float]:
    """The one corpus-wide threshold maximising the normalised score (NAB's optimiser)."""
    if candidates is None:
        candidates = threshold_candidates(scores.values())
    best = (-np.inf, 1.1)
    for t in candidates:
        value, _ = score_corpus(prepared, scores, float(t), costs)
        if value > best[0]:
            best = (value, float(t))
    return best[1], best[0]


def load_windows(labels_path: Path) -> dict[str, list[tuple[str, str]]]:
    """`labels/combined_windows.json`: relative file path -> [(start, end), ...]."""
    return {k: [tuple(w) for w in v] for k, v in json.loads(Path(labels_path).read_text()).items()}
