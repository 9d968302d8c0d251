"""Benchmark: the nightly DAG over a fleet of simulated services, LocalExecutor against
CeleryExecutor with two workers.

    .venv/bin/python bench/bench_nightly_scale.py [--services 1000] [--shard-size 50]

The fleet (aiops.dev.sim.fleet: the demo topology in cells, `--days` of history at `--step`
seconds) is written as OpenMetrics, backfilled into a real Prometheus on loopback, and one
nightly interval of the real `aiops_nightly` DAG (per-service baselines and forecasters on
the history, the day's traces of cell 0, logs, incidents, issues as dry-run files) is
backfilled by a real scheduler (aiops.dev.cluster), first on LocalExecutor, then on
CeleryExecutor with two workers: the same task slots (workers x concurrency) both times,
each on a fresh PostgreSQL metadata database, results store and model folder. Wall time
is from `airflow backfill create` to the run finished; peak memory is the peak of the
summed RSS of the Airflow process tree (api-server, scheduler, dag-processor, workers and
their task processes), sampled every 0.5 s; Prometheus, PostgreSQL and Redis are not in it.
After each run the store and the model registry are read back, so the figures are only
printed for work that was done. Needs PostgreSQL and Redis on 127.0.0.1 (Redis db 13).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from aiops.dev import promserver  # noqa: E402
from aiops.dev.cluster import AirflowCluster, ClusterConfig, scratch_pg_database  # noqa: E402
from aiops.dev.sim.fleet import FleetConfig, build_fleet  # noqa: E402
from aiops.metrics.pipeline import model_name  # noqa: E402
from aiops.model_registry import ModelRegistry  # noqa: E402
from aiops.predictive.pipeline import forecast_model_name  # noqa: E402
from aiops.store import Store  # noqa: E402

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BROKER = "redis://127.0.0.1:6379/13"  # a db of its own: never the test suite's
DAG = "aiops_nightly"
log = logging.getLogger("bench_nightly_scale")


class TreeSampler:
    """Peak of the summed RSS of some processes and all their descendants, every `every` s.

    RSS counts pages shared between processes (a forked task shares the scheduler's) once
    per process, so the sum is an upper bound of what the tree holds; it is what `ps` and
    a container's per-process view add up to."""

    def __init__(self, roots: dict[str, int], every: float = 0.5) -> None:
        self.roots, self.every = roots, every
        self.peak, self.peak_procs, self.samples = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> tuple[int, int]:
        procs: dict[int, psutil.Process] = {}
        for pid in self.roots.values():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    procs[proc.pid] = proc
        total = 0
        for proc in procs.values():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total, len(procs)

    def _run(self) -> None:
        while not self._stop.is_set():
            total, count = self.sample()
            self.samples += 1
            if total > self.peak:
                self.peak, self.peak_procs = total, count
            self._stop.wait(self.every)


@dataclass
class Result:
    executor: str
    wall_s: float
    run_s: float
    peak_mib: float
    peak_procs: int
    idle_mib: float
    tasks: dict[str, int]
    task_s: float
    services: int
    baselines: int
    forecasters: int
    edges: int
    findings: int
    trace_runs: int
    by_task: dict[str, tuple[int, float]] = field(default_factory=dict)  # count, seconds

    @property
    def busy(self) -> str:
        """Task seconds by task, busiest first, for the reading."""
        return ", ".join(f"{task} {sec:.0f} s" + (f" ({n} tasks)" if n > 1 else "")
                         for task, (n, sec) in self.by_task.items())  # fmt: skip


def task_states(
    metadata_url: str, run_ids: list[str]
) -> tuple[dict[str, int], float, dict[str, tuple[int, float]]]:
    """Task instances of the nightly runs `run_ids` by state (mapped shards counted one by
    one), the sum of their durations, and (count, seconds) by task, busiest first."""
    engine = create_engine(metadata_url)
    where = "WHERE dag_id = :d AND run_id = ANY(:r)"
    params = {"d": DAG, "r": run_ids}
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT state, count(*), coalesce(sum(duration), 0) "
                                     f"FROM task_instance {where} GROUP BY state"),
                                params).all()  # fmt: skip
        with engine.connect() as conn:
            by_task = conn.execute(text("SELECT task_id, count(*), coalesce(sum(duration), 0) "
                                        f"FROM task_instance {where} GROUP BY task_id "
                                        "ORDER BY 3 DESC"), params).all()  # fmt: skip
    finally:
        engine.dispose()
    per_task = {str(r[0]): (int(r[1]), float(r[2])) for r in by_task}
    return {str(r[0]): int(r[1]) for r in rows}, float(sum(r[2] for r in rows)), per_task


