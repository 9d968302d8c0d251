"""Prometheus metrics of the scaler itself, on a registry of its own.

One registry per running scaler (not the process-global default), so several servers in one
process (tests, the benchmark) never collide on metric names. The prediction age is computed
when scraped, from the snapshot and the scaler's clock, so it is exact at every scrape rather
than as old as the last refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aiops.scaler.snapshot import Snapshot

RPCS = ("IsActive", "StreamIsActive", "GetMetricSpec", "GetMetrics", "StreamMetricSpec")
# Loopback answers take well under a millisecond; the upper buckets catch GIL stalls.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class ScalerMetrics:
    """Counters and histograms the servicer and HTTP endpoint update on every request."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        now: Callable[[], datetime],
        max_age: float,
        expected: Iterable[tuple[str, str]],
        last_success: Callable[[], float | None],
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aiops_scaler_requests",
            "gRPC calls answered, by method and status code (streams count once, when opened).",
            ["rpc", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aiops_scaler_request_duration_seconds",
            "Time to answer a unary gRPC call (streams: the first message).",
            ["rpc"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "aiops_scaler_http_requests",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "aiops_scaler_fallbacks",
            "Answers that were not a fresh forecast, by what was served instead.",
            ["service", "metric", "source"],
            registry=self.registry,
        )
        self.refreshes = Counter(
            "aiops_scaler_snapshot_refreshes",
            "Snapshot refreshes from the results store that succeeded.",
            registry=self.registry,
        )
        self.refresh_failures = Counter(
            "aiops_scaler_snapshot_refresh_failures",
            "Snapshot refreshes that failed (the previous snapshot was kept).",
            registry=self.registry,
        )
        self.registry.register(
            _FreshnessCollector(snapshot, now, max_age, tuple(expected), last_success)
        )
        # bound children: a label lookup per request is measurable at thousands per second
        self._latency = {rpc: self.latency.labels(rpc) for rpc in RPCS}
        self._ok = {rpc: self.requests.labels(rpc, "OK") for rpc in RPCS}

    def observe(self, rpc: str, code: str, seconds: float | None) -> None:
        """Count one gRPC call, and its latency when given."""
        counter = self._ok[rpc] if code == "OK" else self.requests.labels(rpc, code)
        counter.inc()
        if seconds is not None:
            self._latency[rpc].observe(seconds)

    def on_refresh(self, ok: bool, snapshot: Snapshot) -> None:
        (self.refreshes if ok else self.refresh_failures).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of this registry."""
        return generate_latest(self.registry)


class _FreshnessCollector(Collector):
    """Per-series prediction age and staleness, and the snapshot's own health, at scrape time."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        now: Callable[[], datetime],
        max_age: float,
        expected: tuple[tuple[str, str], ...],
        last_success: Callable[[], float | None],
    ) -> None:
        self._snapshot = snapshot
        self._now = now
        self._max_age = max_age
        self._expected = expected
        self._last_success = last_success

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        now = self._now().timestamp()
        age = GaugeMetricFamily(
            "aiops_scaler_prediction_age_seconds",
            "Seconds since the newest observed point behind the forecasts the scaler holds for "
            "a series (the data's age, not the run's).",
            labels=["service", "metric"],
        )
        stale = GaugeMetricFamily(
            "aiops_scaler_prediction_stale",
            "1 when the data behind a series' newest forecast is older than max_age, or there "
            "is none (fallbacks are served), else 0. Covers every scalable service's scaling "
            "metric.",
            labels=["service", "metric"],
        )
        keys = sorted(set(snapshot.series) | set(self._expected))
        for service, metric in keys:
            series = snapshot.series.get((service, metric))
            if series is None:
                stale.add_metric([service, metric], 1.0)
                continue
            seconds = now - series.newest_observed
            age.add_metric([service, metric], seconds)
            stale.add_metric([service, metric], 1.0 if seconds > self._max_age else 0.0)
        yield age
        yield stale
        yield GaugeMetricFamily(
            "aiops_scaler_snapshot_rows",
            "Prediction rows in the in-memory snapshot.",
            snapshot.rows,
        )
        last = self._last_success()
        if last is not None:
            yield GaugeMetricFamily(
                "aiops_scaler_snapshot_seconds_since_refresh",
                "Seconds since the snapshot was last refreshed from the store successfully.",
                time.monotonic() - last,
            )
