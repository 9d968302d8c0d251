"""Signals already in hand, served like a metric source: replays, evaluations, post-mortems.

A wide frame (a UTC-indexed column per `service:signal`) answers `fetch` the way a source
does: the window [start, end) on the step grid, a missing column an empty series with a
warning. So the hourly pipeline runs unchanged on data nobody has to load into Prometheus
first. `wide_from_long` turns the long export people actually have
(`timestamp,service,signal,value`) into that frame.
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from aiops.sources.signals import SignalSeries, SourceError, check_interval, empty_series

LONG_COLUMNS = ("timestamp", "service", "signal", "value")


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
        return SignalSeries(window[window.index.isin(grid)].rename(None), self.name, column)


def wide_from_long(long: pd.DataFrame, source: str = "<frame>") -> pd.DataFrame:
    """`timestamp,service,signal,value` rows as a wide frame (a column per `service:signal`).
    Repeated (timestamp, service, signal) rows are refused, naming the first: which of two
    values is right is the exporter's question, not ours."""
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise SourceError(f"{source}: missing column(s) {missing}; expected {list(LONG_COLUMNS)}")
    rows = long.loc[:, list(LONG_COLUMNS)].copy()
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True, errors="coerce")
    bad = rows["timestamp"].isna()
    if bad.any():
        first = int(bad.to_numpy().argmax())
        raise SourceError(
            f"{source}: line {first + 2}: unreadable timestamp {long['timestamp'].iloc[first]!r}"
        )
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    dupes = rows.duplicated(["timestamp", "service", "signal"])
    if dupes.any():
        first = int(dupes.to_numpy().argmax())
        r = rows.iloc[first]
        raise SourceError(
            f"{source}: line {first + 2}: {r['service']}/{r['signal']} has a second value at "
            f"{r['timestamp'].isoformat()}"
        )
    rows["column"] = rows["service"].astype(str) + ":" + rows["signal"].astype(str)
    wide = rows.pivot(index="timestamp", columns="column", values="value")
    wide.columns.name = None
    wide.index.name = "timestamp"
    return wide.sort_index()


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
