"""Benchmark: building the demo world, stage by stage, against promtool's ingest of it.

    .venv/bin/python bench/bench_world.py [--days 30] [--repeats 3]

The world build sits in front of every `make demo` and every test run, so each stage is
timed: metrics simulation, the OpenMetrics writer, traces, logs, and promtool's backfill of
the written file. The comparison is the writer's throughput against promtool's, in the same
process and on the same file: the writer should never be what the demo waits for. Median of
--repeats; everything lives in a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from aiops.dev import promserver  # noqa: E402
from aiops.dev.sim import logs as sim_logs  # noqa: E402
from aiops.dev.sim import traces as sim_traces  # noqa: E402
from aiops.dev.sim.incidents import planted_incidents, rollouts  # noqa: E402
from aiops.dev.sim.openmetrics import write_openmetrics  # noqa: E402
from aiops.dev.sim.world import WorldConfig, simulate_metrics  # noqa: E402


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - t0, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = replace(WorldConfig(), days=args.days)
    incidents = planted_incidents(config.start, config.end)
    deploys = rollouts(config.start, config.end, [s.name for s in config.services], incidents)
    stages: dict[str, list[float]] = {
        k: [] for k in ("simulate", "write", "traces", "logs", "promtool")
    }
    samples = 0
    with tempfile.TemporaryDirectory(prefix="aiops-bench-world-") as tmp:
        root = Path(tmp)
        binaries = promserver.ensure_installed()
        for i in range(args.repeats):
            out = root / f"run{i}"
            out.mkdir()
            t, fleet = _timed(simulate_metrics, config)
            stages["simulate"].append(t)
            t, samples = _timed(write_openmetrics, fleet, out / "metrics.om")
            stages["write"].append(t)
            start = config.end - timedelta(hours=config.trace_hours)
            t, _ = _timed(sim_traces.write_traces, config, incidents, fleet, start, out / "traces")
            stages["traces"].append(t)
            start = config.end - timedelta(hours=config.log_hours)
            t, _ = _timed(
                sim_logs.write_logs, config, incidents, deploys, fleet, start, out / "logs"
            )
            stages["logs"].append(t)
            t, _ = _timed(
                promserver.backfill, out / "metrics.om", out / "tsdb", promtool=binaries.promtool
            )
            stages["promtool"].append(t)
            shutil.rmtree(out)
    med = {k: statistics.median(v) for k, v in stages.items()}
    print(
        f"demo world: {len(config.services)} services x {config.days} days at 60 s = {samples:,} samples; "
        f"traces/logs over the last {config.trace_hours} h; median of {args.repeats}"
    )
    print(f"{'stage':<10} {'median s':>9} {'samples/s':>12}")
    for name, seconds in med.items():
        rate = f"{samples / seconds:,.0f}" if name in ("simulate", "write", "promtool") else "-"
        print(f"{name:<10} {seconds:>9.2f} {rate:>12}")
    print(f"total      {sum(med.values()):>9.2f}")
    print(f"ratio writer vs promtool ingest (samples/s): {med['promtool'] / med['write']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
