"""One scale for every anomaly score: how rare it is for its own series, read as a sigma.

A robust z-score means different things on different series. On a well-behaved latency a
z of 6 happens once a year; on a bursty queue depth it happens every afternoon; a nearly
constant, quantised series that moves by one step can score hundreds. A multivariate
detector's score is not a z at all. Ranking, severity and confidence need one scale that
means the same everywhere, so each series' scores are calibrated against its own training
scores:

1. **tail probability** `p(s)`: the share of training scores at or above s, read from a
   small table of the training scores at fixed exceedance probabilities (1 down to 1%,
   log-linear in between). Beyond the 1% point the tail is extrapolated (peaks over
   threshold): an exponential in s**power with the training's mean excess as its scale,
   so a score far beyond anything seen in training still ranks above a merely large one.
   For z-scores the power is 2, the shape of a normal tail: a series with normal noise
   keeps about its z (6 reads 5.9), a heavier-tailed one has a larger mean excess and is
   discounted. For log-likelihood-like scores (the multivariate detector's summed -log
   tail probabilities) the power is 1;
2. **sigma-equivalent**: the two-sided normal quantile of p, Phi^-1(1 - p/2). A score that
   is as rare for its series as 4 sigma is for a normal variable reads 4.0, whatever the
   series' noise, unit or detector.

For z-scores the calibration only ever discounts (`calibrated_sigma` caps the result at the
z itself): a series calmer than a normal one is not made louder than its robust sigma, and
a series whose training held no spread at all (constant, or every value on one quantum
step) falls back to its z. The spread floors of the baselines (`quantum_floor`,
`spread_floor_ratio`) already make a one-step move of a quantised series about 1 sigma,
so it cannot outshout a real regression.

A table is a pair of arrays per series (`knots`: score at each exceedance probability,
`scale`: the tail's mean excess), saved beside the model's other arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

#: Exceedance probabilities of the table's knots; the last is where the fitted tail starts.
EXCEEDANCE = np.array([1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01])
#: Smallest mean excess a tail may have, as a share of its threshold's distance from the
#: median (and at least `_MIN_SCALE`), so a tail fitted on a few tied values stays finite.
_MIN_SCALE_SHARE = 0.05
_MIN_SCALE = 1e-6
#: Fewest training scores a series needs for a table; with fewer, scores stay uncalibrated.
MIN_SCORES = 100
#: A tail probability never goes below this (the sigma-equivalent stays below ~37).
_MIN_P = 1e-300


@dataclass(frozen=True)
class TailTable:
    """Per series (columns): training score at each `EXCEEDANCE` level and the tail's scale.

    A column of NaN knots means "not calibrated" (too few training scores): its tail
    probability is NaN and its calibrated z is the z itself.
    """

    knots: np.ndarray  # (len(EXCEEDANCE), n_series)
    scale: np.ndarray  # (n_series,): mean excess of s**power past the last knot
    power: float = 1.0  # the tail is exponential in s**power

    def __post_init__(self) -> None:
        if self.knots.ndim != 2 or self.knots.shape[0] != len(EXCEEDANCE):
            raise ValueError(
                f"knots: expected ({len(EXCEEDANCE)}, n) array, got {self.knots.shape}"
            )
        if self.scale.shape != (self.knots.shape[1],):
            raise ValueError(f"scale: expected ({self.knots.shape[1]},), got {self.scale.shape}")

    def take(self, columns: np.ndarray) -> TailTable:
        """The table of some series, in the given column order."""
        return TailTable(self.knots[:, columns], self.scale[columns], self.power)


def fit_tails(scores: np.ndarray, power: float = 1.0) -> TailTable:
    """The tail table of each column of `scores` (rows: training points; NaN ignored).

    Scores are >= 0 and higher is more unusual; for z-scores pass |z| and power 2. Knots
    are nearest-rank quantiles. Columns with the same number of values, usually all of
    them, share one partial sort (the nightly fits a fleet in one call), which also leaves
    the top 1% of each column in its last rows, where the tail's mean excess is read."""
    x = np.atleast_2d(np.asarray(scores, dtype=float).T).T
    knots = np.full((len(EXCEEDANCE), x.shape[1]), np.nan)
    scale = np.full(x.shape[1], np.nan)
    counts = np.sum(np.isfinite(x), axis=0)
    for n in np.unique(counts[counts >= MIN_SCORES]):
        cols = np.flatnonzero(counts == n)
        ranks = np.rint((1.0 - EXCEEDANCE) * (n - 1)).astype(np.intp)
        part = np.partition(x[:, cols], ranks, axis=0)  # NaN sorts last
        top = part[ranks[-1]]
        tail = part[ranks[-1] + 1 : n]  # every value at or past the top knot
        above = tail > top
        n_above = above.sum(axis=0)
        total = np.where(above, tail**power - top**power, 0.0).sum(axis=0)
        mean_excess = np.where(n_above > 0, total / np.maximum(n_above, 1), 0.0)
        body = np.maximum(top**power - part[ranks[1]] ** power, 0.0)
        knots[:, cols] = part[ranks]
        scale[cols] = np.maximum(mean_excess, np.maximum(_MIN_SCALE_SHARE * body, _MIN_SCALE))
    return TailTable(knots, scale, power)


