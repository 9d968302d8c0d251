"""`aiops demo`: the whole pipeline on the embedded demo world, end to end, through real Airflow.

Builds the world (once), serves it from a real Prometheus when the binary is present (or says
plainly which file-backed source it uses instead), runs each DAG over the demo intervals with
`airflow dags test`, and prints what each capability produced. A second run rewrites the same
rows, and the printed digest proves it.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.dev import promserver
from aiops.dev.demo.incidents import print_incidents
from aiops.dev.demo.llm import print_narratives, print_runs
from aiops.dev.demo.logs import print_logs
from aiops.dev.demo.page import show_page
from aiops.dev.demo.report import print_detection, print_ingest, results_digest
from aiops.dev.demo.rightsizing import print_rightsizing
from aiops.dev.demo.traces import print_traces
from aiops.dev.local_airflow import PROJECT_ROOT, airflow_env, run_airflow
from aiops.dev.sim.world import WorldConfig, build_world
from aiops.settings import JAEGER_POOL, PROMETHEUS_POOL, aiops_home, models_root, resolve_store_url
from aiops.store import Store, mask_url

log = logging.getLogger(__name__)


DETECTED_KINDS = ("latency_regression", "cascading_failure", "error_spike")


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        if self.end - self.start >= timedelta(days=1):
            return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%Y-%m-%d %H:%M}"
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


#: A night that only maps: the trace analysis (and log mining, incident summary) of a day
#: without retraining, right-sizing or filing, so the next day's hour has the map a live system would
#: have had. Airflow marks the matching tasks successful without running them.
MAP_ONLY = "^train_shard$|^report$|^rightsize$|^narrate_findings$|^file_issues$"
#: The night after the last hour: only the day's predicted breaches are summarised and filed
#: (the last hour raised them), so the demo shows their issues and charts without another
#: night of training and analysis.
ALERTS_ONLY = (
    "^train_shard$|^report$|^rightsize$|^analyze_traces$|^analyze_logs$|"
    "^summarize_incidents$|^narrate_findings$"
)


@dataclass(frozen=True)
class Run:
    dag_id: str
    interval: Interval
    skip: str = ""  # `airflow dags test --mark-success-pattern`

    @property
    def note(self) -> str:
        return {
            MAP_ONLY: " (training and filing skipped: this night maps the day's traces)",
            ALERTS_ONLY: " (only the day's predicted breaches summarised and filed)",
        }.get(self.skip, "")


def demo_plan(manifest: dict[str, Any]) -> list[Run]:
    """Nightly training before the first incident and on the last incident's day, the nights
    before the other incidents' days for their dependency map only, the hour of each planted
    incident, and the last hour's night for its predicted breaches only, in time order.

    Only as many intervals as show the point: the hourly runs use the newest good model
    trained on data that ended by their interval, as a backfill would, and correlate on the
    newest trace map that ended by then; the second training night gives the last hour
    forecasters that have seen the traffic ramp and most of the leak. The last hour's
    forecast is the one the scaler serves and the breach alert comes from.
    """
    starts = sorted(
        datetime.fromisoformat(i["start"])
        for i in manifest["incidents"]
        if i["kind"] in DETECTED_KINDS
    )
    hours = [
        Interval(t.replace(minute=0), t.replace(minute=0) + timedelta(hours=1)) for t in starts
    ]
    midnights = sorted({h.start.replace(hour=0) for h in hours})
    training = {midnights[0], midnights[-1]}
    runs = [
        Run("aiops_nightly", Interval(n - timedelta(days=1), n), "" if n in training else MAP_ONLY)
        for n in midnights
    ]
    runs += [Run(dag, h) for h in hours for dag in ("aiops_ingest", "aiops_hourly")]
    last_day = hours[-1].start.replace(hour=0)
    runs.append(Run("aiops_nightly", Interval(last_day, last_day + timedelta(days=1)), ALERTS_ONLY))
    # in the order Airflow would run them: a night summarises the incidents its day's hours
    # found, and an hour scores with the models of the nights before it
    return sorted(runs, key=lambda r: r.interval.end)


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
    if not os.environ.get("AIOPS_MODELS"):
        (out / "models").mkdir(parents=True, exist_ok=True)
    env["AIOPS_MODELS"] = models_root() if os.environ.get("AIOPS_MODELS") else str(out / "models")
    # no Jaeger server here: the nightly reads the world's exported traces (query-API JSON)
    env["AIOPS_TRACES_DIR"] = str(world_dir / "traces")
    # no Elasticsearch here either: the DAGs mine the world's log files
    env["AIOPS_LOGS_DIR"] = str(world_dir / "logs")
    # issues go to out/issues as files, even when this shell has a GitHub token
    env["AIOPS_ISSUES_DRY_RUN"] = "1"

    _say(
        f"[1/5] demo world (seed {config.seed}, {len(config.services)} services, "
        f"{config.days} days at {config.step_seconds}s) -> {world_dir}"
    )
    manifest = build_world(config, world_dir)
    _say(
        f"      {manifest['samples']:,} samples, {len(manifest['trace_files'])} trace files, "
        f"{len(manifest['log_files'])} log files, {len(manifest['incidents'])} planted incidents"
    )

    with ExitStack() as stack:
        _say("[2/5] metrics backend")
        source_label = _start_metrics_backend(stack, world_dir, out, env)
        _say(f"      {source_label}")

        _say(
            "[3/5] airflow: migrate the metadata DB, train nightly, run the hourly DAGs on the planted incidents"
        )
        proc = run_airflow(["db", "migrate"], env, out / "logs" / "airflow-db-migrate.log")
        if proc.returncode != 0:
            _say(f"      airflow db migrate failed; see {out / 'logs' / 'airflow-db-migrate.log'}")
            return 1
        for pool, what in ((PROMETHEUS_POOL, "Prometheus"), (JAEGER_POOL, "Jaeger")):
            proc = run_airflow(
                ["pools", "set", pool, "4", f"caps concurrent {what} queries"],
                env,
                out / "logs" / "airflow-pools.log",
            )
            if proc.returncode != 0:
                _say(f"      airflow pools set failed; see {out / 'logs' / 'airflow-pools.log'}")
                return 1
        plan = demo_plan(manifest)
        hours = [r.interval for r in plan if r.dag_id == "aiops_hourly"]
        nights = [r.interval for r in plan if r.dag_id == "aiops_nightly" and r.skip != ALERTS_ONLY]
        filed = [r.interval for r in plan if r.dag_id == "aiops_nightly"]
        with Store.open(store_url) as store:
            before = results_digest(store, hours, filed)
        for run in plan:
            logfile = out / "logs" / f"{run.dag_id}-{run.interval.start:%Y%m%dT%H%M}.log"
            # Airflow 3: a data-interval run's logical date is the END of its interval
            skip = ["--mark-success-pattern", run.skip] if run.skip else []
            proc = run_airflow(
                ["dags", "test", run.dag_id, run.interval.end.isoformat(), *skip], env, logfile
            )
            status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            _say(
                f"      {run.dag_id:<14} [{run.interval.label}) {status}{run.note}  "
                f"log: {_rel(logfile)}"
            )
            if proc.returncode != 0:
                _say(_tail(logfile))
                return 1

    _say("[4/5] what landed")
    with Store.open(store_url) as store:
        after = results_digest(store, hours, filed)
        print_ingest(store, hours, _say)
        print_detection(store, manifest, hours, _say)
        print_incidents(store, manifest, hours, nights, _say)
        _report_forecasts(store, store_url, world_dir, hours[-1].end, out)
        print_logs(store, manifest, nights, env["AIOPS_MODELS"], _say)
        print_traces(store, manifest, nights[-1].start, nights[-1].end, out, _say)
        print_rightsizing(store, manifest, nights[-1].start, nights[-1].end, _say)
        print_narratives(store, nights, _say)
        print_runs(store, _say)
    change = (
        "unchanged by this run (idempotent rerun)"
        if before == after
        else ("new results" if before is None else "results changed")
    )
    _say(f"      store {mask_url(store_url)}: digest {after[:12] if after else '-'}, {change}")
    _say("[5/5] the AIOps page in Airflow's UI")
    show_page(env, store_url, out, hours[-1].end, _say)
    _say(
        f"      outputs: {_rel(world_dir)}/ (metrics.om, traces/, logs/, manifest.json), "
        f"{_rel(Path(env['AIOPS_MODELS']))}/ (models), {_rel(out / 'logs')}/, "
        f"{_rel(out / 'screenshots')}/"
    )
    return 0


def _report_forecasts(
    store: Store, store_url: str, world_dir: Path, origin: datetime, out: Path
) -> None:
    """The last hour's predicted breaches, checked against what the data did next, with the
    issues the night after filed for them, and the scaling values as KEDA reads them: a real
    scaler on loopback, asked over gRPC."""
    from aiops.catalog import load_catalog
    from aiops.dev.demo.predictions import (
        ground_truth,
        print_alerts,
        print_breach_issues,
        print_ramp,
        print_scaling,
    )
    from aiops.scaler import ScalerClient, ScalerConfig, clock_from, start_scaler

    catalog, truth = load_catalog(), ground_truth(world_dir)
    print_alerts(store, catalog, truth, origin, _say)
    print_breach_issues(store, out, _say)
    scalable = [name for name, svc in catalog.services.items() if svc.scaling is not None]
    config = ScalerConfig(store_url=store_url, catalog=catalog, now=clock_from(origin))
    with start_scaler(config) as scaler:
        client = ScalerClient(scaler.grpc_target)
        served = {}
        for service in scalable:
            metadata = {"service": service}
            (target,) = client.metric_spec(metadata).values()
            served[service] = (client.metrics(metadata), target)
    observed = {
        r["service"]: r["observed"]
        for r in store.read(
            "predictions", generated_at=origin, target_time=origin + timedelta(minutes=5)
        )
        if r["service"] in scalable and r["metric"] == catalog.services[r["service"]].scaling.metric
    }
    print_scaling(catalog, origin, served, observed, _say)
    print_ramp(store, catalog, truth, "search", origin, _say)


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
