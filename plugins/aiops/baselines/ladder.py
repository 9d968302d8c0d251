"""The seasonal baselines of a service as a ladder: each series climbs as its history grows.

A service seen for the first time has hours of data, not weeks. Refusing to score it until
it has two weeks (what an hour-of-week profile needs) leaves a new user with nothing for
half a month. Instead each series is modelled by the first tier whose history it has:

- `seasonal-robust`: hour-of-week profile with trend, from `min_days` (14) of data;
- `seasonal-daily`: hour-of-day profile with trend, from two days;
- `trailing-robust` (:data:`SHORT_TIER`): no season, the median and robust spread of the
  hours before the interval, from two hours. It is fitted at scoring time on the data just
  before the interval, so a service is scored from its first hours, before any nightly.

Every tier is the same :class:`SeasonalBaseline` with a different bucket, so z-scores,
bands and explanations mean the same whichever tier produced them; each event names its
tier in its `detector` field. Saved tiers go in sub-folders of the model version; the
weekly tier keeps the folder name `seasonal` earlier versions used, so they still load.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.baselines.errors import BaselineError, InsufficientHistoryError
from aiops.baselines.seasonal import (
    META_FILE,
    Explanation,
    SeasonalBaseline,
    SeasonalBaselineConfig,
)

WEEKLY_TIER = "seasonal-robust"
DAILY_TIER = "seasonal-daily"
SHORT_TIER = "trailing-robust"

#: Where each nightly tier is saved inside a model version's folder.
TIER_FOLDERS = {WEEKLY_TIER: "seasonal", DAILY_TIER: "seasonal_daily"}


def default_tiers() -> tuple[tuple[str, SeasonalBaselineConfig], ...]:
    return (
        (WEEKLY_TIER, SeasonalBaselineConfig()),
        (DAILY_TIER, SeasonalBaselineConfig(bucket="hour_of_day", min_days=2.0)),
    )


def short_tier_config() -> SeasonalBaselineConfig:
    """The no-season tier for series with hours of history: no trend (two hours cannot tell
    a trend from noise), from two hours of data."""
    return SeasonalBaselineConfig(bucket="flat", trend="none", min_days=2 / 24)


@dataclass(frozen=True)
class LadderConfig:
    """The nightly tiers, longest history first, and the scoring-time short tier."""

    tiers: tuple[tuple[str, SeasonalBaselineConfig], ...] = field(default_factory=default_tiers)
    short: SeasonalBaselineConfig = field(default_factory=short_tier_config)
    #: history before an interval the short tier is fitted on
    short_history_hours: float = 48.0

    def __post_init__(self) -> None:
        names = [name for name, _ in self.tiers]
        if not names or len(set(names)) != len(names):
            raise BaselineError(f"tiers: need distinct tier names, got {names}")
        unknown = sorted(set(names) - set(TIER_FOLDERS))
        if unknown:
            raise BaselineError(f"tiers: no folder for {unknown}; known {sorted(TIER_FOLDERS)}")
        if not self.short_history_hours > 0:
            raise BaselineError(f"short_history_hours: must be > 0, got {self.short_history_hours}")

    @property
    def k(self) -> float:
        """Band half-width in spreads (every tier uses the first tier's)."""
        return self.tiers[0][1].k


class BaselineLadder:
    """A series' baseline is the first tier it has the history for; fit, score, save, load."""

    def __init__(self, tiers: Mapping[str, SeasonalBaseline] | None = None) -> None:
        self.tiers_: dict[str, SeasonalBaseline] = dict(tiers or {})
        self.skipped_: dict[str, str] = {}
        self._index()

    def __repr__(self) -> str:
        counts = {name: len(b.keys_) for name, b in self.tiers_.items()}
        return f"BaselineLadder({counts})"

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, tiers: Sequence[tuple[str, SeasonalBaselineConfig]]
    ) -> BaselineLadder:
        """Each column goes to the first tier it has the history for; InsufficientHistoryError
        when none has enough for any tier."""
        remaining = [str(c) for c in frame.columns]
        fitted: dict[str, SeasonalBaseline] = {}
        why: dict[str, str] = {}
        for name, config in tiers:
            if not remaining:
                break
            try:
                baseline = SeasonalBaseline(config).fit(frame[remaining])
            except InsufficientHistoryError:
                baseline = None
            if baseline is not None:
                fitted[name] = baseline
                why = dict(baseline.skipped_)
                modelled = set(baseline.keys_)
                remaining = [k for k in remaining if k not in modelled]
            else:
                why = {k: f"under {config.min_days:g} days of usable data" for k in remaining}
        if not fitted:
            listed = "; ".join(f"{k}: {r}" for k, r in why.items())
            raise InsufficientHistoryError(f"fit: no series has enough history ({listed})")
        ladder = cls(fitted)
        ladder.skipped_ = {k: why.get(k, "not fitted") for k in remaining}
        return ladder

    @property
    def keys_(self) -> list[str]:
        return list(self._tier_of)

    def tier_of(self, key: str) -> str | None:
        """The tier that models this series, None when none does."""
        return self._tier_of.get(key)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Signed robust z-scores from each series' tier; NaN for series no tier models."""
        return self._by_tier(frame, SeasonalBaseline.score)

    def calibrate(self, z: pd.DataFrame) -> pd.DataFrame:
        """Each column's z as the sigma-equivalent of its tier's tail probability; NaN for
        series no tier models."""
        return self._by_tier(z, SeasonalBaseline.calibrate)

    def _by_tier(
        self, frame: pd.DataFrame, method: Callable[[SeasonalBaseline, pd.DataFrame], pd.DataFrame]
    ) -> pd.DataFrame:
        """`method` of each tier on the columns it models, NaN elsewhere."""
        out = pd.DataFrame(np.nan, index=frame.index, columns=frame.columns)
        for name, baseline in self.tiers_.items():
            cols = [c for c in frame.columns if self._tier_of.get(str(c)) == name]
            if cols:
                out[cols] = method(baseline, frame[cols])
        return out

    def expected(
        self,
        index: pd.DatetimeIndex,
        keys: Sequence[str],
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(center, low, high) for the given keys, each from its tier."""
        frames = [pd.DataFrame(np.nan, index=index, columns=list(keys)) for _ in range(3)]
        for name, baseline in self.tiers_.items():
            cols = [k for k in keys if self._tier_of.get(k) == name]
            if cols:
                parts = baseline.expected(index, cols, bounds)
                for whole, part in zip(frames, parts, strict=True):
                    whole[cols] = part
        return frames[0], frames[1], frames[2]

    def explain(self, key: str, timestamp: object, value: float | None = None) -> Explanation:
        name = self._tier_of.get(key)
        if name is None:
            raise BaselineError(f"explain: no tier models {key!r}")
        return self.tiers_[name].explain(key, timestamp, value)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        folder = Path(folder)
        for name, baseline in self.tiers_.items():
            baseline.save(folder / TIER_FOLDERS[name])
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> BaselineLadder:
        """Whatever tiers the folder holds (a version saved before the ladder holds only the
        weekly one, under `seasonal`)."""
        folder = Path(folder)
        tiers = {
            name: SeasonalBaseline.load(folder / sub)
            for name, sub in TIER_FOLDERS.items()
            if (folder / sub / META_FILE).exists()
        }
        if not tiers:
            raise BaselineError(
                f"{folder}: holds no baseline tier ({sorted(TIER_FOLDERS.values())})"
            )
        return cls(tiers)

    def _index(self) -> None:
        self._tier_of: dict[str, str] = {}
        for name, baseline in self.tiers_.items():
            for key in baseline.keys_:
                self._tier_of.setdefault(key, name)
