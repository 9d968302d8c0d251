"""aiops.sources.jaeger against a loopback fake of Jaeger's query API (tests/jaeger_server.py),
and aiops.sources.jaeger_files against files on disk, including Jaeger's own fixture traces."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.sources.jaeger import (
    JaegerClient,
    JaegerError,
    JaegerQueryError,
    JaegerUnavailable,
)
from aiops.sources.jaeger_files import (
    iter_trace_documents,
    merge_traces,
)
from fakes.jaeger_server import FakeJaeger, make_trace
from support.paths import SHARED_DATA

T0 = datetime(2024, 10, 30, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T0_US = int(T0.timestamp()) * 1_000_000
DAY_US = 86_400 * 1_000_000
SHARED_TRACES = SHARED_DATA / "jaeger" / "traces"


def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def jaeger() -> Iterator[FakeJaeger]:
    with FakeJaeger() as server:
        yield server


def client(server: FakeJaeger, **kwargs) -> JaegerClient:
    return JaegerClient(server.url, sleep=kwargs.pop("sleep", no_sleep), **kwargs)


def day_of_traces(n: int) -> list[dict]:
    """``n`` checkout traces spread over T0's day; every third also calls cart."""
    step = DAY_US // n
    traces = []
    for i in range(n):
        start = T0_US + i * step + 7
        spans = [("checkout", "POST /order", start, 900)]
        if i % 3 == 0:
            spans.append(("cart", "GET /cart", start + 100, 300))
        traces.append(make_trace(f"{i:032x}", spans))
    return traces


# -- the HTTP client ------------------------------------------------------------------------------


def test_services_are_sorted_and_unique(jaeger: FakeJaeger) -> None:
    jaeger.traces = day_of_traces(6)
    assert client(jaeger).services() == ["cart", "checkout"]
    assert [r.path for r in jaeger.requests] == ["/api/services"]


def test_no_services_is_an_empty_list(jaeger: FakeJaeger) -> None:
    assert client(jaeger).services() == []  # Jaeger answers "data": null


def test_truncated_day_is_fetched_completely_by_splitting(jaeger: FakeJaeger) -> None:
    jaeger.traces = day_of_traces(500)
    got = client(jaeger, page_limit=50).fetch_window(T0, T1, services=["checkout"])

    assert got == sorted(jaeger.traces, key=lambda t: t["traceID"])  # each once, unchanged
    searches = jaeger.searches()
    assert len(searches) > 10
    assert {r.param("limit") for r in searches} == {"50"}
    slices = [(int(r.param("start")), int(r.param("end")), r.returned) for r in searches]
    assert all(T0_US <= lo <= hi <= T0_US + DAY_US - 1 for lo, hi, _ in slices)
    leaves = sorted((lo, hi) for lo, hi, n in slices if n < 50)
    assert all(n == 50 for lo, hi, n in slices if (lo, hi) not in leaves)
    # the slices that were not split tile the window exactly: no gap, no overlap
    assert leaves[0][0] == T0_US and leaves[-1][1] == T0_US + DAY_US - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(leaves, leaves[1:], strict=False))
    assert "lookback" not in searches[0].query


def test_trace_touching_several_services_comes_back_once(jaeger: FakeJaeger) -> None:
    jaeger.traces = day_of_traces(30)
    got = client(jaeger).fetch_window(T0, T1)  # all services: checkout and cart

    assert got == sorted(jaeger.traces, key=lambda t: t["traceID"])
    assert sorted(r.param("service") for r in jaeger.searches()) == ["cart", "checkout"]


def test_iter_window_names_where_each_trace_can_be_fetched_again(jaeger: FakeJaeger) -> None:
    jaeger.traces = day_of_traces(3)
    pairs = list(client(jaeger).iter_window(T0, T1, services=["cart"]))
    assert pairs == [(jaeger.traces[0], f"{jaeger.url}/api/traces/{0:032x}")]
    with pytest.raises(TypeError, match="got the string 'cart'"):
        client(jaeger).fetch_window(T0, T1, services="cart")


def test_trace_straddling_a_split_is_merged_not_duplicated(jaeger: FakeJaeger) -> None:
    long = make_trace(
        "ab" * 16,
        [
            ("checkout", "nightly-export", T0_US + 3600 * 1_000_000, 20 * 3600 * 1_000_000),
            ("checkout", "flush", T0_US + 20 * 3600 * 1_000_000, 1000),
        ],
    )
    others = [make_trace(f"{i:032x}", [("checkout", "op", T0_US + i * 1000, 10)]) for i in range(3)]
    jaeger.traces = [long, *others]
    got = client(jaeger, page_limit=2).find_traces("checkout", T0, T1)

    assert got == sorted([long, *others], key=lambda t: t["traceID"])  # once, spans not doubled
    kept_slices = [r for r in jaeger.searches() if r.returned < 2]
    assert sum("ab" * 16 in r.trace_ids for r in kept_slices) == 2  # both halves returned it


