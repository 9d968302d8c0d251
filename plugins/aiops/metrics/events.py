"""Anomaly events: per-point scores condensed into what a person should hear about.

One sustained deviation is one event, not sixty points: anomalous points closer together than
`merge_gap` steps join one event, and runs shorter than `min_points` are dropped as blips.
Each event carries severity, a confidence in [0, 1] and a sentence a service owner can read
without the dashboard: "latency p95 412 ms vs expected 180-240 ms for Tue 14:00, 4.1 robust
sigma above".

Which points are anomalous is decided on the robust z (the band a chart shows is z = +-4),
but how loud an event is comes from the calibrated score (`aiops.baselines.calibration`):
the sigma-equivalent of the peak's tail probability among its series' own training scores.
`peak_score`, severity, confidence and the strength incidents rank by all use it, so a
noisy series that often leaves its band, or a quantised one moving by a step, is not louder
than a well-behaved one showing a real regression. The robust z stays in the explanation
and in `context["robust_sigma"]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from aiops.baselines.calibration import normal_tail, sigma_equivalent
from aiops.units import SIGNAL_LABELS, format_duration, format_range, format_value

#: The kind of the multivariate detector's events (signal "*"): several signals at once.
MULTIVARIATE_KIND = "combined"


@dataclass(frozen=True)
class EventConfig:
    threshold: float = 4.0  # robust |z| at which a point is anomalous
    min_points: int = 3  # anomalous points an event needs (shorter runs are blips)
    merge_gap: int = 10  # normal steps that may separate two runs of one event
    # calibrated peak (sigma-equivalent) from which an event is critical: a tail probability
    # of about 2e-9, what a robust z of 8 is on a series with normal tails
    critical: float = 6.0


def confidence(peak: float, points: int, config: EventConfig) -> float:
    """Stronger and longer deviations are likelier real: 0.25 at the bare minimum, toward 1.

    `peak` is the calibrated score: a deviation that is ordinary for its series (calibrated
    below the threshold) gets little confidence however many robust sigma it is."""
    strength = 1.0 - 0.5 * math.exp(-(peak - config.threshold) / 2.0)
    persistence = min(1.0, points / (4.0 * config.min_points)) ** 0.5
    return round(max(0.0, min(1.0, strength * (0.5 + 0.5 * persistence))), 4)


def _groups(mask: np.ndarray, merge_gap: int) -> list[tuple[int, int]]:
    """(first, last) index of each group of True values, merging groups split by short gaps."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge_gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def events_for_series(
    service: str,
    signal: str,
    z: pd.Series,
    observed: pd.Series,
    low: pd.Series,
    high: pd.Series,
    *,
    step: timedelta,
    detector: str,
    model_version: str,
    bucket_label: Callable[[pd.Timestamp], str],
    config: EventConfig = EventConfig(),
    continue_from: datetime | None = None,
    unit: str | None = None,
    bad_direction: str = "both",
    calibrated: pd.Series | None = None,
    signal_kind: str = "other",
) -> list[dict[str, Any]]:
    """Events of one series over the scored window (the run's interval plus any lookback).

    `continue_from` is the start of this series' event that was still open at the window's
    start (read from the store): a deviation that carries on keeps its original start, so
    the row is extended instead of a second event being filed. `bad_direction` is the
    catalog's direction: "up" keeps only deviations above the band (latency falling is
    good news, not an event), "down" only those below, "both" either. `calibrated` holds the
    calibrated scores of the same points (`BaselineLadder.calibrate`); without it the z is
    used as is.
    """
    values = z.to_numpy(dtype="float64")
    loudness = np.abs(values if calibrated is None else calibrated.to_numpy(dtype="float64"))
    signed = np.nan_to_num(values, nan=0.0)
    if bad_direction == "up":
        mask = signed >= config.threshold
    elif bad_direction == "down":
        mask = signed <= -config.threshold
    else:
        mask = np.abs(signed) >= config.threshold
    events = []
    for first, last in _groups(mask, config.merge_gap):
        points = int(mask[first : last + 1].sum())
        if points < config.min_points:
            continue
        window = np.abs(values[first : last + 1])
        peak_at = first + int(np.nanargmax(window))
        peak = float(abs(values[peak_at]))
        loud = float(np.nanmax(np.where(mask[first : last + 1], loudness[first : last + 1], 0.0)))
        ts = z.index[peak_at]
        start = z.index[first].to_pydatetime()
        if continue_from is not None and first <= config.merge_gap:
            start = continue_from
        end = (z.index[last] + step).to_pydatetime()
        direction = "above" if values[peak_at] > 0 else "below"
        lo, hi, obs = (
            float(low.iloc[peak_at]),
            float(high.iloc[peak_at]),
            float(observed.iloc[peak_at]),
        )
        label = SIGNAL_LABELS.get(signal, signal)
        explanation = (
            f"{label} {format_value(signal, obs, unit)} vs expected "
            f"{format_range(signal, lo, hi, unit)} "
            f"for {bucket_label(ts)}, {peak:.1f} robust sigma {direction}"
            f"{_calibrated_note(peak, loud)}; "
            f"{points} anomalous points over {format_duration((end - start).total_seconds())}"
        )
        events.append(
            {
                "service": service,
                "signal": signal,
                "kind": "anomaly",
                "start": start,
                "end": end,
                "severity": "critical" if loud >= config.critical else "warning",
                "confidence": confidence(loud, points, config),
                "direction": direction,
                "points": points,
                "peak_score": round(loud, 4),
                "observed": obs,
                "expected_low": lo,
                "expected_high": hi,
                "explanation": explanation,
                "detector": detector,
                "model_version": model_version,
                "context": _score_context(loud, peak),
                "signal_kind": signal_kind,
            }
        )
    return events


