"""Jaeger traces for the demo fleet: one query-API JSON file (`/api/traces` shape) per hour.

A trace walks the call graph in topology.py from a gateway route. Each service's own time is
drawn around its per-minute median from the metrics (its p50 minus what its callees add) and
it fails at its own per-minute error ratio, so a slow or failing backend in the metrics is a
slow or failing span here. The N+1 query and the sequential checkout fan-out are planted on top;
the gateway and recommendation fan out in parallel, so the two shapes can be told apart.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from aiops.dev.sim.incidents import Incident
from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.topology import Call, ServiceSpec, services_by_name

CHILD_OF, FOLLOWS_FROM = "CHILD_OF", "FOLLOWS_FROM"
SIGMA = 0.45  # lognormal spread of own time: p95/p50 ~ 2.1, like the metrics' 2.2
DATASTORES = {"postgres": "postgresql", "redis": "redis"}  # instrumented as client spans only
STATEMENTS = {
    "SELECT products": "SELECT id, name, price_cents FROM products WHERE category_id = ? LIMIT ?",
    "SELECT stock": "SELECT sku, available FROM stock WHERE sku = ?",
    "INSERT payment": "INSERT INTO payments (order_id, amount_cents, currency, status) "
    "VALUES (?, ?, ?, ?)",
    "INSERT order": "INSERT INTO orders (id, user_id, total_cents) VALUES (?, ?, ?)",
}
# Gateway routes: (operation, weight, {callee: probability}); auth is always called first. Weights
# follow the gateway's call rates (catalog 0.5, search 0.25, cart 0.2, recommendation 0.3),
# except that checkout is sampled at 10% instead of 5% so its trace shape is well covered.
ROUTES: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("GET /", 0.20, {"catalog": 1.0, "recommendation": 1.0}),
    ("GET /products", 0.28, {"catalog": 1.0, "recommendation": 1 / 3}),
    ("GET /search", 0.24, {"search": 1.0}),
    ("POST /cart", 0.18, {"cart": 1.0}),
    ("POST /checkout", 0.10, {"checkout": 1.0}),
)
PARALLEL = {"recommendation"}  # services whose calls overlap (besides the gateway's fan-out)


def _rng(seed: int, *names: str | int) -> random.Random:
    key = [seed, *(zlib.crc32(str(n).encode()) for n in names)]
    return random.Random(int(np.random.default_rng(key).integers(2**62)))


def _lag(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[:1], x[:-1]])


def _tag(key: str, value: Any) -> dict[str, Any]:
    kind = {bool: "bool", int: "int64", float: "float64"}.get(type(value), "string")
    return {"key": key, "type": kind, "value": value}


def _http_tags(operation: str) -> list[dict[str, Any]]:
    method, _, route = operation.partition(" ")
    if method not in ("GET", "POST", "PUT", "DELETE") or not route.startswith("/"):
        return []
    return [_tag("http.method", method), _tag("http.route", route)]


def _active(incident: Incident | None, at: datetime) -> bool:
    if incident is None or at < incident.start:
        return False
    return incident.end is None or at < incident.end


@dataclass(frozen=True)
class _Model:
    """What every trace needs: per-minute own time and own error ratio of each service."""

    by_name: dict[str, ServiceSpec]
    own_s: dict[str, np.ndarray]
    own_err: dict[str, np.ndarray]
    index0_s: float
    step_s: float
    steps: int
    incidents: dict[str, Incident]
    processes: dict[str, tuple[tuple[str, str], ...]]

    @classmethod
    def build(
        cls, services: tuple[ServiceSpec, ...], fleet: FleetMetrics, incidents: list[Incident]
    ) -> _Model:
        own_s, own_err = {}, {}
        for spec in services:
            m = fleet.services[spec.name]
            sync = [c for c in spec.calls if c.mode == "sync"]
            children = sum(
                (c.per_request * _lag(fleet.services[c.callee].latency_p50) for c in sync),
                np.zeros(len(fleet.index)),
            )
            child_err = sum(
                (0.6 * c.per_request * _lag(fleet.services[c.callee].error_ratio) for c in sync),
                np.zeros(len(fleet.index)),
            )
            own_s[spec.name] = np.maximum(m.latency_p50 - children, 0.3 * spec.base_latency_s)
            own_err[spec.name] = np.clip(
                m.error_ratio - child_err, 0.25 * spec.base_error_ratio, 1.0
            )
        processes = {}  # service -> (hostname, ip) of each replica, stable across runs
        for i, spec in enumerate(services):
            pod = f"{zlib.crc32(spec.name.encode()):08x}{i}"
            processes[spec.name] = tuple(
                (
                    f"{spec.name}-{pod}-{zlib.crc32(f'{spec.name}/{r}'.encode()):08x}"[:-3],
                    f"10.4.{i}.{10 + r}",
                )
                for r in range(spec.replicas)
            )
        step = (fleet.index[1] - fleet.index[0]).total_seconds()
        by_kind = {inc.kind: inc for inc in incidents}
        return cls(services_by_name(services), own_s, own_err, fleet.index[0].timestamp(), step,
                   len(fleet.index), by_kind, processes)  # fmt: skip


class _Trace:
    def __init__(self, model: _Model, rng: random.Random, start_us: int, sampling: float) -> None:
        self.model, self.rng, self.sampling = model, rng, sampling
        self.trace_id = f"{rng.getrandbits(128):032x}"
        self.at = datetime.fromtimestamp(start_us / 1e6, tz=UTC)
        minute = int((start_us / 1e6 - model.index0_s) // model.step_s)
        self.minute = min(max(minute, 0), model.steps - 1)
        self.spans: list[dict[str, Any]] = []
        self.processes: dict[str, dict[str, Any]] = {}
        self.pids: dict[str, str] = {}
        n_plus_one = model.incidents.get("n_plus_one")
        self.n_plus_one = n_plus_one if _active(n_plus_one, self.at) else None
        self.sequential = _active(model.incidents.get("sequential_calls"), self.at)
        self.cascade = _active(model.incidents.get("cascading_failure"), self.at)

    def pid(self, service: str) -> str:
        if service not in self.pids:
            pid = f"p{len(self.pids) + 1}"
            self.pids[service] = pid
            host, ip = self.rng.choice(self.model.processes[service])
            tags = [_tag("hostname", host), _tag("ip", ip)]
            self.processes[pid] = {"serviceName": service, "tags": tags}
        return self.pids[service]

    def own_us(self, service: str, scale: float = 1.0) -> int:
        median = float(self.model.own_s[service][self.minute]) * scale
        return max(1, round(median * math.exp(self.rng.gauss(0.0, SIGMA)) * 1e6))

    def fails(self, service: str) -> bool:
        return self.rng.random() < float(self.model.own_err[service][self.minute])

    def net_us(self) -> int:
        return 80 + round(self.rng.expovariate(1 / 250))

    def span(self, service: str, operation: str, parent: str | None, ref: str, start: int,
             tags: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
        """A span in Jaeger's key order; the caller sets its duration."""
        refs = [{"refType": ref, "traceID": self.trace_id, "spanID": parent}] if parent else []
        span = {"traceID": self.trace_id, "spanID": f"{self.rng.getrandbits(64):016x}",
                "flags": 1, "operationName": operation, "references": refs, "startTime": start,
                "duration": 0, "tags": tags, "logs": [], "processID": self.pid(service),
                "warnings": None}  # fmt: skip
        self.spans.append(span)
        return span

    def to_json(self) -> dict[str, Any]:
        return {"traceID": self.trace_id, "spans": self.spans, "processes": self.processes,
                "warnings": None}  # fmt: skip


