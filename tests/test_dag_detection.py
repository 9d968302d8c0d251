"""Nightly training and hourly scoring and forecasting through a real Airflow (`airflow dags test`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from aiops.devenv import run_airflow
from aiops.store import Store

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def detection_env(airflow_home, demo_world, tmp_path_factory):
    world_dir, manifest = demo_world
    tmp = tmp_path_factory.mktemp("detection")
    env = {
        **airflow_home,
        "AIOPS_METRICS_FILE": str(world_dir / "signals.csv.gz"),
        "AIOPS_TRACES_DIR": str(world_dir / "traces"),
        "AIOPS_LOGS_DIR": str(world_dir / "logs"),
        "AIOPS_STORE_URL": f"sqlite:///{tmp / 'results.db'}",
        "AIOPS_MODELS": str(tmp / "models"),
        "AIOPS_RETRY_DELAY_SECONDS": "1",
    }
    regression = next(i for i in manifest["incidents"] if i["kind"] == "latency_regression")
    began = datetime.fromisoformat(regression["start"])
    night = began.replace(hour=0, minute=0)
    _dags_test(env, "aiops_nightly", night, tmp / "nightly.log")
    return env, tmp, began


def _dags_test(env, dag_id: str, logical_date: datetime, log: Path, expect_ok: bool = True):
    proc = run_airflow(["dags", "test", dag_id, logical_date.isoformat()], env, log)
    if expect_ok:
        assert proc.returncode == 0, log.read_text()[-4000:]
    return proc


def test_hourly_run_files_the_regression_once_and_reruns_change_nothing(detection_env) -> None:
    env, tmp, began = detection_env
    hour_end = began.replace(minute=0) + timedelta(hours=1)
    _dags_test(env, "aiops_hourly", hour_end, tmp / "hourly-1.log")
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        first = store.read("anomaly_events")
    catalog = [e for e in first if e["service"] == "catalog" and e["signal"] == "latency_p95"]
    assert len(catalog) == 1 and abs(catalog[0]["start"] - began) <= timedelta(minutes=10)
    assert "robust sigma above" in catalog[0]["explanation"]
    # the logs of the same hour ride along: catalog 2.0.0's start-up line and the cache
    # error it brought are new templates, and the cache warm-up they replace went quiet
    logs = catalog[0]["context"]["logs"]
    new = [item["template"] for item in logs if item["kind"] == "new_template"]
    assert any(t.startswith("warm-up aborted: cache rejected entry") for t in new), logs
    assert any(t.startswith("starting catalog version") for t in new), logs
    assert logs[0]["kind"] == "new_template" and logs[0]["level"] == "ERROR"
    silent = [item for item in logs if item["kind"] == "silence"]
    assert [item["template"] for item in silent] == ["warmed <*> entries in <*>ms"]
    assert all("@" not in sample for item in logs for sample in item["samples"])

    with Store.open(env["AIOPS_STORE_URL"]) as store:
        predictions = store.read("predictions")
        alerts = store.read("predictive_alerts")
    # the same hour forecast every signal of every service from the interval's end
    assert {r["generated_at"] for r in predictions} == {hour_end}
    assert len({(r["service"], r["metric"]) for r in predictions}) == 12 * 5
    assert min(r["target_time"] for r in predictions) == hour_end + timedelta(minutes=5)
    assert max(r["target_time"] for r in predictions) == hour_end + timedelta(hours=6)
    search = [r for r in predictions if r["service"] == "search"]
    assert {r["metric"] for r in search if r["desired_replicas"] is not None} == {"request_rate"}
    assert all(2 <= r["desired_replicas"] <= 16 for r in search if r["desired_replicas"])

    with Store.open(env["AIOPS_STORE_URL"]) as store:
        log_rows = store.read("log_anomalies")
        counts = store.read("log_template_counts")
    assert {r["interval_end"] for r in log_rows} == {hour_end}

    _dags_test(env, "aiops_hourly", hour_end, tmp / "hourly-2.log")
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        assert store.read("log_anomalies") == log_rows
        assert store.read("log_template_counts") == counts
        assert store.read("anomaly_events") == first
        assert store.read("predictions") == predictions
        assert store.read("predictive_alerts") == alerts


def test_prometheus_down_mid_run_retries_then_fails_naming_the_url(detection_env) -> None:
    env, tmp, began = detection_env
    down = {
        **env,
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": "http://127.0.0.1:9",
        "AIOPS_TASK_RETRIES": "1",
    }
    down.pop("AIOPS_METRICS_FILE")
    log = tmp / "down.log"
    proc = _dags_test(
        down, "aiops_hourly", began.replace(minute=0) + timedelta(hours=2), log, expect_ok=False
    )
    assert proc.returncode != 0
    text = log.read_text()
    final = 'http://127.0.0.1:9/api/v1/query_range: Prometheus unavailable after 3 attempt(s) for query \'sum(rate(http_requests_total{service="gateway"}'
    # the client's bounded retries (3 attempts) inside each of the task's two tries
    # (retries=1), in both mapped tasks that read the first shard (scoring and forecasting)
    assert text.count(final) == 4, text[-3000:]
