"""Session fixtures: the demo world, a real Prometheus serving it, and a throwaway Airflow.

Each is built once per test run; tests that need a missing binary skip with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url

from aiops.devcluster import scratch_pg_database
from aiops.devenv import airflow_env, run_airflow
from aiops.store import Store

# the compose files as fixtures (compose, services, env_example, rendered) for every
# test_compose* module
pytest_plugins = ["compose_support"]

PG_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def world_config():
    from aiops.sim.world import WorldConfig

    return WorldConfig()


@pytest.fixture(scope="session")
def demo_world(
    tmp_path_factory: pytest.TempPathFactory, world_config
) -> tuple[Path, dict[str, Any]]:
    """The full default world (30 days, 12 services), as `make demo` builds it."""
    from aiops.sim.world import build_world

    out = tmp_path_factory.mktemp("world")
    return out, build_world(world_config, out)


@pytest.fixture(scope="session")
def prometheus_url(
    tmp_path_factory: pytest.TempPathFactory, demo_world: tuple[Path, dict[str, Any]]
) -> Iterator[str]:
    """A real Prometheus on loopback with the demo world's history backfilled."""
    from aiops import promserver

    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip(
            "prometheus/promtool not installed (make setup or .ci/run installs Debian's prometheus)"
        )
    world_dir, _ = demo_world
    tsdb = tmp_path_factory.mktemp("tsdb")
    promserver.backfill(world_dir / "metrics.om", tsdb)
    server = promserver.PrometheusServer(tsdb, log_path=tsdb.parent / "prometheus.log").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated Airflow metadata DB of our own (never the developer's .airflow/)."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **airflow_env(home=home),
        "AIOPS_TASK_RETRIES": "0",  # fail fast, no retry waits
        "AIOPS_HOME": str(home / "out"),  # graphs and dry-run issues, never the repo's out/
        "GITHUB_TOKEN": "",  # a developer's token must never make a test file real issues
    }
    proc = run_airflow(["db", "migrate"], env, home / "migrate.log")
    assert proc.returncode == 0, (home / "migrate.log").read_text()[-3000:]
    for pool in ("aiops_prometheus", "aiops_jaeger"):
        proc = run_airflow(["pools", "set", pool, "4", "caps concurrent queries"], env,
                           home / "pools.log")  # fmt: skip
        assert proc.returncode == 0, (home / "pools.log").read_text()[-3000:]
    return env


# --- results-store backends (SQLite and PostgreSQL) ------------------------------------------------------------------------------


@contextmanager
def fresh_pg_database(prefix: str = "aiops_test") -> Iterator[str]:
    """A new PostgreSQL database's URL (psycopg2), dropped afterwards; skips the test with
    the reason when the server is not reachable."""
    server_url = os.environ.get("AIOPS_TEST_PG_URL") or PG_SERVER_URL
    admin = create_engine(server_url, connect_args={"connect_timeout": 5})
    try:
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        shown = make_url(server_url).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL not reachable at {shown}: {exc}")
    finally:
        admin.dispose()
    with scratch_pg_database(server_url, prefix) as url:
        yield url


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


def _drop_everything(url: str) -> None:
    """Empty the shared PostgreSQL database so the next test starts from a fresh store."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            reflected = MetaData()
            reflected.reflect(conn)
            reflected.drop_all(conn)
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty results database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'aiops.db'}"
        return
    url = request.getfixturevalue("pg_database_url")
    _drop_everything(url)
    yield url
    _drop_everything(url)


@pytest.fixture
def store(store_url: str) -> Store:
    with Store.open(store_url) as opened:
        yield opened


def hourly_snapshots(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The event as each hourly run it overlaps wrote it: cut at the run's end, its points
    in proportion (what `store_events` stores, hour by hour)."""
    out, hour_end = [], row["start"].replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while True:
        end = min(row["end"], hour_end)
        points = round(row["points"] * ((end - row["start"]) / (row["end"] - row["start"])))
        out.append({**row, "end": end, "points": points, "as_of": hour_end})
        if end == row["end"]:
            return out
        hour_end += timedelta(hours=1)


def store_as_hourly_runs(store: Store, *events: dict[str, Any]) -> None:
    """Events stored as the hourly runs that saw them would have: a snapshot per run, the
    newest view from the last."""
    for event in events:
        snapshots = hourly_snapshots(event)
        store.upsert("anomaly_event_snapshots", snapshots)
        store.upsert("anomaly_events", snapshots[-1:], newer="as_of")
