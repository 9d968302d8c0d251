"""Callers' view of each service from traces (aiops.traces.edge_signals) on hand-built traces
whose answer is known: a delay only the callers see, errors on either side, bucket edges, an
uninstrumented peer, calls inside one service."""

from __future__ import annotations

import pandas as pd
import pytest

from aiops.catalog import KNOWN_SIGNALS
from aiops.traces.edge_signals import (
    EDGE_COLUMNS,
    EDGE_SIGNAL_KINDS,
    EDGE_SIGNAL_UNITS,
    SIGNAL_COLUMNS,
    calls_frame,
    edge_frame,
    edge_signals,
    edges_from_calls,
    signals_from_calls,
)
from aiops.traces.model import Trace
from aiops.traces.parse import parse_trace
from support.trace_builder import T0_US, TraceBuilder, tag

MINUTE_MS = 60_000.0
# T0_US is 04:53:20 UTC: the minute bucket starts 20 s before it
BUCKET0 = pd.Timestamp(T0_US // 60_000_000 * 60, unit="s", tz="UTC")
OFFSET_MS = (T0_US % 60_000_000) / 1000.0  # T0 is this far into its minute


def parsed(builder: TraceBuilder) -> Trace:
    trace = parse_trace(builder.to_json()).trace
    assert trace is not None
    return trace


def frontend_to_cart(
    trace_id: str, start_ms: float, client_ms: float, server_ms: float, **errors: bool
) -> Trace:
    """frontend's request with one client call to cart; the client and server spans' durations
    are set apart, as a network delay sets them apart."""
    b = TraceBuilder(trace_id)
    root = b.span("frontend", "GET /cart", start_ms, client_ms + 10, kind="server")
    client = b.span(
        "frontend",
        "cart.GetCart",
        start_ms + 1,
        client_ms,
        root,
        kind="client",
        error=errors.get("client_error", False),
        tags=[tag("peer.service", "cart")],
    )
    b.span(
        "cart",
        "cart.GetCart",
        start_ms + 1 + (client_ms - server_ms) / 2,
        server_ms,
        client,
        kind="server",
        error=errors.get("server_error", False),
    )
    return parsed(b)


def value(frame: pd.DataFrame, service: str, signal: str, bucket: int = 0) -> float:
    stamp = BUCKET0 + pd.Timedelta(minutes=bucket)
    rows = frame[
        (frame["service"] == service) & (frame["signal"] == signal) & (frame["timestamp"] == stamp)
    ]
    assert len(rows) == 1, (service, signal, bucket, frame)
    return float(rows["value"].iloc[0])


def test_a_network_delay_shows_as_the_callers_latency_of_the_callee() -> None:
    before = [frontend_to_cart(f"a{i}", i * 100.0, 10.0, 8.0) for i in range(20)]
    later = MINUTE_MS + 1000
    during = [frontend_to_cart(f"b{i}", later + i * 100.0, 210.0, 8.0) for i in range(20)]
    signals = edge_signals(before + during)
    assert value(signals, "cart", "callers_latency_p95", 0) == pytest.approx(0.010)
    assert value(signals, "cart", "callers_latency_p95", 1) == pytest.approx(0.210)
    assert value(signals, "cart", "callers_latency_p50", 1) == pytest.approx(0.210)
    # the callee's own (server) spans stayed at 8 ms; the delay is attributed to the callee,
    # not to the caller whose spans carry it
    calls = calls_frame(during)
    assert calls["client_side"].all() and set(calls["callee"]) == {"cart"}
    assert set(signals["service"]) == {"cart"}


def test_without_a_client_span_the_callees_span_is_the_latency() -> None:
    b = TraceBuilder("s")
    root = b.span("frontend", "GET /", 0, 100, kind="server")
    b.span("cart", "cart.GetCart", 10, 40, root, kind="server")
    calls = calls_frame([parsed(b)])
    assert calls["latency"].tolist() == [pytest.approx(0.040)]
    assert calls["client_side"].tolist() == [False]


def test_an_untagged_parent_named_like_the_call_is_the_client_span() -> None:
    b = TraceBuilder("g")
    root = b.span("frontend", "GET /", 0, 100)
    client = b.span("frontend", "cart.GetCart", 5, 60, root)
    b.span("cart", "cart.GetCart", 10, 40, client)
    calls = calls_frame([parsed(b)])
    assert calls["latency"].tolist() == [pytest.approx(0.060)]
    assert calls["client_side"].tolist() == [True]


def test_errors_on_either_side_count_in_the_callers_error_ratio() -> None:
    traces = [
        frontend_to_cart("ok1", 0, 10, 8),
        frontend_to_cart("client", 100, 10, 8, client_error=True),  # a timeout cart never saw
        frontend_to_cart("server", 200, 10, 8, server_error=True),
        frontend_to_cart("both", 300, 10, 8, client_error=True, server_error=True),
    ]
    signals = edge_signals(traces)
    assert value(signals, "cart", "callers_error_ratio") == pytest.approx(3 / 4)
    edges = edge_frame(traces)
    assert edges[["caller", "callee", "calls", "errors"]].values.tolist() == [
        ["frontend", "cart", 4, 3]
    ]


def test_the_callers_own_error_is_not_the_calls() -> None:
    b = TraceBuilder("e")
    root = b.span("frontend", "GET /", 0, 100, kind="server", error=True)
    b.span("cart", "cart.GetCart", 10, 40, root, kind="server")
    assert calls_frame([parsed(b)])["error"].tolist() == [False]


def test_a_call_belongs_to_the_bucket_of_its_start() -> None:
    edge = MINUTE_MS - OFFSET_MS  # the first millisecond of the next minute, from T0
    traces = [
        frontend_to_cart("last", edge - 2, 10, 8),  # client starts 1 ms before the minute
        frontend_to_cart("first", edge - 1, 10, 8),  # client starts on the minute
        frontend_to_cart("next", edge + 5, 10, 8),
    ]
    signals = edge_signals(traces, step_seconds=60)
    calls = signals[signals["signal"] == "callers_calls"]
    assert calls["timestamp"].tolist() == [BUCKET0, BUCKET0 + pd.Timedelta(minutes=1)]
    # calls per second over the bucket: 1 call, then 2, in 60 s
    assert calls["value"].tolist() == pytest.approx([1 / 60, 2 / 60])
    assert str(signals["timestamp"].dt.tz) == "UTC"


def test_buckets_follow_the_step_and_align_to_the_epoch() -> None:
    traces = [frontend_to_cart(f"t{i}", i * 10_000.0, 10, 8) for i in range(12)]
    signals = edge_signals(traces, step_seconds=30)
    stamps = signals.loc[signals["signal"] == "callers_calls", "timestamp"]
    assert all(s.second % 30 == 0 and s.microsecond == 0 for s in stamps)
    counts = edge_frame(traces, step_seconds=30)["calls"].sum()
    assert counts == 12
    with pytest.raises(ValueError, match="step_seconds"):
        edge_signals(traces, step_seconds=0)


def test_an_uninstrumented_peer_is_a_callee_timed_by_the_client_span() -> None:
    b = TraceBuilder("db")
    root = b.span("cart", "GetCart", 0, 100, kind="server")
    b.query(root, "cart", "SELECT * FROM carts WHERE id = 1", 10, 30, db="redis", error=True)
    b.query(root, "cart", "SELECT * FROM carts WHERE id = 2", 50, 10, db="redis")
    trace = parsed(b)
    edges = edge_frame([trace])
    assert edges[["caller", "callee", "calls", "errors"]].values.tolist() == [
        ["cart", "redis", 2, 1]
    ]
    assert edges["latency_p95"].iloc[0] == pytest.approx(0.029)  # linear, between 10 and 30 ms
    signals = edge_signals([trace])
    assert value(signals, "redis", "callers_error_ratio") == pytest.approx(0.5)


def test_a_client_span_to_an_instrumented_callee_counts_once() -> None:
    calls = calls_frame([frontend_to_cart("once", 0, 10, 8)])
    assert len(calls) == 1  # the client span names peer.service but has the callee's span


def test_a_call_within_one_service_is_not_an_edge() -> None:
    b = TraceBuilder("self")
    root = b.span("cart", "GetCart", 0, 100, kind="server")
    inner = b.span("cart", "load", 5, 50, root)
    b.span("cart", "cache.get", 10, 5, inner, kind="client", tags=[tag("peer.service", "cart")])
    trace = parsed(b)
    assert calls_frame([trace]).empty
    assert edge_signals([trace]).empty and list(edge_signals([trace])) == list(SIGNAL_COLUMNS)
    assert edge_frame([trace]).empty and list(edge_frame([trace])) == list(EDGE_COLUMNS)


def test_several_callers_merge_into_the_callees_signals_but_not_its_edges() -> None:
    b = TraceBuilder("m")
    root = b.span("frontend", "GET /", 0, 300, kind="server")
    b.call(root, "frontend", "catalog", "GetProduct", 10, 20)
    checkout = b.call(root, "frontend", "checkout", "PlaceOrder", 40, 200)
    b.call(checkout, "checkout", "catalog", "GetProduct", 50, 100, error=True)
    calls = calls_frame([parsed(b)])
    signals = signals_from_calls(calls)
    assert value(signals, "catalog", "callers_calls") == pytest.approx(2 / 60)
    assert value(signals, "catalog", "callers_error_ratio") == pytest.approx(0.5)
    edges = edges_from_calls(calls)
    assert edges[["caller", "callee", "calls"]].values.tolist() == [
        ["checkout", "catalog", 1],
        ["frontend", "catalog", 1],
        ["frontend", "checkout", 1],
    ]


def test_every_signal_has_a_kind_and_a_unit_the_catalog_knows() -> None:
    assert set(EDGE_SIGNAL_KINDS) == set(EDGE_SIGNAL_UNITS)
    assert set(EDGE_SIGNAL_KINDS.values()) == {"traffic", "errors", "latency"}
    known_units = {s.kind: s.unit for s in KNOWN_SIGNALS.values()}
    for name, kind in EDGE_SIGNAL_KINDS.items():
        assert EDGE_SIGNAL_UNITS[name] == known_units[kind], name
    signals = edge_signals([frontend_to_cart("k", 0, 10, 8)])
    assert set(signals["signal"]) == set(EDGE_SIGNAL_KINDS)
