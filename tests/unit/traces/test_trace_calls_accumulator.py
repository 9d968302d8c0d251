"""The calls behind the callers' edge signals, collected while the analysis streams the traces
(aiops.traces.edge_signals.CallsAccumulator, TraceAnalysis.calls): the same rows calls_frame
gives for the traces the analysis kept, one pass, and the collector left as it was found."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aiops.sources.jaeger_files import TraceFileError, iter_trace_documents
from aiops.traces.analyze import TraceAnalysis, analyze_traces
from aiops.traces.edge_signals import (
    CALL_COLUMNS,
    CallsAccumulator,
    calls_frame,
    edge_signals,
    signals_from_calls,
)
from aiops.traces.model import Trace
from aiops.traces.parse import INVALID_SPAN, parse_trace
from support.trace_builder import T0_US, TraceBuilder, envelope, tag

T0 = datetime.fromtimestamp(T0_US / 1e6, tz=UTC)


def checkout(trace_id: str, start_ms: float, *, slow_db: bool = False) -> dict[str, Any]:
    """frontend -> checkout (client and server spans) -> a database query and payment, with
    the database recording no span of its own."""
    b = TraceBuilder(trace_id)
    root = b.span("frontend", "POST /checkout", start_ms, 200, kind="server")
    server = b.call(root, "frontend", "checkout", "PlaceOrder", start_ms + 5, 180)
    b.query(server, "checkout", "SELECT * FROM carts WHERE id = 7", start_ms + 10,
            80 if slow_db else 20, error=slow_db)  # fmt: skip
    b.span("payment", "Charge", start_ms + 100, 50, server, kind="server")
    return b.to_json()


def parsed(raw: dict[str, Any]) -> Trace:
    trace = parse_trace(raw).trace
    assert trace is not None
    return trace


def test_the_analysis_collects_the_calls_of_exactly_the_traces_it_analysed() -> None:
    kept = [checkout(f"k{i}", i * 1000.0, slow_db=i % 3 == 0) for i in range(6)]
    repeated = checkout("k1", 1000.0)  # the same trace again (another export file): skipped
    late = checkout("late", 2 * 86_400_000.0)  # starts outside the window: another day's
    broken = {"traceID": "x", "spans": "not a list"}  # dropped, quarantined
    window = (T0, T0 + timedelta(days=1))
    analysis = analyze_traces([*kept, repeated, late, broken], window=window)

    assert analysis.traces == 6 and len(analysis.dropped) == 1
    expected = calls_frame(parsed(raw) for raw in kept)
    pd.testing.assert_frame_equal(analysis.calls, expected)
    # per trace: frontend -> checkout (client side), checkout -> postgres, checkout -> payment
    assert len(analysis.calls) == 18
    assert sorted(set(zip(analysis.calls["caller"], analysis.calls["callee"], strict=True))) == [
        ("checkout", "payment"),
        ("checkout", "postgres"),
        ("frontend", "checkout"),
    ]
    # the edge signals need no second pass over the traces
    pd.testing.assert_frame_equal(
        signals_from_calls(analysis.calls), edge_signals(parsed(raw) for raw in kept)
    )


def test_calls_can_be_taken_while_traces_are_still_being_added() -> None:
    first, second = parsed(checkout("a", 0)), parsed(checkout("b", 500, slow_db=True))
    calls = CallsAccumulator()
    calls.add(first)
    so_far = calls.frame()
    calls.add(second)
    pd.testing.assert_frame_equal(so_far, calls_frame([first]))
    pd.testing.assert_frame_equal(calls.frame(), calls_frame([first, second]))
    assert len(calls) == 6
    assert calls.frame()["error"].tolist() == [False] * 3 + [False, True, False]


def test_no_calls_is_an_empty_frame_of_the_same_columns_and_types() -> None:
    empty = CallsAccumulator().frame()
    full = calls_frame([parsed(checkout("a", 0))])
    assert empty.empty and list(empty) == list(CALL_COLUMNS)
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    # a TraceAnalysis made without calls (as existing callers do) has that empty frame
    bare = TraceAnalysis(0, 0, {}, [], [], [], [])
    pd.testing.assert_frame_equal(bare.calls, empty)
    assert analyze_traces([]).calls.empty


def test_a_span_time_beyond_64_bits_is_an_invalid_span_not_a_failed_analysis() -> None:
    b = TraceBuilder("huge")
    root = b.span("frontend", "GET /", 0, 100, kind="server")
    b.span("cart", "GetCart", 10, 40, root, kind="server")
    b.span("cart", "Broken", 20, 10, root, kind="server", tags=[tag("note", "bad clock")])
    raw = b.to_json()
    raw["spans"][2]["startTime"] = 2**63  # no int64 column holds it
    result = parse_trace(raw)
    assert result.issues == (INVALID_SPAN,)
    analysis = analyze_traces([raw, checkout("fine", 0)])
    assert analysis.traces == 2 and analysis.issues[INVALID_SPAN] == 1
    assert analysis.calls["callee"].tolist().count("cart") == 1


def test_the_collector_is_paused_while_streaming_and_restored_after(tmp_path: Path) -> None:
    states: list[bool] = []

    def watched(raws: list[dict[str, Any]]):
        for raw in raws:
            states.append(gc.isenabled())
            yield raw

    assert gc.isenabled()
    analyze_traces(watched([checkout("a", 0), checkout("b", 10)]))
    assert states == [False, False] and gc.isenabled()

    # ... also when the reader fails half way (the second file is not JSON)
    good, bad = tmp_path / "a.json", tmp_path / "b.json"
    good.write_text(json.dumps(envelope([checkout("c", 0)])))
    bad.write_text("{not json")
    with pytest.raises(TraceFileError, match="b.json:1:2: not valid JSON"):
        analyze_traces(iter_trace_documents([good, bad]))
    assert gc.isenabled()

    # ... and a caller that turned it off keeps it off
    gc.disable()
    try:
        analyze_traces([checkout("d", 0)])
        assert not gc.isenabled()
    finally:
        gc.enable()
