"""`aiops status` tells a new user the truth about every catalog signal."""

from __future__ import annotations

from datetime import timedelta

from aiops.baselines.ladder import SHORT_TIER, WEEKLY_TIER
from aiops.catalog import parse_catalog
from aiops.metrics.pipeline import train_service
from aiops.metrics.status import signal_status
from aiops.model_registry import ModelRegistry
from support.memory_source import CATALOG, T0, MemorySource, daily_wave, web_series


def test_status_names_each_signals_model_history_and_why_not():
    catalog = parse_catalog(CATALOG, "catalog.yaml")
    at = T0 + timedelta(hours=10)
    series = web_series(T0 + timedelta(hours=4), 6)  # six hours of web
    del series[("web", "error_ratio")]  # never had one
    series[("api", "request_rate")] = daily_wave(at - timedelta(minutes=30), 0.5, 5.0, 1.0, 9)
    rows = signal_status(catalog, MemorySource(series), ModelRegistry("/nonexistent-models"),
                         None, at, ["web", "api"])  # fmt: skip
    by = {(r.service, r.signal): r for r in rows}
    assert by[("web", "request_rate")].model == SHORT_TIER
    assert by[("web", "request_rate")].why_not is None
    assert by[("web", "error_ratio")].model == "-"
    assert "no series in the last 21 days" in by[("web", "error_ratio")].why_not
    assert "0.5 h of history; scoring starts at 2.0 h" in by[("api", "request_rate")].why_not
    assert by[("web", "cpu_pct")].unit == "percent"
    assert by[("web", "request_rate")].last_point == at - timedelta(minutes=10)  # 10-min grid


def test_status_reports_the_nightly_tier_once_a_model_exists(tmp_path):
    catalog = parse_catalog(CATALOG, "catalog.yaml")
    registry = ModelRegistry(tmp_path)
    series = web_series(T0, 24 * 16)
    night = T0 + timedelta(days=15)
    train_service(MemorySource(series), catalog, "web", night, registry)
    rows = signal_status(catalog, MemorySource(series), registry, None,
                         night + timedelta(hours=3), ["web"])  # fmt: skip
    assert {r.signal: r.model for r in rows} == {
        "request_rate": WEEKLY_TIER, "error_ratio": WEEKLY_TIER,
        "latency_p95": WEEKLY_TIER, "cpu_pct": WEEKLY_TIER,
    }  # fmt: skip
    assert all(r.model_version == "20261117T000000Z" for r in rows)
