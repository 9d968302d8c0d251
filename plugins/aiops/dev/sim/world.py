"""Build the demo world: metrics, traces, logs and the manifest of what was planted.

The metrics include per-container series (cAdvisor, kube-state-metrics) with three containers
sized wrong on purpose; the manifest's `rightsizing` entry lists them.

Same configuration, same bytes: every random stream is seeded from the config, every file is
written in a fixed order with fixed formatting, and nothing reads the wall clock.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from aiops.dev.digest import file_sha256
from aiops.dev.sim import logs as sim_logs
from aiops.dev.sim import traces as sim_traces
from aiops.dev.sim.containers import simulate_containers
from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.metrics import SIGNALS, FleetMetrics, simulate_fleet
from aiops.dev.sim.openmetrics import write_openmetrics
from aiops.dev.sim.topology import SERVICES, ServiceSpec

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 7
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    days: int = 30
    step_seconds: int = 60
    # traces and logs cover the last hours of the window (a full month of spans is not needed
    # to show a bottleneck, and would dwarf the metrics)
    trace_hours: int = 72
    traces_per_hour: int = 40
    log_hours: int = 72
    services: tuple[ServiceSpec, ...] = field(default=SERVICES, repr=False)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def index(self) -> pd.DatetimeIndex:
        if self.end.tzinfo is None:
            raise ValueError("WorldConfig.end must be timezone-aware (UTC)")
        return pd.date_range(self.start, self.end, freq=f"{self.step_seconds}s", inclusive="left")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "services"
        }
        d["end"] = self.end.isoformat()
        d["start"] = self.start.isoformat()
        d["services"] = [s.name for s in self.services]
        return d


def simulate_metrics(config: WorldConfig) -> FleetMetrics:
    incidents = planted_incidents(config.start, config.end)
    return simulate_fleet(
        config.services,
        config.index(),
        incidents,
        rollouts(config.start, config.end, [s.name for s in config.services], incidents),
        config.seed,
        config.end,
    )


def _write_signals(fleet: FleetMetrics, path: Path) -> None:
    """Ground-truth signals (what the PromQL in the catalog should recover), gzip without mtime."""
    frame = fleet.signals_frame()
    frame.index = frame.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.index.name = "timestamp"
    text = frame.to_csv(float_format="%.6g", lineterminator="\n")
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.encode())


def build_world(config: WorldConfig, out_dir: Path) -> dict[str, Any]:
    """Write the world under out_dir and return its manifest (also written as manifest.json).

    Skips the work when a manifest for the same configuration and code already exists and all
    files still match their recorded hashes, so `make demo` twice costs one build.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = load_manifest(out_dir)
    if (
        existing is not None
        and existing.get("config") == config.describe()
        and existing.get("code") == simulator_digest()
        and _files_intact(out_dir, existing)
    ):
        log.info("demo world in %s is up to date (seed %s)", out_dir, config.seed)
        return existing

    incidents = planted_incidents(config.start, config.end)
    deploys = rollouts(config.start, config.end, [s.name for s in config.services], incidents)
    log.info("simulating %d services x %d days", len(config.services), config.days)
    fleet = simulate_metrics(config)
    containers = simulate_containers(fleet, config.services, deploys, config.seed)
    container_families = containers.families()
    files: dict[str, str] = {}

    metrics_path = out_dir / "metrics.om"
    samples = write_openmetrics(fleet, metrics_path, container_families)
    files["metrics"] = metrics_path.name
    signals_path = out_dir / "signals.csv.gz"
    _write_signals(fleet, signals_path)
    files["signals"] = signals_path.name

    trace_start = config.end - timedelta(hours=config.trace_hours)
    trace_files = sim_traces.write_traces(config, incidents, fleet, trace_start, out_dir / "traces")
    log_files = sim_logs.write_logs(
        config,
        incidents,
        deploys,
        fleet,
        config.end - timedelta(hours=config.log_hours),
        out_dir / "logs",
    )

    incident_json = [i.to_json() for i in incidents]
    for item in incident_json:
        if item["kind"] == "memory_leak":
            item["details"]["leak_bytes_per_second"] = round(fleet.leak_bytes_per_second, 3)
            item["details"]["expected_breach_at"] = fleet.expected_leak_breach.isoformat()
    manifest: dict[str, Any] = {
        "config": config.describe(),
        "code": simulator_digest(),
        "signals": list(SIGNALS),
        "samples": samples,
        "series": sum(7 for _ in config.services) + sum(len(f.series) for f in container_families),
        "files": files,
        "trace_files": [str(p.relative_to(out_dir)) for p in trace_files],
        "log_files": [str(p.relative_to(out_dir)) for p in log_files],
        "incidents": incident_json,
        "deploys": [
            {"service": d.service, "at": d.at.isoformat(), "version": d.version} for d in deploys
        ],
        "rightsizing": containers.planted(),
    }
    manifest["sha256"] = {
        rel: file_sha256(out_dir / rel)
        for rel in [*files.values(), *manifest["trace_files"], *manifest["log_files"]]
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def simulator_digest() -> str:
    """Digest of the simulator's own source: a changed simulator must not reuse an old world."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()


def load_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        log.warning("%s is not valid JSON (%s); rebuilding the world", path, exc)
        return None


def _files_intact(out_dir: Path, manifest: dict[str, Any]) -> bool:
    for rel, digest in manifest.get("sha256", {}).items():
        path = out_dir / rel
        if not path.exists() or file_sha256(path) != digest:
            return False
    return True
