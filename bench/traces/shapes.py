"""Jaeger JSON files of other trace shapes than the demo's, for bench_traces.py.

The demo simulator's traces (bench/traces/generate.py) have one shape: ~20 spans per trace,
a dozen services, four or five tags per span. Analysis time per span depends on the shape
more than json.loads' does, so the benchmark also times shapes made here:

- ``small-spans``: ~200 spans per trace in a dozen services, most spans in-process work
  without a single tag, the rest database calls and a few client/server pairs with the bare
  tags. json.loads is cheap per span here; the analysis' per-span work is not.
- ``deep``: call chains 20 to 50 services deep (a request passed down a pipeline), so every
  walk over parents and children goes far.
- ``many-services``: 400 services, each trace touching a few dozen of them: the dependency
  map, the per-edge latencies and the per-operation tables are large.

Services call a fixed few others (each the next one and some of the next ``reach``), so the
dependency map is sparse and acyclic as a real fleet's is. A trace is grown from an entry
server span: each step picks a span that can make calls (a server or internal span;
``depth_bias`` is the chance of picking the newest one, which makes chains) and adds a call
to a service it calls (the caller's client span and the callee's server span under it), a
database call (a client span naming its ``peer.service``, with a statement, its literals
kept in ``literal_share`` of them), or in-process work (an internal span). Durations are laid
out as the spans are written (children one after another, or overlapping), errors carry
Jaeger's error tag and log fields, and the key order and compact separators are the
simulator's. Deterministic in the seed.

Files are cached under ``out/bench/`` like generate.py's, one manifest per folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.traces.generate import TraceFiles, cached_files, published

T0_US = 1_730_246_400_000_000  # 2024-10-30T00:00:00Z
HOUR_US = 3_600_000_000
SPANS_PER_FILE = 15_000  # about the demo's (a million spans in 72 hourly files)


@dataclass(frozen=True)
class Shape:
    name: str
    about: str
    services: int
    entry_services: int  # the first few services take the requests
    callees: int  # services each service calls, drawn once among the next `reach` ones
    reach: int
    spans: tuple[int, int]  # spans per trace, drawn uniformly
    depth_bias: float  # chance the next call is made by the newest span (chains)
    remote_share: float  # of calls: to another instrumented service
    db_share: float  # ... to a database (the rest is in-process work)
    parallel_share: float  # chance a span's calls overlap instead of running in turn
    rich_tags: bool  # HTTP tags, hostnames, statuses on every span; else the bare minimum
    literal_share: float = 0.25  # statements sent with their literals (the rest with ?)
    error_rate: float = 0.01


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("small-spans", "many small spans per trace (~200, most without tags)",
              services=12, entry_services=2, callees=2, reach=4, spans=(120, 280),
              depth_bias=0.15, remote_share=0.08, db_share=0.2, parallel_share=0.2,
              rich_tags=False),
        Shape("deep", "deep call chains (20-50 services deep)", services=60,
              entry_services=3, callees=2, reach=3, spans=(50, 120), depth_bias=0.9,
              remote_share=0.8, db_share=0.1, parallel_share=0.1, rich_tags=True),
        Shape("many-services", "400 services, a few dozen per trace", services=400,
              entry_services=20, callees=4, reach=40, spans=(30, 90), depth_bias=0.3,
              remote_share=0.7, db_share=0.2, parallel_share=0.5, rich_tags=True),
    )
}  # fmt: skip

TABLES = ("orders", "items", "users", "stock", "prices", "carts", "events", "ledger")


def shape_files(cache: Path, shape: Shape, *, spans: int, seed: int) -> TraceFiles:
    """The cached files of ``shape`` holding about ``spans`` spans, generated when missing or
    stale (a changed shape or a changed generator)."""
    folder = cache / f"shape-{shape.name}-seed{seed}-{spans}spans"
    config = {**asdict(shape), "spans_total": spans, "seed": seed}
    wanted = json.loads(json.dumps({"config": config, "code": _digest()}))  # as read back
    reused = cached_files(folder, wanted)
    if reused is not None:
        return reused
    started = time.perf_counter()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = random.Random(f"{seed}:{shape.name}")
    topology = _topology(shape, rng)
    files: dict[str, int] = {}
    traces = made = 0
    hour = 0
    while made < spans:
        data: list[dict[str, Any]] = []
        in_file = 0
        while in_file < min(SPANS_PER_FILE, spans - made):
            start = T0_US + hour * HOUR_US + rng.randrange(HOUR_US)
            trace = _trace(shape, topology, rng, start)
            data.append(trace)
            in_file += len(trace["spans"])
        data.sort(key=lambda t: t["spans"][0]["startTime"])
        doc = {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}
        path = tmp / f"h{hour:04d}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        files[path.name] = path.stat().st_size
        traces += len(data)
        made += in_file
        hour += 1
    return published(tmp, folder, wanted, {"traces": traces, "spans": made, "files": files},
                     started)  # fmt: skip


def _digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


class _Node:
    __slots__ = ("service", "operation", "kind", "children", "own", "parallel", "span", "peer")

    def __init__(self, service: str, operation: str, kind: str, peer: str = "") -> None:
        self.service, self.operation, self.kind, self.peer = service, operation, kind, peer
        self.children: list[_Node] = []
        self.own = 0
        self.parallel = False
        self.span: dict[str, Any] = {}


def _service(i: int) -> str:
    return f"svc-{i:03d}"


def _topology(shape: Shape, rng: random.Random) -> list[list[str]]:
    """Whom each service calls: the next service and ``callees - 1`` more of the next
    ``reach``, so calls flow one way (no cycles) and chains can run through every service.
    The last services call no one."""
    out = []
    for i in range(shape.services):
        ahead = list(range(i + 1, min(shape.services, i + 1 + shape.reach)))
        chosen = ahead[:1] + rng.sample(ahead[1:], max(0, min(len(ahead) - 1, shape.callees - 1)))
        out.append([_service(j) for j in sorted(chosen)])
    return out


def _trace(
    shape: Shape, topology: list[list[str]], rng: random.Random, start_us: int
) -> dict[str, Any]:
    """One trace of ``shape`` in the query API's JSON."""
    target = rng.randint(*shape.spans)
    entry = _service(rng.randrange(shape.entry_services))
    root = _Node(entry, f"GET /api/{rng.randrange(6)}", "server")
    callers = [root]
    nodes = 1
    while nodes < target:
        caller = callers[-1] if rng.random() < shape.depth_bias else rng.choice(callers)
        roll = rng.random()
        reachable = topology[int(caller.service[4:])]
        if roll < shape.remote_share and reachable:
            callee = rng.choice(reachable)
            operation = f"{callee}.Op{rng.randrange(4)}"
            client = _Node(caller.service, operation, "client", peer=callee)
            server = _Node(callee, operation, "server")
            client.children.append(server)
            caller.children.append(client)
            callers.append(server)
            nodes += 2
        elif roll < shape.remote_share + shape.db_share:
            db = f"db-{int(caller.service[4:]) % 5}"
            table = rng.choice(TABLES)
            caller.children.append(_Node(caller.service, f"SELECT {table}", "db", peer=db))
            nodes += 1
        else:
            work = _Node(caller.service, f"work.step{rng.randrange(8)}", "internal")
            caller.children.append(work)
            callers.append(work)
            nodes += 1
    _durations(root, shape, rng)
    trace_id = f"{rng.getrandbits(128):032x}"
    spans: list[dict[str, Any]] = []
    processes: dict[str, dict[str, Any]] = {}
    pids: dict[str, str] = {}
    _emit(root, None, start_us, trace_id, shape, rng, spans, processes, pids)
    return {"traceID": trace_id, "spans": spans, "processes": processes, "warnings": None}