def run_executor(
    executor: str,
    args,
    fleet: dict,
    prom_url: str,
    root: Path,
    nights: tuple[datetime, ...] = (),
    candidates: str = "",
    label: str = "",
) -> list[Result]:
    """Nightly intervals (`nights`, one after the other; default the fleet's day)
    backfilled on one fresh cluster; per night, what it did, read back."""
    nights = nights or (fleet["day"],)
    label = label or executor
    work = root / label
    (work / "models").mkdir(parents=True, exist_ok=True)  # AIOPS_MODELS must exist
    with contextlib.ExitStack() as stack:
        metadata = stack.enter_context(scratch_pg_database(pg_server(), "aiops_bench_af"))
        results = stack.enter_context(scratch_pg_database(pg_server(), "aiops_bench_res"))
        env = {
            "AIOPS_CATALOG": str(fleet["catalog"]),
            "AIRFLOW_CONN_PROMETHEUS_DEFAULT": prom_url,
            "AIOPS_TRACES_DIR": str(fleet["traces"]),
            "AIOPS_LOGS_DIR": str(fleet["logs"]),
            "AIOPS_STORE_URL": results,
            "AIOPS_MODELS": str(work / "models"),
            "AIOPS_HOME": str(work / "out"),
            "AIOPS_ISSUES_DRY_RUN": "1",
            "AIOPS_LLM": "off",
            "AIOPS_SHARD_SIZE": str(args.shard_size),
            "AIOPS_FORECAST_CANDIDATES": candidates or args.candidates,
            "AIOPS_TASK_RETRIES": "0",  # a failure fails the benchmark instead of hiding in time
        }
        config = ClusterConfig(home=work / "airflow", metadata_url=metadata, broker_url=BROKER,
                               workers=args.workers, concurrency=args.concurrency, env=env,
                               executor=executor)  # fmt: skip
        log.info("%s: starting the cluster", executor)
        cluster = stack.enter_context(AirflowCluster(config))
        cluster.wait_for_dag(DAG)
        out = []
        for day in nights:
            sampler = TreeSampler(cluster.pids())
            idle, _ = sampler.sample()
            log.info("%s: backfilling %s [%s, +1 day)", label, DAG, day.isoformat())
            began = time.perf_counter()
            with sampler:
                since = datetime.now(UTC)
                cluster.backfill(DAG, day.isoformat(), day.isoformat(), wait=False)
                runs = cluster.wait_for_runs(DAG, args.timeout, since=since)
                run_s = max((r["end_date"] - r["start_date"]).total_seconds() for r in runs)
            wall = time.perf_counter() - began
            tasks, task_s, per_task = task_states(metadata, [r["run_id"] for r in runs])
            registry = ModelRegistry(env["AIOPS_MODELS"])
            services = fleet["services"]
            with Store.open(results) as store:
                edges = store.count("dependency_edges")
                findings = store.count("findings")
                trace_runs = store.count("trace_runs")
            out.append(Result(
                label, wall, run_s, sampler.peak / 2**20, sampler.peak_procs, idle / 2**20,
                tasks, task_s, len(services),
                sum(1 for s in services if registry.versions(model_name(s))),
                sum(1 for s in services if registry.versions(forecast_model_name(s))),
                edges, findings, trace_runs, per_task,
            ))  # fmt: skip
            log.info("%s: task time by task: %s", label, out[-1].busy)
        return out


def pg_server() -> str:
    return os.environ.get("AIOPS_BENCH_PG_URL") or PG_SERVER