def tail_probability(scores: np.ndarray, table: TailTable) -> np.ndarray:
    """P(training score >= s) for each s: rows x series matching the table's columns, or a
    1-D array of one series' scores. Vectorised over series: the hourly path calibrates
    every series of a service (or a fleet) in one call."""
    s = np.atleast_2d(np.asarray(scores, dtype=float).T).T
    calibrated = np.isfinite(table.knots).all(axis=0)
    # strictly increasing knots (tied quantiles of a quantised series), NaN columns as 0
    knots = np.where(calibrated, table.knots, 0.0)
    xp = np.maximum.accumulate(knots, axis=0) + np.arange(len(EXCEEDANCE))[:, None] * 1e-12
    log_p = np.log(EXCEEDANCE)
    # which knot segment each score falls in: 0 below the first, len(knots) past the last
    seg = np.sum(s[None, :, :] >= xp[:, None, :], axis=0)
    lo = np.clip(seg - 1, 0, len(EXCEEDANCE) - 2)
    x0 = np.take_along_axis(xp, lo, axis=0)
    x1 = np.take_along_axis(xp, lo + 1, axis=0)
    frac = np.clip((s - x0) / (x1 - x0), 0.0, 1.0)
    body = np.exp(log_p[lo] + frac * (log_p[lo + 1] - log_p[lo]))
    top = xp[-1]
    past = np.maximum(s, top) ** table.power - top**table.power
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = EXCEEDANCE[-1] * np.exp(-past / np.where(calibrated, table.scale, 1.0))
    p = np.where(seg == 0, 1.0, np.where(seg >= len(EXCEEDANCE), beyond, body))
    p = np.where(np.isfinite(s) & calibrated, np.maximum(p, _MIN_P), np.nan)
    return p.reshape(np.shape(scores)) if np.ndim(scores) < 2 else p


def sigma_equivalent(p: np.ndarray) -> np.ndarray:
    """The |z| a normal variable exceeds with probability p (two-sided): 0.0027 -> 3.0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(p), -ndtri(np.clip(p, _MIN_P, 1.0) / 2.0), np.nan)


def normal_tail(z: np.ndarray) -> np.ndarray:
    """Two-sided normal tail probability of |z|: the inverse of `sigma_equivalent`."""
    return 2.0 * ndtr(-np.abs(np.asarray(z, dtype=float)))


def calibrated_sigma(z: np.ndarray, table: TailTable) -> np.ndarray:
    """Signed z-scores mapped to the sigma-equivalent of their series' tail probability,
    never louder than the z itself; uncalibrated series keep their z."""
    z = np.asarray(z, dtype=float)
    p = tail_probability(np.abs(z), table)
    sigma = np.where(np.isfinite(p), np.minimum(sigma_equivalent(p), np.abs(z)), np.abs(z))
    return np.sign(z) * sigma