def test_copies_of_a_trace_merge_spans_and_renumbered_processes() -> None:
    first = make_trace("t1", [("frontend", "GET /", 100, 50), ("cart", "get", 110, 10)])
    later = make_trace(
        "t1", [("frontend", "GET /", 100, 50), ("db", "query", 120, 5), ("cart", "get", 110, 10)]
    )
    later["spans"][2]["spanID"] = first["spans"][1]["spanID"]  # the same cart span
    original = copy.deepcopy(first)

    [merged] = merge_traces([first, later])

    assert first == original  # inputs untouched
    services = {
        s["operationName"]: merged["processes"][s["processID"]]["serviceName"]
        for s in merged["spans"]
    }
    assert services == {"GET /": "frontend", "get": "cart", "query": "db"}
    assert len(merged["spans"]) == 3
    assert merge_traces([first, first]) == [first]


def test_full_one_microsecond_slice_is_kept_with_a_warning(jaeger: FakeJaeger, caplog) -> None:
    at = T0_US + 5_000_000
    jaeger.traces = [make_trace(f"{i:032x}", [("checkout", "op", at, 10)]) for i in range(3)]
    jaeger_client = client(jaeger, page_limit=2)
    with caplog.at_level(logging.WARNING, logger="aiops.sources.jaeger"):
        got = jaeger_client.find_traces("checkout", T0, T0 + timedelta(seconds=10))

    assert len(got) == 2  # what Jaeger gave; the third is out of reach
    [warning] = jaeger_client.last_warnings
    assert "1 µs slice" in warning and "service 'checkout'" in warning
    assert "[2024-10-30T00:00:05+00:00, 2024-10-30T00:00:05.000001+00:00)" in warning
    assert warning in caplog.text
    [saturated] = [
        r for r in jaeger.searches() if r.returned == 2 and r.param("start") == r.param("end")
    ]
    assert saturated.param("start") == str(at)


def test_filters_are_sent_the_way_jaeger_parses_them(jaeger: FakeJaeger) -> None:
    slow = make_trace("slow", [("checkout", "pay", T0_US + 10, 400_000, {"error": True})])
    fast = make_trace("fast", [("checkout", "pay", T0_US + 20, 1_000, {"error": True})])
    ok = make_trace("ok", [("checkout", "pay", T0_US + 30, 900_000, {"error": False})])
    jaeger.traces = [slow, fast, ok]
    got = client(jaeger).find_traces(
        "checkout",
        T0,
        T1,
        operation="pay",
        tags={"error": True},
        min_duration=timedelta(milliseconds=250),
    )
    assert got == [slow]
    [search] = jaeger.searches()
    assert search.param("tags") == '{"error":"true"}'
    assert search.param("minDuration") == "250000us"
    assert client(jaeger).find_traces("checkout", T0, T1, min_duration="250ms") == [ok, slow]


def test_503_is_retried_with_backoff_then_succeeds(jaeger: FakeJaeger) -> None:
    jaeger.traces = day_of_traces(3)
    waits: list[float] = []
    jaeger.fail_next(2, 503)
    assert client(jaeger, sleep=waits.append, backoff=0.5).services() == ["cart", "checkout"]
    assert [r.status for r in jaeger.requests] == [503, 503, 200]
    assert waits == [0.5, 1.0]


def test_429_waits_as_long_as_retry_after_says(jaeger: FakeJaeger) -> None:
    waits: list[float] = []
    jaeger.fail_next(1, 429, msg="slow down", retry_after="7")
    assert client(jaeger, sleep=waits.append).find_traces("checkout", T0, T1) == []
    assert waits == [7.0]


def test_503_forever_names_url_service_and_slice(jaeger: FakeJaeger) -> None:
    jaeger.fail_next(10, 503, msg="backend overloaded")
    with pytest.raises(JaegerUnavailable) as err:
        client(jaeger, attempts=3).find_traces("checkout", T0, T1)
    assert str(err.value) == (
        f"{jaeger.url}/api/traces: service 'checkout' [2024-10-30T00:00:00+00:00, "
        "2024-10-31T00:00:00+00:00): Jaeger unavailable after 3 attempt(s); last error: "
        "HTTP 503: backend overloaded"
    )
    assert len(jaeger.requests) == 3


