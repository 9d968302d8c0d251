"""The statistics the seasonal-peak rule is made of: hour buckets and their quantiles,
daily peaks, a Theil-Sen line and growth factor over them, how far a day's peak stood above
that line, and rounding up to Kubernetes' units."""

from __future__ import annotations

import math

import numpy as np

from aiops.rightsizing.usage import DAY_NS, HOUR_NS, MIB

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_buckets(t_ns: np.ndarray, weekly: bool) -> np.ndarray:
    """Hour of week (Mon 00:00 = 0) or hour of day of each UTC timestamp."""
    hour = (t_ns % DAY_NS) // HOUR_NS
    if not weekly:
        return hour.astype(np.intp)
    weekday = (t_ns // DAY_NS + 3) % 7  # 1970-01-01 was a Thursday
    return (weekday * 24 + hour).astype(np.intp)


def bucket_label(bucket: int, weekly: bool) -> str:
    if weekly:
        return f"{WEEKDAYS[bucket // 24]} {bucket % 24:02d}:00"
    return f"{bucket:02d}:00"


def bucket_quantiles(
    values: np.ndarray, buckets: np.ndarray, n_buckets: int, q: float, min_samples: int
) -> np.ndarray:
    """The q-quantile of the observed values in each bucket (NaN if too few samples)."""
    out = np.full(n_buckets, np.nan)
    ok = ~np.isnan(values)
    order = np.argsort(buckets[ok], kind="stable")
    vals, bks = values[ok][order], buckets[ok][order]
    starts = np.searchsorted(bks, np.arange(n_buckets + 1))
    for b in range(n_buckets):
        chunk = vals[starts[b] : starts[b + 1]]
        if len(chunk) >= min_samples:
            out[b] = np.quantile(chunk, q)
    return out


def daily_peaks(t_ns: np.ndarray, values: np.ndarray, step_ns: int, q: float) -> np.ndarray:
    """The q-quantile (q = 1: the maximum) of each whole 24-hour block, counted back from
    the window's end, oldest first; blocks less than half observed are NaN."""
    end = int(t_ns[-1]) + step_ns
    block = (end - 1 - t_ns) // DAY_NS
    n = int(block.max()) + 1
    per_day = DAY_NS // step_ns
    out = np.full(n, np.nan)
    for d in range(n):
        chunk = values[block == d]
        chunk = chunk[~np.isnan(chunk)]
        if len(chunk) >= per_day / 2 and (block == d).sum() >= per_day * 0.999:
            out[n - 1 - d] = np.quantile(chunk, q)
    return out


def theil_sen_line(peaks: np.ndarray, weekly: bool) -> tuple[float, float] | None:
    """(slope, intercept) per day of the Theil-Sen line through the observed daily peaks,
    day i centred at i + 0.5; with `weekly`, only pairs of days whole weeks apart set the
    slope. None without a pair to take a slope from."""
    days = np.flatnonzero(~np.isnan(peaks))
    i, j = np.triu_indices(len(days), k=1)
    lag = days[j] - days[i]
    if weekly:
        keep = lag % 7 == 0
        i, j, lag = i[keep], j[keep], lag[keep]
    if len(i) == 0:
        return None
    y = peaks[days]
    slope = float(np.median((y[j] - y[i]) / lag))
    intercept = float(np.median(y - slope * (days + 0.5)))
    return slope, intercept


def theil_sen_growth(peaks: np.ndarray, weekly: bool, horizon_days: float, min_days: int) -> float:
    """Trend line at (window end + horizon) over the trend line at the window's middle,
    unclipped; 1.0 without enough daily peaks. Day i of n is centred at i + 0.5."""
    if int((~np.isnan(peaks)).sum()) < min_days:
        return 1.0
    line = theil_sen_line(peaks, weekly)
    if line is None:
        return 1.0
    slope, intercept = line
    n = len(peaks)
    middle = intercept + slope * n / 2.0
    future = intercept + slope * (n + horizon_days)
    if middle <= 0:
        return 1.0
    return max(future, 0.0) / middle


def excursion_above_line(peaks: np.ndarray, slope: float, intercept: float) -> float:
    """How far the highest observed daily peak stood above the line (0 if none did): how
    much a day's peak has moved beyond the trend, in the peaks' unit."""
    days = np.flatnonzero(~np.isnan(peaks))
    above = peaks[days] - (intercept + slope * (days + 0.5))
    return max(float(above.max()), 0.0) if len(days) else 0.0


def ceil_millicores(cores: float) -> float:
    return math.ceil(round(cores * 1000.0, 6)) / 1000.0


def ceil_mib(nbytes: float) -> float:
    return float(math.ceil(round(nbytes / MIB, 6)) * MIB)