def _fail(span: dict[str, Any], kind: str, message: str) -> None:
    span["tags"].append(_tag("error", True))
    span["logs"].append(
        {
            "timestamp": span["startTime"] + span["duration"],
            "fields": [_tag("event", "error"), _tag("error.kind", kind), _tag("message", message)],
        }
    )


def _count(rng: random.Random, per_request: float) -> int:
    whole = math.floor(per_request)
    return whole + (rng.random() < per_request - whole)


def _stages(tr: _Trace, service: str, operation: str) -> list[list[Call]]:
    """The calls a service makes for one operation, grouped: groups run one after another,
    calls inside a group overlap."""
    spec = tr.model.by_name[service]
    if service == "gateway":
        gw = {c.callee: c for c in spec.calls}
        route = next(r for r in ROUTES if r[0] == operation)
        fan = [Call(callee, gw[callee].operation, p) for callee, p in route[2].items()]
        return [[gw["auth"]], fan]
    n1 = tr.n_plus_one
    if n1 is not None and service == n1.service and operation == n1.details["operation"]:
        d = n1.details
        k = tr.rng.randint(d["repeats_min"], d["repeats_max"])
        lookup = [c for c in spec.calls if c.callee != "postgres"]
        loop = Call(d["callee"], _operation_of(d["statement"]), float(k))
        return [lookup, [Call("postgres", "SELECT products", 1.0)], [loop]]
    if service == "checkout" and not tr.sequential:
        calls = {c.callee: c for c in spec.calls}
        return [
            [calls["auth"]],
            [calls["cart"], calls["inventory"], calls["recommendation"]],
            [calls["payment"]],
            [calls["order-worker"]],
        ]
    if service in PARALLEL:
        return [list(spec.calls)]
    return [[c] for c in spec.calls]


