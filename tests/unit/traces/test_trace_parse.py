"""Parsing real Jaeger JSON: every shared fixture, every repair counted, no trace stops the run;
the critical path and self time on shapes whose answer is known."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.traces import parse
from aiops.traces.analyze import DUPLICATE_TRACE, OUTSIDE_WINDOW, analyze_traces
from aiops.traces.critical_path import critical_path, self_times
from aiops.traces.parse import normalise_statement, parse_trace
from support.paths import SHARED_DATA
from support.trace_builder import T0_US, TraceBuilder, tag

FIXTURES = SHARED_DATA / "jaeger" / "traces"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"shared Jaeger fixtures not found at {FIXTURES}"
)


def _fixture(fragment: str) -> dict:
    (path,) = [p for p in FIXTURES.glob("*.json") if fragment in p.name]
    return json.loads(path.read_text())["data"][0]


@needs_fixtures
def test_every_shared_fixture_parses_into_one_tree_per_root() -> None:
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) == 24
    for path in files:
        for raw in json.loads(path.read_text())["data"]:
            parsed = parse_trace(raw)
            assert parsed.trace is not None, (path.name, parsed.detail)
            trace = parsed.trace
            unique = {s["spanID"] for s in raw["spans"]}
            assert len(trace.spans) == len(unique), path.name
            # every span is reachable from exactly one root
            reached = []
            stack = list(trace.roots)
            while stack:
                i = stack.pop()
                reached.append(i)
                stack.extend(trace.spans[i].children)
            assert sorted(reached) == list(range(len(trace.spans))), path.name
            # the critical path accounts for the entry span's whole duration
            assert sum(critical_path(trace).values()) == trace.root().duration, path.name


@needs_fixtures
def test_fixture_repairs_are_named() -> None:
    otlp = parse_trace(_fixture("jaeger-ui__src__utils__fixtures__otlp2jaeger-out"))
    assert otlp.issues.count(parse.DUPLICATE_SPAN) == 1
    assert parse.ORPHAN_SPAN in otlp.issues
    ui = parse_trace(_fixture("converter__v1__json__fixtures__ui_01"))
    assert parse.CONFLICTING_SPAN_ID in ui.issues  # same spanID, another operation
    assert parse.FOREIGN_REFERENCE in ui.issues
    assert ui.issues.count(parse.SPAN_WARNINGS) == 2
    by_id = {s.span_id: s for s in ui.trace.spans}
    # the first CHILD_OF inside the trace wins over the foreign one and the FOLLOWS_FROM one
    assert ui.trace.spans[by_id["0000000000000004"].parent].span_id == "0000000000000002"
    assert not by_id["0000000000000004"].follows
    skew = parse_trace(_fixture("traceWithSingleChildLongerThanParentAndStartsAfterParent"))
    assert parse.CLOCK_SKEW in skew.issues and parse.LONGER_THAN_ROOT in skew.issues


@needs_fixtures
def test_string_typed_tags_are_read_by_their_declared_type() -> None:
    trace = parse_trace(_fixture("TraceGraph__testTrace")).trace
    raw = _fixture("TraceGraph__testTrace")
    flagged = {
        s["spanID"]
        for s in raw["spans"]
        for t in s["tags"]
        if t["key"] == "error" and str(t["value"]).lower() == "true"
    }
    assert flagged  # the fixture sends "true" as a string typed bool
    assert {s.span_id for s in trace.spans if s.error} == flagged


def test_bad_traces_are_dropped_with_reasons_and_the_rest_analysed() -> None:
    good = TraceBuilder("a" * 32)
    good.span("web", "GET /", 0, 10, kind="server")
    broken_span = TraceBuilder("b" * 32)
    broken_span.span("web", "GET /", 0, 10)
    broken_span.spans[0]["startTime"] = "yesterday"
    raws = [
        (good.to_json(), "f.json: data[0]"),
        ("not a trace", "f.json: data[1]"),
        ({"traceID": "c" * 32, "spans": "nope"}, "f.json: data[2]"),
        ({"spans": []}, "f.json: data[3]"),
        (broken_span.to_json(), "f.json: data[4]"),
    ]
    analysis = analyze_traces(raws)
    assert analysis.traces == 1
    reasons = [(d.origin, d.reason) for d in analysis.dropped]
    assert reasons == [
        ("f.json: data[1]", parse.DROP_INVALID_TRACE),
        ("f.json: data[2]", parse.DROP_INVALID_TRACE),
        ("f.json: data[3]", parse.DROP_INVALID_TRACE),
        ("f.json: data[4]", parse.DROP_EMPTY_TRACE),
    ]
    assert analysis.issues[parse.INVALID_SPAN] == 1
    assert analysis.dropped[3].raw["traceID"] == "b" * 32  # kept whole for the quarantine


def test_numbers_sent_as_strings_are_accepted_and_processes_may_be_missing() -> None:
    tb = TraceBuilder()
    root = tb.span("web", "GET /", 0, 10, kind="server")
    tb.span("db", "query", 1, 5, root)
    raw = tb.to_json()
    raw["spans"][1]["startTime"] = str(raw["spans"][1]["startTime"])
    raw["spans"][1]["processID"] = "p-gone"
    parsed = parse_trace(raw)
    assert parsed.trace.spans[1].start == T0_US + 1000
    assert parsed.trace.spans[1].service == parse.UNKNOWN_SERVICE
    assert parsed.issues == (parse.MISSING_PROCESS,)


def test_parent_loops_are_cut_so_every_span_has_one_tree() -> None:
    tb = TraceBuilder()
    a = tb.span("x", "a", 0, 10)
    b = tb.span("x", "b", 1, 5, a)
    tb.spans[0]["references"] = [{"refType": "CHILD_OF", "traceID": tb.trace_id, "spanID": b}]
    parsed = parse_trace(tb.to_json())
    assert parsed.issues.count(parse.REFERENCE_CYCLE) == 1
    assert [parsed.trace.spans[i].span_id for i in parsed.trace.roots] == [a]


def test_critical_path_skips_overlapped_and_async_children_and_clips_skew() -> None:
    tb = TraceBuilder()
    root = tb.span("api", "GET /", 0, 100)
    tb.span("a", "fast", 10, 40, root)  # 10-50: overlapped by the slow one, not waited for
    tb.span("b", "slow", 20, 70, root)  # 20-90
    tb.span("q", "consume", 95, 50, root, follows=True)  # async: past the root's end
    tb.span("c", "skewed", -5, 10, root)  # starts before its parent: clipped to 0-5
    trace = parse_trace(tb.to_json()).trace
    names = {i: s.operation for i, s in enumerate(trace.spans)}
    path = {names[i]: us / 1000 for i, us in critical_path(trace).items()}
    assert path == {"GET /": 25.0, "slow": 70.0, "skewed": 5.0}
    own = {names[i]: us / 1000 for i, us in enumerate(self_times(trace))}
    # the root is covered 0-5 (skewed, clipped) and 10-90 (fast + slow): 85 of 100 ms
    assert own == {"GET /": 15.0, "fast": 40.0, "slow": 70.0, "consume": 50.0, "skewed": 10.0}


def test_statements_are_normalised_to_their_shape() -> None:
    assert (
        normalise_statement("SELECT *  FROM t WHERE id = 42 AND s IN ('a', 'b''c', 3.5)")
        == "SELECT * FROM t WHERE id = ? AND s IN (?)"
    )
    assert normalise_statement("INSERT INTO t (a, b) VALUES (1, 'x')") == (
        "INSERT INTO t (a, b) VALUES (?, ?)"
    )
    assert normalise_statement("SELECT col1 FROM t2 WHERE x = 0x1F") == (
        "SELECT col1 FROM t2 WHERE x = ?"
    )


def test_a_trace_counts_in_the_window_its_entry_span_starts_in_and_once() -> None:
    start = datetime.fromtimestamp(T0_US / 1e6, UTC).replace(minute=0, second=0, microsecond=0)
    inside, before = TraceBuilder("1" * 32), TraceBuilder("2" * 32, start_us=T0_US - 4 * 3600e6)
    for tb in (inside, before):
        tb.span("web", "GET /", 0, 10, kind="server")
    analysis = analyze_traces(
        [inside.to_json(), before.to_json(), inside.to_json()],
        window=(start, start + timedelta(hours=1)),
    )
    assert analysis.traces == 1
    assert analysis.issues == {OUTSIDE_WINDOW: 1, DUPLICATE_TRACE: 1}


def test_sampling_rate_scales_requests_per_day() -> None:
    start = datetime.fromtimestamp(T0_US / 1e6, UTC).replace(minute=0, second=0, microsecond=0)
    traces = []
    for i in range(4):
        tb = TraceBuilder(f"{i:032x}", start_us=T0_US + i * 1000)
        root = tb.span("web", "GET /", 0, 100, kind="server",
                       tags=[tag("sampler.type", "probabilistic"), tag("sampler.param", 0.01)])  # fmt: skip
        for k in range(6):
            tb.query(root, "web", f"SELECT * FROM t WHERE id = {k}", 1 + 10 * k, 5)
        traces.append(tb.to_json())
    analysis = analyze_traces(traces, window=(start, start + timedelta(hours=1)))
    (finding,) = [f for f in analysis.findings if f.kind == "n_plus_one"]
    # 4 sampled traces at 1% in one hour: 400 requests an hour, 9,600 a day
    assert finding.impact.requests_affected == 4
    assert finding.impact.requests_per_day == pytest.approx(9600.0)
