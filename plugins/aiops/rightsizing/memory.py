"""Memory request = limit for one container: its level, its headroom, and the OOM bump.

Request = limit, because memory is not compressible: a limit above the request lets the
kernel OOM-kill the container when the node is short, whatever the request said.

The level is the window's peak working set. Each OOM kill in the window means the peak seen
was cut short by the old limit, so the level is at least that limit, and the result is
multiplied by `oom_bump` per kill, at most `max_oom_bumps` (1) times, like the VPA's OOM
bump. Kills at one limit are one piece of evidence (that limit was too low), not several: a
container killed three times at 211 Mi is not asked 1.2^3 x; if the raised limit is killed
again, the next night's window holds those kills at the new limit and raises again.

The headroom, per container (`spread` = k, 2 by default): a Theil-Sen line through the
daily peaks (the same pairs rule as the growth factor); the level is the peak or the line
`horizon_days` past the window, whichever is higher (at most `max_growth` x the peak: a leak
is capped, not extrapolated); the headroom over it is k x the excursion of the highest daily
peak above the line, relative to the level, at least `min_headroom`. A flat container gets
the minimum, a sawing one its largest swing k times over, a growing one its trend ahead.
With fewer than `spread_min_days` daily peaks there is no spread to measure, and the fixed
rule applies: peak x growth x (1 + `headroom`); `spread=None` applies it everywhere. The
spread rule is the default because every fold of the bench's leave-one-family-out chose it
over a fixed headroom (docs/RIGHTSIZING.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aiops.rightsizing.profile import (
    ceil_mib,
    daily_peaks,
    excursion_above_line,
    theil_sen_growth,
    theil_sen_line,
)
from aiops.rightsizing.usage import UsageArrays

FIXED = "fixed headroom"
SPREAD = "spread of daily peaks"


@dataclass(frozen=True)
class MemoryRule:
    """The memory knobs of `RightsizingConfig` (its `memory_rule()`), validated there."""

    headroom: float
    spread: float | None
    min_headroom: float
    horizon_days: float
    spread_min_days: int
    floor_bytes: float
    oom_bump: float
    max_oom_bumps: int
    max_growth: float
    growth_horizon_days: float
    trend_min_days: int


@dataclass(frozen=True)
class MemorySizing:
    """The memory asked for (request = limit, bytes, rounded up to a MiB) and why."""

    bytes: float
    peak_bytes: float
    growth: float  # the daily peaks' growth factor, clipped to [1, max_growth]
    rule: str  # FIXED or SPREAD
    headroom: float  # over the level
    excursion_bytes: float | None  # highest daily peak above its trend (SPREAD only)


def size_memory(
    rule: MemoryRule, u: UsageArrays, weekly: bool, oom_kills: int, old_limit: float | None
) -> MemorySizing:
    """One container's memory from its usage on the grid and the OOM kills of the window."""
    observed = u.memory[~np.isnan(u.memory)]
    peak = float(observed.max())
    peaks = daily_peaks(u.t_ns, u.memory, u.step_ns, 1.0)
    growth = theil_sen_growth(peaks, weekly, rule.growth_horizon_days, rule.trend_min_days)
    growth = float(min(max(growth, 1.0), rule.max_growth))
    base = max(peak, float(old_limit)) if oom_kills and old_limit is not None else peak
    line = None
    if rule.spread is not None and (~np.isnan(peaks)).sum() >= rule.spread_min_days:
        line = theil_sen_line(peaks, weekly)
    if line is None:
        level, headroom, excursion, name = base * growth, rule.headroom, None, FIXED
    else:
        slope, intercept = line
        ahead = intercept + slope * (len(peaks) + rule.horizon_days)
        level = min(max(base, ahead), base * rule.max_growth)
        excursion = excursion_above_line(peaks, slope, intercept)
        headroom = max(rule.min_headroom, rule.spread * excursion / level)
        name = SPREAD
    memory = level * (1.0 + headroom) * rule.oom_bump ** min(oom_kills, rule.max_oom_bumps)
    return MemorySizing(
        bytes=ceil_mib(max(rule.floor_bytes, memory)),
        peak_bytes=peak,
        growth=growth,
        rule=name,
        headroom=headroom,
        excursion_bytes=excursion,
    )
