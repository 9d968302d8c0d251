"""The callers' view as events in a post-mortem: a network delay that only callers see names
the callee, a caller whose every call slowed is blamed itself, and a quiet service every
troubled caller shares can be named. Every scenario is built here from spans, so the expected
answer follows from who calls whom and what moved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent, from_anomaly_event
from aiops.incidents.postmortem import PostmortemConfig, active_events
from aiops.incidents.ranking import SHARED_CALLEE, rank_root_causes
from aiops.incidents.trace_events import EdgeScoringConfig, blamed, edge_anomalies
from aiops.traces.edge_signals import edge_frame
from aiops.traces.model import Span, Trace

T0 = datetime(2022, 8, 22, 4, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
US = 1_000_000


def call_trace(trace_id: str, start_us: int, calls: list[tuple[str, str, float]]) -> Trace:
    """One request: a root span in the first caller, then per call (callers before their
    callees) a client span under the caller's server span and the callee's server span under
    it; latency in seconds."""
    spans = [Span("root", calls[0][0], "GET /", start_us, 2 * US)]
    server_of = {calls[0][0]: 0}
    for caller, callee, latency in calls:
        parent = server_of[caller]
        client = Span(f"c{len(spans)}", caller, f"{callee}/Call", start_us, int(latency * US),
                      parent=parent, kind="client")  # fmt: skip
        spans.append(client)
        spans[parent].children.append(len(spans) - 1)
        server = Span(f"s{len(spans)}", callee, f"{callee}/Call", start_us + 1000,
                      int(0.8 * latency * US), parent=len(spans) - 1, kind="server")  # fmt: skip
        spans.append(server)
        client.children.append(len(spans) - 1)
        server_of.setdefault(callee, len(spans) - 1)
    return Trace(trace_id, spans, [0])


def capture(
    edges: list[tuple[str, str]], minutes: range, slow: dict[tuple[str, str], float], seed: int = 0
) -> list[Trace]:
    """Ten requests a minute over `minutes`, each making every call of `edges` at about 20
    ms; from minute 40 on, the calls in `slow` take that many times longer."""
    rng = np.random.default_rng(seed)
    traces = []
    for m in minutes:
        for i in range(10):
            start = int((T0 + m * MINUTE).timestamp() * US) + i * 5 * US
            calls = []
            for edge in edges:
                latency = 0.02 * rng.lognormal(0.0, 0.1)
                if m >= 40:
                    latency *= slow.get(edge, 1.0)
                calls.append((edge[0], edge[1], latency))
            traces.append(call_trace(f"t{m}-{i}", start, calls))
    return traces


SPAN = (T0 + 39 * MINUTE, T0 + 49 * MINUTE)
# a sparse export, as captures around incidents are: minutes 0-29 and the incident's
MINUTES = [*range(0, 30), *range(40, 46)]


def scored(edges, slow) -> list[dict]:
    frame = edge_frame(capture(edges, MINUTES, slow))
    return edge_anomalies(frame, SPAN).rows


def test_a_network_delay_shows_as_the_callers_latency_and_ranks_the_callee_first():
    edges = [("frontend", "checkout"), ("checkout", "payment"), ("frontend", "cart")]
    rows = scored(edges, {("checkout", "payment"): 5.0})
    assert {(r["service"], r["signal"]) for r in rows} >= {("payment", "callers_latency_p95")}
    assert {r["service"] for r in rows} == {"payment"}  # nothing blamed on the caller
    row = next(r for r in rows if r["signal"] == "callers_latency_p95")
    assert row["signal_kind"] == "latency" and row["start"] == T0 + 40 * MINUTE
    assert "as checkout sees its calls to payment" in row["explanation"]
    # the caller's own latency moved too (it waits for payment): payment still ranks first
    caller = IncidentEvent("metric", "checkout", "latency_p95", "anomaly", T0 + 40 * MINUTE,
                           T0 + 46 * MINUTE, 30.0, "critical", True, "", "k", 6, "latency")  # fmt: skip
    events = [caller, *(from_anomaly_event(r) for r in rows)]
    ranking = rank_root_causes(events, DependencyGraph.from_pairs(edges))
    assert ranking.root.service == "payment"


def test_a_caller_whose_every_call_slowed_is_blamed_not_its_callees():
    edges = [("frontend", "checkout"), ("frontend", "shipping"), ("checkout", "payment"),
             ("checkout", "email"), ("checkout", "shipping")]  # fmt: skip
    slow = {e: 4.0 for e in edges if e[0] == "checkout"}  # checkout starved of CPU
    rows = scored(edges, slow)
    assert rows and {r["service"] for r in rows} == {"checkout"}
    assert {r["signal"] for r in rows} <= {"calls_latency_p50", "calls_latency_p95"}
    events = [from_anomaly_event(r) for r in rows]
    assert rank_root_causes(events, DependencyGraph.from_pairs(edges)).root.service == "checkout"


AB_XY = {("a", "x"), ("a", "y"), ("b", "x")}  # a calls x and y, b calls x


@pytest.mark.parametrize(
    ("edge", "moved", "active", "expected"),
    [
        (("a", "x"), {("a", "x")}, AB_XY, "callee"),  # one edge of each moved: the callee
        (("a", "x"), {("a", "x"), ("a", "y")}, AB_XY, "caller"),  # all of a's calls moved
        (("a", "x"), {("a", "x"), ("b", "x")}, AB_XY, "callee"),  # all of x's callers saw it
        (("a", "x"), {("a", "x"), ("a", "y"), ("b", "x")}, AB_XY, "callee"),  # both, as much
        (("c", "x"), {("c", "x")}, {("c", "x"), ("b", "x")}, "caller"),  # c's only call moved,
        (("c", "x"), {("c", "x")}, {("c", "x")}, "callee"),  # ... the only edge either has
    ],
)
def test_which_end_of_a_moved_edge_is_blamed(edge, moved, active, expected):
    assert blamed(edge, moved, active) == expected


def test_an_edge_without_enough_minutes_outside_the_window_is_reported_not_scored():
    traces = capture([("checkout", "payment")], range(36, 46), {("checkout", "payment"): 5.0})
    scores = edge_anomalies(edge_frame(traces), SPAN, EdgeScoringConfig(min_baseline_points=10))
    assert scores.rows == []
    assert set(scores.unscored) == {
        f"checkout->payment:{m}" for m in ("error_ratio", "latency_p50", "latency_p95")
    }
    assert (
        "3 minutes of traces outside the window" in scores.unscored["checkout->payment:latency_p95"]
    )


def test_a_quiet_callee_every_troubled_caller_shares_can_be_named():
    g = DependencyGraph.from_pairs([("web", "db"), ("api", "db"), ("web", "cache")])
    events = [
        IncidentEvent("metric", s, "latency_p95", "anomaly", T0, T0 + 10 * MINUTE, z, "warning",
                      True, "", f"k{s}", 10, "latency")
        for s, z in (("web", 9.0), ("api", 7.0))
    ]  # fmt: skip
    ranking = rank_root_causes(events, g)
    assert ranking.root.service == "db"
    assert {c.service: c.role for c in ranking.candidates}["db"] == "root"
    # only one of them calls the cache: it is no candidate
    assert "cache" not in {c.service for c in ranking.candidates}
    # when one troubled service calls the other, that explains it: no shared callee
    g2 = DependencyGraph.from_pairs([("web", "db"), ("api", "db"), ("web", "api")])
    assert {c.role for c in rank_root_causes(events, g2).candidates} != {SHARED_CALLEE}
    assert rank_root_causes(events, g2).root.service == "api"


def test_an_event_going_on_before_the_window_keeps_a_fraction_of_its_strength():
    at = T0 + 30 * MINUTE
    rows = [
        {"service": s, "signal": "latency_p95", "kind": "anomaly", "start": start,
         "end": at + 5 * MINUTE, "peak_score": 40.0, "severity": "critical",
         "explanation": "", "points": 5, "signal_kind": "latency"}
        for s, start in (("old", T0), ("new", at))
    ]  # fmt: skip
    config = PostmortemConfig(lingering_weight=0.25)
    by = {e.service: e for e in active_events(rows, at, config)}
    assert not by["old"].onset_known and by["old"].strength == pytest.approx(10.0)
    assert by["new"].onset_known and by["new"].strength == pytest.approx(40.0)
    assert replace(config, lingering_weight=1.0).lingering_weight == 1.0
    with pytest.raises(ValueError, match="lingering_weight"):
        PostmortemConfig(lingering_weight=1.5)
