"""The servicegraph recogniser on canned series: each callee gets its callers' view (calls,
error ratio, client-side latency) under the trace-edge signals' names, kinds and units, and
what discover writes from it is a catalog the loader renders per service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiops.catalog import parse_catalog
from aiops.discovery.discover import discover_services, render_catalog
from aiops.discovery.recognise_servicegraph import SERVICEGRAPH
from aiops.discovery.registry import CONVENTIONS
from aiops.traces.edge_signals import EDGE_SIGNAL_KINDS, EDGE_SIGNAL_UNITS

EDGES = (("user", "frontend"), ("frontend", "checkout"), ("frontend", "cart"),
         ("checkout", "payment"), ("cart", "payment"))  # fmt: skip
LE = ("0.01", "0.1", "1", "+Inf")
CLIENT = "traces_service_graph_request_client_seconds"


@dataclass
class Canned:
    """/api/v1/series answers by metric name (the recogniser asks for whole metrics)."""

    series_list: list[dict[str, str]]

    def metric_names(self) -> frozenset[str]:
        return frozenset(s["__name__"] for s in self.series_list)

    def series(self, selector: str) -> list[dict[str, str]]:
        name = selector.partition("{")[0]
        return [s for s in self.series_list if s["__name__"] == name]

    def value(self, query: str) -> float | None:
        return None


def servicegraph(
    edges=EDGES, histograms=(CLIENT, "traces_service_graph_request_server_seconds"), prefix=""
) -> list[dict[str, str]]:
    """What the connector exports for ``edges``, as the collector's scrape job labels it."""
    out = []
    for client, server in edges:
        labels = {"client": client, "server": server, "connection_type": "", "job": "otel"}
        out.append({"__name__": f"{prefix}traces_service_graph_request_total", **labels})
        if server == "payment":  # the connector makes the failed counter at the first failure
            out.append({"__name__": f"{prefix}traces_service_graph_request_failed_total", **labels})
        for hist in histograms:
            out += [{"__name__": f"{prefix}{hist}_bucket", "le": le, **labels} for le in LE]
            out += [{"__name__": f"{prefix}{hist}_{s}", **labels} for s in ("sum", "count")]
    return out


def otel_http(service: str) -> list[dict[str, str]]:
    metric = "http_server_request_duration_seconds"
    labels = {"service_name": service, "job": service, "http_response_status_code": "200"}
    return [{"__name__": f"{metric}_count", **labels}] + [
        {"__name__": f"{metric}_bucket", "le": le, **labels} for le in LE
    ]


def test_each_callee_gets_its_callers_calls_errors_and_client_side_latency() -> None:
    found = {f.name: f for f in SERVICEGRAPH.recognise(Canned(servicegraph()), frozenset())}
    assert sorted(found) == ["cart", "checkout", "frontend", "payment"]  # "user" only calls
    sig = found["payment"].signals
    assert list(sig) == list(EDGE_SIGNAL_KINDS)
    assert sig["callers_calls"].query == (
        'sum(rate(traces_service_graph_request_total{server="${service}"}[5m]))'
    )
    assert sig["callers_error_ratio"].query == (
        '(sum(rate(traces_service_graph_request_failed_total{server="${service}"}[5m]))'
        " or vector(0))"
        ' / sum(rate(traces_service_graph_request_total{server="${service}"}[5m]))'
    )
    for signal, q in (("callers_latency_p50", "0.5"), ("callers_latency_p95", "0.95")):
        assert sig[signal].query == (
            f"histogram_quantile({q}, sum by (le) (rate("
            'traces_service_graph_request_client_seconds_bucket{server="${service}"}[5m])))'
        )
    assert "server_seconds" not in " ".join(s.query for s in sig.values())
    assert found["payment"].evidence.endswith('server="payment" (called by cart, checkout)')
    assert found["payment"].jobs == frozenset()  # the collector's job keeps its `up` service


