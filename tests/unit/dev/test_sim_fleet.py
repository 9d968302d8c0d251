"""The scale benchmark's fleet: N services named once each, a catalog the pipeline loads, and
the exposition Prometheus would scrape for every one of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aiops.catalog import load_catalog
from aiops.dev.sim.fleet import FleetConfig, build_fleet, fleet_services
from aiops.dev.sim.openmetrics import read_openmetrics_series
from aiops.dev.sim.topology import topological_order


@pytest.mark.parametrize("n", [1, 12, 30])
def test_a_fleet_has_n_distinct_services_whose_calls_stay_inside_it(n) -> None:
    specs = fleet_services(n)
    names = [s.name for s in specs]
    assert len(names) == n == len(set(names))
    assert topological_order(specs)  # every callee exists, no cycle
    called = {c.callee for s in specs for c in s.calls}
    assert all(s.entry_rps > 0 for s in specs if s.name not in called)  # nobody idles


def test_the_fleet_files_parse_and_hold_every_service(tmp_path) -> None:
    config = FleetConfig(services=14, days=2, step_seconds=300, traces_per_hour=5)
    fleet = build_fleet(config, tmp_path)
    catalog = load_catalog(fleet["catalog"])
    assert catalog.service_names == fleet["services"]
    assert len(catalog.service_names) == 14
    assert catalog.defaults.step == 300
    assert "[15m]" in catalog.query("redis-001", "request_rate")  # three scrapes per window
    points = 2 * 86_400 // 300
    assert fleet["samples"] == 14 * 7 * points
    # the partial cell (postgres-001, redis-001) has load of its own
    last = fleet["services"][-1]
    requests = read_openmetrics_series(
        fleet["metrics"], "http_requests_total", service=last, code="200"
    )
    assert len(requests) == points
    assert requests.index[0] == config.start
    assert requests.index[-1] == config.end - timedelta(seconds=300)
    assert requests.is_monotonic_increasing and requests.iloc[-1] > 0  # a counter, counting
    assert fleet["trace_files"] == 24 and (tmp_path / "logs").is_dir()
