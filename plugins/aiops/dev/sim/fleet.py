"""A fleet of N simulated services for scale runs: the demo shop's topology repeated in cells.

The demo world has twelve services; the nightly DAG has to be measured on a thousand. Rather
than a second simulator, the demo's call graph (aiops.dev.sim.topology) is copied into cells,
each service renamed with its cell number (cell 0 keeps the demo names), and the metrics
come from the same vectorised simulator (aiops.dev.sim.metrics) and OpenMetrics writer. Each
cell's entry traffic is scaled by its own factor, so the cells are not copies of one another.
When N is not a multiple of twelve, the last cell is the callee end of the demo graph (a
suffix of its topological order is closed under calls), the services none of it calls
taking the traffic.

Traces cover cell 0 only (the trace simulator follows the demo's routes from `gateway`): a
sample of the fleet, which is what the nightly trace analysis reads for one day.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from aiops.dev.sim import traces as sim_traces
from aiops.dev.sim.metrics import FleetMetrics, simulate_fleet
from aiops.dev.sim.openmetrics import write_openmetrics
from aiops.dev.sim.topology import SERVICES, ServiceSpec, topological_order
from aiops.dev.sim.world import WorldConfig

log = logging.getLogger(__name__)

CELL = len(SERVICES)


@dataclass(frozen=True)
class FleetConfig:
    services: int = 1000
    end: datetime = datetime(2026, 11, 2, tzinfo=UTC)  # the end of the last simulated day
    days: int = 21  # history before `end`
    step_seconds: int = 300  # scrape interval of the simulated exposition
    seed: int = 7
    traces_per_hour: int = 200  # cell 0's traces, over the last day only

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def index(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq=f"{self.step_seconds}s", inclusive="left")


def _rename(spec: ServiceSpec, cell: int, entry_factor: float) -> ServiceSpec:
    if cell == 0:
        return spec
    suffix = f"-{cell:03d}"
    calls = tuple(replace(c, callee=c.callee + suffix) for c in spec.calls)
    return replace(spec, name=spec.name + suffix, calls=calls,
                   entry_rps=spec.entry_rps * entry_factor)  # fmt: skip


def fleet_services(n: int, seed: int = 7) -> tuple[ServiceSpec, ...]:
    """N services: whole cells of the demo topology, then a partial cell (see the module)."""
    if n < 1:
        raise ValueError(f"a fleet needs at least one service, got {n}")
    order = topological_order(SERVICES)  # callers first
    by_name = {s.name: s for s in SERVICES}
    out: list[ServiceSpec] = []
    for cell in range(-(-n // CELL)):
        factor = 0.5 + (zlib.crc32(f"{seed}/{cell}".encode()) % 1000) / 1000.0  # 0.5 .. 1.5
        left = n - len(out)
        if left >= CELL:
            specs = list(SERVICES)
        else:
            names = order[-left:]
            specs = [by_name[name] for name in names]
            called = {c.callee for spec in specs for c in spec.calls}
            # every service no one in the partial cell calls is one of its front doors
            specs = [spec if spec.name in called else replace(spec, entry_rps=60.0)
                     for spec in specs]  # fmt: skip
        out.extend(_rename(spec, cell, factor) for spec in specs)
    return tuple(out)


def simulate(config: FleetConfig) -> FleetMetrics:
    """The fleet's metrics over [start, end): no planted incidents, no rollouts."""
    specs = fleet_services(config.services, config.seed)
    return simulate_fleet(specs, config.index(), [], [], config.seed, config.end)


def catalog_document(specs: tuple[ServiceSpec, ...], step_seconds: int) -> dict[str, Any]:
    """The catalog for the fleet: the project's default PromQL, with rate() windows of three
    scrape intervals (a 5m window over 300 s scrapes would often hold one sample, and rate()
    needs two), owners `fleet/<service>`, no LLM."""
    window = f"{max(300, 3 * step_seconds) // 60}m"
    rate = 'sum(rate({metric}{{service="${{service}}"{extra}}}[{window}]))'
    requests = rate.format(metric="http_requests_total", extra="", window=window)
    errors = rate.format(metric="http_requests_total", extra=',code=~"5.."', window=window)
    cpu = rate.format(metric="process_cpu_seconds_total", extra="", window=window)
    signals = {
        "request_rate": {"query": requests, "unit": "req/s"},
        "error_ratio": {"query": f"{errors} / {requests}", "unit": "ratio", "max": 1},
        "latency_p95": {
            "query": 'max(http_request_duration_seconds{service="${service}",quantile="0.95"})',
            "unit": "s",
        },
        "cpu": {"query": cpu, "unit": "cores"},
        "memory": {
            "query": 'max(process_resident_memory_bytes{service="${service}"})',
            "unit": "bytes",
        },  # fmt: skip
    }
    services = {s.name: {"owner": f"fleet/{s.name}", "team": s.team, "tier": s.kind}
                for s in specs}  # fmt: skip
    return {
        "version": 1,
        "issues": {"default_repository": "fleet/platform"},
        "llm": {"enabled": False},
        "defaults": {"step": f"{step_seconds}s", "signals": signals},
        "services": services,
    }


def build_fleet(config: FleetConfig, out_dir: Path) -> dict[str, Any]:
    """Write `catalog.yaml`, `metrics.om` (for promtool), `traces/` (cell 0, the last day) and
    an empty `logs/` under out_dir; returns what was written, with counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = fleet_services(config.services, config.seed)
    catalog = out_dir / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(catalog_document(specs, config.step_seconds),
                                      sort_keys=False))  # fmt: skip
    log.info("simulating %d services x %d days at %d s", len(specs), config.days,
             config.step_seconds)  # fmt: skip
    fleet = simulate_fleet(specs, config.index(), [], [], config.seed, config.end)
    metrics = out_dir / "metrics.om"
    samples = write_openmetrics(fleet, metrics)
    day = config.end - timedelta(days=1)
    world = WorldConfig(seed=config.seed, end=config.end, days=config.days,
                        step_seconds=config.step_seconds, trace_hours=24,
                        traces_per_hour=config.traces_per_hour, services=SERVICES)  # fmt: skip
    traces = sim_traces.write_traces(world, [], fleet, day, out_dir / "traces")
    (out_dir / "logs").mkdir(exist_ok=True)
    return {
        "catalog": catalog,
        "metrics": metrics,
        "traces": out_dir / "traces",
        "logs": out_dir / "logs",
        "services": [s.name for s in specs],
        "samples": samples,
        "series": 7 * len(specs),
        "trace_files": len(traces),
        "day": day,
    }
