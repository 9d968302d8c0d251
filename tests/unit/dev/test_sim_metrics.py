"""The demo world's metrics tell the stories the manifest claims, with real counter semantics."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import load_catalog
from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.openmetrics import read_openmetrics_series, write_openmetrics
from aiops.dev.sim.topology import SERVICES, callers_of, services_by_name
from aiops.dev.sim.world import WorldConfig, simulate_metrics


@pytest.fixture(scope="module")
def incidents(config: WorldConfig) -> dict[str, object]:
    return {i.kind: i for i in planted_incidents(config.start, config.end)}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    small = WorldConfig(days=14)
    a, b, c = tmp_path / "a.om", tmp_path / "b.om", tmp_path / "c.om"
    write_openmetrics(simulate_metrics(small), a)
    write_openmetrics(simulate_metrics(small), b)
    write_openmetrics(simulate_metrics(replace(small, seed=8)), c)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_openmetrics_round_trips_a_series(tmp_path: Path) -> None:
    small = WorldConfig(days=14)
    fleet = simulate_metrics(small)
    path = tmp_path / "m.om"
    write_openmetrics(fleet, path)
    text = path.read_text()
    assert text.endswith("# EOF\n")
    back = read_openmetrics_series(path, "process_resident_memory_bytes", service="cart")
    assert back.index.equals(fleet.index)
    np.testing.assert_array_equal(back.to_numpy(), fleet.services["cart"].memory_bytes)


def test_counters_only_go_down_at_restarts(fleet: FleetMetrics, config: WorldConfig) -> None:
    incidents = planted_incidents(config.start, config.end)
    deploys = rollouts(config.start, config.end, list(fleet.services), incidents)
    for name, m in fleet.services.items():
        times = pd.DatetimeIndex(sorted(d.at for d in deploys if d.service == name))
        expected = set(fleet.index.searchsorted(times))
        assert expected, f"{name} never restarts, so counter resets are not exercised"
        for counter in (m.requests_ok_total, m.requests_err_total, m.cpu_seconds_total):
            drops = set(np.flatnonzero(np.diff(counter) < 0) + 1)
            assert drops <= expected, name
        assert set(np.flatnonzero(np.diff(m.requests_ok_total) < 0) + 1) == expected, name


def test_no_rollout_hides_the_leak_or_follows_the_bad_release(
    config: WorldConfig, incidents: dict
) -> None:
    deploys = rollouts(
        config.start, config.end, [s.name for s in config.services], list(incidents.values())
    )
    leak, regression = incidents["memory_leak"], incidents["latency_regression"]
    assert not [d for d in deploys if d.service == leak.service and d.at >= leak.start]
    after = [d for d in deploys if d.service == regression.service and d.at >= regression.start]
    assert [(d.at, d.version) for d in after] == [(regression.start, "2.0.0")]


def test_daily_and_weekly_seasonality_with_trend(fleet: FleetMetrics) -> None:
    rate = pd.Series(fleet.services["gateway"].request_rate, index=fleet.index)
    by_hour = rate.groupby(rate.index.hour).mean()
    assert by_hour[20] > 2.5 * by_hour[4]
    weekday = rate[rate.index.day_of_week < 5].mean()
    weekend = rate[rate.index.day_of_week >= 5].mean()
    assert weekend < 0.85 * weekday
    first_week, last_week = rate.iloc[: 7 * 1440].mean(), rate.iloc[-7 * 1440 :].mean()
    assert last_week > first_week


def test_latency_regression_after_the_deploy(fleet: FleetMetrics, incidents: dict) -> None:
    inc = incidents["latency_regression"]
    p95 = pd.Series(fleet.services["catalog"].latency_p95, index=fleet.index)
    before = p95[(p95.index < inc.start) & (p95.index >= inc.start - timedelta(days=2))].median()
    after = p95[(p95.index >= inc.start) & (p95.index < inc.start + timedelta(days=2))].median()
    assert after > 1.35 * before


def test_error_spike_is_confined_to_its_window(fleet: FleetMetrics, incidents: dict) -> None:
    inc = incidents["error_spike"]
    err = pd.Series(fleet.services["payment"].error_ratio, index=fleet.index)
    inside = err[(err.index >= inc.start + timedelta(minutes=3)) & (err.index < inc.end)]
    outside = err[
        (err.index < inc.start - timedelta(hours=1)) | (err.index > inc.end + timedelta(hours=1))
    ]
    assert inside.median() > 0.05
    assert outside.quantile(0.99) < 0.03


def test_memory_leak_breaches_its_limit_about_two_days_after_the_end(
    fleet: FleetMetrics, incidents: dict, config: WorldConfig
) -> None:
    inc = incidents["memory_leak"]
    limit = services_by_name(SERVICES)["cart"].memory_limit_bytes  # the container's limit
    alert_at = load_catalog().services["cart"].slo.memory  # the threshold alerts forecast
    mem = pd.Series(fleet.services["cart"].memory_bytes, index=fleet.index)
    leak = mem[mem.index >= inc.start]
    hours = (leak.index - config.end).total_seconds() / 3600
    slope, intercept = np.polyfit(hours, leak.to_numpy(), 1)
    breach_hours_after_end = (limit - intercept) / slope
    assert mem.max() < limit  # not breached inside the data
    assert 36 <= breach_hours_after_end <= 60
    assert fleet.expected_leak_breach == config.end + timedelta(days=2)
    # the alert threshold is crossed on the last day: the demo's predictive alert has a
    # breach inside the data to be checked against
    crossed = mem[mem >= alert_at]
    assert config.end - timedelta(days=1) <= crossed.index[0] < config.end


def _onset(series: np.ndarray, index: pd.DatetimeIndex, after, factor: float = 2.0):
    s = pd.Series(series, index=index)
    baseline = s[(s.index < after) & (s.index >= after - timedelta(hours=2))].median()
    hit = s[(s.index >= after) & (s > factor * baseline)]
    return hit.index[0] if len(hit) else None


def test_cascade_starts_at_the_backend_and_reaches_callers_later(
    fleet: FleetMetrics, incidents: dict
) -> None:
    inc = incidents["cascading_failure"]
    root = inc.details["root_cause"]
    root_onset = _onset(fleet.services[root].latency_p95, fleet.index, inc.start)
    assert root_onset is not None
    for caller in callers_of(root):
        err_onset = _onset(fleet.services[caller].error_ratio, fleet.index, inc.start, factor=5)
        assert err_onset is not None and err_onset > root_onset, caller
    gateway = _onset(fleet.services["gateway"].error_ratio, fleet.index, inc.start, factor=5)
    assert gateway is not None and gateway > root_onset
    assert set(callers_of(root)) <= set(inc.details["symptoms"])


def test_traffic_ramp_outgrows_current_replicas(
    fleet: FleetMetrics, incidents: dict, config: WorldConfig
) -> None:
    inc = incidents["traffic_ramp"]
    spec = services_by_name()[inc.service]
    rate = pd.Series(fleet.services[inc.service].request_rate, index=fleet.index)
    last_day_peak = rate[rate.index >= config.end - timedelta(days=1)].quantile(0.99)
    week_before_peak = rate[
        (rate.index < inc.start) & (rate.index >= inc.start - timedelta(days=7))
    ].quantile(0.99)
    assert last_day_peak > spec.replicas * spec.capacity_rps_per_replica
    assert week_before_peak < spec.replicas * spec.capacity_rps_per_replica


def test_world_needs_two_weeks() -> None:
    with pytest.raises(ValueError, match="at least 14 days"):
        simulate_metrics(WorldConfig(days=7))