def unreachable(pg, broker: str) -> str:
    """Why the benchmark cannot run here ("" when it can): a server not listening."""
    redis = make_url(broker)
    for name, host, port in (("PostgreSQL", pg.host, pg.port or 5432),
                             ("Redis", redis.host, redis.port or 6379)):  # fmt: skip
        try:
            socket.create_connection((host or "127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            return f"{name} not reachable at {host}:{port}: {exc}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=120,
                        help="fleet size (default 120 for `make bench`; the issue's figure "
                             "is --services 1000)")  # fmt: skip
    parser.add_argument("--days", type=int, default=21, help="history (DetectionSettings "
                        "trains on 21 days; the baselines need 14)")  # fmt: skip
    parser.add_argument("--step", type=int, default=300, help="scrape interval, s")
    parser.add_argument("--shard-size", type=int, default=50, help="services per mapped task")
    parser.add_argument("--candidates", default="seasonal_naive,baseline",
                        help="AIOPS_FORECAST_CANDIDATES (Prophet: add ',prophet')")  # fmt: skip
    parser.add_argument("--traces-per-hour", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    parser.add_argument("--executors", default="LocalExecutor,CeleryExecutor")
    parser.add_argument("--timeout", type=float, default=3600, help="per run, s")
    parser.add_argument("--prophet-cost", action="store_true",
                        help="instead of the executors: two consecutive nights on the first "
                             "executor, without Prophet and with it (spared by the night "
                             "before); the second nights compared")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    missing = unreachable(make_url(pg_server()), BROKER)
    if missing:
        print(f"skipped: {missing} (the executors need PostgreSQL and Redis on loopback)")
        return 0
    promserver.ensure_installed()
    extra = 1 if args.prophet_cost else 0  # the night before needs its own 21 days
    config = FleetConfig(services=args.services, days=args.days + extra, step_seconds=args.step,
                         traces_per_hour=args.traces_per_hour)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="aiops-bench-nightly-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        fleet = build_fleet(config, root / "fleet")
        built = time.perf_counter() - began
        began = time.perf_counter()
        tsdb = promserver.backfill(fleet["metrics"], root / "tsdb")
        ingest = time.perf_counter() - began
        (root / "fleet" / "metrics.om").unlink()  # gigabytes at 1,000 services; in the TSDB now
        points = config.days * 86_400 // args.step
        print(f"fleet: {args.services} services x 5 signals (7 exposed series each), "
              f"{config.days} days at {args.step} s ({points:,} points per series); "
              f"{fleet['samples']:,} samples simulated and written in {built:.0f} s, "
              f"promtool backfill {ingest:.0f} s; traces: cell 0 (12 services), "
              f"{args.traces_per_hour}/h over the night's day")  # fmt: skip
        print(f"nightly interval [{fleet['day']:%Y-%m-%d}, +1 day); shard size {args.shard_size} "
              f"({-(-args.services // args.shard_size)} mapped training tasks); forecast "
              f"candidates {args.candidates}; {args.workers} x {args.concurrency} task slots; "
              f"{os.cpu_count()} cores")  # fmt: skip
        if args.prophet_cost:
            with promserver.PrometheusServer(tsdb, log_path=root / "prometheus.log") as server:
                return prophet_cost(args, fleet, server.url, root)
        results: list[Result] = []
        with promserver.PrometheusServer(tsdb, log_path=root / "prometheus.log") as server:
            for executor in args.executors.split(","):
                results.extend(run_executor(executor, args, fleet, server.url, root))
                log.info("%s: done: %s", executor, results[-1])
    print_table(results)
    return check(results, args.services)


def prophet_cost(args, fleet: dict, prom_url: str, root: Path) -> int:
    """Two consecutive nights without Prophet, then two with it, each pair on a fresh
    cluster of the first executor; the second night is the steady one (Prophet spared by
    the night before: aiops.forecast.sparing). Target: with Prophet at most 1.5x without,
    on the run's own start-to-end time ("wall s" of a second night also holds the wait for
    the scheduler to close the first night's backfill)."""
    executor = args.executors.split(",")[0]
    cheap = ",".join(c for c in args.candidates.split(",") if c != "prophet")
    nights = (fleet["day"] - timedelta(days=1), fleet["day"])
    runs = {}
    for label, candidates in (("without Prophet", cheap), ("with Prophet", f"{cheap},prophet")):
        runs[label] = run_executor(executor, args, fleet, prom_url, root, nights, candidates,
                                   label.replace(" ", "-"))  # fmt: skip
    print(f"{executor}, candidates {cheap} (+ prophet); nights {nights[0]:%Y-%m-%d} (the first: "
          f"no night before it) and {nights[1]:%Y-%m-%d} (steady)")  # fmt: skip
    print(f"{'':<17}{'night':>7}{'wall s':>8}{'run s':>8}{'task s':>8}{'train_shard s':>15}"
          f"{'peak MiB':>10}{'forecasts':>11}")  # fmt: skip
    for label, results in runs.items():
        for n, r in enumerate(results, 1):
            train = r.by_task.get("train_shard", (0, 0.0))[1]
            print(f"{label:<17}{n:>7}{r.wall_s:>8.0f}{r.run_s:>8.0f}{r.task_s:>8.0f}{train:>15.0f}"
                  f"{r.peak_mib:>10,.0f}{f'{r.forecasters}/{r.services}':>11}")  # fmt: skip
    without, with_ = runs["without Prophet"][1], runs["with Prophet"][1]
    ratio = with_.run_s / without.run_s  # wall s adds the wait for the backfill before
    print(f"steady night with Prophet: {ratio:.2f}x the run time without it (task time "
          f"{with_.task_s / without.task_s:.2f}x, train_shard "
          f"{with_.by_task['train_shard'][1] / without.by_task['train_shard'][1]:.2f}x); "
          f"target <= 1.5x: {'MET' if ratio <= 1.5 else 'NOT MET'}")  # fmt: skip
    bad = [r for results in runs.values() for r in results
           if r.forecasters != r.services or set(r.tasks) != {"success"}]  # fmt: skip
    if bad:
        print(f"INCOMPLETE: {[(r.executor, r.tasks) for r in bad]}")
    return 1 if bad else 0


def print_table(results: list[Result]) -> None:
    print(f"{'executor':<15}{'wall s':>8}{'run s':>8}{'task s':>8}{'peak MiB':>10}{'procs':>7}"
          f"{'idle MiB':>10}{'tasks':>7}{'baselines':>11}{'forecasts':>11}{'edges':>7}"
          f"{'findings':>10}")  # fmt: skip
    for r in results:
        print(f"{r.executor:<15}{r.wall_s:>8.0f}{r.run_s:>8.0f}{r.task_s:>8.0f}{r.peak_mib:>10,.0f}"
              f"{r.peak_procs:>7}{r.idle_mib:>10,.0f}{sum(r.tasks.values()):>7}"
              f"{f'{r.baselines}/{r.services}':>11}{f'{r.forecasters}/{r.services}':>11}"
              f"{r.edges:>7}{r.findings:>10}")  # fmt: skip
    for r in results:
        print(
            f"{r.executor}: task states {r.tasks}, trace runs stored {r.trace_runs}; "
            f"task seconds: {r.busy}"
        )
    by = {r.executor: r for r in results}
    local, celery = by.get("LocalExecutor"), by.get("CeleryExecutor")
    if local and celery:
        print(f"ratio Celery/Local: wall {celery.wall_s / local.wall_s:.2f}x, "
              f"peak memory {celery.peak_mib / local.peak_mib:.2f}x")  # fmt: skip


def check(results: list[Result], services: int) -> int:
    """Non-zero unless every run trained every service and stored the traces' analysis."""
    bad = [r.executor for r in results
           if r.baselines != services or r.forecasters != services or r.edges == 0
           or r.trace_runs == 0 or set(r.tasks) != {"success"}]  # fmt: skip
    if bad:
        print(f"INCOMPLETE: {bad} did not train every service or store the trace analysis")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
