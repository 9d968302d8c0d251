"""The hourly ingest DAG, run by a real Airflow (`airflow dags test`) against a real Prometheus."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from aiops.dev.local_airflow import run_airflow
from aiops.store import Store

pytestmark = [pytest.mark.airflow]


def _json_output(stdout: str):
    """The airflow CLI may print warnings before its JSON; the JSON is the last line."""
    return json.loads(stdout.strip().splitlines()[-1])


def _dags_test(env: dict[str, str], logical_date: str, log: Path) -> None:
    proc = run_airflow(["dags", "test", "aiops_ingest", logical_date], env, log)
    assert proc.returncode == 0, log.read_text()[-4000:]


def test_dag_folder_has_no_import_errors(airflow_home: dict[str, str], tmp_path: Path) -> None:
    proc = run_airflow(
        ["dags", "list-import-errors", "--local", "-o", "json"],
        airflow_home,
        tmp_path / "errors.log",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _json_output(proc.stdout) == []
    proc = run_airflow(
        ["dags", "list", "--local", "-o", "json"], airflow_home, tmp_path / "list.log"
    )
    assert "aiops_ingest" in {d["dag_id"] for d in _json_output(proc.stdout)}


@pytest.mark.prometheus
def test_hourly_run_stores_every_series_for_its_interval_and_reruns_change_nothing(
    airflow_home: dict[str, str], prometheus_url: str, world_config, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": prometheus_url,
        "AIOPS_STORE_URL": store_url,
    }
    # An interval three weeks before today's wall clock: the DAG must take time from the
    # data interval (Airflow 3: the logical date of a data-interval run is the interval's end).
    end = world_config.end - timedelta(days=2, hours=10)
    start = end - timedelta(hours=1)

    _dags_test(env, end.isoformat(), tmp_path / "first.log")
    with Store.open(store_url) as store:
        first = store.read("series_summary")
    assert len(first) == 12 * 5
    assert {(r["interval_start"], r["interval_end"]) for r in first} == {(start, end)}
    assert {r["source"] for r in first} == {"prometheus"}
    assert all(r["points"] == 60 and r["gaps"] == 0 for r in first)

    _dags_test(env, end.isoformat(), tmp_path / "second.log")
    with Store.open(store_url) as store:
        assert store.read("series_summary") == first


def test_without_prometheus_the_file_backed_source_fills_the_same_rows(
    airflow_home: dict[str, str], demo_world, world_config, tmp_path: Path
) -> None:
    """The fallback `make demo` uses on a machine without the prometheus binary."""
    world_dir, _ = demo_world
    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    env = {
        **airflow_home,
        "AIOPS_METRICS_FILE": str(world_dir / "signals.csv.gz"),
        "AIOPS_STORE_URL": store_url,
    }
    end = world_config.end
    _dags_test(env, end.isoformat(), tmp_path / "file.log")
    with Store.open(store_url) as store:
        rows = store.read("series_summary")
    assert len(rows) == 60
    assert {r["source"] for r in rows} == {"signals-file"}
    assert all(r["points"] == 60 for r in rows)
