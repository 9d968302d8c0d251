"""Each bottleneck detector on a hand-built trace where it must fire and one where it must not."""

from __future__ import annotations

from collections.abc import Callable

from aiops.findings.model import Safety
from aiops.traces.analyze import analyze_traces
from aiops.traces.view import AnalysisConfig
from support.trace_builder import TraceBuilder, tag

Build = Callable[[TraceBuilder, int], None]


def _traces(build: Build, n: int = 4, prefix: str = "t") -> list[dict]:
    out = []
    for i in range(n):
        tb = TraceBuilder(f"{prefix}{i:031x}", start_us=1_761_800_000_000_000 + i * 60_000_000)
        build(tb, i)
        out.append(tb.to_json())
    return out


def _kinds(traces: list[dict], config: AnalysisConfig | None = None) -> dict[str, list]:
    analysis = analyze_traces(traces, config=config)
    out: dict[str, list] = {}
    for finding in analysis.findings:
        out.setdefault(finding.kind, []).append(finding)
    return out


# -- N+1 ----------------------------------------------------------------------------------


def _n_plus_one(repeats: int, vary_statement: bool = False) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("gateway", "GET /products", 0, 200, kind="server")
        catalog = tb.call(root, "gateway", "catalog", "GET /products", 1, 190)
        tb.query(catalog, "catalog", "SELECT id FROM products WHERE category_id = 7", 2, 5)
        for k in range(repeats):
            table = f"reviews{k}" if vary_statement else "reviews"
            tb.query(catalog, "catalog", f"SELECT * FROM {table} WHERE product_id = {100 + k}",
                     10 + 6 * k, 5)  # fmt: skip

    return build


def test_n_plus_one_names_the_statement_and_its_batched_form() -> None:
    found = _kinds(_traces(_n_plus_one(12)))["n_plus_one"]
    assert len(found) == 1
    f = found[0]
    assert (f.service, f.operation) == ("catalog", "GET /products")
    assert f.evidence.numbers["statement"] == "SELECT * FROM reviews WHERE product_id = ?"
    assert f.evidence.numbers["repeats_median"] == 12
    assert "SELECT * FROM reviews WHERE product_id IN (?, ?, ...)" in f.suggestion
    # 12 sequential 5 ms queries: 60 ms in the loop, batching saves all but one query
    assert f.impact.ms_per_request == 60.0
    assert f.expected_saving_ms == 55.0
    assert f.impact.requests_affected == 4
    assert f.safety is Safety.REQUIRES_APPROVAL
    assert len(f.evidence.trace_ids) == 3


def test_n_plus_one_does_not_fire_below_k_or_on_different_statements() -> None:
    assert "n_plus_one" not in _kinds(_traces(_n_plus_one(4)))
    assert "n_plus_one" not in _kinds(_traces(_n_plus_one(12, vary_statement=True)))
    # k is a setting: 4 repeats fire at k=4
    assert "n_plus_one" in _kinds(_traces(_n_plus_one(4)), AnalysisConfig(n_plus_one_min=4))


# -- sequential calls ---------------------------------------------------------------------


def _checkout(parallel: bool) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("checkout", "POST /checkout", 0, 200, kind="server")
        tb.call(root, "checkout", "auth", "POST /auth/verify", 1, 10, method="POST")
        t = 12.0
        ends = []
        for callee, op, ms in (("cart", "GET /cart", 20), ("inventory", "GET /stock", 30),
                               ("recommendation", "GET /recommendations", 40)):  # fmt: skip
            tb.call(root, "checkout", callee, op, t, ms, method="GET")
            ends.append(t + ms)
            t = 12.0 if parallel else t + ms + 1
        after = max(ends) + 1
        tb.call(root, "checkout", "payment", "POST /payments", after, 30, method="POST")

    return build


def test_sequential_calls_between_a_prerequisite_and_a_final_write() -> None:
    found = _kinds(_traces(_checkout(parallel=False)))["sequential_calls"]
    assert len(found) == 1
    f = found[0]
    assert (f.service, f.operation) == ("checkout", "POST /checkout")
    assert f.evidence.numbers["callees"] == "cart, inventory, recommendation"
    assert f.key == {"callees": ["cart", "inventory", "recommendation"]}
    # sum 90 ms minus the longest 40 ms (client spans are 20, 30, 40 ms)
    assert f.expected_saving_ms == 50.0
    assert "auth" not in f.title and "payment" not in f.title


def test_sequential_calls_quiet_when_the_calls_already_overlap() -> None:
    assert "sequential_calls" not in _kinds(_traces(_checkout(parallel=True)))


def test_gateway_prerequisite_then_parallel_fan_out_is_not_sequential() -> None:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("gateway", "GET /", 0, 120, kind="server")
        tb.call(root, "gateway", "auth", "POST /auth/verify", 1, 15)
        tb.call(root, "gateway", "catalog", "GET /products", 17, 80)
        tb.call(root, "gateway", "recommendation", "GET /recommendations", 18, 90)

    assert "sequential_calls" not in _kinds(_traces(build))


# -- critical path hotspot ----------------------------------------------------------------


def _entry(dominant: bool) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        slow = 400 if dominant else 40
        root = tb.span("gateway", "GET /search", 0, slow + 60 + (i % 7), kind="server")
        search = tb.call(root, "gateway", "search", "GET /search", 1, slow + 50)
        tb.query(search, "search", "SELECT * FROM docs WHERE q = 'x'", 2, slow)
        tb.call(root, "gateway", "auth", "POST /auth/verify", slow + 52, 5)

    return build


