"""The demo world served by a real Prometheus reads back through the catalog's PromQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import load_catalog
from aiops.dev.sim.openmetrics import read_openmetrics_series
from aiops.metrics.series_summary import summarize_services
from aiops.sources.frame_source import SignalsFileSource
from aiops.sources.prometheus import PrometheusClient, PrometheusUnavailable
from aiops.sources.signals import PrometheusSignalSource

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def source(prometheus_url: str) -> PrometheusSignalSource:
    return PrometheusSignalSource(PrometheusClient(prometheus_url))


def _hour(world_config, hours_before_end: int = 1) -> tuple[datetime, datetime]:
    end = world_config.end - timedelta(hours=hours_before_end - 1)
    return end - timedelta(hours=1), end


def test_every_catalog_signal_of_every_service_arrives_for_an_hour(source, world_config) -> None:
    start, end = _hour(world_config)
    summary = summarize_services(source, load_catalog(), load_catalog().service_names, start, end)
    assert summary.totals["services"] == 12 and summary.totals["series"] == 60
    for row in summary.rows:
        # half-open interval: 60 one-minute steps, none missing, none from the next hour
        assert (row["points"], row["gaps"], row["expected_points"]) == (60, 0, 60), row["service"]
        assert row["first_ts"] == start and row["last_ts"] == end - timedelta(minutes=1)
        assert row["source"] == "prometheus"


def test_backfilled_gauge_reads_back_exactly(source, demo_world, world_config) -> None:
    world_dir, _ = demo_world
    start, end = _hour(world_config, hours_before_end=30)
    query = load_catalog().query("cart", "memory")
    got = source.fetch("cart", "memory", query, start, end, timedelta(minutes=1)).values
    written = read_openmetrics_series(
        world_dir / "metrics.om", "process_resident_memory_bytes", service="cart"
    )
    expected = written[(written.index >= start) & (written.index < end)]
    pd.testing.assert_series_equal(got, expected, check_names=False, check_freq=False)


def test_promql_rates_over_counters_match_the_ground_truth(
    source, demo_world, world_config
) -> None:
    """rate() over counters with resets recovers the simulated request rate and error ratio."""
    world_dir, _ = demo_world
    truth = SignalsFileSource(world_dir / "signals.csv.gz")
    start, end = world_config.end - timedelta(hours=6), world_config.end
    catalog = load_catalog()
    step = timedelta(minutes=1)
    for service in ("gateway", "search", "payment"):
        got = source.fetch(
            service, "request_rate", catalog.query(service, "request_rate"), start, end, step
        ).values
        want = truth.fetch(service, "request_rate", "", start, end, step).values.rolling(5).mean()
        rel = ((got - want).abs() / want).dropna()
        assert rel.median() < 0.02, service


def test_thirty_days_in_one_call_is_chunked_and_complete(prometheus_url, world_config) -> None:
    client = PrometheusClient(prometheus_url)
    query = load_catalog().query("redis", "memory")
    start, end = world_config.start, world_config.end - timedelta(minutes=1)
    result = client.query_range(query, start, end, timedelta(minutes=1))
    values = result.series[0].values
    assert result.chunks >= 4  # 43,200 points > 11,000 per request
    assert (
        len(values) == 30 * 1440 and values.index.is_unique and values.index.is_monotonic_increasing
    )
    assert np.isfinite(values.to_numpy()).all()


def test_unreachable_prometheus_names_the_url() -> None:
    client = PrometheusClient("http://127.0.0.1:9", attempts=2, backoff=0.01, timeout=2)
    source = PrometheusSignalSource(client)
    start = datetime.fromisoformat("2026-10-31T00:00:00+00:00")
    with pytest.raises(PrometheusUnavailable, match=r"http://127\.0\.0\.1:9"):
        source.fetch(
            "cart", "memory", "up", start, start + timedelta(hours=1), timedelta(minutes=1)
        )


def test_file_source_serves_the_same_grid(demo_world, world_config) -> None:
    world_dir, _ = demo_world
    source = SignalsFileSource(Path(world_dir) / "signals.csv.gz")
    start, end = _hour(world_config)
    summary = summarize_services(source, load_catalog(), ["cart", "redis"], start, end)
    assert {(r["points"], r["gaps"]) for r in summary.rows} == {(60, 0)}
    assert {r["source"] for r in summary.rows} == {"signals-file"}
