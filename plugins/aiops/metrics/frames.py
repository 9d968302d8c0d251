"""A service's signals for one window, fetched and passed through the quality gate.

Training, hourly scoring and forecasting all start here: every catalog signal of a service
is fetched on the step grid [start, end), checked by the stage's expectations (`train`,
`score` or `predict`), and either kept or handed back as a failed verdict for the caller to
quarantine. The kept series become one wide frame with a column per `service:signal`,
the shape every model of the project is fitted on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from aiops.catalog import Catalog
from aiops.quality import FrameChecks, FrameVerdict, validate_frame
from aiops.sources.signals import SignalSource

log = logging.getLogger(__name__)


def window_grid(start: datetime, end: datetime, step: timedelta) -> pd.DatetimeIndex:
    """The step grid of [start, end): the timestamps a window's frame is indexed by."""
    return pd.date_range(start, end, freq=step, inclusive="left")


def fetch_validated(
    source: SignalSource,
    catalog: Catalog,
    service: str,
    start: datetime,
    end: datetime,
    stage: str,
    signals: Iterable[str] | None = None,
    **overrides: Any,
) -> tuple[dict[str, pd.Series], list[FrameVerdict]]:
    """Each signal of the service (or only `signals`) on the grid [start, end) that passed the
    stage's quality checks, and every signal's verdict (the caller quarantines the failed
    ones). `overrides` replace the stage's checks (e.g. no gap limit for history)."""
    step = timedelta(seconds=catalog.defaults.step)
    good: dict[str, pd.Series] = {}
    verdicts: list[FrameVerdict] = []
    for signal in catalog.signals_of(service) if signals is None else signals:
        series = source.fetch(
            service, signal, catalog.query(service, signal), start, end, step
        ).values
        checks = FrameChecks.for_signal(
            catalog.signal(service, signal), stage=stage, step=step, **overrides
        )
        verdict = validate_frame(series, checks, service=service, signal=signal, stage=stage)
        verdicts.append(verdict)
        if verdict.ok:
            good[signal] = series
        else:
            log.warning(
                "quarantined %s/%s [%s, %s): %s",
                service,
                signal,
                start.isoformat(),
                end.isoformat(),
                "; ".join(verdict.reasons),
            )
    return good, verdicts


def service_frame(
    service: str, series: Mapping[str, pd.Series], grid: pd.DatetimeIndex | None
) -> pd.DataFrame:
    """The signals as one frame on `grid` (None: the union of their timestamps), a column per
    `service:signal` (missing steps NaN)."""
    frame = pd.DataFrame({f"{service}:{s}": v for s, v in series.items()})
    return frame.sort_index() if grid is None else frame.reindex(grid)


def signal_bounds(
    catalog: Catalog, service: str, signals: Iterable[str]
) -> dict[str, tuple[float | None, float | None]]:
    """(min, max) a signal can physically take, from the catalog (None: unbounded)."""
    return {s: (catalog.signal(service, s).min, catalog.signal(service, s).max) for s in signals}
