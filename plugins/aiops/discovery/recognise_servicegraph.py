"""The callers' view of each service from the OpenTelemetry Collector's servicegraph connector
(Grafana Tempo's metrics-generator writes the same series).

Why: a network delay or a code fault that only the callers see leaves a service's own metrics
flat (its handlers take the usual time), so root-cause ranking needs what the rest of the
system experienced of it. `aiops.traces.edge_signals` computes that from traces; the connector
already exports it to Prometheus per client -> server edge, so the hourly run can read it as
ordinary catalog signals, with no trace reading.

Per ``server`` label value (the callee), summed over all its clients and connection types:

- ``callers_calls``: calls per second (``traces_service_graph_request_total``);
- ``callers_error_ratio``: the failed share (``traces_service_graph_request_failed_total``,
  which the connector only creates at the first failure, so no failures reads 0);
- ``callers_latency_p50`` / ``_p95``: quantiles of the CLIENT-side histogram
  (``traces_service_graph_request_client_seconds``, or the older collectors' single
  ``traces_service_graph_request_duration_seconds``), which holds the network; the
  server-side one does not, so it is not used.

Names, units and kinds are `edge_signals`' own, so trace-derived and connector-derived signals
mean the same. A Prometheus exporter ``namespace`` (``servicegraph_traces_service_graph_...``)
is followed: the prefix in front of the request counter is used for every metric.

The series come from the collector's scrape job, not the services', so a service found here
claims no job: the collector keeps its `up` service.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.discovery.conventions import (
    RATE_WINDOW,
    DraftSignal,
    FoundService,
    Inventory,
    first_present,
    label_values,
    service_matcher,
    service_name,
)
from aiops.traces.edge_signals import EDGE_SIGNAL_KINDS, EDGE_SIGNAL_UNITS

REQUESTS = "traces_service_graph_request_total"
FAILED = "traces_service_graph_request_failed_total"
#: Client-side latency histograms' buckets, the current name first.
CLIENT_BUCKETS = (
    "traces_service_graph_request_client_seconds_bucket",
    "traces_service_graph_request_duration_seconds_bucket",
)
#: The quantile of each latency signal.
QUANTILES = {"callers_latency_p50": 0.5, "callers_latency_p95": 0.95}
#: Which way is bad, as recognise_http has it for the service's own signals.
DIRECTIONS = {"traffic": "both", "errors": "up", "latency": "up"}


@dataclass(frozen=True)
class ServiceGraphConvention:
    name: str = "servicegraph"
    title: str = "OpenTelemetry servicegraph connector (callers' view)"

    def recognise(self, inventory: Inventory, claimed_jobs: frozenset[str]) -> list[FoundService]:
        prefix = metric_prefix(inventory.metric_names())
        if prefix is None:
            return []
        total, failed = prefix + REQUESTS, prefix + FAILED
        bucket = first_present((prefix + b for b in CLIENT_BUCKETS), inventory)
        series = inventory.series(total)
        found = []
        for raw in label_values(series, "server"):
            name = service_name(raw)
            if name is None:
                continue
            sel = service_matcher("server", raw, name)
            signals = {
                "callers_calls": _signal(
                    "callers_calls", f"sum(rate({total}{{{sel}}}[{RATE_WINDOW}]))"
                ),
                "callers_error_ratio": _signal(
                    "callers_error_ratio",
                    f"(sum(rate({failed}{{{sel}}}[{RATE_WINDOW}])) or vector(0))"
                    f" / sum(rate({total}{{{sel}}}[{RATE_WINDOW}]))",
                    max_value=1.0,
                ),
            }
            if bucket is not None:
                for signal, q in QUANTILES.items():
                    signals[signal] = _signal(
                        signal,
                        f"histogram_quantile({q:g}, sum by (le) (rate({bucket}{{{sel}}}"
                        f"[{RATE_WINDOW}])))",
                    )
            callers = label_values((s for s in series if s.get("server") == raw), "client")
            seen = ", ".join(m for m in (total, bucket) if m)
            evidence = f'{seen} with server="{raw}" (called by {", ".join(callers) or "?"})'
            found.append(FoundService(name, self.name, evidence, signals))
        return found


def metric_prefix(names: frozenset[str]) -> str | None:
    """What stands before the request counter's name ("" for the plain names, else an
    exporter namespace ending in "_"); None when the server has no servicegraph series."""
    prefixes = sorted(
        n[: -len(REQUESTS)]
        for n in names
        if n.endswith(REQUESTS) and (n == REQUESTS or n[: -len(REQUESTS)].endswith("_"))
    )
    return prefixes[0] if prefixes else None


def _signal(name: str, query: str, max_value: float | None = None) -> DraftSignal:
    kind = EDGE_SIGNAL_KINDS[name]
    return DraftSignal(query, EDGE_SIGNAL_UNITS[name], kind, DIRECTIONS[kind], 0.0, max_value)


SERVICEGRAPH = ServiceGraphConvention()

__all__ = [
    "CLIENT_BUCKETS",
    "FAILED",
    "QUANTILES",
    "REQUESTS",
    "SERVICEGRAPH",
    "ServiceGraphConvention",
    "metric_prefix",
]
