"""Where a (service, signal) series comes from: Prometheus in production, a file when not.

Both sources answer the same question for a half-open data interval [start, end): the values
on the step grid start, start+step, ..., end-step. Half-open, so adjacent hourly runs never
count the same sample twice and a backfill equals the sum of its parts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from aiops.errors import PermanentError
from aiops.sources.prometheus import PrometheusClient

log = logging.getLogger(__name__)


class SourceError(PermanentError, RuntimeError):
    """A source answered, but not with something we can use; the message says what and where.
    Asking again gets the same answer, so it is never retried."""


@dataclass(frozen=True)
class SignalSeries:
    values: pd.Series  # float64, tz-aware UTC DatetimeIndex
    source: str
    query: str
    warnings: list[str] = field(default_factory=list)


class SignalSource(Protocol):
    name: str

    def fetch(
        self, service: str, signal: str, query: str, start: datetime, end: datetime, step: timedelta
    ) -> SignalSeries: ...


def empty_series() -> pd.Series:
    """A series with no points: what a source returns for a query that matched nothing."""
    return pd.Series([], index=pd.DatetimeIndex([], tz="UTC", name="timestamp"), dtype="float64")


def check_interval(start: datetime, end: datetime, step: timedelta) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"interval bounds must be timezone-aware, got {start!r} .. {end!r}")
    if end <= start:
        raise ValueError(f"empty interval: end {end.isoformat()} <= start {start.isoformat()}")
    if step <= timedelta(0):
        raise ValueError(f"step must be positive, got {step}")


class PrometheusSignalSource:
    """Evaluates the catalog's PromQL; every query must aggregate to one series per service."""

    name = "prometheus"

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client

    def fetch(
        self, service: str, signal: str, query: str, start: datetime, end: datetime, step: timedelta
    ) -> SignalSeries:
        check_interval(start, end, step)
        result = self.client.query_range(query, start, end - step, step)
        if len(result.series) > 1:
            labels = [s.labels for s in result.series[:3]]
            raise SourceError(
                f"{self.client.base_url}: query for {service}/{signal} returned "
                f"{len(result.series)} series (e.g. {labels}); catalog queries must aggregate to "
                f"one series per service: {query}"
            )
        values = result.series[0].values if result.series else empty_series()
        return SignalSeries(values, self.name, query, list(result.warnings))
