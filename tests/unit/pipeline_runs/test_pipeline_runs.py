"""aiops.pipeline_runs: the run summary in the store, its push to a real Pushgateway, and the alert rules
for the pipeline itself checked and unit-tested by a real promtool."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from aiops.dev.promserver import free_port
from aiops.dev.promserver.pushgateway import PushgatewayServer, find_pushgateway
from aiops.metrics.event_store import store_events
from aiops.pipeline_runs import (
    DAG_PARTS,
    PUSHGATEWAY_URL_ENV,
    push_run,
    pushgateway_url,
    run_registry,
    run_summary,
    store_run_summary,
    summary_line,
)
from aiops.pipeline_runs.summary import PART_COLUMNS, PARTS
from aiops.retry import RetryPolicy
from aiops.store import NaiveDatetimeError, Store
from support.paths import REPO_ROOT

ROOT = REPO_ROOT
RULES = ROOT / "include" / "prometheus" / "aiops-alerts.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "aiops-alerts.test.yml"

HOUR_START = datetime(2026, 10, 30, 10, tzinfo=UTC)
HOUR_END = HOUR_START + timedelta(hours=1)
DAY_START = datetime(2026, 10, 30, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


# --- alert rules (promtool) -----------------------------------------------------------------

promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not on PATH (apt-get install prometheus, or make setup)",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@promtool
@pytest.mark.prometheus
def test_alert_rules_pass_promtool_check():
    proc = _promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 8 rules found" in proc.stdout


@promtool
@pytest.mark.prometheus
def test_alert_rules_unit_tests_fire_and_stay_quiet():
    """Each alert fires on its condition and stays quiet otherwise (the cases are in the
    test file: a run 1 h ago, last success 4 h ago, no summary at all, backfills ignored)."""
    proc = _promtool("test", "rules", str(RULE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


# --- the run summary in the store ------------------------------------------------------------


def _series(start, service, signal, points):
    return {
        "interval_start": start, "interval_end": start + H, "service": service,
        "signal": signal, "source": "prometheus", "query": "q", "step_seconds": 60.0,
        "points": points, "expected_points": 60, "gaps": 60 - points,
        "max_gap_seconds": 60.0 * (60 - points), "non_finite": 0,
    }  # fmt: skip


def _frame(start, end, service, signal, stage):
    return {
        "interval_start": start, "interval_end": end, "service": service, "signal": signal,
        "stage": stage, "suite": "metric_frame", "reason": "too many gaps", "points": 3,
    }  # fmt: skip


def _event(service, kind, start, end):
    return {
        "service": service, "signal": "latency_p95", "kind": kind, "start": start, "end": end,
        "severity": "warning", "confidence": 0.9, "direction": "above", "points": 5,
        "peak_score": 6.0, "explanation": "high", "detector": "seasonal", "model_version": "v1",
    }  # fmt: skip


def _prediction(service, metric, generated_at, target_time):
    return {
        "service": service, "metric": metric, "target_time": target_time,
        "generated_at": generated_at, "value": 1.0, "model": "naive", "model_version": "v1",
    }  # fmt: skip


def _predictive_alert(service, generated_at):
    return {
        "service": service, "signal": "memory", "generated_at": generated_at,
        "severity": "warning", "threshold": 1.0, "horizon_seconds": 21600.0,
        "message": "will cross", "model": "naive", "model_version": "v1",
    }  # fmt: skip


def _incident(start, incident_id, status):
    return {
        "interval_start": start, "interval_end": start + H, "incident_id": incident_id,
        "start": start, "end": start + H, "status": status, "severity": "critical",
        "root_service": "redis", "root_signal": "error_ratio", "root_score": 0.9,
        "method": "random_walk", "confidence": 0.8, "services": ["redis"],
        "metric_events": 2, "log_events": 0, "predictive_events": 0, "points": 9,
        "title": "t", "summary": "s", "graph_window": "", "ranking": {}, "events": [],
    }  # fmt: skip


def _finding(source, fingerprint):
    return {
        "interval_start": DAY_START, "interval_end": DAY_END, "source": source,
        "fingerprint": fingerprint, "kind": "n_plus_one", "service": "catalog",
        "operation": "GET /products", "title": "N+1", "ms_per_request": 20.0,
        "requests_affected": 100, "safety": "REQUIRES_APPROVAL", "effort": "small",
        "confidence": 0.9, "finding": {"fingerprint": fingerprint},
    }  # fmt: skip


def _ledger(fingerprint, first, last):
    return {
        "sink": "file:///issues", "repository": "acme/catalog", "fingerprint": fingerprint,
        "url": f"file:///issues/{fingerprint}.md", "state": "open", "kind": "n_plus_one",
        "service": "catalog", "title": "N+1", "first_interval_end": first,
        "last_interval_end": last, "last_write_day": "2026-10-30", "comments": 0,
    }  # fmt: skip


def _llm(day, seq, outcome, tokens_in, tokens_out, cost):
    return {
        "day": day, "run": "narrate [2026-10-30T00:00:00Z, 2026-10-31T00:00:00Z)", "seq": seq,
        "task": "narrate", "model": "claude", "outcome": outcome, "input_tokens": tokens_in,
        "output_tokens": tokens_out, "cost_usd": cost, "detail": "",
    }  # fmt: skip


def _fill(store: Store) -> None:
    """A few rows in every table a summary reads, inside and just outside the intervals."""
    before = HOUR_START - H
    store.upsert("series_summary", [
        _series(HOUR_START, "cart", "request_rate", 60),
        _series(HOUR_START, "cart", "latency_p95", 60),
        _series(HOUR_START, "auth", "error_ratio", 0),
        _series(before, "cart", "request_rate", 60),  # the previous hour
    ])  # fmt: skip
    store.upsert("quarantine", [
        _frame(HOUR_START, HOUR_END, "cart", "latency_p95", "score"),
        _frame(HOUR_START, HOUR_END, "cart", "latency_p95", "predict"),
        _frame(HOUR_START, HOUR_END, "auth", "error_ratio", "score"),
        _frame(before, HOUR_START, "auth", "error_ratio", "score"),  # the previous hour
        _frame(DAY_END - timedelta(days=28), DAY_END, "cart", "memory", "train"),
        _frame(DAY_START - timedelta(days=28), DAY_START, "cart", "memory", "train"),  # night before
    ])  # fmt: skip
    store.upsert("trace_quarantine", [
        {"interval_start": DAY_START, "interval_end": DAY_END, "origin": f"t.json: data[{i}]",
         "trace_id": f"t{i}", "reason": "no_root", "detail": "", "raw": {}}
        for i in range(2)
    ])  # fmt: skip
    store.upsert("log_quarantine", [
        {"interval_start": s, "interval_end": e, "origin": f"cart.log:{i}", "service": "cart",
         "reason": "no timestamp", "raw": "???"}
        for i, (s, e) in enumerate([(HOUR_START, HOUR_END), (DAY_START, DAY_END)])
    ])  # fmt: skip
    # each event as the run that wrote it saw it (store_events stamps the run's end)
    for as_of, events in [
        (
            HOUR_START,
            [_event("redis", "anomaly", HOUR_START - H, HOUR_START)],
        ),  # ended as the hour began
        (
            HOUR_END,
            [
                _event(
                    "cart", "anomaly", HOUR_START - 30 * M, HOUR_START + 15 * M
                ),  # still running
                _event("auth", "anomaly", HOUR_START + 20 * M, HOUR_END),  # began in the hour
                _event("gateway", "no_data", HOUR_START + 40 * M, HOUR_END),
            ],
        ),
        (
            HOUR_END + H,
            [  # the next hour's run: extends auth, finds search
                _event("auth", "anomaly", HOUR_START + 20 * M, HOUR_END + 30 * M),
                _event("search", "anomaly", HOUR_END, HOUR_END + 10 * M),
            ],
        ),
    ]:
        for service in {e["service"] for e in events}:
            store_events(store, service, [e for e in events if e["service"] == service], as_of)
    store.upsert("predictive_alerts", [
        _predictive_alert("cart", HOUR_END),
        _predictive_alert("cart", HOUR_START),  # the previous run's
    ])  # fmt: skip
    store.upsert("predictions", [
        _prediction("cart", "request_rate", HOUR_START - H, HOUR_START - 55 * M),
        _prediction("cart", "request_rate", HOUR_END, HOUR_END + 5 * M),
        _prediction("cart", "request_rate", HOUR_END, HOUR_END + 10 * M),
        _prediction("auth", "request_rate", HOUR_END, HOUR_END + 5 * M),
        _prediction("auth", "request_rate", HOUR_END + H, HOUR_END + H + 5 * M),  # a later run
    ])  # fmt: skip
    store.upsert("incidents", [
        _incident(HOUR_START, "a1", "open"),
        _incident(HOUR_START, "b2", "resolved"),
        _incident(HOUR_START - H, "a1", "open"),  # the previous hour's view
    ])  # fmt: skip
    store.upsert("findings", [_finding("traces", "f1"), _finding("logs", "f2")])
    store.upsert("issue_ledger", [
        _ledger("f1", DAY_END, DAY_END + timedelta(days=1)),  # filed this night, seen since
        _ledger("f0", DAY_START, DAY_END),  # filed the night before, seen this night
    ])  # fmt: skip
    store.upsert("llm_usage", [
        _llm("2026-10-30", 1, "ok", 100, 50, 0.01),
        _llm("2026-10-30", 2, "invalid", 200, 80, 0.02),
        _llm("2026-10-30", 3, "over_budget", 0, 0, 0.0),
        _llm("2026-10-29", 1, "ok", 999, 999, 9.99),  # another day
    ])  # fmt: skip


def test_hourly_summary_counts_the_hours_rows(store: Store):
    _fill(store)
    row = run_summary(store, "aiops_hourly", HOUR_START, HOUR_END)
    assert row["parts"] == list(DAG_PARTS["aiops_hourly"])
    assert (row["series"], row["points"], row["expected_points"]) == (3, 120, 180)
    assert row["quarantined_frames"] == 3  # the score and predict frames of cart, auth's
    assert row["quarantined_series"] == 2
    assert (row["quarantined_traces"], row["quarantined_log_lines"]) == (0, 1)
    assert row["events"] == 2  # running into the hour, and begun in it; not the touching ones
    assert row["events_started"] == 1
    assert row["no_data_events"] == 1
    assert row["predictive_alerts"] == 1
    assert (row["predictions"], row["predicted_series"]) == (3, 2)
    assert row["prediction_newest_at"] == HOUR_END  # a later run's forecast is not "newest"
    assert row["prediction_staleness_seconds"] == 0.0
    assert (row["incidents"], row["open_incidents"]) == (2, 1)
    # parts the hourly DAG does not count are None (NULL), not 0
    for column in ("quarantined_training_frames", "findings", "issues_filed", "llm_calls"):
        assert row[column] is None, column


def test_nightly_summary_counts_the_days_rows(store: Store):
    _fill(store)
    row = run_summary(store, "aiops_nightly", DAY_START, DAY_END)
    assert row["parts"] == list(DAG_PARTS["aiops_nightly"])
    assert row["quarantined_training_frames"] == 1  # the window ending this night only
    assert (row["quarantined_traces"], row["quarantined_log_lines"]) == (2, 1)
    assert row["quarantined_frames"] == 0  # no frame is keyed by the whole day
    assert row["findings"] == 2
    assert row["issues_filed"] == 1  # filed for this night; f0 was filed the night before
    assert row["llm_day"] == "2026-10-30"
    assert (row["llm_calls"], row["llm_over_budget"]) == (2, 1)
    assert (row["llm_input_tokens"], row["llm_output_tokens"]) == (300, 130)
    assert row["llm_cost_usd"] == pytest.approx(0.03)
    assert row["events"] is None and row["series"] is None


def test_ingest_summary_counts_series_only(store: Store):
    _fill(store)
    row = run_summary(store, "aiops_ingest", HOUR_START, HOUR_END)
    assert row["parts"] == ["series"]
    assert row["series"] == 3
    assert all(row[c] is None for p in PARTS if p != "series" for c in PART_COLUMNS[p])


def test_record_run_upserts_one_row_per_interval_and_a_rerun_rewrites_it(store: Store):
    _fill(store)
    first = store_run_summary(store, "aiops_hourly", HOUR_START, HOUR_END)
    stored = store.read("pipeline_runs")
    again = store_run_summary(store, "aiops_hourly", HOUR_START, HOUR_END)
    assert again == first
    assert store.read("pipeline_runs") == stored  # the same key, the same values
    assert store.count("pipeline_runs") == 1
    (row,) = stored
    assert row == {**first, "parts": list(first["parts"])}
    # another DAG and another interval are rows of their own
    store_run_summary(store, "aiops_nightly", DAY_START, DAY_END)
    store_run_summary(store, "aiops_hourly", HOUR_END, HOUR_END + H)
    assert store.count("pipeline_runs") == 3
    # results that change between reruns (a late frame quarantined) replace the row's values
    store.upsert("quarantine", [_frame(HOUR_START, HOUR_END, "search", "memory", "score")])
    store_run_summary(store, "aiops_hourly", HOUR_START, HOUR_END)
    (updated,) = store.read(
        "pipeline_runs", dag_id="aiops_hourly", interval_start=HOUR_START, interval_end=HOUR_END
    )
    assert (updated["quarantined_frames"], updated["quarantined_series"]) == (4, 3)


def test_staleness_is_data_time_and_grows_while_runs_forecast_nothing(store: Store):
    """Only the run ending 11:00 forecast: the runs ending 12:00 and 13:00 report their newest
    forecast 1 h and 2 h old, whatever the wall clock says; with none at all it is None."""
    assert run_summary(store, "aiops_hourly", HOUR_START, HOUR_END)["prediction_newest_at"] is None
    store.upsert("predictions", [_prediction("cart", "request_rate", HOUR_END, HOUR_END + M)])
    ages = [
        run_summary(store, "aiops_hourly", HOUR_START + n * H, HOUR_END + n * H) for n in range(3)
    ]
    assert [a["prediction_staleness_seconds"] for a in ages] == [0.0, 3600.0, 7200.0]
    assert [a["predictions"] for a in ages] == [1, 0, 0]
    assert {a["prediction_newest_at"] for a in ages} == {HOUR_END}
    # an earlier interval (a backfill) never sees the forecast made after it
    earlier = run_summary(store, "aiops_hourly", HOUR_START - H, HOUR_START)
    assert earlier["prediction_newest_at"] is None


def test_summary_refuses_naive_times_unknown_parts_and_empty_intervals(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'aiops.db'}") as store:
        with pytest.raises(NaiveDatetimeError):
            run_summary(store, "aiops_hourly", datetime(2026, 10, 30, 10), HOUR_END)
        with pytest.raises(ValueError, match="unknown part.*known parts: series"):
            run_summary(store, "aiops_hourly", HOUR_START, HOUR_END, parts=["serie"])
        with pytest.raises(ValueError, match="must end after it starts"):
            run_summary(store, "aiops_hourly", HOUR_END, HOUR_START)
        row = run_summary(store, "my_dag", HOUR_START, HOUR_END)  # an unknown DAG: every part
        assert row["parts"] == list(PARTS)
        line = summary_line(row)
        assert line.startswith("my_dag [2026-10-30T10:00:00Z, 2026-10-30T11:00:00Z): series=0")
        assert "llm_day=2026-10-30" in line


# --- the metrics pushed -----------------------------------------------------------------------


def _summary(dag_id: str = "aiops_hourly", **values: Any) -> dict[str, Any]:
    """A run_summary row: every column None, then ``values``."""
    row: dict[str, Any] = {
        "dag_id": dag_id,
        "interval_start": HOUR_START,
        "interval_end": HOUR_END,
        "parts": [],
    }
    row |= {column: None for part in PARTS for column in PART_COLUMNS[part]}
    return row | values


HOURLY = _summary(
    series=60, points=3500, expected_points=3600,
    quarantined_frames=4, quarantined_series=3, quarantined_traces=0, quarantined_log_lines=2,
    events=5, events_started=2, no_data_events=1, predictive_alerts=1,
    predictions=720, predicted_series=60, prediction_newest_at=HOUR_END,
    prediction_staleness_seconds=0.0, incidents=2, open_incidents=1,
)  # fmt: skip
NIGHTLY = _summary(
    "aiops_nightly", interval_start=DAY_START, interval_end=DAY_END,
    quarantined_training_frames=1, findings=7, issues_filed=2, llm_day="2026-10-30",
    llm_calls=12, llm_over_budget=1, llm_input_tokens=30000, llm_output_tokens=4000,
    llm_cost_usd=0.42,
)  # fmt: skip
FINISHED = 1_793_000_000.0  # the wall clock the tests' runs finish at


def _samples(registry_or_text) -> dict[tuple[str, frozenset], float]:
    """{(metric, labels without empty values): value} of the aiops families."""
    if isinstance(registry_or_text, str):
        families = text_string_to_metric_families(registry_or_text)
    else:
        families = registry_or_text.collect()
    out = {}
    for family in families:
        for sample in family.samples:
            if sample.name.startswith("aiops_"):
                labels = frozenset((k, v) for k, v in sample.labels.items() if v != "")
                out[sample.name, labels] = sample.value
    return out


def _label(**labels: str) -> frozenset:
    return frozenset(labels.items())


def test_run_registry_holds_gauges_named_by_prometheus_conventions():
    registry = run_registry(HOURLY, finished_at=FINISHED, started_at=FINISHED - 95)
    families = {f.name: f for f in registry.collect()}
    assert all(f.type == "gauge" for f in families.values())
    assert not [name for name in families if name.endswith("_total")]  # gauges, not counters
    seconds = [n for n in families if "timestamp" in n or "duration" in n or "staleness" in n]
    assert seconds and all(n.endswith("_seconds") for n in seconds)
    got = _samples(registry)
    assert got["aiops_run_last_success_timestamp_seconds", _label()] == FINISHED
    assert got["aiops_run_duration_seconds", _label()] == 95.0
    assert got["aiops_run_interval_end_timestamp_seconds", _label()] == HOUR_END.timestamp()
    assert got["aiops_run_quarantined", _label(kind="frames")] == 4
    assert got["aiops_run_events", _label(kind="no_data")] == 1
    # parts the summary did not count are not pushed at all (no misleading zeros)
    assert not [name for name, _ in got if name.startswith("aiops_llm")]
    assert ("aiops_run_quarantined", _label(kind="training_frames")) not in got
    # the budget comes with the LLM figures only
    nightly = _samples(run_registry(NIGHTLY, finished_at=FINISHED, llm_budget_usd=5.0))
    assert nightly["aiops_llm_budget_usd", _label()] == 5.0
    assert nightly["aiops_llm_tokens", _label(direction="output")] == 4000
    assert "aiops_llm_budget_usd" not in {
        n for n, _ in _samples(run_registry(HOURLY, finished_at=FINISHED, llm_budget_usd=5.0))
    }


def test_pushgateway_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(PUSHGATEWAY_URL_ENV, " http://pushgateway:9091 ")
    assert pushgateway_url() == "http://pushgateway:9091"
    monkeypatch.setenv(PUSHGATEWAY_URL_ENV, "")
    assert pushgateway_url() is None
    monkeypatch.delenv(PUSHGATEWAY_URL_ENV)
    assert pushgateway_url() is None
    outcome = push_run(pushgateway_url(), HOURLY)
    assert (outcome.status, outcome.ok) == ("skipped", True)
    assert PUSHGATEWAY_URL_ENV in outcome.line()


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory):
    """A real Pushgateway (Debian's prometheus-pushgateway) on a loopback port."""
    if find_pushgateway() is None:
        pytest.skip(
            "prometheus-pushgateway not on PATH (apt-get install -y prometheus-pushgateway)"
        )
    log = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with PushgatewayServer(log_path=log) as server:
        yield server


def _gateway(server: PushgatewayServer) -> dict[tuple[str, frozenset], float]:
    response = requests.get(f"{server.url}/metrics", timeout=10)
    response.raise_for_status()
    return _samples(response.text)


def _group(samples, **key: str) -> dict[tuple[str, frozenset], float]:
    """The samples of one Pushgateway group, keyed without the group's labels."""
    group = _label(job="aiops", **key)
    return {
        (name, labels - group): value
        for (name, labels), value in samples.items()
        if labels >= group and {k for k, _ in labels - group} & {"dag", "run_type"} == set()
    }


def test_push_lands_in_the_dags_group_with_its_values(pushgateway):
    outcome = push_run(pushgateway.url, HOURLY, clock=lambda: FINISHED, started_at=FINISHED - 95)
    assert outcome.status == "pushed", outcome.line()
    assert outcome.url == f"{pushgateway.url}/metrics/job/aiops/dag/aiops_hourly"
    assert outcome.attempts == 1
    got = _group(_gateway(pushgateway), dag="aiops_hourly")
    assert got == _samples(
        run_registry(HOURLY, finished_at=FINISHED, started_at=FINISHED - 95)
    )  # every gauge, as built
    assert got["aiops_run_series", _label()] == 60
    assert got["aiops_run_quarantined_series", _label()] == 3
    assert got["aiops_run_quarantined", _label(kind="log_lines")] == 2
    assert got["aiops_predictions_staleness_seconds", _label()] == 0.0
    assert got["aiops_run_last_success_timestamp_seconds", _label()] == FINISHED
    assert got["aiops_run_interval_end_timestamp_seconds", _label()] == HOUR_END.timestamp()
    assert outcome.samples == len(got)


def test_a_second_push_of_the_dag_replaces_its_group_and_leaves_others(pushgateway):
    push_run(pushgateway.url, NIGHTLY, clock=lambda: FINISHED, llm_budget_usd=5.0)
    push_run(pushgateway.url, HOURLY, clock=lambda: FINISHED)
    push_run(pushgateway.url, HOURLY, clock=lambda: FINISHED - 3600, backfill=True)
    # the next hour: no forecast at all (staleness not pushed), other counts
    later = _summary(
        interval_start=HOUR_END, interval_end=HOUR_END + H, series=58, events=1,
        no_data_events=0, quarantined_frames=0, quarantined_series=0,
    )  # fmt: skip
    outcome = push_run(pushgateway.url, later, clock=lambda: FINISHED + 3600)
    assert outcome.ok
    samples = _gateway(pushgateway)
    hourly = _group(samples, dag="aiops_hourly")
    assert hourly == _samples(run_registry(later, finished_at=FINISHED + 3600))  # nothing stale
    assert ("aiops_predictions_staleness_seconds", _label()) not in hourly
    assert ("aiops_run_quarantined", _label(kind="log_lines")) not in hourly
    assert hourly["aiops_run_series", _label()] == 58
    assert hourly["aiops_run_last_success_timestamp_seconds", _label()] == FINISHED + 3600
    # the nightly group and the hourly backfill group are untouched
    nightly = _group(samples, dag="aiops_nightly")
    assert nightly["aiops_llm_cost_usd", _label()] == 0.42
    assert nightly["aiops_llm_budget_usd", _label()] == 5.0
    backfill = _group(samples, dag="aiops_hourly", run_type="backfill")
    assert backfill["aiops_run_series", _label()] == 60
    assert backfill["aiops_run_last_success_timestamp_seconds", _label()] == FINISHED - 3600


def test_a_push_to_a_closed_port_fails_after_bounded_retries_without_raising():
    url = f"http://user:hunter2@127.0.0.1:{free_port()}"
    waits: list[float] = []
    outcome = push_run(url, HOURLY, sleep=waits.append, timeout=2.0)
    assert (outcome.status, outcome.ok) == ("failed", False)
    assert outcome.attempts == 3
    assert waits == [1.0, 2.0]  # the default policy's backoff
    shown = url.replace("user:hunter2@", "")
    assert f"Pushgateway {shown}/metrics/job/aiops/dag/aiops_hourly" in outcome.detail
    assert "ConnectionError" in outcome.detail
    assert "hunter2" not in outcome.detail + outcome.line() + outcome.url
    assert outcome.line().startswith("metrics push failed after 3 attempt(s): Pushgateway ")


def test_a_push_the_gateway_refuses_is_not_retried(pushgateway):
    """A 4xx (here: a URL path the Pushgateway does not serve) is reported at once."""
    waits: list[float] = []
    outcome = push_run(
        f"{pushgateway.url}/no/such/prefix",
        HOURLY,
        sleep=waits.append,
        policy=RetryPolicy(attempts=3, backoff=0.0),
    )
    assert outcome.status == "failed"
    assert (outcome.attempts, waits) == (1, [])
    assert "HTTP 404" in outcome.detail
    assert f"{pushgateway.url}/no/such/prefix/metrics/job/aiops/dag/aiops_hourly" in outcome.detail
