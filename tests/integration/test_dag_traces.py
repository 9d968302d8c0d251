"""The nightly trace analysis through a real Airflow, reading a loopback Jaeger query API over
the production HTTP client (connection `jaeger_default`), storing the day's results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.dev.local_airflow import run_airflow
from aiops.store import Store
from fakes.jaeger_server import FakeJaeger

pytestmark = pytest.mark.airflow

DAY = datetime(2026, 10, 30, tzinfo=UTC)


def _entry_start(trace: dict) -> int:
    return min(s["startTime"] for s in trace["spans"])


@pytest.fixture(scope="module")
def world_traces(demo_world):
    world_dir, manifest = demo_world
    traces = []
    for path in sorted((world_dir / "traces").glob("*.json")):
        traces += json.loads(path.read_text())["data"]
    return traces, manifest


def _run(env: dict, log) -> None:
    # `tasks test` runs the one task of the nightly for the interval ending at the given date
    proc = run_airflow(
        ["tasks", "test", "aiops_nightly", "analyze_traces", (DAY + timedelta(days=1)).isoformat()],
        env,
        log,
    )
    # `airflow tasks test` exits 0 even when the task fails: read the log too
    assert proc.returncode == 0 and "Task failed" not in log.read_text(), log.read_text()[-4000:]


def _results(url: str) -> dict[str, list]:
    window = {"interval_start": DAY, "interval_end": DAY + timedelta(days=1)}
    with Store.open(url) as store:
        return {
            table: store.read(table, **window)
            for table in ("trace_runs", "dependency_edges", "findings", "trace_quarantine")
        }


def test_nightly_analyses_the_days_traces_from_jaeger_and_reruns_identically(
    airflow_home, world_traces, tmp_path
) -> None:
    traces, manifest = world_traces
    lo, hi = (round(t.timestamp() * 1e6) for t in (DAY, DAY + timedelta(days=1)))
    in_day = sum(1 for t in traces if lo <= _entry_start(t) < hi)
    with FakeJaeger(traces) as jaeger:
        host, port = jaeger.url.removeprefix("http://").split(":")
        conn = {"conn_type": "http", "host": host, "port": int(port),
                "extra": {"page_limit": 300, "ui_url": "http://jaeger.example"}}  # fmt: skip
        env = {
            **airflow_home,
            "AIRFLOW_CONN_JAEGER_DEFAULT": json.dumps(conn),
            "AIOPS_STORE_URL": f"sqlite:///{tmp_path / 'results.db'}",
        }
        env.pop("AIOPS_TRACES_DIR", None)
        _run(env, tmp_path / "first.log")
        searches = jaeger.searches()
    first = _results(env["AIOPS_STORE_URL"])

    (run,) = first["trace_runs"]
    assert run["traces"] == in_day  # every trace that started in the day, once
    assert run["source"].startswith("JaegerClient(")
    # each service was searched, and full pages (300 of a day's ~960) were split
    assert {s.param("service") for s in searches} >= {"gateway", "checkout", "payment"}
    assert any(s.returned == 300 for s in searches)
    assert all(s.returned < 300 for s in searches if s.param("service") == "payment")

    kinds = {(f["kind"], f["service"], f["operation"]) for f in first["findings"]}
    assert ("n_plus_one", "catalog", "GET /products") in kinds
    assert ("sequential_calls", "checkout", "POST /checkout") in kinds
    n1 = next(f["finding"] for f in first["findings"] if f["kind"] == "n_plus_one")
    assert n1["evidence"]["links"][0].startswith("http://jaeger.example/trace/")
    edges = {(e["parent"], e["child"]) for e in first["dependency_edges"]}
    assert {("gateway", "auth"), ("catalog", "postgres"), ("checkout", "order-worker")} <= edges
    assert first["trace_quarantine"] == []

    with FakeJaeger(traces) as jaeger:
        host, port = jaeger.url.removeprefix("http://").split(":")
        conn["port"] = int(port)
        env["AIRFLOW_CONN_JAEGER_DEFAULT"] = json.dumps(conn)
        _run(env, tmp_path / "second.log")
    again = _results(env["AIOPS_STORE_URL"])
    # the same rows, but for the source's name: the second fake Jaeger listens on another port
    assert again == {**first, "trace_runs": again["trace_runs"]}
    (rerun,) = again["trace_runs"]
    assert {**rerun, "source": run["source"]} == run


def test_nightly_trace_task_fails_naming_jaeger_when_it_is_down(airflow_home, tmp_path) -> None:
    env = {
        **airflow_home,
        "AIRFLOW_CONN_JAEGER_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": 9,
                "extra": {"attempts": 2, "backoff": 0.01, "timeout": 1},
            }  # fmt: skip
        ),
        "AIOPS_STORE_URL": f"sqlite:///{tmp_path / 'results.db'}",
    }
    log = tmp_path / "down.log"
    run_airflow(
        ["tasks", "test", "aiops_nightly", "analyze_traces", (DAY + timedelta(days=1)).isoformat()],
        env,
        log,
    )
    text = log.read_text()
    assert "Task failed with exception" in text  # `tasks test` exits 0 regardless
    assert (
        "JaegerUnavailable: http://127.0.0.1:9/api/services: Jaeger unavailable after 2 attempt(s)"
        in text
    )
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        assert store.read("trace_runs") == []  # nothing half-written