def _operation_of(statement: str) -> str:
    """`SELECT * FROM reviews WHERE ...` -> `SELECT reviews`."""
    words = statement.replace(",", " ").split()
    table = words[words.index("FROM") + 1] if "FROM" in words else ""
    return f"{words[0]} {table}".strip()


def _serve(
    tr: _Trace, service: str, operation: str, parent: str | None, ref: str, start: int
) -> tuple[int, bool, int]:
    """A server (or queue consumer) span and everything under it; returns (end, failed,
    HTTP status or 0)."""
    kind = "consumer" if ref == FOLLOWS_FROM else "server"
    tags = [_tag("span.kind", kind), *_http_tags(operation)]
    if parent is None:
        tags += [_tag("sampler.type", "probabilistic"), _tag("sampler.param", tr.sampling)]
    span = tr.span(service, operation, parent, ref, start, tags)
    own = tr.own_us(service)
    pre = round(own * tr.rng.uniform(0.15, 0.45))
    cursor, failed_child = start + pre, None
    for group in _stages(tr, service, operation):
        group_end = cursor
        for k, call in enumerate(group):
            t = cursor + (round(tr.rng.expovariate(1 / 600)) if k else 0)
            for _ in range(_count(tr.rng, call.per_request)):
                t, err = _call(tr, service, call, span["spanID"], t)
                if err and failed_child is None and tr.rng.random() < 0.6:
                    failed_child = call.callee
            group_end = max(group_end, t)
        cursor = group_end + round(tr.rng.expovariate(1 / 40))
    span["duration"] = cursor + own - pre - start
    failed = failed_child is not None or tr.fails(service)
    status = 0
    if _http_tags(operation):
        status = (502 if failed_child or service == "payment" else 500) if failed else 200
        span["tags"].append(_tag("http.status_code", status))
    if failed and failed_child:
        _fail(span, "UpstreamError", f"call to {failed_child} failed")
    elif failed and service == "payment":
        _fail(span, "ProviderError", "charge failed: upstream psp-gateway returned 502")
    elif failed:
        _fail(span, "InternalError", f"{operation} failed: unhandled exception")
    return start + span["duration"], failed, status


