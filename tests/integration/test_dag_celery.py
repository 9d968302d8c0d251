"""The same DAGs distributed: a real scheduler, dag-processor, api-server and two Celery
workers (aiops.dev.cluster) on the machine's PostgreSQL (metadata, Celery results, and the
results store) and Redis (broker), driven by `airflow backfill create`, give exactly the
results a LocalExecutor run of each interval alone gives; a second backfill of the same
range, reprocessing the completed runs, changes nothing: an hour rerun after the next hour
ran reads the events as it first saw them (aiops.metrics.event_store), not as the next hour left them.

Skips, with the reason, where PostgreSQL or Redis is not on loopback.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
from datetime import datetime, timedelta

import pytest

from aiops.catalog import load_catalog
from aiops.dev.cluster import AirflowCluster, ClusterConfig
from aiops.dev.local_airflow import run_airflow
from aiops.store import Store
from fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from support.stores import fresh_pg_database

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.postgres]

REDIS = ("127.0.0.1", 6379)
HOURS = 2  # hourly intervals backfilled
#: What an hourly run writes, by how its rows are tied to an interval [start, end).
INTERVAL_TABLES = ("series_summary", "quarantine", "log_anomalies", "log_quarantine", "incidents")
#: Tables keyed by what they are about, not the interval: read whole (each store holds only
#: these hours and the mining warm-up before them).
WHOLE_TABLES = ("anomaly_events", "anomaly_event_snapshots", "log_volume", "log_template_counts")


def _redis_db() -> str:
    try:
        with socket.create_connection(REDIS, timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            if not conn.recv(16).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError as exc:
        pytest.skip(f"Redis not reachable at {REDIS[0]}:{REDIS[1]}: {exc}")
    return f"redis://{REDIS[0]}:{REDIS[1]}/7"


@pytest.fixture(scope="module")
def world_env(trained_night, tmp_path_factory):
    """The world's files as sources and the models of the shared night (LocalExecutor),
    copied so each executor starts from the same models."""
    tmp = tmp_path_factory.mktemp("celery")
    env = {**trained_night.env, "AIOPS_MODELS": str(trained_night.folder / "models")}
    return env, tmp, trained_night.regression_start.replace(minute=0)


def _copy_models(env: dict, tmp, name: str) -> dict:
    models = tmp / f"models-{name}"
    shutil.copytree(env["AIOPS_MODELS"], models)
    return {**env, "AIOPS_MODELS": str(models)}


@pytest.fixture(scope="module")
def local_results(world_env):
    """Each hour run alone with `airflow dags test` (LocalExecutor semantics), in order."""
    env, tmp, first = world_env
    env = {**_copy_models(env, tmp, "local"), "AIOPS_STORE_URL": f"sqlite:///{tmp / 'local.db'}"}
    for n in range(1, HOURS + 1):
        end = first + timedelta(hours=n)
        proc = run_airflow(["dags", "test", "aiops_hourly", end.isoformat()], env,
                           tmp / f"local-{n}.log")  # fmt: skip
        assert proc.returncode == 0, (tmp / f"local-{n}.log").read_text()[-4000:]
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        return _results(store, first)


def _results(store: Store, first: datetime) -> dict[str, list]:
    """Every row the hours wrote, per table, in primary-key order."""
    out: dict[str, list] = {}
    for n in range(1, HOURS + 1):
        start, end = first + timedelta(hours=n - 1), first + timedelta(hours=n)
        for table in INTERVAL_TABLES:
            out.setdefault(table, []).extend(
                store.read(table, interval_start=start, interval_end=end)
            )
        out.setdefault("predictions", []).extend(store.read("predictions", generated_at=end))
        out.setdefault("predictive_alerts", []).extend(
            store.read("predictive_alerts", generated_at=end)
        )
    for table in WHOLE_TABLES:
        out[table] = store.read(table)
    return out


@pytest.fixture(scope="module")
def backfilled(world_env):
    """A cluster (2 workers) that has backfilled the hours once; its results store's URL."""
    env, tmp, first = world_env
    with contextlib.ExitStack() as stack:
        metadata = stack.enter_context(fresh_pg_database("aiops_af"))
        results = stack.enter_context(fresh_pg_database("aiops_res"))
        github = stack.enter_context(FakeGitHub())  # the workers file the nightly's issues here
        for owner in {s.owner for s in load_catalog().services.values()} | {"acme-shop/platform"}:
            github.add_repo(*owner.split("/"))
        connection = {"conn_type": "github", "host": github.url, "password": DEFAULT_TOKEN}
        config = ClusterConfig(
            home=tmp / "cluster", metadata_url=metadata, broker_url=_redis_db(), workers=2,
            env={**_copy_models(env, tmp, "celery"), "AIOPS_STORE_URL": results,
                 "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps(connection),
                 # the nightly backfills retrain: Prophet's minutes prove nothing about
                 # distribution (the shared night trained it through Airflow already)
                 "AIOPS_FORECAST_CANDIDATES": "seasonal_naive,baseline"},
        )  # fmt: skip
        cluster = stack.enter_context(AirflowCluster(config))
        runs = cluster.backfill("aiops_hourly", first.isoformat(), _last(first).isoformat())
        assert len(runs) == HOURS
        yield cluster, results, first, github


