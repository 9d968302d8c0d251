"""`aiops demo`: the whole pipeline on the embedded demo world, end to end, through real Airflow.

Builds the world (once), serves it from a real Prometheus when the binary is present (or says
plainly which file-backed source it uses instead), runs each DAG over the demo intervals with
`airflow dags test`, and prints what each capability produced. A second run rewrites the same
rows, and the printed digest proves it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiops import promserver
from aiops.catalog import load_catalog
from aiops.devenv import PROJECT_ROOT, airflow_env, run_airflow
from aiops.settings import aiops_home, resolve_store_url
from aiops.sim.world import WorldConfig, build_world
from aiops.store import Store, mask_url

log = logging.getLogger(__name__)

DAGS = ("aiops_ingest",)
DEMO_HOURS = 2  # enough to show the point: two consecutive hourly intervals


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


def demo_intervals(config: WorldConfig, hours: int = DEMO_HOURS) -> list[Interval]:
    end = config.end
    return [
        Interval(end - timedelta(hours=h), end - timedelta(hours=h - 1))
        for h in range(hours, 0, -1)
    ]


def _say(message: str) -> None:
    print(message, flush=True)


def run_demo(out: Path | None = None, config: WorldConfig | None = None) -> int:
    out = (out or aiops_home()).resolve()
    config = config or WorldConfig()
    world_dir = out / "world"
    store_url = resolve_store_url()
    env = airflow_env()
    env["AIOPS_STORE_URL"] = store_url
    env["AIOPS_HOME"] = str(out)

    _say(
        f"[1/4] demo world (seed {config.seed}, {len(config.services)} services, "
        f"{config.days} days at {config.step_seconds}s) -> {world_dir}"
    )
    manifest = build_world(config, world_dir)
    _say(
        f"      {manifest['samples']:,} samples, {len(manifest['trace_files'])} trace files, "
        f"{len(manifest['log_files'])} log files, {len(manifest['incidents'])} planted incidents"
    )

    with ExitStack() as stack:
        _say("[2/4] metrics backend")
        source_label = _start_metrics_backend(stack, world_dir, out, env)
        _say(f"      {source_label}")

        _say("[3/4] airflow: migrate the metadata DB, run each DAG over the demo intervals")
        proc = run_airflow(["db", "migrate"], env, out / "logs" / "airflow-db-migrate.log")
        if proc.returncode != 0:
            _say(f"      airflow db migrate failed; see {out / 'logs' / 'airflow-db-migrate.log'}")
            return 1
        with Store.open(store_url) as store:
            before = _digest(store, demo_intervals(config))
        for dag_id in DAGS:
            for interval in demo_intervals(config):
                logfile = out / "logs" / f"{dag_id}-{interval.start:%Y%m%dT%H%M}.log"
                # Airflow 3: a data-interval run's logical date is the END of its interval
                proc = run_airflow(["dags", "test", dag_id, interval.end.isoformat()], env, logfile)
                status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                _say(f"      {dag_id} [{interval.label}) {status}  log: {_rel(logfile)}")
                if proc.returncode != 0:
                    _say(_tail(logfile))
                    return 1

    _say("[4/4] what landed")
    with Store.open(store_url) as store:
        after = _digest(store, demo_intervals(config))
        _print_summary(store, demo_intervals(config))
    change = (
        "unchanged by this run (idempotent rerun)"
        if before == after
        else ("new results" if before is None else "results changed")
    )
    _say(f"      store {mask_url(store_url)}: digest {after[:12] if after else '-'}, {change}")
    _say(
        f"      outputs: {_rel(world_dir)}/ (metrics.om, traces/, logs/, manifest.json), "
        f"{_rel(out / 'logs')}/"
    )
    return 0


def _start_metrics_backend(
    stack: ExitStack, world_dir: Path, out: Path, env: dict[str, str]
) -> str:
    try:
        binaries = promserver.ensure_installed()
    except promserver.PrometheusNotInstalled as exc:
        signals = world_dir / "signals.csv.gz"
        env["AIOPS_METRICS_FILE"] = str(signals)
        return (
            f"Prometheus is not available ({exc}); using the file-backed source "
            f"{_rel(signals)} (the simulator's ground-truth signals, not PromQL)"
        )
    tsdb = out / "prometheus" / "tsdb"
    promserver.backfill(world_dir / "metrics.om", tsdb)
    server = promserver.PrometheusServer(tsdb, log_path=out / "logs" / "prometheus.log")
    server.start()
    stack.callback(server.stop)
    env["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] = server.url
    env.pop("AIOPS_METRICS_FILE", None)
    return f"real Prometheus ({binaries.prometheus}) on {server.url}, history backfilled from {_rel(world_dir / 'metrics.om')}"


def _digest(store: Store, intervals: list[Interval]) -> str | None:
    rows = [
        r
        for i in intervals
        for r in store.read("series_summary", interval_start=i.start, interval_end=i.end)
    ]
    if not rows:
        return None
    text = json.dumps(rows, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _print_summary(store: Store, intervals: list[Interval]) -> None:
    catalog = load_catalog()
    for interval in intervals:
        rows = store.read(
            "series_summary", interval_start=interval.start, interval_end=interval.end
        )
        by_service: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_service.setdefault(row["service"], []).append(row)
        sources = sorted({r["source"] for r in rows})
        _say(
            f"      aiops_ingest [{interval.label}): {len(rows)} series from {', '.join(sources) or 'nothing'}"
        )
        _say(
            f"        {'service':<15} {'signals':>7} {'points':>11} {'gaps':>5}  latency_p95   error_ratio  memory"
        )
        for service in catalog.service_names:
            srows = {r["signal"]: r for r in by_service.get(service, [])}
            with_data = sum(1 for r in srows.values() if r["points"] > 0)
            points = sum(r["points"] for r in srows.values())
            expected = sum(r["expected_points"] for r in srows.values())
            gaps = sum(r["gaps"] for r in srows.values())
            _say(
                f"        {service:<15} {with_data:>3}/{len(catalog.defaults.signals):<3} "
                f"{points:>5}/{expected:<5} {gaps:>5}  "
                f"{_fmt(srows.get('latency_p95'), 1000, 'ms'):>11}  "
                f"{_fmt(srows.get('error_ratio'), 100, '%'):>11}  "
                f"{_fmt(srows.get('memory'), 2**-20, 'MiB')}"
            )
        missing = [s for s in catalog.service_names if s not in by_service]
        if missing:
            _say(f"        no rows at all for: {', '.join(missing)}")


def _fmt(row: dict[str, Any] | None, scale: float, unit: str) -> str:
    if not row or row.get("value_mean") is None:
        return "no data"
    return f"{row['value_mean'] * scale:.1f}{unit}"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        try:
            return str(path.relative_to(PROJECT_ROOT))
        except ValueError:
            return str(path)


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join("        " + line for line in text[-lines:])
