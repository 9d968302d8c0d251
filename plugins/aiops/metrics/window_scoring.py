"""Scoring one service's window: each column by the model that covers it, and the floors.

`score_window` gives every column its z-scores, band and tier: the nightly ladder's where it
models the column, else the short tier fitted on the column's recent history (what a new
service or signal has). `binomial_floor` then keeps an error ratio from being judged more
precisely than its request count allows, and `WindowScores.calibrated` turns the final
z-scores into each model's calibrated score. `aiops.metrics.pipeline` turns them into events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from aiops.baselines.errors import InsufficientHistoryError
from aiops.baselines.ladder import SHORT_TIER, BaselineLadder
from aiops.baselines.seasonal import SeasonalBaseline, SeasonalBaselineConfig
from aiops.catalog import Catalog
from aiops.metrics.frames import service_frame, signal_bounds


@dataclass
class WindowScores:
    """What one window's scoring of a service has gathered: z, band, tier and model per
    column."""

    z: pd.DataFrame
    center: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    tiers: dict[str, str]
    explain: dict[str, Callable[[pd.Timestamp], str]]
    #: the fitted model of each column, which calibrates its z-scores
    models: dict[str, BaselineLadder | SeasonalBaseline]

    def calibrated(self, z: pd.DataFrame) -> pd.DataFrame:
        """Each scored column's z (after any floor) as its model's calibrated score."""
        out = pd.DataFrame(np.nan, index=z.index, columns=z.columns)
        by_model: dict[int, list[str]] = {}
        for key, model in self.models.items():
            by_model.setdefault(id(model), []).append(key)
        for keys in by_model.values():
            out[keys] = self.models[keys[0]].calibrate(z[keys])
        return out


def _fill(
    model: BaselineLadder | SeasonalBaseline,
    cols: list[str],
    frame: pd.DataFrame,
    bounds: dict[str, tuple[float | None, float | None]],
    z: pd.DataFrame,
    bands: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    """Write the model's z-scores and (center, low, high) for `cols` into the frames."""
    z[cols] = model.score(frame[cols])
    for whole, part in zip(bands, model.expected(frame.index, cols, bounds), strict=True):
        whole[cols] = part


def score_window(
    catalog: Catalog,
    service: str,
    frame: pd.DataFrame,
    ladder: BaselineLadder | None,
    history: dict[str, pd.Series],
    short_tier: SeasonalBaselineConfig,
) -> WindowScores:
    """z, band and tier of every column: the nightly ladder's where it models the column,
    else the short tier fitted on the column's recent history."""
    grid = frame.index
    bounds = signal_bounds(catalog, service, [str(c).split(":", 1)[1] for c in frame.columns])
    empty = pd.DataFrame(np.nan, index=grid, columns=frame.columns)
    z, center, low, high = empty.copy(), empty.copy(), empty.copy(), empty.copy()
    tiers: dict[str, str] = {}
    explain: dict[str, Callable[[pd.Timestamp], str]] = {}
    models: dict[str, BaselineLadder | SeasonalBaseline] = {}
    modelled = [c for c in frame.columns if ladder is not None and ladder.tier_of(str(c))]
    if ladder is not None and modelled:
        _fill(ladder, modelled, frame, bounds, z, (center, low, high))
        for key in modelled:
            tiers[key] = str(ladder.tier_of(key))
            explain[key] = lambda ts, k=key: ladder.explain(k, ts).bucket
            models[key] = ladder
    rest = [c for c in frame.columns if c not in modelled and str(c).split(":", 1)[1] in history]
    if rest:
        past = service_frame(service, {str(c).split(":", 1)[1]: history[str(c).split(":", 1)[1]]
                                       for c in rest}, None)  # fmt: skip
        try:
            short = SeasonalBaseline(short_tier).fit(past)
        except InsufficientHistoryError:
            short = None
        fitted = [c for c in rest if short is not None and c in set(short.keys_)]
        if short is not None and fitted:
            _fill(short, fitted, frame, bounds, z, (center, low, high))
            for key in fitted:
                tiers[key] = SHORT_TIER
                explain[key] = lambda ts: "the hours before"
                models[key] = short
    return WindowScores(z, center, low, high, tiers, explain, models)


def binomial_floor(
    service: str,
    frame: pd.DataFrame,
    z: pd.DataFrame,
    center: pd.DataFrame,
    low: pd.DataFrame,
    high: pd.DataFrame,
    step: timedelta,
    k: float,
):
    """An error ratio cannot be judged more precisely than its request count allows.

    At 4 req/s one failed request in a minute is a 0.4% error ratio; the robust spread of
    mostly-zero minutes is near zero, so without this floor every lone error at night would
    be "10 sigma". The floor is the binomial standard error sqrt(p(1-p)/n) with n the
    minute's requests, so a change is only anomalous when it exceeds counting noise.
    """
    key, rate_key = f"{service}:error_ratio", f"{service}:request_rate"
    n = np.maximum(frame[rate_key].to_numpy() * step.total_seconds(), 1.0)
    c = center[key].to_numpy()
    p = np.clip(np.maximum(c, 0.5 / n), 0.0, 1.0)
    floor = np.sqrt(p * (1.0 - p) / n)
    spread = np.maximum((high[key].to_numpy() - c) / k, floor)
    z, low, high = z.copy(), low.copy(), high.copy()
    z[key] = (frame[key].to_numpy() - c) / spread
    low[key] = np.maximum(c - k * spread, 0.0)
    high[key] = np.minimum(c + k * spread, 1.0)
    return z, low, high
