"""A container's usage as the recommender reads it: validated, on its regular grid.

Bad input raises `RightsizingError` naming the container and the first offending
timestamp: a frame without `cpu`/`memory`, a naive or non-increasing index, repeated
timestamps, an irregular step, negative or infinite usage, throttled ratios outside [0, 1].
Missing samples (NaN, or rows absent from the grid) stay NaN, are counted, and raise only
below `min_coverage` or past `max_gap_hours` of consecutive gap (a peak could hide in it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIB = 2**20
GIB = 2**30
HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS


class RightsizingError(ValueError):
    """Input or configuration the recommender cannot use; the message names what was wrong."""


@dataclass(frozen=True)
class ContainerUsage:
    """One container's usage and what is known of its resources today (None: unknown).

    `usage`: columns `cpu` (cores) and `memory` (bytes), optionally `throttled` (0..1), on a
    tz-aware UTC index with a regular step (absent rows count as missing samples).
    """

    key: str
    usage: pd.DataFrame
    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None
    oom_kills: tuple[pd.Timestamp, ...] = ()


@dataclass(frozen=True)
class UsageArrays:
    """A container's usage on its regular grid, validated: NaN where a sample is missing."""

    t_ns: np.ndarray
    cpu: np.ndarray
    memory: np.ndarray
    throttled: np.ndarray | None
    step_ns: int

    @property
    def hours(self) -> float:
        return len(self.t_ns) * self.step_ns / HOUR_NS


def usage_arrays(
    container: ContainerUsage, min_coverage: float = 0.0, max_gap_hours: float = math.inf
) -> UsageArrays:
    """Validate one container's usage and put it on its regular grid (see the module doc)."""
    key, frame = container.key, container.usage
    if not isinstance(frame, pd.DataFrame):
        raise RightsizingError(f"{key}: usage must be a DataFrame, got {type(frame).__name__}")
    for col in ("cpu", "memory"):
        if col not in frame.columns:
            raise RightsizingError(f"{key}: usage has no {col!r} column ({list(frame.columns)})")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise RightsizingError(f"{key}: usage index must be a tz-aware DatetimeIndex (UTC)")
    if len(index) < 2:
        raise RightsizingError(f"{key}: need at least 2 samples, got {len(index)}")
    t_ns = index.tz_convert("UTC").as_unit("ns").asi8
    diffs = np.diff(t_ns)
    if (diffs == 0).any():
        first = pd.Timestamp(t_ns[1:][diffs == 0][0], tz="UTC")
        raise RightsizingError(
            f"{key}: {int((diffs == 0).sum())} repeated timestamps (first {first.isoformat()}); "
            "aggregate them upstream (one sample per step per container)"
        )
    if (diffs < 0).any():
        first = pd.Timestamp(t_ns[1:][diffs < 0][0], tz="UTC")
        raise RightsizingError(f"{key}: usage index is not increasing at {first.isoformat()}")
    step = int(diffs.min())
    if (diffs % step).any():
        raise RightsizingError(
            f"{key}: irregular step: gaps of {sorted(set((diffs // 10**9).tolist()))[:5]} s "
            f"are not multiples of the smallest step ({step // 10**9} s)"
        )
    slots = (t_ns - t_ns[0]) // step
    grid = t_ns[0] + np.arange(int(slots[-1]) + 1, dtype=np.int64) * step

    def column(name: str) -> np.ndarray:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) & ~np.isnan(values) | (values < 0)
        if name == "throttled":
            bad |= values > 1
        if bad.any():
            at = pd.Timestamp(t_ns[bad][0], tz="UTC").isoformat()
            rule = "in [0, 1]" if name == "throttled" else "finite and >= 0"
            raise RightsizingError(
                f"{key}: {name} must be {rule}: {int(bad.sum())} samples are not "
                f"(first {float(values[bad][0])!r} at {at})"
            )
        out = np.full(len(grid), np.nan)
        out[slots] = values
        return out

    cpu, memory = column("cpu"), column("memory")
    throttled = column("throttled") if "throttled" in frame.columns else None
    missing = np.isnan(cpu) | np.isnan(memory)
    coverage = 1.0 - missing.mean()
    if coverage < min_coverage:
        raise RightsizingError(
            f"{key}: only {coverage:.1%} of the window's samples observed "
            f"(min_coverage={min_coverage:g})"
        )
    gap_h = longest_run(missing) * step / HOUR_NS
    if gap_h > max_gap_hours:
        raise RightsizingError(
            f"{key}: {gap_h:.1f} h of consecutive missing samples (max_gap_hours="
            f"{max_gap_hours:g}); a peak could hide in the gap"
        )
    return UsageArrays(grid, cpu, memory, throttled, step)


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a boolean array."""
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())
