"""The DAGs run with Prometheus alone: a trace or log task whose integration is not configured
is skipped with the reason (not failed and retried), the tasks after it still run, and the
run summary says what was not configured."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from aiops.airflow import tasks
from aiops.airflow.hooks import (
    github_not_configured,
    integrations_not_configured,
    llm_not_configured,
    logs_not_configured,
    traces_not_configured,
)
from support.paths import REPO_ROOT

START = datetime(2026, 10, 30, tzinfo=UTC)
END = START + timedelta(days=1)
OPTIONAL_ENV = (
    "AIRFLOW_CONN_JAEGER_DEFAULT", "AIOPS_TRACES_DIR",
    "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", "AIOPS_LOGS_DIR",
    "AIRFLOW_CONN_GITHUB_DEFAULT", "GITHUB_TOKEN",
    "AIRFLOW_CONN_ANTHROPIC_DEFAULT", "ANTHROPIC_API_KEY",
    "AIRFLOW_CONN_AIOPS_STORE", "AIOPS_PUSHGATEWAY_URL",
)  # fmt: skip


@pytest.fixture
def prometheus_only(monkeypatch, tmp_path):
    """Only `prometheus_default` is defined; the store is an empty SQLite file."""
    for name in OPTIONAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", "http://127.0.0.1:9")
    monkeypatch.setenv("AIOPS_STORE_URL", f"sqlite:///{tmp_path / 'aiops.db'}")
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path))
    return tmp_path


def test_the_trace_analysis_skips_with_the_reason(prometheus_only) -> None:
    with pytest.raises(AirflowSkipException) as caught:
        tasks.analyze_traces(START, END)
    assert str(caught.value) == (
        "traces not configured: no jaeger_default connection and AIOPS_TRACES_DIR unset"
    )


@pytest.mark.parametrize("findings", [False, True], ids=["hourly", "nightly"])
def test_log_mining_skips_with_the_reason(prometheus_only, findings: bool) -> None:
    with pytest.raises(AirflowSkipException) as caught:
        tasks.mine_logs(START, END, findings=findings)
    assert str(caught.value) == (
        "logs not configured: no elasticsearch_default connection and AIOPS_LOGS_DIR unset"
    )


def test_a_connection_or_a_file_fallback_configures_an_integration(
    prometheus_only, monkeypatch
) -> None:
    assert traces_not_configured() and logs_not_configured()
    monkeypatch.setenv("AIOPS_TRACES_DIR", str(prometheus_only / "traces"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT",
        json.dumps({"conn_type": "elasticsearch", "host": "es"}),
    )
    assert traces_not_configured() is None and logs_not_configured() is None
    monkeypatch.delenv("AIOPS_TRACES_DIR")
    monkeypatch.setenv("AIRFLOW_CONN_JAEGER_DEFAULT", "jaeger://127.0.0.1:16686")
    assert traces_not_configured() is None


def test_github_and_the_llm_say_what_they_fall_back_to(prometheus_only, monkeypatch) -> None:
    assert "issues are written as files under" in (github_not_configured() or "")
    assert "narratives are rule-based" in (llm_not_configured() or "")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_env")
    monkeypatch.setenv("AIRFLOW_CONN_ANTHROPIC_DEFAULT", "anthropic://:sk-key@")
    assert github_not_configured() is None and llm_not_configured() is None


def test_record_run_lists_the_integrations_not_configured(prometheus_only) -> None:
    assert sorted(integrations_not_configured(["traces", "logs", "github", "llm"])) == [
        "github", "llm", "logs", "traces",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown integration.*jaeger"):
        integrations_not_configured(["jaeger"])
    done = tasks.record_run("aiops_nightly", START, END, None, "scheduled", ["traces", "logs"])
    assert done == {"push": "skipped", "not_configured": ["logs", "traces"]}


# -- the DAGs' trigger rules let a skipped optional task through ------------------------------

OPTIONAL_TASKS = {
    "aiops_nightly": ("analyze_traces", "analyze_logs"),
    "aiops_hourly": ("mine_logs",),
}


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _rule(dag, task_id: str) -> str:
    rule = dag.get_task(task_id).trigger_rule
    return str(getattr(rule, "value", rule))  # an enum, or the string the DAG file gave


def states_when_skipped(dag, skipped: set[str]) -> dict[str, str]:
    """Each task's end state when the ``skipped`` tasks skip and every task that runs
    succeeds, by Airflow's documented trigger rules (the rules the DAGs use)."""
    state: dict[str, str] = {}
    pending = dict(dag.task_dict)
    while pending:
        ready = [t for t in pending.values() if t.upstream_task_ids <= state.keys()]
        assert ready, f"{dag.dag_id}: a cycle among {sorted(pending)}"
        for task in ready:
            del pending[task.task_id]
            upstream = [state[u] for u in task.upstream_task_ids]
            rule = _rule(dag, task.task_id)
            if task.task_id in skipped:
                runs = False
            elif rule == "all_success":
                runs = all(u == "success" for u in upstream)
            elif rule in ("none_failed", "all_done"):
                runs = True
            elif rule == "none_failed_min_one_success":
                runs = not upstream or "success" in upstream
            else:
                raise AssertionError(f"{dag.dag_id}.{task.task_id}: rule {rule} not modelled")
            state[task.task_id] = "success" if runs else "skipped"
    return state


@pytest.mark.parametrize(
    ("dag_id", "skipped"),
    [
        ("aiops_hourly", {"mine_logs"}),
        ("aiops_nightly", {"analyze_traces"}),
        ("aiops_nightly", {"analyze_logs"}),
        ("aiops_nightly", {"analyze_traces", "analyze_logs"}),
    ],
)
def test_every_other_task_runs_when_optional_ones_skip(dags, dag_id: str, skipped) -> None:
    assert skipped <= set(OPTIONAL_TASKS[dag_id])
    states = states_when_skipped(dags[dag_id], skipped)
    assert {task_id for task_id, s in states.items() if s == "skipped"} == skipped
    assert states["record_run"] == "success"


@pytest.mark.parametrize("dag_id", ["aiops_hourly", "aiops_nightly", "aiops_ingest"])
def test_record_run_runs_after_skips_but_never_after_a_failure(dags, dag_id: str) -> None:
    # none_failed: a run with a failed task pushes no "this run worked"
    assert _rule(dags[dag_id], "record_run") == "none_failed"


def test_the_nightly_files_and_narrates_what_the_other_analyses_found(dags) -> None:
    nightly = dags["aiops_nightly"]
    for task_id in ("narrate_findings", "file_issues"):
        assert _rule(nightly, task_id) == "none_failed", task_id


def test_every_dag_task_that_calls_a_task_function_fails_fast_on_permanent_errors(dags) -> None:
    called = {"analyze_logs": "mine_logs", "report": "combine_totals",
              "report_predictions": "combine_totals"}  # fmt: skip
    names = {called.get(t, t) for dag in dags.values() for t in dag.task_ids}
    functions = {name for name in names if callable(getattr(tasks, name, None))}
    assert functions >= {"score_shard", "analyze_traces", "mine_logs", "record_run"}
    unwrapped = sorted(n for n in functions if not hasattr(getattr(tasks, n), "__wrapped__"))
    assert unwrapped == []