def test_credentials_never_appear_in_errors(jaeger: FakeJaeger) -> None:
    jaeger.fail_next(10, 503)
    url = jaeger.url.replace("http://", "http://admin:s3cret@")
    with pytest.raises(JaegerUnavailable) as err:
        JaegerClient(url, sleep=no_sleep).services()
    assert "s3cret" not in str(err.value) and jaeger.url in str(err.value)


def test_400_carries_jaegers_message_and_is_not_retried(jaeger: FakeJaeger) -> None:
    with pytest.raises(JaegerQueryError) as err:
        client(jaeger).find_traces("checkout", T0, T1, min_duration="fast")
    assert "service 'checkout'" in str(err.value)
    assert "unable to parse param 'minDuration': time: invalid duration \"fast\"" in str(err.value)
    assert len(jaeger.requests) == 1


def test_hanging_server_times_out_then_gives_up(jaeger: FakeJaeger) -> None:
    jaeger.hang_next(3, seconds=5)
    with pytest.raises(JaegerUnavailable) as err:
        client(jaeger, timeout=0.2, attempts=3).find_traces("checkout", T0, T1)
    assert "after 3 attempt(s)" in str(err.value) and "ReadTimeout" in str(err.value)
    assert len(jaeger.requests) == 3


def test_500_is_unavailable_without_retry(jaeger: FakeJaeger) -> None:
    jaeger.fail_next(5, 500, msg="elasticsearch: context deadline exceeded")
    with pytest.raises(JaegerUnavailable, match="context deadline exceeded .not retried."):
        client(jaeger).services()
    assert len(jaeger.requests) == 1


@pytest.mark.parametrize(
    ("body", "what"),
    [("<html>proxy error</html>", "is not JSON"), ('{"data": {"x": 1}}', "list 'data'")],
)
def test_body_that_is_not_an_envelope_is_an_error(jaeger: FakeJaeger, body: str, what: str) -> None:
    jaeger.respond_next(1, 200, body)
    with pytest.raises(JaegerError, match=what) as err:
        client(jaeger).find_traces("checkout", T0, T1)
    assert type(err.value) is JaegerError and body[:10] in str(err.value)


def test_naive_datetimes_and_bad_arguments_are_refused(jaeger: FakeJaeger) -> None:
    with pytest.raises(ValueError, match="start: must be timezone-aware"):
        client(jaeger).find_traces("checkout", datetime(2024, 10, 30), T1)
    with pytest.raises(ValueError, match="end: must be timezone-aware"):
        client(jaeger).fetch_window(T0, datetime(2024, 10, 31))  # before asking for services
    with pytest.raises(ValueError, match="is before start"):
        client(jaeger).fetch_window(T1, T0, services=["checkout"])
    with pytest.raises(ValueError, match="page_limit"):
        JaegerClient(jaeger.url, page_limit=0)
    with pytest.raises(ValueError, match="base_url"):
        JaegerClient("127.0.0.1:16686")
    assert jaeger.requests == []


def test_ui_trace_url() -> None:
    assert (
        JaegerClient("http://u:p@jaeger:16686/").ui_trace_url("abc")
        == "http://jaeger:16686/trace/abc"
    )
    ui = JaegerClient("http://jaeger:16686", ui_url="https://tracing.example.com/jaeger")
    assert ui.ui_trace_url("abc") == "https://tracing.example.com/jaeger/trace/abc"


# -- Jaeger's own fixture traces ------------------------------------------------------------------


def shared_files() -> list[Path]:
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"{SHARED_TRACES} not found (the shared reference data is not mounted)")
    return sorted(SHARED_TRACES.glob("*.json"))


def test_client_returns_upstream_traces_unchanged() -> None:
    traces = [t for f in shared_files() for t, _ in iter_trace_documents([f])]
    # a few fixtures reuse one traceID for different traces; a real Jaeger holds one of them
    unique = list({t["traceID"]: t for t in reversed(traces)}.values())
    assert len(unique) == len({t["traceID"] for t in traces}) == 13
    starts = [s["startTime"] for t in unique for s in t["spans"]]
    lo = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=min(starts))
    hi = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=max(starts) + 1)
    with FakeJaeger(unique) as server:
        got = client(server, page_limit=3).fetch_window(lo, hi)
    assert got == sorted(unique, key=lambda t: t["traceID"])
