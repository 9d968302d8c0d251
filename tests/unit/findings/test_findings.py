"""Findings are identified by what the problem is, not by how bad it was today."""

from __future__ import annotations

import json

from aiops.findings.model import Finding, Safety, fingerprint, safety_for
from aiops.traces.analyze import analyze_traces
from aiops.traces.dependencies import diff_edges
from aiops.traces.model import Edge
from support.trace_builder import TraceBuilder


def _day(day: int, query_ms: float, repeats: int) -> list[dict]:
    """A day of catalog requests with an N+1 loop and checkout's sequential calls; ``day``
    changes every ID and start time, ``query_ms`` / ``repeats`` change every number."""
    out = []
    for i in range(5):
        tb = TraceBuilder(
            f"{day:02d}{i:030x}", start_us=1_761_800_000_000_000 + day * 86_400_000_000
        )
        root = tb.span("catalog", "GET /products", 0, 400, kind="server")
        for k in range(repeats):
            tb.query(root, "catalog", f"SELECT * FROM reviews WHERE product_id = {day * 100 + k}",
                     1 + (query_ms + 1) * k, query_ms)  # fmt: skip
        out.append(tb.to_json())
    return out


def test_fingerprints_are_stable_across_runs_and_days() -> None:
    monday = analyze_traces(_day(1, 5.0, 12))
    again = analyze_traces(_day(1, 5.0, 12))
    tuesday = analyze_traces(_day(2, 9.0, 20))
    prints = [[f.fingerprint for f in a.findings] for a in (monday, again, tuesday)]
    assert prints[0] and prints[0] == prints[1] == prints[2]
    # ... while the numbers behind them differ
    assert monday.findings[0].impact.ms_per_request != tuesday.findings[0].impact.ms_per_request
    # and a different problem has a different fingerprint
    assert fingerprint("traces", "n_plus_one", "catalog", "GET /products", {"call": "x"}) != (
        monday.findings[0].fingerprint
    )


def test_finding_json_round_trips_and_is_what_the_cli_writes() -> None:
    analysis = analyze_traces(_day(1, 5.0, 12))
    for finding in analysis.findings:
        doc = json.loads(json.dumps(finding.to_json()))
        again = Finding.from_json(doc)
        assert again.to_json() == doc
        assert doc["fingerprint"] == finding.fingerprint
        assert set(doc["impact"]) == {"ms_per_request", "p95_share", "requests_affected",
                                      "requests_per_day"}  # fmt: skip
        assert doc["safety"] in {s.value for s in Safety}


def test_safety_comes_from_the_action_and_unknown_actions_are_not_safe() -> None:
    assert safety_for("scale_out") is Safety.SAFE
    assert safety_for("code_change") is Safety.REQUIRES_APPROVAL
    assert safety_for("delete_data") is Safety.FORBIDDEN
    assert safety_for("something new") is Safety.REQUIRES_APPROVAL


def _edge(parent: str, child: str, p95: float, errors: int = 0) -> Edge:
    return Edge(parent, child, 100, errors, p95 / 2, p95, p95 * 1.2, ("op",))


def test_day_over_day_diff_names_new_vanished_and_shifted_edges() -> None:
    before = [_edge("a", "b", 10), _edge("a", "c", 10), _edge("b", "d", 2.0), _edge("a", "x", 5)]
    after = [_edge("a", "b", 30), _edge("a", "c", 11), _edge("b", "d", 4.0, errors=5),
             _edge("a", "y", 5)]  # fmt: skip
    diff = diff_edges(before, after)
    assert [f"{e.parent}->{e.child}" for e in diff.new] == ["a->y"]
    assert [f"{e.parent}->{e.child}" for e in diff.vanished] == ["a->x"]
    # a->b tripled; a->c moved 10%; b->d doubled but by 2 ms only, its error rate went 0 -> 5%
    assert diff.shifts == [
        {"edge": "a -> b", "what": "p95_ms", "before": 10.0, "after": 30.0},
        {"edge": "b -> d", "what": "error_rate", "before": 0.0, "after": 0.05},
    ]
    assert not diff_edges(before, before)
