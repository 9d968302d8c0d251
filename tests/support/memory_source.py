"""A signal source over series held in memory, for pipeline tests that need exact data."""

from __future__ import annotations

import pandas as pd

from aiops.sources.signals import SignalSeries, SourceError


class MemorySource:
    """Series held in memory, served on the step grid like the real sources."""

    name = "memory"

    def __init__(self, series: dict[tuple[str, str], pd.Series], fail: set[str] = frozenset()):
        self.series = series
        self.fail = fail

    def fetch(self, service, signal, query, start, end, step) -> SignalSeries:
        if service in self.fail:
            raise SourceError(f"query for {service}/{signal} returned 3 series")
        full = self.series.get((service, signal))
        if full is None:
            values = pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype="float64")
        else:
            grid = pd.date_range(start, end, freq=step, inclusive="left")
            values = full[full.index.isin(grid)]
        return SignalSeries(values, self.name, query)
