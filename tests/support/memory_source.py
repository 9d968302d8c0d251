"""A signal source over series held in memory, and a small fleet to fill it, for pipeline
tests that need exact data: three services, a web one with an open-ended percent signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
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


STEP = timedelta(minutes=1)
T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday

CATALOG = """
version: 1
defaults:
  step: 60s
  signals:
    request_rate: {query: 'sum(rate(http_requests_total{service="${service}"}[5m]))'}
    error_ratio: {query: 'sum(rate(err{service="${service}"}[5m])) / sum(rate(req{service="${service}"}[5m]))'}
    latency_p95: {query: 'max(lat{service="${service}"})'}
services:
  web:
    owner: acme/web
    team: web
    signals:
      cpu_pct: {query: 'max(cpu_pct{service="${service}"})', unit: percent, kind: saturation, direction: up, max: 100}
  api:
    owner: acme/api
    team: api
  worker:
    owner: acme/worker
    team: worker
"""


def daily_wave(start: datetime, hours: float, base: float, amp: float, seed: int) -> pd.Series:
    index = pd.date_range(start, periods=int(hours * 60), freq=STEP)
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * (index.hour * 60 + index.minute) / 1440
    values = base + amp * np.sin(phase) + rng.normal(0, 0.02 * base, len(index))
    return pd.Series(values, index=index)


def web_series(start: datetime, hours: float) -> dict[tuple[str, str], pd.Series]:
    return {
        ("web", "request_rate"): daily_wave(start, hours, 50.0, 10.0, 1),
        ("web", "error_ratio"): daily_wave(start, hours, 0.01, 0.0, 2).clip(lower=0),
        ("web", "latency_p95"): daily_wave(start, hours, 0.2, 0.02, 3),
        ("web", "cpu_pct"): daily_wave(start, hours, 40.0, 5.0, 4),
    }
