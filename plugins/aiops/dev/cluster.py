"""A distributed Airflow on one machine: the same DAGs on CeleryExecutor, with PostgreSQL as
the metadata database and Redis as the broker, every component its own process.

What `docker-compose.yaml` runs in containers, runnable where there is no container engine:
the tests use it to prove the DAGs give the same results distributed as on LocalExecutor,
and to backfill with a running scheduler; the benchmark uses it to compare executors. It
starts `airflow api-server` (the workers' execution API), `scheduler`, `dag-processor` and N
`celery worker`s with their own hostnames, each with its log under ``<home>/logs``, and
stops them all (process groups) on exit.

With ``executor="LocalExecutor"`` the same cluster runs without workers or broker: the
scheduler forks the task processes itself, as many at once as the Celery workers would
run (workers x concurrency), so a comparison of the two executors is about the executor,
not the number of task slots. PostgreSQL either way (Airflow 3's LocalExecutor refuses
SQLite).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from aiops.dev.local_airflow import PROJECT_ROOT, airflow_bin, airflow_env, run_airflow
from aiops.dev.promserver.process import free_port
from aiops.settings import JAEGER_POOL, PROMETHEUS_POOL

log = logging.getLogger(__name__)

POOL_SLOTS = 4
EXECUTORS = ("CeleryExecutor", "LocalExecutor")


class ClusterError(RuntimeError):
    """A component that did not start, or a run that did not finish; names the log to read."""


@dataclass
class ClusterConfig:
    home: Path
    metadata_url: str  # postgresql+psycopg2://user@host:5432/db: metadata, Celery results
    broker_url: str  # redis://host:6379/N
    workers: int = 2
    concurrency: int = 2  # task slots per worker
    env: Mapping[str, str] = field(default_factory=dict)  # AIOPS_* and connections
    api_port: int = 0  # 0: a free port
    executor: str = "CeleryExecutor"  # or "LocalExecutor": no workers, no broker used

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    @property
    def slots(self) -> int:
        """Tasks that run at once: the Celery workers' slots, or LocalExecutor's parallelism."""
        return self.workers * self.concurrency


def cluster_env(config: ClusterConfig, api_port: int, secret: str) -> dict[str, str]:
    """Airflow's configuration for the cluster (environment variables override airflow.cfg)."""
    metadata = config.metadata_url
    if not metadata.startswith("postgresql+psycopg2://"):
        raise ValueError(f"metadata_url must be postgresql+psycopg2://..., got {metadata!r}")
    executor: dict[str, str] = (
        {"AIRFLOW__CELERY__BROKER_URL": config.broker_url,
         "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",  # task states in the metadata DB
         "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.concurrency)}
        if config.celery
        # the scheduler's own task slots, as many as the workers would have
        else {"AIRFLOW__CORE__PARALLELISM": str(config.slots)}
    )  # fmt: skip
    return {
        **airflow_env(PROJECT_ROOT, home=config.home),
        **config.env,
        "AIRFLOW__CORE__EXECUTOR": config.executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        **executor,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        # runs only when asked (backfills): no scheduled run of "now" once a DAG is unpaused
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }  # fmt: skip


class AirflowCluster:
    """``with AirflowCluster(config) as cluster: cluster.backfill(...)``."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.api_port = config.api_port or free_port()
        self.name = f"aiops-{secrets.token_hex(4)}"
        # a queue of its own: another cluster's workers on the same broker never take its tasks
        self.env = {**cluster_env(config, self.api_port, secrets.token_hex(16)),
                    "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.name}  # fmt: skip
        self.logs = config.home / "logs"
        self._procs: dict[str, subprocess.Popen] = {}
        self._metadata: Engine | None = None  # read-only looks at runs and parsed DAGs

    def __enter__(self) -> AirflowCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def airflow(self, args: Sequence[str], name: str, timeout: float = 600) -> str:
        """Run one `airflow` CLI command against the cluster; its output, or an error naming
        the log."""
        path = self.logs / f"{name}.log"
        proc = run_airflow(list(args), self.env, path, timeout=timeout)
        if proc.returncode != 0:
            raise ClusterError(
                f"airflow {' '.join(args)} failed (exit {proc.returncode}); see {path}"
            )
        return proc.stdout

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.airflow(["db", "migrate"], "db-migrate")
        for pool in (PROMETHEUS_POOL, JAEGER_POOL):
            self.airflow(["pools", "set", pool, str(POOL_SLOTS), "caps concurrent queries"],
                         f"pool-{pool}")  # fmt: skip
        self._spawn(
            "api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]
        )
        self._spawn("scheduler", ["scheduler"])
        self._spawn("dag-processor", ["dag-processor"])
        # LocalExecutor: no workers, the scheduler's executor runs the tasks
        workers = self.config.workers if self.config.celery else 0
        for n in range(1, workers + 1):
            # each worker serves its task logs on a port of its own
            port = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            self._spawn(f"worker-{n}", ["celery", "worker", "--celery-hostname",
                                        f"{self.name}-{n}@%h", "--queues", self.name,
                                        "--concurrency", str(self.config.concurrency)], port)  # fmt: skip
        self._wait_healthy()

    def pids(self) -> dict[str, int]:
        """The PID of each component still running (api-server, scheduler, dag-processor,
        worker-N), for a memory sampler: each leads a process group and session of its own,
        and its task processes are its descendants."""
        return {name: p.pid for name, p in self._procs.items() if p.poll() is None}

    def _spawn(self, name: str, args: list[str], extra: Mapping[str, str] | None = None) -> None:
        handle = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (kept open for the process)
        self._procs[name] = subprocess.Popen(
            [airflow_bin(), *args], env={**os.environ, **self.env, **(extra or {})}, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def _wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(requests.RequestException, ValueError):
                health = requests.get(url, timeout=2).json()
                if health.get("scheduler", {}).get("status") == "healthy":
                    return
            time.sleep(1)
        raise ClusterError(f"the api-server or scheduler did not become healthy in {timeout:g} s; "
                           f"see {self.logs}")  # fmt: skip

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ClusterError(f"{name} exited with {proc.returncode}; see "
                                   f"{self.logs / (name + '.log')}")  # fmt: skip

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has serialised ``dag_id`` (a backfill needs it), read from
        the metadata database: an `airflow dags list` costs seconds of CPU per look."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._metadata_rows("SELECT dag_id FROM serialized_dag WHERE dag_id = :d", dag_id):
                return
            time.sleep(1)
        raise ClusterError(f"{dag_id} was not parsed in {timeout:g} s; see "
                           f"{self.logs / 'dag-processor.log'}")  # fmt: skip

    def _metadata_rows(self, query: str, dag_id: str) -> list[dict]:
        if self._metadata is None:
            self._metadata = create_engine(self.config.metadata_url, pool_size=1,
                                           connect_args={"connect_timeout": 5})  # fmt: skip
        with self._metadata.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(query), {"d": dag_id})]

    def backfill(self, dag_id: str, first: str, last: str, *, reprocess: str = "none",
                 max_active_runs: int = 1, timeout: float = 1800, wait: bool = True) -> list[dict]:  # fmt: skip
        """`airflow backfill create` over logical dates [first, last] and wait for its runs;
        returns the runs (dag_run rows as dicts). Raises naming the failed runs.
        ``wait=False`` returns [] once the backfill is created (a benchmark samples the
        processes while it calls :meth:`wait_for_runs` itself).

        One run at a time by default: an hour continues the events and log templates the hour
        before left, which a concurrent run would not see yet (a backfill's own default is
        10 at once, whatever the DAG's max_active_runs)."""
        self.wait_for_dag(dag_id)
        self.airflow(["dags", "unpause", dag_id], f"unpause-{dag_id}")  # paused runs never start
        since = datetime.now(UTC)
        args = ["backfill", "create", "--dag-id", dag_id, "--from-date", first, "--to-date", last,
                "--reprocess-behavior", reprocess, "--max-active-runs", str(max_active_runs)]  # fmt: skip
        deadline = time.monotonic() + 120
        while True:  # the scheduler marks the previous backfill complete a loop after its runs
            proc = run_airflow(args, self.env, self.logs / f"backfill-{dag_id}.log")
            if proc.returncode == 0:
                break
            busy = "AlreadyRunningBackfill" in proc.stdout + proc.stderr
            if not busy or time.monotonic() > deadline:
                raise ClusterError(f"airflow {' '.join(args)} failed (exit {proc.returncode}); "
                                   f"see {self.logs / f'backfill-{dag_id}.log'}")  # fmt: skip
            time.sleep(3)
        return self.wait_for_runs(dag_id, timeout, since=since) if wait else []

    def wait_for_runs(self, dag_id: str, timeout: float, *, since: datetime) -> list[dict]:
        """The DAG's runs once every one that started after ``since`` (wall clock: this is
        about processes, not data) has finished, and at least one has; read from the metadata
        database every second (an `airflow dags list-runs` would cost seconds of CPU per look,
        taken from the runs it waits for)."""
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        query = ("SELECT run_id, state, queued_at, start_date, end_date FROM dag_run "
                 "WHERE dag_id = :d ORDER BY logical_date")  # fmt: skip
        while time.monotonic() < deadline:
            self._check_alive()
            runs = [r for r in self._metadata_rows(query, dag_id) if _after(r, since)]
            states = {r.get("state") for r in runs}
            if runs and states <= {"success", "failed"}:
                failed = [r for r in runs if r.get("state") == "failed"]
                if failed:
                    raise ClusterError(f"{dag_id}: {len(failed)} run(s) failed: "
                                       f"{[r.get('run_id') for r in failed]}; see {self.logs}")  # fmt: skip
                return runs
            time.sleep(1)
        raise ClusterError(f"{dag_id}: runs not finished in {timeout:g} s: "
                           f"{[(r.get('run_id'), r.get('state')) for r in runs]}")  # fmt: skip

    def stop(self) -> None:  # noqa: D102
        if self._metadata is not None:
            self._metadata.dispose()
            self._metadata = None
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name, proc in self._procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM; killing", name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()


def _after(run: dict, since: datetime) -> bool:
    """Whether a dag_run row started (or was queued) after ``since``."""
    for key in ("start_date", "queued_at"):
        when = run.get(key)
        if isinstance(when, str):
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(when)
        if isinstance(when, datetime):
            return (when if when.tzinfo else when.replace(tzinfo=UTC)) >= since
    return run.get("state") not in ("success", "failed")  # not started yet: still to come


@contextlib.contextmanager
def scratch_pg_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on the server ``server_url`` points at (as a user that may
    create databases), dropped afterwards: throwaway metadata and results databases for the
    tests and benchmarks. Its URL keeps the server URL's driver and credentials. The
    driver's error, naming the server, when it cannot be reached."""
    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        drop_pg_database(admin, name)
        admin.dispose()


def drop_pg_database(admin: Engine, name: str) -> None:
    """Drop database ``name`` after ending its sessions (a worker that died mid-task may
    still hold one); nothing when it does not exist."""
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name},
        )  # fmt: skip
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
