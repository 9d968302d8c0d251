"""The trace files bench_traces.py analyses: the demo simulator's Jaeger query-API JSON, at volume.

The demo world's traces (aiops.dev.sim.traces: one file per hour, ~19 spans per trace, tags, logs,
FOLLOWS_FROM references, the planted N+1 and sequential checkout) written at more traces per
hour. Only the metrics the traces are drawn from are simulated, over the 14 days the planted
incidents need, not the whole 30-day world.

Generated files are cached under ``out/bench/`` (gitignored scratch) in a folder named by the
parameters, with a manifest written last: a rerun with the same parameters and the same
simulator code reuses them; anything else (a missing or resized file, a changed simulator)
regenerates them.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiops.dev.sim import traces as sim_traces
from aiops.dev.sim.incidents import planted_incidents
from aiops.dev.sim.world import WorldConfig, simulate_metrics, simulator_digest

MANIFEST = "manifest.json"
METRIC_DAYS = 14  # the fewest days planted_incidents accepts


@dataclass(frozen=True)
class TraceFiles:
    folder: Path
    files: list[Path]
    traces: int
    spans: int
    bytes: int
    generated_s: float | None  # None: reused from the cache

    @property
    def megabytes(self) -> float:
        return self.bytes / 1e6


def trace_files(cache: Path, *, traces_per_hour: int, hours: int, seed: int) -> TraceFiles:
    """The cached files for these parameters, generated first when missing or stale."""
    config = replace(
        WorldConfig(),
        seed=seed,
        days=METRIC_DAYS,
        trace_hours=hours,
        traces_per_hour=traces_per_hour,
    )
    if hours > METRIC_DAYS * 24:
        raise ValueError(f"trace_files: hours must be <= {METRIC_DAYS * 24}, got {hours}")
    folder = cache / f"traces-seed{seed}-{hours}h-{traces_per_hour}tph"
    wanted = {"config": config.describe(), "code": simulator_digest()}
    reused = cached_files(folder, wanted)
    if reused is not None:
        return reused

    started = time.perf_counter()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    incidents = planted_incidents(config.start, config.end)
    fleet = simulate_metrics(config)
    start = config.end - timedelta(hours=hours)
    paths = sim_traces.write_traces(config, incidents, fleet, start, tmp)
    traces = spans = 0
    for path in paths:  # counted once here, so every later run knows the workload
        data = json.loads(path.read_bytes())["data"]
        traces += len(data)
        spans += sum(len(t["spans"]) for t in data)
    files = {p.name: p.stat().st_size for p in paths}
    return published(tmp, folder, wanted, {"traces": traces, "spans": spans, "files": files},
                     started)  # fmt: skip


def published(
    tmp: Path, folder: Path, wanted: dict[str, Any], counts: dict[str, Any], started: float
) -> TraceFiles:
    """The files generated into `tmp`, with a manifest of `wanted` (what they were made from)
    and `counts`, moved to `folder` whole (a half-written folder is never taken for a cached
    one) and read back."""
    manifest = {**wanted, **counts}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    out = cached_files(folder, wanted)
    if out is None:
        raise RuntimeError(f"{folder}: generated files do not match their manifest")
    return replace(out, generated_s=time.perf_counter() - started)


def cached_files(folder: Path, wanted: dict[str, Any]) -> TraceFiles | None:
    """The files of ``folder`` when its manifest matches ``wanted`` and every file has its
    recorded size; None otherwise (missing, stale or half written)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if any(manifest.get(k) != v for k, v in wanted.items()):
        return None
    files = [folder / name for name in sorted(manifest["files"])]
    sizes = manifest["files"]
    if not all(p.is_file() and p.stat().st_size == sizes[p.name] for p in files):
        return None
    return TraceFiles(
        folder, files, manifest["traces"], manifest["spans"], sum(sizes.values()), None
    )
