"""The convention recognisers on canned series: which services each finds, how they are named,
and the queries they write; and that what discover writes is a catalog the loader accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from aiops.catalog import parse_catalog
from aiops.discovery.conventions import FoundService, service_name
from aiops.discovery.discover import discover_services, render_catalog, summary_lines
from aiops.discovery.recognise_containers import CONTAINERS
from aiops.discovery.recognise_http import OTEL_HTTP, OTEL_HTTP_LEGACY, SPANMETRICS
from aiops.discovery.recognise_node import NODES
from aiops.discovery.recognise_up import UP
from aiops.discovery.registry import CONVENTIONS, ConventionRegistry

_MATCHER = re.compile(r'(\w+)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"')


@dataclass
class CannedInventory:
    """What /api/v1/series and an instant query would answer, from a list of label sets."""

    series_list: list[dict[str, str]]
    values: dict[str, float] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def metric_names(self) -> frozenset[str]:
        return frozenset(s["__name__"] for s in self.series_list)

    def series(self, selector: str) -> list[dict[str, str]]:
        self.asked.append(selector)
        name, _, rest = selector.partition("{")
        matchers = _MATCHER.findall(rest)
        return [s for s in self.series_list if s["__name__"] == name and _ok(s, matchers)]

    def value(self, query: str) -> float | None:
        return self.values.get(query)


def _ok(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for label, op, value in matchers:
        have = labels.get(label, "")
        hit = re.fullmatch(value, have) is not None if "~" in op else have == value
        if hit == op.startswith("!"):
            return False
    return True


def _s(name: str, **labels: str) -> dict[str, str]:
    return {"__name__": name, **labels}


def _otel(service: str, job: str, metric: str = "http_server_request_duration_seconds",
          code: str = "http_response_status_code") -> list[dict[str, str]]:  # fmt: skip
    out = []
    for status in ("200", "503"):
        labels = {"service_name": service, "job": job, code: status}
        out += [_s(f"{metric}_count", **labels), _s(f"{metric}_sum", **labels)]
        out += [_s(f"{metric}_bucket", le=le, **labels) for le in ("0.1", "1", "+Inf")]
    return out


def test_otel_http_gives_rate_errors_and_p95_per_service_name() -> None:
    inv = CannedInventory(_otel("checkout", "shop/checkout") + _otel("cart", "shop/cart"))
    found = {f.name: f for f in OTEL_HTTP.recognise(inv, frozenset())}
    assert sorted(found) == ["cart", "checkout"]
    sig = found["checkout"].signals
    assert sig["request_rate"].query == (
        'sum(rate(http_server_request_duration_seconds_count{service_name="${service}"}[5m]))'
    )
    assert 'http_response_status_code=~"5.."' in sig["error_ratio"].query
    assert "or vector(0)" in sig["error_ratio"].query  # no failures reads 0, not "no data"
    assert (sig["error_ratio"].unit, sig["error_ratio"].max) == ("ratio", 1.0)
    assert sig["latency_p95"].query == (
        "histogram_quantile(0.95, sum by (le) (rate("
        'http_server_request_duration_seconds_bucket{service_name="${service}"}[5m])))'
    )
    assert found["checkout"].jobs == {"shop/checkout"}


def test_otel_without_service_name_falls_back_to_job() -> None:
    series = [{k: v for k, v in s.items() if k != "service_name"} for s in _otel("x", "payments")]
    [svc] = OTEL_HTTP.recognise(CannedInventory(series), frozenset())
    assert svc.name == "payments" and 'job="${service}"' in svc.signals["request_rate"].query


def test_legacy_otel_latency_is_converted_from_milliseconds() -> None:
    inv = CannedInventory(
        _otel("cart", "cart", "http_server_duration_milliseconds", code="http_status_code")
    )
    [svc] = OTEL_HTTP_LEGACY.recognise(inv, frozenset())
    assert svc.signals["latency_p95"].query.endswith(" * 0.001")
    assert 'http_status_code=~"5.."' in svc.signals["error_ratio"].query
    assert OTEL_HTTP.recognise(inv, frozenset()) == []


def test_spanmetrics_counts_server_spans_and_error_status() -> None:
    series = []
    for kind in ("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"):
        for status in ("STATUS_CODE_UNSET", "STATUS_CODE_ERROR"):
            labels = {"service_name": "frontend", "span_kind": kind, "status_code": status}
            series += [_s("traces_spanmetrics_calls_total", **labels),
                       _s("traces_spanmetrics_duration_milliseconds_bucket", le="+Inf", **labels)]  # fmt: skip
    series.append(_s("traces_spanmetrics_calls_total", service_name="loadgen",
                     span_kind="SPAN_KIND_CLIENT", status_code="STATUS_CODE_UNSET"))  # fmt: skip
    [svc] = SPANMETRICS.recognise(CannedInventory(series), frozenset())
    assert svc.name == "frontend"  # loadgen only calls out: no server spans, no service
    assert svc.signals["request_rate"].query == (
        'sum(rate(traces_spanmetrics_calls_total{service_name="${service}",'
        'span_kind="SPAN_KIND_SERVER"}[5m]))'
    )
    assert 'status_code="STATUS_CODE_ERROR"' in svc.signals["error_ratio"].query
    assert "traces_spanmetrics_duration_milliseconds_bucket" in svc.signals["latency_p95"].query


def test_containers_without_kube_state_metrics_are_workloads_by_container_name() -> None:
    series = [
        _s("container_cpu_usage_seconds_total", container=c, pod=f"{c}-1", namespace="shop",
           job="kubelet") for c in ("cart", "POD", "")
    ] + [_s("container_memory_working_set_bytes", container="cart", pod="cart-1")]  # fmt: skip
    [svc] = CONTAINERS.recognise(CannedInventory(series), frozenset())
    assert svc.name == "cart" and svc.jobs == {"kubelet"}
    assert svc.signals["cpu"].query == (
        'sum(rate(container_cpu_usage_seconds_total{container="${service}",container!="",'
        'container!="POD"}[5m]))'
    )
    assert (svc.signals["memory"].unit, svc.signals["memory"].max) == ("bytes", None)


def test_deployments_find_their_pods_and_take_the_memory_limit_as_max() -> None:
    pod = {"namespace": "shop", "pod": "cart-7d9f8b6c5-x2x9z"}
    limit_query = (
        'max(sum by (namespace, pod) (kube_pod_container_resource_limits{namespace="shop",'
        'pod=~"cart-[a-z0-9]+-[a-z0-9]+",resource="memory"}))'
    )
    inv = CannedInventory(
        [
            _s("kube_deployment_status_replicas", deployment="cart", namespace="shop"),
            _s("kube_deployment_status_replicas", deployment="idle", namespace="shop"),
            _s("container_cpu_usage_seconds_total", container="app", **pod),
            _s("container_memory_working_set_bytes", container="app", **pod),
            _s("kube_pod_container_resource_limits", container="app", resource="memory", **pod),
        ],
        values={limit_query: 536870912.0},
    )
    [svc] = CONTAINERS.recognise(inv, frozenset())  # "idle" has no pods cAdvisor sees
    assert svc.name == "cart"
    assert 'pod=~"${service}-[a-z0-9]+-[a-z0-9]+"' in svc.signals["cpu"].query
    assert svc.signals["memory"].max == 536870912.0
    assert (
        svc.signals["replicas"].query
        == 'sum(kube_deployment_status_replicas{deployment="${service}"})'
    )


def test_node_exporter_gives_a_service_per_host_with_its_cores_and_memory_as_max() -> None:
    series = [
        _s("node_cpu_seconds_total", instance=inst, job="node", cpu=cpu, mode=mode)
        for inst in ("db-1.internal:9100", "web:9100")
        for cpu in ("0", "1", "2", "3")
        for mode in ("idle", "user")
    ]
    series += [_s(n, instance=i, job="node") for i in ("db-1.internal:9100", "web:9100")
               for n in ("node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes")]  # fmt: skip
    series.append(_s("node_filesystem_avail_bytes", instance="web:9100", fstype="ext4"))
    inv = CannedInventory(
        series, values={'max(node_memory_MemTotal_bytes{instance="web:9100"})': 8e9}
    )
    found = {f.name: f for f in NODES.recognise(inv, frozenset())}
    assert sorted(found) == ["db-1-internal", "web"]
    web = found["web"].signals
    assert web["cpu"].query == (
        'sum(rate(node_cpu_seconds_total{instance="web:9100",mode!="idle"}[5m]))'
    )
    assert (web["cpu"].unit, web["cpu"].max) == ("cores", 4.0)
    assert web["memory"].max == 8e9
    assert web["disk_free"].direction == "down"
    assert "disk_free" not in found["db-1-internal"].signals


def test_up_covers_only_the_jobs_nobody_else_did() -> None:
    inv = CannedInventory([_s("up", job=j) for j in ("node", "batch", "Weird_Job")])
    found = {f.name: f for f in UP.recognise(inv, frozenset({"node"}))}
    assert sorted(found) == ["batch", "weird-job"]
    assert found["batch"].signals["up"].query == 'avg(up{job="${service}"})'
    assert found["weird-job"].signals["up"].query == 'avg(up{job="Weird_Job"})'
    assert (found["batch"].signals["up"].direction, found["batch"].signals["up"].max) == (
        "down",
        1.0,
    )


@pytest.mark.parametrize(
    "raw, name",
    [
        ("Checkout", "checkout"),
        ("shop/cart_v2", "shop-cart-v2"),
        ("--", None),
        ("a" * 80, "a" * 63),
    ],
)
def test_label_values_become_catalog_service_names(raw: str, name: str | None) -> None:
    assert service_name(raw) == name


def test_discovered_catalog_loads_and_merges_conventions_by_service_name() -> None:
    series = _otel("cart", "cart") + [
        _s("container_cpu_usage_seconds_total", container="cart", pod="cart-1"),
        _s("up", job="cart"),
        _s("up", job="batch"),
    ]
    discovery = discover_services(CannedInventory(series), CONVENTIONS)
    names = [s.name for s in discovery.services]
    assert names == ["cart", "batch"]  # the cart job is covered: no `up` service for it
    assert list(discovery.services[0].signals) == [
        "request_rate",
        "error_ratio",
        "latency_p95",
        "cpu",
    ]
    when = datetime(2026, 1, 1, tzinfo=UTC)
    text = render_catalog(
        discovery, source="http://prom:9090", start=when, end=when, owner_org="acme"
    )
    catalog = parse_catalog(text, "discovered.yaml")
    assert catalog.services["cart"].owner == "acme/cart"
    assert catalog.query("cart", "request_rate") == (
        'sum(rate(http_server_request_duration_seconds_count{service_name="cart"}[5m]))'
    )
    assert catalog.signal("batch", "up").kind == "other"
    assert "# OpenTelemetry HTTP server metrics:" in text and "set owner/team" in text
    assert summary_lines(discovery)[-1].strip() == "2 service(s) in the catalog"


def test_a_registered_convention_runs_before_the_up_fallback() -> None:
    @dataclass(frozen=True)
    class Queue:
        name: str = "queue"
        title: str = "a toy queue convention"

        def recognise(self, inventory, claimed_jobs):
            return [FoundService("jobs", self.name, "toy", {}, frozenset({"worker"}))]

    registry = ConventionRegistry([UP])
    registry.register(Queue())
    assert registry.names == ["queue", "up"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Queue())
    found = discover_services(CannedInventory([_s("up", job="worker")]), registry)
    assert found.services == []  # the toy claimed the worker job; its service had no signals