def _durations(root: _Node, shape: Shape, rng: random.Random) -> None:
    """Own time of every node, and whether its children overlap (post-order, iterative)."""
    order: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in order:
        scale = 2_000 if node.kind == "db" else 400
        node.own = max(5, round(scale * math.exp(rng.gauss(0.0, 0.6))))
        node.parallel = rng.random() < shape.parallel_share


def _emit(
    node: _Node,
    parent: str | None,
    start: int,
    trace_id: str,
    shape: Shape,
    rng: random.Random,
    spans: list[dict[str, Any]],
    processes: dict[str, dict[str, Any]],
    pids: dict[str, str],
) -> int:
    """Append the node's span (then its subtree's) in Jaeger's key order; returns its end."""
    pid = pids.get(node.service)
    if pid is None:
        pid = pids[node.service] = f"p{len(pids) + 1}"
        tags = [_tag("hostname", f"{node.service}-{rng.randrange(3)}")] if shape.rich_tags else []
        if shape.rich_tags:
            tags.append(_tag("ip", f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"))
        processes[pid] = {"serviceName": node.service, "tags": tags}
    span_id = f"{rng.getrandbits(64):016x}"
    refs = [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else []
    failed = rng.random() < shape.error_rate
    tags = _tags(node, shape, rng, failed, root=parent is None)
    span = {"traceID": trace_id, "spanID": span_id, "flags": 1, "operationName": node.operation,
            "references": refs, "startTime": start, "duration": 0, "tags": tags, "logs": [],
            "processID": pid, "warnings": None}  # fmt: skip
    spans.append(span)
    cursor = start + (node.own // 3) + (30 if node.kind == "client" else 0)
    end = cursor
    for child in node.children:
        child_end = _emit(child, span_id, cursor, trace_id, shape, rng, spans, processes, pids)
        end = max(end, child_end)
        cursor = cursor + 30 if node.parallel else child_end + 30
    end = max(end, cursor) + node.own - node.own // 3 + (30 if node.kind == "client" else 0)
    span["duration"] = end - start
    if failed:
        span["logs"].append(
            {
                "timestamp": end,
                "fields": [
                    _tag("event", "error"),
                    _tag("error.kind", "Failure"),
                    _tag("message", f"{node.operation} failed"),
                ],  # fmt: skip
            }
        )
    return end


def _tags(
    node: _Node, shape: Shape, rng: random.Random, failed: bool, root: bool
) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    if node.kind in ("server", "client"):
        tags.append(_tag("span.kind", node.kind))
    elif node.kind == "db":
        tags.append(_tag("span.kind", "client"))
    if node.peer:
        tags.append(_tag("peer.service", node.peer))
    if node.kind == "db":
        tags.append(_tag("db.system", "postgresql"))
        literal = rng.randrange(1_000_000) if rng.random() < shape.literal_share else "?"
        table = node.operation.split()[1]
        tags.append(_tag("db.statement", f"SELECT * FROM {table} WHERE id = {literal}"))
    elif shape.rich_tags and node.kind in ("server", "client"):
        tags.append(_tag("http.method", "GET"))
        tags.append(_tag("http.url", f"http://{node.peer or node.service}/{node.operation}"))
        tags.append(_tag("http.status_code", 500 if failed else 200))
        tags.append(_tag("component", "net/http"))
    if root:
        tags += [_tag("sampler.type", "probabilistic"), _tag("sampler.param", 0.01)]
    if failed:
        tags.append(_tag("error", True))
    return tags


def _tag(key: str, value: Any) -> dict[str, Any]:
    kind = {bool: "bool", int: "int64", float: "float64"}.get(type(value), "string")
    return {"key": key, "type": kind, "value": value}
