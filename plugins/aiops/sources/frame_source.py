"""Signals already in hand, served like a metric source: replays, evaluations, post-mortems.

A wide frame (a UTC-indexed column per `service:signal`) answers `fetch` the way a source
does: the window [start, end) on the step grid, a missing column an empty series with a
warning. So the hourly pipeline runs unchanged on data nobody has to load into Prometheus
first. `aiops.metrics.long_csv` turns the long export people actually have
(`timestamp,service,signal,value`) into that frame, on the catalog's step grid.
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from aiops.sources.signals import SignalSeries, SourceError, check_interval, empty_series


class FrameSource:
    """A :class:`~aiops.sources.signals.SignalSource` over a wide frame of signals."""

    def __init__(self, frame: pd.DataFrame, name: str = "frame") -> None:
        if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
            raise SourceError(f"{name}: the frame needs a timezone-aware DatetimeIndex")
        self.frame = frame.sort_index().astype("float64")
        self.name = name

    def __repr__(self) -> str:
        return f"FrameSource({self.name!r}, {self.frame.shape[1]} series)"

    def fetch(
        self, service: str, signal: str, query: str, start: datetime, end: datetime, step: timedelta
    ) -> SignalSeries:
        check_interval(start, end, step)
        column = f"{service}:{signal}"
        if column not in self.frame.columns:
            return SignalSeries(empty_series(), self.name, column,
                                [f"{self.name}: no column {column!r}"])  # fmt: skip
        frame = self.frame
        window = frame.loc[(frame.index >= start) & (frame.index < end), column]
        grid = pd.date_range(start, end, freq=step, inclusive="left")
        on_grid = window.index.isin(grid)
        warnings = []
        if not on_grid.all():  # said, never dropped silently (metrics.long_csv snaps them)
            off = window.index[~on_grid]
            warnings.append(
                f"{self.name}: {len(off)} point(s) of {column} off the {step} step grid left "
                f"out, the first at {off[0].isoformat()}"
            )
        return SignalSeries(window[on_grid].rename(None), self.name, column, warnings)


class SignalsFileSource:
    """The demo world's ground-truth signals (`signals.csv.gz`), for machines without Prometheus.

    It does not evaluate PromQL: it returns the value the catalog's query is meant to recover,
    so results are close to, not identical with, what Prometheus gives (rate() smooths over
    five minutes).
    """

    name = "signals-file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._frame: FrameSource | None = None

    def _load(self) -> FrameSource:
        if self._frame is None:
            try:
                with gzip.open(self.path, "rt", encoding="utf-8") as f:
                    frame = pd.read_csv(f, index_col="timestamp")
            except (OSError, ValueError) as exc:
                raise SourceError(f"{self.path}: cannot read signals file: {exc}") from exc
            frame.index = pd.to_datetime(frame.index, utc=True)
            frame.index.name = "timestamp"
            self._frame = FrameSource(frame, name=self.name)
        return self._frame

    def fetch(
        self, service: str, signal: str, query: str, start: datetime, end: datetime, step: timedelta
    ) -> SignalSeries:
        return self._load().fetch(service, signal, query, start, end, step)
