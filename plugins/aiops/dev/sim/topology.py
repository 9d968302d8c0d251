"""The demo fleet's shape: services, what each calls, and how much work a request costs.

Every other part of the simulator (metrics, traces, logs, planted incidents) derives from this
one table, so a change here shows up consistently in all three signals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    """A downstream call made while serving one request of the caller."""

    callee: str
    operation: str
    per_request: float
    # "sync": the caller waits; "async": fire-and-forget through a queue (FOLLOWS_FROM in traces)
    mode: str = "sync"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: str  # frontend | api | database | cache | worker
    operations: tuple[str, ...]
    base_latency_s: float  # own processing time, median
    calls: tuple[Call, ...] = ()
    cpu_s_per_request: float = 0.002
    idle_cores: float = 0.05
    memory_base_bytes: float = 256 * 2**20
    memory_limit_bytes: float = 1 * 2**30
    replicas: int = 2
    capacity_rps_per_replica: float = 100.0
    min_replicas: int = 1
    max_replicas: int = 10
    base_error_ratio: float = 0.002
    team: str = "platform"
    # external entry traffic (only the gateway receives it)
    entry_rps: float = 0.0


MiB = 2**20
GiB = 2**30

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="gateway",
        kind="frontend",
        operations=("GET /", "GET /products", "GET /search", "POST /cart", "POST /checkout"),
        base_latency_s=0.004,
        calls=(
            Call("auth", "POST /auth/verify", 1.0),
            Call("catalog", "GET /products", 0.5),
            Call("search", "GET /search", 0.25),
            Call("cart", "GET /cart", 0.2),
            Call("checkout", "POST /checkout", 0.05),
            Call("recommendation", "GET /recommendations", 0.3),
        ),
        cpu_s_per_request=0.0008,
        memory_base_bytes=384 * MiB,
        memory_limit_bytes=2 * GiB,
        replicas=3,
        capacity_rps_per_replica=150.0,
        min_replicas=2,
        max_replicas=20,
        team="edge",
        entry_rps=180.0,
    ),
    ServiceSpec(
        name="auth",
        kind="api",
        operations=("POST /auth/verify",),
        base_latency_s=0.006,
        calls=(Call("redis", "GET session", 1.0),),
        cpu_s_per_request=0.0015,
        memory_base_bytes=192 * MiB,
        replicas=3,
        capacity_rps_per_replica=120.0,
        min_replicas=2,
        max_replicas=12,
        team="identity",
    ),
    ServiceSpec(
        name="catalog",
        kind="api",
        operations=("GET /products", "GET /products/{id}"),
        base_latency_s=0.012,
        calls=(
            Call("redis", "GET product", 1.0),
            Call("postgres", "SELECT products", 0.3),
        ),
        cpu_s_per_request=0.003,
        memory_base_bytes=512 * MiB,
        memory_limit_bytes=2 * GiB,
        replicas=3,
        capacity_rps_per_replica=80.0,
        min_replicas=2,
        max_replicas=12,
        team="catalog",
    ),
    ServiceSpec(
        name="search",
        kind="api",
        operations=("GET /search",),
        base_latency_s=0.035,
        calls=(Call("catalog", "GET /products/{id}", 0.4), Call("redis", "GET query", 1.0)),
        cpu_s_per_request=0.012,
        memory_base_bytes=768 * MiB,
        memory_limit_bytes=3 * GiB,
        replicas=2,
        capacity_rps_per_replica=40.0,
        min_replicas=2,
        max_replicas=16,
        team="discovery",
    ),
    ServiceSpec(
        name="cart",
        kind="api",
        operations=("GET /cart", "POST /cart/items"),
        base_latency_s=0.008,
        calls=(Call("redis", "HGETALL cart", 1.5), Call("inventory", "GET /stock", 0.2)),
        cpu_s_per_request=0.002,
        memory_base_bytes=256 * MiB,
        memory_limit_bytes=1 * GiB,
        replicas=2,
        capacity_rps_per_replica=100.0,
        team="commerce",
    ),
    ServiceSpec(
        name="checkout",
        kind="api",
        operations=("POST /checkout",),
        base_latency_s=0.020,
        calls=(
            Call("auth", "POST /auth/verify", 1.0),
            Call("cart", "GET /cart", 1.0),
            Call("inventory", "POST /stock/reserve", 1.0),
            Call("recommendation", "GET /recommendations", 1.0),
            Call("payment", "POST /payments", 1.0),
            Call("order-worker", "process order", 1.0, mode="async"),
        ),
        cpu_s_per_request=0.004,
        memory_base_bytes=320 * MiB,
        replicas=2,
        capacity_rps_per_replica=50.0,
        team="commerce",
    ),
    ServiceSpec(
        name="payment",
        kind="api",
        operations=("POST /payments",),
        base_latency_s=0.045,
        calls=(Call("postgres", "INSERT payment", 1.0),),
        cpu_s_per_request=0.003,
        memory_base_bytes=256 * MiB,
        replicas=2,
        capacity_rps_per_replica=40.0,
        team="payments",
    ),
    ServiceSpec(
        name="inventory",
        kind="api",
        operations=("GET /stock", "POST /stock/reserve"),
        base_latency_s=0.010,
        calls=(Call("postgres", "SELECT stock", 1.0),),
        cpu_s_per_request=0.002,
        memory_base_bytes=224 * MiB,
        replicas=2,
        capacity_rps_per_replica=80.0,
        team="commerce",
    ),
    ServiceSpec(
        name="recommendation",
        kind="api",
        operations=("GET /recommendations",),
        base_latency_s=0.025,
        calls=(Call("catalog", "GET /products/{id}", 0.5), Call("redis", "GET recs", 1.0)),
        cpu_s_per_request=0.008,
        memory_base_bytes=1 * GiB,
        memory_limit_bytes=3 * GiB,
        replicas=2,
        capacity_rps_per_replica=60.0,
        team="discovery",
    ),
    ServiceSpec(
        name="order-worker",
        kind="worker",
        operations=("process order",),
        base_latency_s=0.060,
        calls=(Call("postgres", "INSERT order", 2.0),),
        cpu_s_per_request=0.010,
        memory_base_bytes=192 * MiB,
        replicas=1,
        capacity_rps_per_replica=20.0,
        min_replicas=1,
        max_replicas=8,
        team="commerce",
    ),
    ServiceSpec(
        name="postgres",
        kind="database",
        operations=("SELECT", "INSERT"),
        base_latency_s=0.003,
        cpu_s_per_request=0.0006,
        idle_cores=0.2,
        memory_base_bytes=4 * GiB,
        memory_limit_bytes=8 * GiB,
        replicas=1,
        capacity_rps_per_replica=2000.0,
        min_replicas=1,
        max_replicas=1,
        team="data-platform",
        base_error_ratio=0.0005,
    ),
    ServiceSpec(
        name="redis",
        kind="cache",
        operations=("GET", "HGETALL"),
        base_latency_s=0.0006,
        cpu_s_per_request=0.00005,
        idle_cores=0.02,
        memory_base_bytes=1536 * MiB,
        memory_limit_bytes=4 * GiB,
        replicas=1,
        capacity_rps_per_replica=20000.0,
        min_replicas=1,
        max_replicas=1,
        team="data-platform",
        base_error_ratio=0.0002,
    ),
)


def services_by_name(services: tuple[ServiceSpec, ...] = SERVICES) -> dict[str, ServiceSpec]:
    return {s.name: s for s in services}


def topological_order(services: tuple[ServiceSpec, ...] = SERVICES) -> list[str]:
    """Callers before callees; raises on a cycle because load propagation needs a DAG."""
    by_name = services_by_name(services)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ValueError(f"call graph has a cycle through {name!r}")
        state[name] = 1
        for call in by_name[name].calls:
            if call.callee not in by_name:
                raise ValueError(f"{name!r} calls unknown service {call.callee!r}")
            visit(call.callee)
        state[name] = 2
        order.append(name)

    for spec in services:
        visit(spec.name)
    return list(reversed(order))


def callers_of(name: str, services: tuple[ServiceSpec, ...] = SERVICES) -> list[str]:
    return [s.name for s in services if any(c.callee == name for c in s.calls)]
