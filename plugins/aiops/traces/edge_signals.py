"""Per-service signals seen by the CALLERS, derived from traces: calls, error ratio, latency.

Why: a service's own metrics miss faults that sit between it and its callers. A network delay
injected at service X slows every packet to and from X, but X's handlers still take the usual
time: its request rate, error ratio and server-side latency stay flat. Only the callers see it,
as a longer client-side latency of their calls to X. A code fault in X shows the same way, as
errors or latency the callers observe. So each cross-service call is attributed to the CALLEE,
and root-cause analysis gets, per service, what the rest of the system experienced of it.

What is a call (the convention of `aiops.traces.dependencies`):

- a span whose parent span belongs to another service: caller = the parent's service, callee =
  the span's service;
- a client or producer span naming a ``peer`` (a database, a cache, a third-party API) that
  recorded no span of its own (no child of the span is in another service): callee = the peer.

Client side or server side: the latency is the caller's view when the trace has one. For a
call into an instrumented service it is the parent span's duration when that parent is the
caller's client span (``kind`` client or producer, or an untagged span named like the callee's
operation, as instrumentations without span kinds record gRPC calls), else the callee's own
span (server side; it then misses the network, which is the best the trace offers). For an
uninstrumented peer it is the client span. A call errs when either side is marked an error: the
callee's span, or the caller's client span (a timeout the callee never saw). The caller's own
server span is not the call, so neither its duration nor its error is used.

Buckets: a call belongs to the step bucket of its start (the client span's start when there is
one, else the callee span's), buckets aligned to the Unix epoch in UTC, ``timestamp`` being
the bucket's start. A bucket without calls into a service has no row, not a zero: traces are
sampled and exports have gaps, so no trace is not the same as no traffic.

Signals, per callee and bucket (units in `EDGE_SIGNAL_UNITS`): ``callers_calls``, the traced
calls into it per second over the bucket (a rate, like the metric ``request_rate``, so it
keeps its meaning whatever the step; `edge_frame` keeps the raw count); ``callers_error_ratio``;
``callers_latency_p50`` and ``_p95`` in seconds (numpy's linear quantiles, as the dependency
map's). Calls are not scaled by the sampling rate.

Reading them: a slow CALLER (starved of CPU) stretches its client spans too, so every callee
of that caller shows a higher callers' latency at once, while a slow callee shows it for all
of its callers. `edge_frame` tells the two apart. A bucket only partly covered by the traces
(an export window that starts mid-minute) has a lower ``callers_calls`` than its traffic.

`edge_signals` gives the long frame (``timestamp, service, signal, value``) the metric signals
use; `edge_frame` the same calls per caller -> callee edge, so an event can name the edge(s)
that moved. Both walk the traces once through `calls_frame`; `signals_from_calls` and
`edges_from_calls` let one walk feed both. `CallsAccumulator` is that walk one trace at a time:
`aiops.traces.analyze` collects the calls with it while it streams the night's traces
(`TraceAnalysis.calls`), so the signals need no second pass. The per-span walk is Python
(spans are objects); the aggregation is pandas.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
import pandas as pd

from aiops.traces.model import CLIENT_KINDS, Span, Trace

#: The kind of each signal, as the catalog's `SIGNAL_KINDS` names them.
EDGE_SIGNAL_KINDS: dict[str, str] = {
    "callers_calls": "traffic",
    "callers_error_ratio": "errors",
    "callers_latency_p50": "latency",
    "callers_latency_p95": "latency",
}

#: The unit of each signal, as `aiops.units` formats them (the catalog's known signals use the
#: same: request_rate in req/s, error_ratio a ratio, latency_p95 in seconds). `callers_calls`
#: is a rate, calls per second over the bucket, so it does not change with the step.
EDGE_SIGNAL_UNITS: dict[str, str] = {
    "callers_calls": "req/s",
    "callers_error_ratio": "ratio",
    "callers_latency_p50": "s",
    "callers_latency_p95": "s",
}

SIGNAL_COLUMNS = ("timestamp", "service", "signal", "value")
EDGE_COLUMNS = ("timestamp", "caller", "callee", "calls", "errors", "latency_p50", "latency_p95")
CALL_COLUMNS = ("start", "caller", "callee", "latency", "error", "client_side")

_QUANTILES = (0.5, 0.95)


def calls_frame(traces: Iterable[Trace]) -> pd.DataFrame:
    """One row per cross-service call: ``start`` (unix microseconds), ``caller``, ``callee``,
    ``latency`` (seconds), ``error`` and ``client_side`` (the latency is the caller's view)."""
    calls = CallsAccumulator()
    for trace in traces:
        calls.add(trace)
    return calls.frame()


class CallsAccumulator:
    """`calls_frame` one trace at a time, so a streaming analysis (`aiops.traces.analyze`)
    collects the calls while each trace is parsed once and dropped.

    What stays per call is two machine integers, two flags and two references to the
    (interned) service names, not the trace: a night's million spans hold a few tens of MB
    of calls. Rows are in the order the traces were added, each trace's in span order, as
    `calls_frame` gives them.
    """

    def __init__(self) -> None:
        self._starts = array("q")  # unix microseconds
        self._latencies = array("q")  # microseconds
        self._callers: list[str] = []
        self._callees: list[str] = []
        self._errors = bytearray()
        self._client_sides = bytearray()

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, trace: Trace) -> None:
        """Record the calls of ``trace`` (see the module doc for what is a call)."""
        starts, latencies = self._starts.append, self._latencies.append
        callers, callees = self._callers.append, self._callees.append
        errors, client_sides = self._errors.append, self._client_sides.append
        spans = trace.spans
        for span in spans:
            if span.parent >= 0:
                parent = spans[span.parent]
                if parent.service != span.service:
                    client = _client_side(parent, span)
                    timed = client or span
                    starts(timed.start)
                    callers(parent.service)
                    callees(span.service)
                    latencies(timed.duration)
                    errors(span.error or (client is not None and client.error))
                    client_sides(client is not None)
            if span.peer and _is_uninstrumented_call(span, spans):
                starts(span.start)
                callers(span.service)
                callees(span.peer)
                latencies(span.duration)
                errors(span.error)
                client_sides(True)

    def frame(self) -> pd.DataFrame:
        """The calls added so far, as `calls_frame` returns them."""
        return pd.DataFrame(
            {
                "start": np.frombuffer(self._starts, dtype=np.int64).copy(),
                "caller": pd.Series(self._callers, dtype="str"),
                "callee": pd.Series(self._callees, dtype="str"),
                "latency": np.frombuffer(self._latencies, dtype=np.int64) / 1e6,
                "error": np.frombuffer(self._errors, dtype=bool).copy(),
                "client_side": np.frombuffer(self._client_sides, dtype=bool).copy(),
            },
            columns=list(CALL_COLUMNS),
        )