def test_kinds_units_and_bounds_are_the_trace_edge_signals_own() -> None:
    [svc] = SERVICEGRAPH.recognise(Canned(servicegraph(EDGES[3:4])), frozenset())
    for name, spec in svc.signals.items():
        assert (spec.kind, spec.unit) == (EDGE_SIGNAL_KINDS[name], EDGE_SIGNAL_UNITS[name])
    assert svc.signals["callers_calls"].direction == "both"
    assert svc.signals["callers_latency_p95"].direction == "up"
    errors = svc.signals["callers_error_ratio"]
    assert (errors.direction, errors.min, errors.max) == ("up", 0.0, 1.0)


def test_nothing_is_recognised_without_the_connectors_series() -> None:
    inv = Canned(otel_http("payment") + [{"__name__": "up", "job": "payment"}])
    assert SERVICEGRAPH.recognise(inv, frozenset()) == []
    discovery = discover_services(inv, CONVENTIONS)
    assert [list(s.signals) for s in discovery.services] == [
        ["request_rate", "error_ratio", "latency_p95"]
    ]


def test_older_collectors_duration_histogram_is_the_client_side_latency() -> None:
    legacy = servicegraph(EDGES[3:4], histograms=("traces_service_graph_request_duration_seconds",))
    [svc] = SERVICEGRAPH.recognise(Canned(legacy), frozenset())
    assert "traces_service_graph_request_duration_seconds_bucket{" in (
        svc.signals["callers_latency_p95"].query
    )
    both = Canned(legacy + servicegraph(EDGES[3:4]))
    [svc] = SERVICEGRAPH.recognise(both, frozenset())
    assert f"{CLIENT}_bucket{{" in svc.signals["callers_latency_p95"].query


def test_without_a_client_histogram_only_calls_and_errors_are_given() -> None:
    server_only = servicegraph(
        EDGES[3:4], histograms=("traces_service_graph_request_server_seconds",)
    )
    [svc] = SERVICEGRAPH.recognise(Canned(server_only), frozenset())
    assert list(svc.signals) == ["callers_calls", "callers_error_ratio"]


def test_an_exporter_namespace_in_front_of_the_names_is_followed() -> None:
    inv = Canned(servicegraph(EDGES[3:4], prefix="servicegraph_"))
    [svc] = SERVICEGRAPH.recognise(inv, frozenset())
    assert "servicegraph_traces_service_graph_request_failed_total{" in (
        svc.signals["callers_error_ratio"].query
    )
    assert f"servicegraph_{CLIENT}_bucket{{" in svc.signals["callers_latency_p50"].query
    not_a_prefix = Canned([{"__name__": "mytraces_service_graph_request_total", "server": "a"}])
    assert SERVICEGRAPH.recognise(not_a_prefix, frozenset()) == []


def test_discovered_catalog_renders_callers_signals_beside_the_services_own() -> None:
    series = servicegraph(EDGES[3:4] + (("checkout", "Fraud.Check"),)) + otel_http("payment")
    discovery = discover_services(Canned(series), CONVENTIONS)
    by_name = {s.name: s for s in discovery.services}
    assert list(by_name["payment"].signals) == [
        "request_rate", "error_ratio", "latency_p95", *EDGE_SIGNAL_KINDS
    ]  # fmt: skip
    assert by_name["payment"].conventions == ["otel-http", "servicegraph"]
    when = datetime(2026, 1, 1, tzinfo=UTC)
    text = render_catalog(discovery, source="http://prom:9090", start=when, end=when)
    catalog = parse_catalog(text, "discovered.yaml")
    assert catalog.query("payment", "callers_latency_p95") == (
        "histogram_quantile(0.95, sum by (le) (rate("
        'traces_service_graph_request_client_seconds_bucket{server="payment"}[5m])))'
    )
    # a server label that is not a catalog name is matched literally, under a catalog name
    assert 'server="Fraud.Check"' in catalog.query("fraud-check", "callers_calls")
    spec = catalog.signal("payment", "callers_error_ratio")
    assert (spec.kind, spec.unit, spec.max) == ("errors", "ratio", 1.0)
    assert catalog.signal("payment", "latency_p95").kind == "latency"  # the service's own kept