def _calibrated_note(robust: float, calibrated: float) -> str:
    """Said only when the series' own history makes the deviation notably less rare."""
    if calibrated >= robust - 0.5:
        return ""
    return f" (as rare as {calibrated:.1f} sigma for this series)"


def _score_context(calibrated: float, robust: float | None) -> dict[str, float]:
    """What the calibrated peak is made of, kept with the event for whoever re-reads it."""
    context = {"tail_probability": float(f"{float(normal_tail(calibrated)):.4g}")}
    if robust is not None:
        context["robust_sigma"] = round(robust, 4)
    return context


def multivariate_events(
    service: str,
    scores: pd.Series,
    z: pd.DataFrame,
    *,
    threshold: float,
    step: timedelta,
    detector: str,
    model_version: str,
    config: EventConfig = EventConfig(),
    sigma: pd.Series | None = None,
) -> list[dict[str, Any]]:
    """Events of a service's multivariate detector (signal "*"): a combination of signals that
    is unusual together even when no single one crosses its band. The explanation names the
    signals that moved most at the peak, so the reader knows where to look.

    `scores` (the detector's [0, 1] calibrated score) decides which points are anomalous;
    `sigma` (`ServiceDetector.sigma`, the same points on the univariate events' scale) says
    how loud the event is. Without it, 1 - score is read as the tail probability, which
    cannot go past the rarest training row."""
    values = scores.to_numpy(dtype="float64")
    mask = np.nan_to_num(values, nan=0.0) >= threshold
    if sigma is None:
        loudness = sigma_equivalent(1.0 - np.nan_to_num(values, nan=0.0))
    else:
        loudness = np.nan_to_num(sigma.to_numpy(dtype="float64"), nan=0.0)
    events = []
    for first, last in _groups(mask, config.merge_gap):
        points = int(mask[first : last + 1].sum())
        if points < config.min_points:
            continue
        peak_at = first + int(np.nanargmax(values[first : last + 1]))
        peak = float(values[peak_at])
        row = z.iloc[peak_at].dropna()
        top = row.reindex(row.abs().sort_values(ascending=False).index)[:3]
        movers = ", ".join(
            f"{SIGNAL_LABELS.get(str(k).split(':', 1)[-1], k)} {v:+.1f} sigma"
            for k, v in top.items()
        )
        start, end = (
            scores.index[first].to_pydatetime(),
            (scores.index[last] + step).to_pydatetime(),
        )
        loud = float(np.max(np.where(mask[first : last + 1], loudness[first : last + 1], 0.0)))
        events.append(
            {
                "service": service,
                "signal": "*",
                "kind": "anomaly",
                "start": start,
                "end": end,
                "severity": "critical" if loud >= config.critical else "warning",
                "confidence": confidence(loud, points, config),
                "direction": "none",
                "points": points,
                "peak_score": round(loud, 4),
                "observed": None,
                "expected_low": None,
                "expected_high": None,
                "explanation": (
                    f"unusual combination of signals for {service}: detector score {peak:.4f} "
                    f"(threshold {threshold:g}); largest deviations at the peak: {movers}; "
                    f"{points} anomalous points over {format_duration((end - start).total_seconds())}"
                ),
                "detector": detector,
                "model_version": model_version,
                "context": {**_score_context(loud, None), "detector_score": round(peak, 6)},
                "signal_kind": MULTIVARIATE_KIND,
            }
        )
    return events


def no_data_event(
    service: str,
    signal: str,
    start: datetime,
    end: datetime,
    reason: str,
    *,
    detector: str,
    model_version: str,
    signal_kind: str = "other",
) -> dict[str, Any]:
    """Missing data for a catalog service is news in itself, not a crash."""
    label = SIGNAL_LABELS.get(signal, signal)
    return {
        "service": service,
        "signal": signal,
        "kind": "no_data",
        "start": start,
        "end": end,
        "severity": "warning",
        "confidence": 1.0,
        "direction": "none",
        "points": 0,
        "peak_score": 0.0,
        "observed": None,
        "expected_low": None,
        "expected_high": None,
        "explanation": f"no {label} data for {service} from {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC: {reason}",
        "detector": detector,
        "model_version": model_version,
        "context": {},
        "signal_kind": signal_kind,
    }