def _client_side(parent: Span, span: Span) -> Span | None:
    """The caller's client span of this call, when the parent is one."""
    if parent.kind in CLIENT_KINDS:
        return parent
    if parent.kind == "" and parent.operation == span.operation:
        return parent
    return None


def _is_uninstrumented_call(span: Span, spans: list[Span]) -> bool:
    """A client span to a named peer that recorded no span under it."""
    if not span.peer or span.peer == span.service or span.kind not in CLIENT_KINDS:
        return False
    return not any(spans[c].service != span.service for c in span.children)


def edge_signals(traces: Iterable[Trace], step_seconds: int = 60) -> pd.DataFrame:
    """The callers' view of each service per step bucket, long format (see the module doc)."""
    return signals_from_calls(calls_frame(traces), step_seconds)


def edge_frame(traces: Iterable[Trace], step_seconds: int = 60) -> pd.DataFrame:
    """Calls, errors and client-side latency (seconds) per caller -> callee edge and bucket."""
    return edges_from_calls(calls_frame(traces), step_seconds)


def signals_from_calls(calls: pd.DataFrame, step_seconds: int = 60) -> pd.DataFrame:
    """`edge_signals` on a `calls_frame`: calls attributed to the callee, callers merged."""
    stats = _aggregate(calls, step_seconds, ["callee"])
    if stats.empty:
        return _empty_signals()
    stats["callers_calls"] = stats["calls"] / float(step_seconds)
    stats["callers_error_ratio"] = stats["errors"] / stats["calls"]
    stats["callers_latency_p50"] = stats["latency_p50"]
    stats["callers_latency_p95"] = stats["latency_p95"]
    long = stats.melt(
        id_vars=["timestamp", "callee"],
        value_vars=list(EDGE_SIGNAL_KINDS),
        var_name="signal",
        value_name="value",
    ).rename(columns={"callee": "service"})
    long = long.sort_values(["timestamp", "service", "signal"], kind="stable")
    return long.reset_index(drop=True)[list(SIGNAL_COLUMNS)]


def edges_from_calls(calls: pd.DataFrame, step_seconds: int = 60) -> pd.DataFrame:
    """`edge_frame` on a `calls_frame`."""
    stats = _aggregate(calls, step_seconds, ["caller", "callee"])
    if stats.empty:
        return pd.DataFrame(
            {
                "timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
                "caller": pd.Series([], dtype="str"),
                "callee": pd.Series([], dtype="str"),
                "calls": pd.Series([], dtype=np.int64),
                "errors": pd.Series([], dtype=np.int64),
                "latency_p50": pd.Series([], dtype=np.float64),
                "latency_p95": pd.Series([], dtype=np.float64),
            }
        )
    stats = stats.sort_values(["timestamp", "caller", "callee"], kind="stable")
    return stats.reset_index(drop=True)[list(EDGE_COLUMNS)]


def _aggregate(calls: pd.DataFrame, step_seconds: int, keys: list[str]) -> pd.DataFrame:
    """Calls, errors and latency quantiles per bucket and ``keys``; ``timestamp`` in UTC."""
    if isinstance(step_seconds, bool) or not isinstance(step_seconds, int) or step_seconds <= 0:
        raise ValueError(f"step_seconds must be a positive integer, got {step_seconds!r}")
    if calls.empty:
        return pd.DataFrame()
    step_us = step_seconds * 1_000_000
    frame = calls.assign(bucket=(calls["start"].to_numpy() // step_us) * step_us)
    grouped = frame.groupby(["bucket", *keys], sort=True)
    stats = grouped.agg(calls=("error", "size"), errors=("error", "sum"))
    quantiles = grouped["latency"].quantile(list(_QUANTILES)).unstack(-1)
    quantiles.columns = ["latency_p50", "latency_p95"]
    stats = stats.join(quantiles).reset_index()
    stats["calls"] = stats["calls"].astype(np.int64)
    stats["errors"] = stats["errors"].astype(np.int64)
    stats.insert(0, "timestamp", pd.to_datetime(stats.pop("bucket"), unit="us", utc=True))
    return stats


def _empty_signals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
            "service": pd.Series([], dtype="str"),
            "signal": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype=np.float64),
        }
    )
