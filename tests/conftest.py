"""Session fixtures: the demo world, a real Prometheus serving it, and a throwaway Airflow.

Each is built once per test run; tests that need a missing binary skip with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiops.devenv import airflow_env, run_airflow


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
    env = {**airflow_env(home=home), "AIOPS_TASK_RETRIES": "0"}  # fail fast, no retry waits
    proc = run_airflow(["db", "migrate"], env, home / "migrate.log")
    assert proc.returncode == 0, (home / "migrate.log").read_text()[-3000:]
    for pool in ("aiops_prometheus", "aiops_jaeger"):
        proc = run_airflow(["pools", "set", pool, "4", "caps concurrent queries"], env,
                           home / "pools.log")  # fmt: skip
        assert proc.returncode == 0, (home / "pools.log").read_text()[-3000:]
    return env