def _call(tr: _Trace, caller: str, call: Call, parent: str, start: int) -> tuple[int, bool]:
    """The caller's client (or producer) span for one call; returns (end, failed)."""
    base = [_tag("span.kind", "client"), _tag("peer.service", call.callee)]
    if call.callee in DATASTORES:
        statement = STATEMENTS.get(call.operation, call.operation)
        n1 = tr.n_plus_one.details["statement"] if tr.n_plus_one else None
        if n1 and call.operation == _operation_of(n1):
            statement = n1
        elif call.callee == "redis":
            verb, _, key = call.operation.partition(" ")
            statement = f"{verb} {key}:?"
        tags = [*base, _tag("db.system", DATASTORES[call.callee]), _tag("db.statement", statement)]
        span = tr.span(caller, call.operation, parent, CHILD_OF, start, tags)
        point_lookup = 0.3 if statement == n1 else 1.0  # the N+1 queries hit the primary key
        span["duration"] = tr.own_us(call.callee, point_lookup) + tr.net_us()
        failed = tr.fails(call.callee)
        if failed and call.callee == "redis":
            why = "pool exhausted" if tr.cascade else "connection reset by peer"
            _fail(span, "RedisError", f"redis: i/o timeout ({why})")
        elif failed:
            _fail(span, "QueryCanceled", "canceling statement due to statement timeout")
        return start + span["duration"], failed
    if call.mode == "async":
        tags = [_tag("span.kind", "producer"), _tag("peer.service", call.callee),
                _tag("messaging.system", "kafka"),
                _tag("messaging.destination", "orders")]  # fmt: skip
        span = tr.span(caller, call.operation, parent, CHILD_OF, start, tags)
        span["duration"] = 150 + round(tr.rng.expovariate(1 / 400))
        queue_delay = round(0.015e6 * math.exp(tr.rng.gauss(0.0, 0.6)))
        _serve(tr, call.callee, call.operation, span["spanID"], FOLLOWS_FROM, start + queue_delay)
        return start + span["duration"], False
    span = tr.span(
        caller, call.operation, parent, CHILD_OF, start, [*base, *_http_tags(call.operation)]
    )
    end, failed, status = _serve(
        tr, call.callee, call.operation, span["spanID"], CHILD_OF, start + tr.net_us()
    )
    span["duration"] = end + tr.net_us() - start
    if status:
        span["tags"].append(_tag("http.status_code", status))
    if failed:
        _fail(span, "HTTPError", f"{call.callee} returned {status or 'an error'}")
    return start + span["duration"], failed


def _trace(model: _Model, rng: random.Random, start_us: int, sampling: float) -> dict[str, Any]:
    tr = _Trace(model, rng, start_us, sampling)
    routes, weights = zip(*((r[0], r[1]) for r in ROUTES), strict=True)
    _serve(tr, "gateway", rng.choices(routes, weights)[0], None, CHILD_OF, start_us)
    return tr.to_json()


def _sampling_rate(fleet: FleetMetrics, lo: datetime, hi: datetime, sampled: int) -> float:
    """The head sampler's probability that keeps ``sampled`` of the gateway's requests in
    [lo, hi): what a probabilistic sampler tuned to this trace volume would be set to, so
    counts scaled by it match the request rate in the metrics."""
    gateway = fleet.services["gateway"]
    inside = (fleet.index >= lo) & (fleet.index < hi)
    step_s = (fleet.index[1] - fleet.index[0]).total_seconds()
    requests = float(gateway.request_rate[inside].sum()) * step_s
    return float(f"{sampled / requests:.3g}") if requests > 0 and sampled else 1.0


def write_traces(
    config: Any, incidents: list[Incident], fleet: FleetMetrics, start: datetime, out_dir: Path
) -> list[Path]:
    """Write `out_dir/YYYY-MM-DDTHH.json` for each hour touching [start, config.end); returns
    the paths in time order. `config` is a WorldConfig (seed, end, traces_per_hour, services)."""
    hour = timedelta(hours=1)
    step = fleet.index[1] - fleet.index[0]
    if not fleet.index[0] <= start < config.end <= fleet.index[-1] + step:
        raise ValueError(
            f"traces window [{start}, {config.end}) is not inside the metrics "
            f"[{fleet.index[0]}, {fleet.index[-1] + step})"
        )
    model = _Model.build(config.services, fleet, incidents)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < config.end:
        lo, hi = max(t, start), min(t + hour, config.end)
        rng = _rng(config.seed, "traces", int(t.timestamp()))
        n = round(config.traces_per_hour * ((hi - lo) / hour))
        lo_us, hi_us = round(lo.timestamp() * 1e6), round(hi.timestamp() * 1e6)
        starts = sorted(rng.randrange(lo_us, hi_us) for _ in range(n))
        sampling = _sampling_rate(fleet, lo, hi, n)
        data = [_trace(model, rng, s, sampling) for s in starts]
        doc = {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}
        path = out_dir / f"{t:%Y-%m-%dT%H}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        paths.append(path)
        t += hour
    return paths