def test_critical_path_hotspot_when_one_operation_dominates_the_slowest_requests() -> None:
    found = _kinds(_traces(_entry(dominant=True), n=25))["critical_path_hotspot"]
    assert len(found) == 1
    f = found[0]
    assert (f.service, f.operation) == ("search", "SELECT docs")
    assert f.key == {"entry": "gateway GET /search"}
    assert f.impact.p95_share is not None and f.impact.p95_share > 0.8


def test_no_hotspot_when_time_is_spread_or_too_few_requests() -> None:
    assert "critical_path_hotspot" not in _kinds(_traces(_entry(dominant=False), n=25))
    assert "critical_path_hotspot" not in _kinds(_traces(_entry(dominant=True), n=5))


# -- chatty pairs and fan-out -------------------------------------------------------------


def _chatty(operations: int) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("web", "GET /page", 0, 200, kind="server")
        for k in range(12):
            tb.call(root, "web", "profile", f"GET /profile/part{k % operations}", 1 + 15 * k, 10)

    return build


def test_chatty_pair_across_operations() -> None:
    found = _kinds(_traces(_chatty(operations=4)))
    assert [f.key for f in found["chatty_pair"]] == [{"callee": "profile"}]
    assert found["chatty_pair"][0].evidence.numbers["calls_per_request_p50"] == 12


def test_one_repeated_call_is_n_plus_one_not_chatty() -> None:
    found = _kinds(_traces(_chatty(operations=1)))
    assert "chatty_pair" not in found
    assert found["n_plus_one"][0].key == {"callee": "profile", "call": "GET /profile/part0"}


def _fan_out(services: int) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("bff", "GET /home", 0, 100, kind="server")
        for k in range(services):
            tb.call(root, "bff", f"svc{k}", "GET /data", 1 + k, 50)

    return build


def test_fan_out_fires_on_many_services_not_few() -> None:
    found = _kinds(_traces(_fan_out(9)))["fan_out"]
    assert found[0].evidence.numbers["services_per_request_p50"] == 9
    assert "fan_out" not in _kinds(_traces(_fan_out(3)))


# -- graph detectors ----------------------------------------------------------------------


def _callers(callers: int) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("gateway", "GET /", 0, 100, kind="server")
        for k in range(callers):
            svc = tb.call(root, "gateway", f"api{k}", "GET /x", 1 + 20 * k, 15)
            tb.query(svc, f"api{k}", "SELECT * FROM t WHERE id = 1", 2 + 20 * k, 5, db="maindb")

    return build


def test_single_point_of_failure_counts_distinct_dependents() -> None:
    found = _kinds(_traces(_callers(3)))["single_point_of_failure"]
    spof = {f.service: f for f in found}
    assert spof["maindb"].evidence.numbers["dependents"] == "api0, api1, api2"
    assert spof["maindb"].evidence.numbers["share_of_requests"] == 1.0
    assert "maindb" not in {
        f.service for f in _kinds(_traces(_callers(2))).get("single_point_of_failure", [])
    }


def _loop(cycle: bool) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("orders", "POST /orders", 0, 100, kind="server")
        pricing = tb.call(root, "orders", "pricing", "GET /price", 1, 60)
        tb.call(pricing, "pricing", "orders" if cycle else "tax", "GET /history", 5, 30)

    return build


def test_dependency_cycle_between_two_services() -> None:
    found = _kinds(_traces(_loop(cycle=True)))["dependency_cycle"]
    assert [f.key for f in found] == [{"services": ["orders", "pricing"]}]
    assert "dependency_cycle" not in _kinds(_traces(_loop(cycle=False)))


# -- error hotspots -----------------------------------------------------------------------


def _failing(origin_fails: bool) -> Build:
    def build(tb: TraceBuilder, i: int) -> None:
        fail = origin_fails and i % 2 == 0
        root = tb.span("gateway", "POST /checkout", 0, 100, kind="server", error=fail)
        checkout = tb.call(root, "gateway", "checkout", "POST /checkout", 1, 90, error=fail)
        log = [{"timestamp": 1, "fields": [tag("event", "error"), tag("error.kind", "ProviderError"),
                                          tag("message", "charge declined by psp")]}]  # fmt: skip
        tb.span("payment", "POST /payments", 10, 50, checkout, kind="server", error=fail,
                logs=log if fail else None)  # fmt: skip

    return build


def test_error_hotspot_is_where_errors_start_not_where_they_pass() -> None:
    found = _kinds(_traces(_failing(True), n=8))["error_hotspot"]
    assert [(f.service, f.operation) for f in found] == [("payment", "POST /payments")]
    f = found[0]
    assert f.evidence.numbers["error"] == "ProviderError: charge declined by psp"
    assert f.evidence.numbers["propagates_through"] == "checkout, gateway"
    assert f.evidence.numbers["share_of_failed_requests"] == 1.0
    assert "error_hotspot" not in _kinds(_traces(_failing(False), n=8))


def test_error_in_an_uninstrumented_dependency_is_attributed_to_it() -> None:
    def build(tb: TraceBuilder, i: int) -> None:
        root = tb.span("auth", "POST /verify", 0, 50, kind="server", error=True)
        tb.query(root, "auth", "SELECT * FROM sessions WHERE id = 1", 2, 40, db="sessiondb",
                 error=True)  # fmt: skip

    found = _kinds(_traces(build))["error_hotspot"]
    assert [(f.service, f.operation) for f in found] == [("sessiondb", "SELECT sessions")]
    assert "seen from auth" in found[0].title


def test_thresholds_are_validated_with_the_setting_named() -> None:
    import pytest

    with pytest.raises(ValueError, match="n_plus_one_min: must be >= 2, got 1"):
        AnalysisConfig(n_plus_one_min=1)
    with pytest.raises(ValueError, match="hotspot_min_share: must be in"):
        AnalysisConfig(hotspot_min_share=1.5)
