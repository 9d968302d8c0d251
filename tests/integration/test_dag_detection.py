"""Nightly training and hourly scoring and forecasting through a real Airflow (`airflow dags test`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from aiops.catalog import load_catalog
from aiops.dev.local_airflow import PROJECT_ROOT
from aiops.metrics import score_frame
from aiops.model_registry import ModelRegistry
from aiops.store import Store
from support.airflow_runs import dags_test

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def detection_env(trained_night, tmp_path_factory):
    """The shared night's models and store, copied for this module's runs."""
    tmp = tmp_path_factory.mktemp("detection")
    return trained_night.copy_to(tmp), tmp, trained_night.regression_start


def test_hourly_run_files_the_regression_once_and_reruns_change_nothing(detection_env) -> None:
    env, tmp, began = detection_env
    hour_end = began.replace(minute=0) + timedelta(hours=1)
    dags_test(env, "aiops_hourly", hour_end, tmp / "hourly-1.log")
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
    assert [item["template"] for item in silent] == ["warmed <*> entries in <*>"]
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

    # the hour's events became incidents; the world has no traces before this day, so
    # there is no dependency map: grouped by time, ranked by onset, and it says so
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        incidents = store.read("incidents")
    key = f"metric|catalog|latency_p95|anomaly|{catalog[0]['start'].isoformat()}"
    (regression,) = [r for r in incidents if key in {e["key"] for e in r["events"]}]
    assert regression["interval_end"] == hour_end and regression["graph_window"] == ""
    assert regression["method"] == "onset_order"
    assert regression["ranking"]["note"].startswith("no dependency map was available")
    assert len({e["key"] for r in incidents for e in r["events"]}) >= len(incidents)

    # the offline entry point, on the same data and models, gives the DAG's events
    world = pd.read_csv(env["AIOPS_METRICS_FILE"], index_col="timestamp")
    world.index = pd.to_datetime(world.index, utc=True)
    offline = score_frame(world, load_catalog(), hour_end - timedelta(hours=1), hour_end,
                          registry=ModelRegistry(env["AIOPS_MODELS"]))  # fmt: skip
    assert offline == [{k: v for k, v in e.items() if k not in ("as_of", "context")}
                       for e in first]  # fmt: skip

    dags_test(env, "aiops_hourly", hour_end, tmp / "hourly-2.log")
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        assert store.read("log_anomalies") == log_rows
        assert store.read("log_template_counts") == counts
        assert store.read("anomaly_events") == first
        assert store.read("predictions") == predictions
        assert store.read("predictive_alerts") == alerts
        assert store.read("incidents") == incidents


def test_the_planted_cascade_is_one_incident_rooted_at_redis_and_filed_that_night(
    detection_env, demo_world
) -> None:
    """The night before maps the day's traces (training skipped, as the demo does); the
    cascade's hour then groups redis and its callers into one incident, redis first; the
    next night turns it into a finding for redis's owner and counts the day's volume."""
    from aiops.dev.demo.run import MAP_ONLY

    env, tmp, _ = detection_env
    cascade = next(i for i in demo_world[1]["incidents"] if i["kind"] == "cascading_failure")
    began = datetime.fromisoformat(cascade["start"])
    midnight = began.replace(hour=0, minute=0)
    dags_test(env, "aiops_nightly", midnight, tmp / "map-night.log", skip=MAP_ONLY)
    hour_end = began.replace(minute=0) + timedelta(hours=1)
    dags_test(env, "aiops_hourly", hour_end, tmp / "cascade.log")
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        rows = store.read("incidents", interval_end=hour_end)
    (incident,) = [r for r in rows if "redis" in r["services"]]
    assert incident["graph_window"] == f"traces of {midnight - timedelta(days=1):%Y-%m-%d}"
    assert incident["method"] == "random_walk" and incident["root_service"] == "redis"
    symptoms = set(incident["services"]) - {"redis"}
    assert set(cascade["details"]["symptoms"]) <= symptoms
    chain = incident["ranking"]["chain"]
    assert chain[0]["service"] == "redis"
    # every planted symptom is explained: reached from redis up through its callers
    assert set(cascade["details"]["symptoms"]) <= {link["service"] for link in chain}

    night_end = midnight + timedelta(days=1)
    dags_test(env, "aiops_nightly", night_end, tmp / "next-night.log",
               skip="^train_shard$|^report$")  # fmt: skip
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        found = store.read("findings", interval_end=night_end, source="incidents")
        (volume,) = store.read("alert_volume", interval_end=night_end)
    (finding,) = [
        f["finding"] for f in found if f["finding"]["key"]["incident_id"] == incident["incident_id"]
    ]
    assert finding["service"] == "redis" and finding["kind"] == "incident"
    assert finding["evidence"]["numbers"]["candidate_1"].startswith("redis: score")
    assert volume["points"] >= volume["events"] >= volume["incidents"] >= 1


def test_prometheus_down_mid_run_retries_then_fails_naming_the_url(detection_env) -> None:
    env, tmp, began = detection_env
    down = {
        **env,
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": "http://127.0.0.1:9",
        "AIOPS_TASK_RETRIES": "1",
    }
    down.pop("AIOPS_METRICS_FILE")
    log = tmp / "down.log"
    proc = dags_test(
        down, "aiops_hourly", began.replace(minute=0) + timedelta(hours=2), log, expect_ok=False
    )
    assert proc.returncode != 0
    text = log.read_text()
    final = 'http://127.0.0.1:9/api/v1/query_range: Prometheus unavailable after 3 attempt(s) for query \'sum(rate(http_requests_total{service="gateway"}'
    # the client's bounded retries (3 attempts) inside each of the task's two tries
    # (retries=1), in both mapped tasks that read the first shard (scoring and forecasting)
    assert text.count(final) == 4, text[-3000:]


def test_a_failed_shard_loses_nothing_of_the_others(detection_env, prometheus_url) -> None:
    """One service's query forgets its `sum()` (two series come back): its shard fails naming
    the query, every other shard's forecasts are stored, correlation still runs, and the
    run records no summary (so `AiopsHourlyRunMissing` sees it)."""
    env, tmp, began = detection_env
    text = (PROJECT_ROOT / "include" / "catalog.yaml").read_text()
    owner = "  search:\n    owner: acme-shop/search\n"
    query = 'rate(http_requests_total{service="search"}[5m])'  # two series: code 200, 500
    broken = f"    signals:\n      request_rate: {{query: '{query}', unit: req/s}}\n"
    assert owner in text
    (tmp / "broken-catalog.yaml").write_text(text.replace(owner, owner + broken))
    catalog = load_catalog(tmp / "broken-catalog.yaml")
    (failing,) = [shard for shard in catalog.shards(4) if "search" in shard]
    env = {
        **env,
        "AIOPS_CATALOG": str(tmp / "broken-catalog.yaml"),
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": prometheus_url,
        "AIOPS_STORE_URL": f"sqlite:///{tmp / 'failed-shard.db'}",
        "AIOPS_SHARD_SIZE": "4",
    }
    env.pop("AIOPS_METRICS_FILE")
    hour_end = began.replace(minute=0) + timedelta(hours=1)
    log = tmp / "failed-shard.log"
    proc = dags_test(env, "aiops_hourly", hour_end, log, expect_ok=False)

    assert proc.returncode != 0
    text = log.read_text()
    assert "query for search/request_rate returned 2 series" in text, text[-3000:]
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        predicted = {r["service"] for r in store.read("predictions", generated_at=hour_end)}
        runs = store.read("pipeline_runs")
        window = {"interval_start": hour_end - timedelta(hours=1), "interval_end": hour_end}
        incidents = store.read("incidents", **window)
    # a shard stores service by service: only search and the services after it are lost
    lost = set(failing[failing.index("search") :])
    assert predicted == set(catalog.service_names) - lost
    assert runs == []  # record_run needs every task: the hour counts as not done
    # correlation ran on what was stored: catalog's regression (scored before search failed,
    # in the same shard) is an incident
    catalog_incident = [i for i in incidents if i["root_service"] == "catalog"]
    assert catalog_incident and catalog_incident[0]["metric_events"] >= 1
