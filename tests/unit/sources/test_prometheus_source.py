"""aiops.sources.prometheus against a real Prometheus on loopback (backfilled once per module)
and, for the failure modes a healthy Prometheus will not produce on demand, against a tiny
loopback HTTP server that speaks the Prometheus JSON envelope."""

from __future__ import annotations

import json
import logging
import math
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from aiops.retry import RetryPolicy
from aiops.sources.prometheus import (
    PrometheusClient,
    PrometheusError,
    PrometheusQueryError,
    PrometheusUnavailable,
    RangeResult,
    chunk_bounds,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=60)
GAUGE_POINTS = 20_000  # at 60 s: two chunks of at most 11,000 points
COUNTER_POINTS = 120  # resets to zero at point 60
RESET_AT = 60
SPECIAL = {3: "NaN", 5: "+Inf", 7: "-Inf"}  # gauge sample index -> OpenMetrics value

MISSING_BINARIES = shutil.which("promtool") is None or shutil.which("prometheus") is None


def needs_prometheus(test):
    """Mark a test as needing the real binaries, and skip it (saying why) without them."""
    skip = pytest.mark.skipif(
        MISSING_BINARIES,
        reason="prometheus/promtool not on PATH (apt-get install prometheus, or make setup)",
    )
    return skip(pytest.mark.prometheus(test))


def _ts(i: int) -> int:
    return int(T0.timestamp()) + 60 * i


