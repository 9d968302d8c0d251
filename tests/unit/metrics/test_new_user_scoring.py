"""Scoring as a new user meets it: hours of history, signals a service does not have, zero
traffic, constant series, open-ended signals, and one failing service in a shard."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.baselines.ladder import DAILY_TIER, SHORT_TIER, WEEKLY_TIER
from aiops.catalog import parse_catalog
from aiops.errors import ServicesFailed, is_permanent
from aiops.metrics.pipeline import score_service, score_services, train_service
from aiops.model_registry import ModelRegistry
from aiops.sources.prometheus import PrometheusUnavailable
from aiops.store import Store
from support.memory_source import CATALOG, STEP, T0, MemorySource, web_series


@pytest.fixture
def catalog():
    return parse_catalog(CATALOG, "catalog.yaml")


def test_a_service_with_six_hours_of_data_is_scored_by_the_short_tier(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    start = begin + timedelta(hours=6)
    spike = series[("web", "latency_p95")]
    spike[
        (spike.index >= start + timedelta(minutes=20))
        & (spike.index < start + timedelta(minutes=35))
    ] = 2.0
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    assert outcome.model is None
    assert outcome.tiers == dict.fromkeys(
        ["request_rate", "error_ratio", "latency_p95", "cpu_pct"], SHORT_TIER
    )
    events = [e for e in outcome.events if e["kind"] == "anomaly"]
    assert [(e["signal"], e["detector"], e["model_version"]) for e in events] == [
        ("latency_p95", SHORT_TIER, "none")
    ]
    assert abs(events[0]["start"] - (start + timedelta(minutes=20))) <= timedelta(minutes=2)


def test_three_days_of_history_train_the_daily_tier_and_fourteen_the_weekly(catalog, tmp_path):
    registry = ModelRegistry(tmp_path)
    series = web_series(T0, 24 * 17)
    series[("web", "cpu_pct")] = series[("web", "cpu_pct")][T0 + timedelta(days=14) :]
    night = T0 + timedelta(days=17)
    trained = train_service(MemorySource(series), catalog, "web", night, registry)
    assert trained.model is not None, trained.notes
    assert trained.tiers == {"request_rate": WEEKLY_TIER, "error_ratio": WEEKLY_TIER,
                             "latency_p95": WEEKLY_TIER, "cpu_pct": DAILY_TIER}  # fmt: skip
    hour = night + timedelta(hours=1)
    series = web_series(T0, 24 * 18)
    outcome = score_service(MemorySource(series), catalog, "web", hour, hour + timedelta(hours=1),
                            registry, {})  # fmt: skip
    assert outcome.tiers["cpu_pct"] == DAILY_TIER and outcome.tiers["latency_p95"] == WEEKLY_TIER


def test_a_signal_the_service_never_had_is_absent_not_an_event(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    del series[("web", "error_ratio")]
    start = begin + timedelta(hours=6)
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    assert outcome.absent == ["error_ratio"]
    assert [e for e in outcome.events if e["signal"] == "error_ratio"] == []
    assert "error_ratio" not in {v.signal for v in outcome.quarantined}


def test_a_signal_that_had_data_and_stops_is_no_data(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    start = begin + timedelta(hours=6)
    latency = series[("web", "latency_p95")]
    series[("web", "latency_p95")] = latency[latency.index < start - timedelta(hours=1)]
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    no_data = [(e["signal"], e["kind"]) for e in outcome.events if e["kind"] == "no_data"]
    assert no_data == [("latency_p95", "no_data")] and outcome.absent == []


def test_zero_traffic_makes_the_error_ratio_silent_not_missing(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    start = begin + timedelta(hours=6)
    rate = series[("web", "request_rate")]
    rate[rate.index >= start - timedelta(minutes=40)] = 0.0
    errors = series[("web", "error_ratio")]
    errors[errors.index >= start - timedelta(minutes=40)] = np.nan  # 0/0 in PromQL
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    assert [e for e in outcome.events if e["kind"] == "no_data"] == []
    assert any("no traffic" in note for note in outcome.notes)


def test_a_constant_series_never_scores_above_zero_sigma(catalog, tmp_path):
    registry = ModelRegistry(tmp_path)
    index = pd.date_range(T0, periods=60 * 24 * 15, freq=STEP)
    series = {("api", s): pd.Series(v, index=index) for s, v in
              [("request_rate", 5.0), ("error_ratio", 0.0), ("latency_p95", 0.1)]}  # fmt: skip
    night = T0 + timedelta(days=15) - timedelta(days=1)
    assert train_service(MemorySource(series), catalog, "api", night, registry).model is not None
    hour = night + timedelta(hours=2)
    outcome = score_service(MemorySource(series), catalog, "api", hour, hour + timedelta(hours=1),
                            registry, {})  # fmt: skip
    assert outcome.events == [] and outcome.anomalous_points == 0


def test_a_drop_in_a_signal_whose_bad_direction_is_up_is_not_an_event(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    start = begin + timedelta(hours=6)
    latency = series[("web", "latency_p95")]
    latency[
        (latency.index >= start + timedelta(minutes=10))
        & (latency.index < start + timedelta(minutes=40))
    ] = 0.01
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    assert [e for e in outcome.events if e["signal"] == "latency_p95"] == []


def test_an_open_ended_signal_prints_in_its_catalog_unit(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7)
    start = begin + timedelta(hours=6)
    cpu = series[("web", "cpu_pct")]
    cpu[
        (cpu.index >= start + timedelta(minutes=10)) & (cpu.index < start + timedelta(minutes=30))
    ] = 95.0
    outcome = score_service(MemorySource(series), catalog, "web", start, start + timedelta(hours=1),
                            ModelRegistry(tmp_path), {})  # fmt: skip
    [event] = [e for e in outcome.events if e["signal"] == "cpu_pct"]
    assert "cpu_pct 95.0% vs expected" in event["explanation"]
    assert "cores" not in event["explanation"]


def test_one_failing_service_costs_its_shard_mates_nothing(catalog, tmp_path):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, 7) | {
        ("worker", k[1]): v for k, v in web_series(begin, 7).items() if k[1] != "cpu_pct"
    }
    start = begin + timedelta(hours=6)
    latency = series[("worker", "latency_p95")]
    latency[
        (latency.index >= start + timedelta(minutes=10))
        & (latency.index < start + timedelta(minutes=30))
    ] = 3.0
    store = Store.open(f"sqlite:///{tmp_path / 'aiops.db'}")
    with pytest.raises(ServicesFailed) as failed:
        score_services(store, MemorySource(series, fail={"api"}), catalog, ["web", "api", "worker"],
                       start, start + timedelta(hours=1), ModelRegistry(tmp_path / "m"))  # fmt: skip
    assert list(failed.value.failures) == ["api"] and is_permanent(failed.value)
    stored = store.read("anomaly_events", service="worker")
    assert [e["signal"] for e in stored] == ["latency_p95"]
    store.close()


class _Unreachable(MemorySource):
    def fetch(self, service, signal, query, start, end, step):
        self.asked.append(service)
        raise PrometheusUnavailable("http://127.0.0.1:9: Prometheus unavailable after 3 attempt(s)")


def test_an_unreachable_prometheus_stops_the_shard_at_once(catalog, tmp_path):
    """Not one service's failure: the others would wait out the same retries."""
    source = _Unreachable({})
    source.asked = []
    store = Store.open(f"sqlite:///{tmp_path / 'aiops.db'}")
    start = T0 + timedelta(hours=10)
    with pytest.raises(PrometheusUnavailable):
        score_services(store, source, catalog, ["web", "api", "worker"], start,
                       start + timedelta(hours=1), ModelRegistry(tmp_path / "m"))  # fmt: skip
    assert set(source.asked) == {"web"} and not is_permanent(PrometheusUnavailable("x"))
    store.close()
