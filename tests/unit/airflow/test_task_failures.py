"""A task whose error retrying cannot fix fails at once (AirflowFailException: no retries);
any other error reaches Airflow unchanged, to be retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from aiops.airflow import tasks
from aiops.airflow.tasks import fails_fast_when_permanent
from aiops.errors import PermanentError, ServicesFailed
from aiops.sources.prometheus import PrometheusQueryError, PrometheusUnavailable
from fakes.loopback import JsonHandler, LoopbackHTTP

START = datetime(2026, 10, 30, 10, tzinfo=UTC)
END = START + timedelta(hours=1)


def raising(exc: BaseException):
    @fails_fast_when_permanent
    def task() -> None:
        raise exc

    return task


def test_services_that_all_failed_permanently_fail_the_task_without_retries() -> None:
    failed = ServicesFailed(
        "score_shard",
        {"cart": PrometheusQueryError("q rejected"), "auth": PermanentError("3 series")},
    )
    with pytest.raises(AirflowFailException) as caught:
        raising(failed)()
    assert str(caught.value) == str(failed)
    assert caught.value.__cause__ is failed


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionError("127.0.0.1:9090 refused"),
        PrometheusUnavailable("unavailable after 3 attempt(s)"),
        ServicesFailed("score_shard", {"cart": PermanentError("bad"), "auth": TimeoutError()}),
    ],
    ids=["connection-error", "prometheus-unavailable", "services-one-transient"],
)
def test_transient_errors_reach_airflow_unchanged(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as caught:
        raising(exc)()
    assert caught.value is exc


def test_a_task_that_succeeds_returns_its_totals() -> None:
    assert fails_fast_when_permanent(lambda n: {"n": n})(3) == {"n": 3}


# -- a real task against a loopback Prometheus ------------------------------------------------


class Scripted(JsonHandler):
    """Answers every POST with the fake's (status, body) and counts the requests."""

    fake: dict

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.fake["requests"] += 1
        status, body = self.fake["answer"]
        self.reply_json(status, body)


@pytest.fixture
def prometheus(monkeypatch, tmp_path):
    """A loopback Prometheus as `prometheus_default` (two attempts, no backoff), an empty
    SQLite store, no metrics file; yields the fake to script and count."""
    fake = {"requests": 0, "answer": (200, {})}
    server = LoopbackHTTP(Scripted, fake)
    server.start()
    url = server.base_url("prometheus")
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", f"{url}?attempts=2&backoff=0")
    monkeypatch.setenv("AIOPS_STORE_URL", f"sqlite:///{tmp_path / 'aiops.db'}")
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path))
    monkeypatch.delenv("AIOPS_METRICS_FILE", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_AIOPS_STORE", raising=False)
    yield fake
    server.stop()


def test_a_query_prometheus_rejects_fails_the_task_at_once(prometheus) -> None:
    prometheus["answer"] = (
        400,
        {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected )"},
    )
    with pytest.raises(AirflowFailException, match="rejected .*HTTP 400, bad_data.*parse error"):
        tasks.summarize_shard(["gateway"], START, END)
    assert prometheus["requests"] == 1


def test_a_prometheus_that_stays_unavailable_is_retried_by_airflow(prometheus) -> None:
    prometheus["answer"] = (503, {"status": "error", "errorType": "unavailable", "error": "busy"})
    with pytest.raises(PrometheusUnavailable, match="2 attempt"):
        tasks.summarize_shard(["gateway"], START, END)
    assert prometheus["requests"] == 2
