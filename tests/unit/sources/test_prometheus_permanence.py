"""Which Prometheus failures are permanent (the task fails at once) and which are worth
retrying, against a loopback server speaking the Prometheus JSON envelope; requests counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aiops.errors import PermanentError, is_permanent
from aiops.sources.prometheus import (
    PrometheusClient,
    PrometheusError,
    PrometheusQueryError,
    PrometheusRejected,
    PrometheusUnavailable,
)
from fakes.loopback import JsonHandler, LoopbackHTTP

T0 = datetime(2026, 10, 30, 10, tzinfo=UTC)
STEP = timedelta(minutes=1)
BAD_DATA = (
    400,
    {"status": "error", "errorType": "bad_data",
     "error": 'invalid parameter "query": 1:32: parse error: unclosed left parenthesis'},
)  # fmt: skip
UNAVAILABLE = (503, {"status": "error", "errorType": "unavailable", "error": "too busy"})
SUCCESS = (
    200,
    {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "x"}, "values": [[T0.timestamp(), "1"]]}]}},
)  # fmt: skip


class ScriptedPrometheus:
    """Answers each POST with the next scripted (status, body); the last one repeats."""

    def __init__(self, *script: tuple[int, dict]) -> None:
        self.script = list(script)
        self.requests: list[str] = []


class Handler(JsonHandler):
    fake: ScriptedPrometheus

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        fake = self.fake
        fake.requests.append(self.path)
        status, body = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
        self.reply_json(status, body)


def serve(*script: tuple[int, dict]) -> Iterator[tuple[PrometheusClient, ScriptedPrometheus]]:
    fake = ScriptedPrometheus(*script)
    server = LoopbackHTTP(Handler, fake)
    server.start()
    try:
        client = PrometheusClient(server.base_url("prometheus"), attempts=3, sleep=lambda _: None)
        yield client, fake
    finally:
        server.stop()


@pytest.fixture
def prometheus(request) -> Iterator[tuple[PrometheusClient, ScriptedPrometheus]]:
    yield from serve(*request.param)


def query(client: PrometheusClient, promql: str = "sum(rate(x[5m])"):
    return client.query_range(promql, T0, T0 + 2 * STEP, STEP)


@pytest.mark.parametrize("prometheus", [[BAD_DATA]], indirect=True)
def test_a_query_prometheus_cannot_parse_is_permanent_and_sent_once(prometheus) -> None:
    client, fake = prometheus
    with pytest.raises(PrometheusQueryError) as caught:
        query(client)
    assert isinstance(caught.value, PermanentError) and isinstance(caught.value, PrometheusError)
    assert is_permanent(caught.value)
    assert "parse error" in str(caught.value) and "sum(rate(x[5m])" in str(caught.value)
    assert fake.requests == ["/api/v1/query_range"]  # exactly one request


@pytest.mark.parametrize("prometheus", [[UNAVAILABLE, UNAVAILABLE, SUCCESS]], indirect=True)
def test_a_503_is_retried_and_the_query_then_succeeds(prometheus) -> None:
    client, fake = prometheus
    [series] = query(client, "up").series
    assert series.labels == {"job": "x"}
    assert len(fake.requests) == 3


@pytest.mark.parametrize("prometheus", [[UNAVAILABLE]], indirect=True)
def test_a_503_that_persists_is_transient_for_the_task(prometheus) -> None:
    client, fake = prometheus
    with pytest.raises(PrometheusUnavailable) as caught:
        query(client, "up")
    assert len(fake.requests) == 3
    assert not is_permanent(caught.value)  # the task's retries try again later


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(401, True), (403, True), (404, True), (405, True), (408, False), (429, False)],
)
def test_a_4xx_is_permanent_unless_it_is_408_or_429(status: int, permanent: bool) -> None:
    body = {"status": "error", "errorType": "client", "error": f"status {status}"}
    for client, fake in serve((status, body)):
        with pytest.raises(PrometheusError) as caught:
            query(client, "up")
        assert is_permanent(caught.value) is permanent
        assert isinstance(caught.value, PrometheusRejected) is permanent
        assert f"HTTP {status}" in str(caught.value) or "unavailable" in str(caught.value)
        # 429 is retried by the client itself; the others are answered on the first attempt
        assert len(fake.requests) == (3 if status == 429 else 1)
