"""Session fixtures: the demo world, a real Prometheus serving it, and a throwaway Airflow.

Each is built once per test run; tests that need a missing binary skip with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine

from aiops.dev.local_airflow import airflow_env, run_airflow
from aiops.store import Store
from support.shared import built_once
from support.stores import fresh_pg_database

# the compose files as fixtures (compose, services, env_example, rendered) for every
# test_compose* module
pytest_plugins = ["support.compose_support"]


@pytest.fixture(scope="session")
def world_config():
    from aiops.dev.sim.world import WorldConfig

    return WorldConfig()


@pytest.fixture(scope="session")
def demo_world(
    tmp_path_factory: pytest.TempPathFactory, world_config
) -> tuple[Path, dict[str, Any]]:
    """The full default world (30 days, 12 services), as `make demo` builds it: once per run,
    shared by the xdist workers (read-only)."""
    from aiops.dev.sim.world import build_world, load_manifest

    out = built_once(tmp_path_factory, "world", lambda folder: build_world(world_config, folder))
    return out, load_manifest(out)


@pytest.fixture(scope="session")
def prometheus_url(
    tmp_path_factory: pytest.TempPathFactory, demo_world: tuple[Path, dict[str, Any]]
) -> Iterator[str]:
    """A real Prometheus on loopback with the demo world's history backfilled."""
    from aiops.dev import promserver

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