def write_openmetrics(path: Path) -> None:
    lines = ["# TYPE aiops_test_gauge gauge"]
    lines += [
        f'aiops_test_gauge{{service="cart"}} {i + 0.25} {_ts(i)}' for i in range(GAUGE_POINTS)
    ]
    lines += [f'aiops_test_gauge{{service="web"}} {-0.5 * i} {_ts(i)}' for i in range(GAUGE_POINTS)]
    lines.append("# TYPE aiops_test_requests counter")
    for i in range(COUNTER_POINTS):
        value = 6 * i if i < RESET_AT else 6 * (i - RESET_AT)  # 0.1/s, restart at RESET_AT
        lines.append(f'aiops_test_requests_total{{service="cart"}} {value} {_ts(i)}')
    lines.append("# TYPE aiops_test_special gauge")
    for i in range(10):
        lines.append(f'aiops_test_special{{service="cart"}} {SPECIAL.get(i, i)} {_ts(i)}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if MISSING_BINARIES:
        pytest.skip("prometheus/promtool not on PATH")
    from aiops.dev.promserver import PrometheusServer, backfill

    root = tmp_path_factory.mktemp("prometheus_source")
    write_openmetrics(root / "metrics.om")
    tsdb = backfill(root / "metrics.om", root / "tsdb")
    with PrometheusServer(tsdb) as server:
        yield server.url


class CountingSession(requests.Session):
    """A real requests session that remembers every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        self.sent.append((method, url))
        return super().request(method, url, *args, **kwargs)


def _range(client: PrometheusClient, query: str, points: int) -> RangeResult:
    return client.query_range(query, T0, T0 + (points - 1) * STEP, STEP)


# -- against a real Prometheus -------------------------------------------------------------


@needs_prometheus
@pytest.mark.parametrize("i", [0, 1234, GAUGE_POINTS - 1])
def test_backfilled_gauge_reads_back_exactly(prometheus_url: str, i: int) -> None:
    at = T0 + i * STEP
    result = PrometheusClient(prometheus_url).query_range(
        'aiops_test_gauge{service="cart"}', at, at, STEP
    )
    [series] = result.series
    assert series.labels == {"__name__": "aiops_test_gauge", "service": "cart"}
    assert series.values[pd.Timestamp(at)] == i + 0.25


@needs_prometheus
def test_long_range_comes_back_complete_in_chunks(prometheus_url: str) -> None:
    result = _range(PrometheusClient(prometheus_url), "aiops_test_gauge", GAUGE_POINTS)

    assert result.chunks >= 2
    assert [s.labels["service"] for s in result.series] == ["cart", "web"]
    expected_index = pd.date_range(T0, periods=GAUGE_POINTS, freq=STEP)
    for series in result.series:
        index = series.values.index
        assert index.name == "timestamp" and str(index.tz) == "UTC"
        assert series.values.dtype == np.float64
        assert index.is_unique and index.is_monotonic_increasing
        assert len(index) == GAUGE_POINTS and (index == expected_index).all()
    cart, web = (s.values.to_numpy() for s in result.series)
    np.testing.assert_array_equal(cart, np.arange(GAUGE_POINTS) + 0.25)
    np.testing.assert_array_equal(web, -0.5 * np.arange(GAUGE_POINTS))


@needs_prometheus
def test_tiny_chunks_give_the_identical_series(prometheus_url: str) -> None:
    session = CountingSession()
    big = _range(PrometheusClient(prometheus_url), "aiops_test_gauge", GAUGE_POINTS)
    small = _range(
        PrometheusClient(prometheus_url, max_points=500, session=session),
        "aiops_test_gauge",
        GAUGE_POINTS,
    )

    assert small.chunks == 40 and len(session.sent) == 40
    assert [s.labels for s in small.series] == [s.labels for s in big.series]
    for a, b in zip(small.series, big.series, strict=True):
        pd.testing.assert_series_equal(a.values, b.values)


@needs_prometheus
def test_rate_over_a_counter_reset_is_never_negative(prometheus_url: str) -> None:
    client = PrometheusClient(prometheus_url)
    raw = _range(client, "aiops_test_requests_total", COUNTER_POINTS).series[0].values
    assert (raw.diff() < 0).sum() == 1  # the reset really is in the data

    rate = _range(client, "rate(aiops_test_requests_total[5m])", COUNTER_POINTS).series[0].values
    assert len(rate) > 100
    assert (rate >= 0).all()
    # Past the first window, the rate is the true 0.1/s, across the reset too.
    assert rate.iloc[5:].between(0.075, 0.125).all()


@needs_prometheus
def test_nan_and_infinities_survive(prometheus_url: str) -> None:
    values = _range(PrometheusClient(prometheus_url), "aiops_test_special", 10).series[0].values

    assert math.isnan(values.iloc[3])
    assert values.iloc[5] == math.inf and values.iloc[7] == -math.inf
    assert (~np.isfinite(values)).sum() == 3
    assert values.iloc[9] == 9.0


@needs_prometheus
def test_instant_query_and_ready(prometheus_url: str) -> None:
    client = PrometheusClient(prometheus_url)
    assert client.ready()
    at = T0 + 10 * STEP
    assert client.query_instant('aiops_test_gauge{service="web"}', at) == [
        ({"__name__": "aiops_test_gauge", "service": "web"}, -5.0)
    ]
    assert client.query_instant("1 + 1", at) == [({}, 2.0)]


@needs_prometheus
def test_a_bad_query_is_a_query_error_and_is_not_retried(prometheus_url: str) -> None:
    session = CountingSession()
    client = PrometheusClient(prometheus_url, session=session, sleep=_no_sleep)
    query = "rate(aiops_test_requests_total[5m]"  # missing ')'

    with pytest.raises(PrometheusQueryError) as caught:
        _range(client, query, 10)

    message = str(caught.value)
    assert f"{prometheus_url}/api/v1/query_range" in message
    assert query in message and "bad_data" in message
    assert session.sent == [("POST", f"{prometheus_url}/api/v1/query_range")]


# -- failure modes, against loopback stand-ins -------------------------------------------------


def _no_sleep(seconds: float) -> None:
    pass


def test_unreachable_prometheus_is_unavailable_after_exactly_attempts() -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    session, slept = CountingSession(), []
    client = PrometheusClient(url, attempts=4, session=session, sleep=slept.append)

    with pytest.raises(PrometheusUnavailable) as caught:
        _range(client, "up", 10)

    assert f"{url}/api/v1/query_range" in str(caught.value)
    assert "4 attempt" in str(caught.value)
    assert len(session.sent) == 4
    assert slept == [0.5, 1.0, 2.0]


def _success(result: list[dict], **extra: object) -> tuple[int, str]:
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    return 200, json.dumps(body)


def _matrix(points: int) -> list[dict]:
    stamps = [T0.timestamp() + 60 * i for i in range(points)]
    return [{"metric": {"__name__": "up", "job": "x"}, "values": [[t, "1"] for t in stamps]}]


@contextmanager
def scripted_server(*responses: tuple[int, str]) -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP server answering POSTs with ``responses`` in turn (the last repeats);
    yields its URL and the list of form bodies it received."""
    received: list[dict] = []
    script = list(responses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append({"path": self.path, "body": self.rfile.read(length).decode()})
            status, body = script.pop(0) if len(script) > 1 else script[0]
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


UNAVAILABLE = (
    503,
    json.dumps(
        {"status": "error", "errorType": "timeout", "error": "query timed out in query execution"}
    ),
)


def test_503_is_retried_until_success() -> None:
    slept: list[float] = []
    with scripted_server(UNAVAILABLE, UNAVAILABLE, _success(_matrix(3))) as (url, received):
        result = _range(PrometheusClient(url, sleep=slept.append), "up", 3)

    assert len(received) == 3 and slept == [0.5, 1.0]
    assert "query=up" in received[0]["body"]  # POSTed as a form
    [series] = result.series
    assert series.labels == {"__name__": "up", "job": "x"}
    assert series.values.tolist() == [1.0, 1.0, 1.0]


def test_503_that_persists_names_the_last_error() -> None:
    with (
        scripted_server(UNAVAILABLE) as (url, received),
        pytest.raises(PrometheusUnavailable) as caught,
    ):
        _range(PrometheusClient(url, attempts=2, sleep=_no_sleep), "up", 3)
    assert len(received) == 2
    assert "2 attempt" in str(caught.value) and "query timed out" in str(caught.value)


def test_warnings_surface_in_the_result_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    warning = "PromQL warning: encountered a mix of histograms and floats"
    body = _success(
        _matrix(2), warnings=[warning], infos=["PromQL info: metric might not be a counter"]
    )
    with scripted_server(body) as (url, _), caplog.at_level(logging.WARNING):
        result = _range(PrometheusClient(url), "up", 2)

    assert result.warnings == [warning]
    assert result.infos == ["PromQL info: metric might not be a counter"]
    assert warning in caplog.text


def test_native_histograms_are_refused_not_dropped() -> None:
    histogram = {"count": "3", "sum": "1.5", "buckets": [[0, "0.5", "1", "3"]]}
    result = [{"metric": {"__name__": "lat"}, "histograms": [[T0.timestamp(), histogram]]}]
    with (
        scripted_server(_success(result)) as (url, _),
        pytest.raises(PrometheusError, match="native histograms") as caught,
    ):
        _range(PrometheusClient(url), "lat_seconds", 2)
    assert "lat_seconds" in str(caught.value)


def test_a_body_that_is_not_json_is_a_prometheus_error() -> None:
    with (
        scripted_server((200, "<html>login page</html>")) as (url, _),
        pytest.raises(PrometheusError, match="login page") as caught,
    ):
        _range(PrometheusClient(url), "up", 2)
    assert url in str(caught.value)


def test_naive_datetimes_are_rejected() -> None:
    client = PrometheusClient("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="timezone-aware"):
        client.query_range("up", datetime(2024, 1, 1), datetime(2024, 1, 2), STEP)


def test_chunks_tile_the_step_grid_without_overlap() -> None:
    start, step = 1_000, 60_000
    end = start + 25 * step + 59_999  # not on the grid: the last point is start + 25 steps
    bounds = chunk_bounds(start, end, step, max_points=10)

    assert bounds == [
        (start, start + 9 * step),
        (start + 10 * step, start + 19 * step),
        (start + 20 * step, start + 25 * step),
    ]
    assert chunk_bounds(start, start, step, max_points=10) == [(start, start)]


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff=0.5, max_backoff=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(1, hint=2.5) == 2.5 and policy.delay(1, hint=60) == 3.0
