"""The two comparators for the NAB bench: NAB's windowed Gaussian and a Prophet interval.

Both are causal: the score at row t uses rows before t (and t itself) only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import erfc


@dataclass(frozen=True)
class WindowedGaussianConfig:
    """NAB's `windowedGaussian_detector.py`: a 6400-row window moved in steps of 100."""

    window: int = 6400
    step: int = 100


def windowed_gaussian_scores(
    values: np.ndarray, config: WindowedGaussianConfig | None = None
) -> np.ndarray:
    """1 - two-sided normal tail probability of each value against the window before it.

    Same arithmetic as NAB's detector: the window fills row by row up to `window` rows,
    then moves forward `step` rows at a time; the first row scores 0; std 0 becomes 1e-6.
    """
    cfg = config or WindowedGaussianConfig()
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = np.zeros(n)
    std = np.ones(n)
    csum = np.concatenate([[0.0], np.cumsum(x)])
    csq = np.concatenate([[0.0], np.cumsum(x * x)])
    # Window (lo, hi) in effect when row i is scored: rows seen before i, per NAB's update rule.
    for i in range(1, n):
        if i <= cfg.window:
            lo, hi = 0, i
        else:
            hi = cfg.window + ((i - cfg.window) // cfg.step) * cfg.step
            lo = hi - cfg.window
        m = (csum[hi] - csum[lo]) / (hi - lo)
        var = max((csq[hi] - csq[lo]) / (hi - lo) - m * m, 0.0)
        mean[i], std[i] = m, math.sqrt(var) or 1e-6
    z = np.abs(x - mean) / std
    scores = 1.0 - erfc(z / math.sqrt(2.0)) / 2.0
    scores[0] = 0.0
    return scores


@dataclass(frozen=True)
class ProphetIntervalConfig:
    """What prometheus-anomaly-detector does, made causal and bounded.

    Prophet is fitted on the last `history` rows and forecasts the next `refit_every` rows;
    a row outside [yhat_lower, yhat_upper] is an anomaly. Refits happen at most every
    `refit_every` rows, so the run stays bounded; no fit before `min_train` rows.
    """

    history: int = 2000
    refit_every: int = 500
    min_train: int = 200
    interval_width: float = 0.8  # Prophet's default (PAD keeps it)
    seed: int = 0  # Prophet samples its intervals with numpy's global generator


def prophet_interval_scores(
    timestamps: pd.Series, values: np.ndarray, config: ProphetIntervalConfig | None = None
) -> np.ndarray:
    """0 inside the interval; above 0.5 outside, growing with the distance (in half-widths).

    Thresholding at 0.5 is exactly "outside yhat_lower/yhat_upper".
    """
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed"
    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    get_logger()  # cmdstanpy sets its logger to INFO on first use; quieten it after that
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.WARNING)
    cfg = config or ProphetIntervalConfig()
    ts = pd.to_datetime(pd.Series(timestamps)).reset_index(drop=True)
    x = np.asarray(values, dtype=float)
    n = len(x)
    scores = np.zeros(n)
    for start in range(cfg.min_train, n, cfg.refit_every):
        lo = max(0, start - cfg.history)
        train = pd.DataFrame({"ds": ts[lo:start], "y": x[lo:start]})
        model = Prophet(interval_width=cfg.interval_width, uncertainty_samples=200)
        model.fit(train)
        stop = min(n, start + cfg.refit_every)
        np.random.seed(cfg.seed + start)  # repeatable intervals from run to run
        fc = model.predict(pd.DataFrame({"ds": ts[start:stop]}))
        upper, lower = fc["yhat_upper"].to_numpy(), fc["yhat_lower"].to_numpy()
        half = np.maximum((upper - lower) / 2.0, 1e-9)
        y = x[start:stop]
        excess = np.maximum(y - upper, lower - y)
        scores[start:stop] = np.where(excess > 0, 0.5 + 0.5 * np.tanh(excess / half), 0.0)
    return scores