def _last(first: datetime) -> datetime:
    return first + timedelta(hours=HOURS - 1)  # logical dates are interval starts


def test_a_celery_backfill_stores_what_each_interval_run_alone_stores(
    backfilled, local_results
) -> None:
    _, results, first, _ = backfilled
    assert sum(len(rows) for rows in local_results.values()) > 0
    with Store.open(results) as store:
        distributed = _results(store, first)
    for table, rows in local_results.items():
        assert distributed[table] == rows, _difference(table, rows, distributed[table])


def test_a_second_backfill_of_the_same_range_changes_nothing(backfilled) -> None:
    cluster, results, first, _ = backfilled
    with Store.open(results) as store:
        before = _results(store, first)
    cluster.backfill("aiops_hourly", first.isoformat(), _last(first).isoformat(),
                     reprocess="completed")  # fmt: skip
    with Store.open(results) as store:
        again = _results(store, first)
    for table, rows in before.items():
        assert again[table] == rows, _difference(table, rows, again[table])


#: What a nightly run writes about its day, keyed by the day.
NIGHTLY_TABLES = ("findings", "dependency_edges", "alert_volume", "narratives")


def _nightly(store: Store, day: datetime) -> dict[str, list]:
    window = {"interval_start": day, "interval_end": day + timedelta(days=1)}
    out = {table: store.read(table, **window) for table in NIGHTLY_TABLES}
    out["issue_ledger"] = store.read("issue_ledger")
    return out


def test_a_nightly_backfilled_twice_files_each_finding_once(backfilled) -> None:
    """The day's findings (trace bottlenecks, the hours' incidents, new error templates) filed
    on the loopback GitHub by a Celery worker; the same night backfilled again, reprocessing
    the completed run, stores the same rows and writes nothing to GitHub."""
    cluster, results, first, github = backfilled
    night = first.replace(hour=0)  # the logical date: the day's start
    cluster.backfill("aiops_nightly", night.isoformat(), night.isoformat())
    with Store.open(results) as store:
        before = _nightly(store, night)
    writes = [(w.method, w.path) for w in github.writes()]
    created = [w for w in writes if w[0] == "POST" and w[1].endswith("/issues")]
    assert len(before["findings"]) >= 2 and before["dependency_edges"]
    assert len(created) == len(before["issue_ledger"]) >= 1

    cluster.backfill("aiops_nightly", night.isoformat(), night.isoformat(),
                     reprocess="completed")  # fmt: skip
    with Store.open(results) as store:
        again = _nightly(store, night)
    assert [(w.method, w.path) for w in github.writes()] == writes
    for table, rows in before.items():
        assert again[table] == rows, _difference(table, rows, again[table])
    assert github.violations == []


def _difference(table: str, before: list[dict], after: list[dict]) -> str:
    """The first row that differs, for a failure message a person can act on."""
    for n, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            changed = {k: (a.get(k), b.get(k)) for k in a if a.get(k) != b.get(k)}
            return f"{table}: row {n} changed: {changed}"
    return f"{table}: {len(before)} rows before, {len(after)} after"
