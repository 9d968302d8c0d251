"""Loghub-style logs for the demo fleet: one plain file per service, plus the gateway's JSON
access log.

Line volume follows each service's request rate (sampled, and capped at a few lines a minute);
error lines follow its per-minute error ratio, because errors are always logged while successes
are sampled. The planted incidents leave their marks: a new payment error template during the
error spike, redis timeouts in redis's callers during the cascade, GC-pressure warnings that
grow with cart's leaking memory, start-up lines at each rollout, and a chatty catalog template
that goes silent after the latency-regression rollout.
"""

from __future__ import annotations

import functools
import json
import math
import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from aiops.dev.sim.incidents import Deploy, Incident
from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.topology import ServiceSpec, callers_of

LOG_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"
ACCESS_LOG = "gateway.access.jsonl"
INFO_CAP = 6.0  # sampled request lines per minute, at most
ERROR_CAP = 30.0
ERROR_BOOST = 15.0  # error lines per minute ~ request lines x error ratio x this
MiB = 2**20
PORTS = {"postgres": 5432, "redis": 6379}
FIRST = ("anna", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kemal")
LAST = ("smith", "mueller", "garcia", "nguyen", "okafor", "rossi", "kowalski", "silva", "tanaka")
DOMAINS = ("example.com", "mail.example.org", "shop.test")
TERMS = ("running shoes", "usb-c cable", "coffee grinder", "rain jacket", "desk lamp", "tent")
SQL = (
    "SELECT id, name, price_cents FROM products WHERE category_id = {n} LIMIT 50",
    "SELECT sku, available FROM stock WHERE sku = 'SKU-{n}'",
    "INSERT INTO payments (order_id, amount_cents, status) VALUES ('{u}', {n}, 'ok')",
    "SELECT * FROM reviews WHERE product_id = {n}",
)


def _rngs(seed: int, *names: str) -> tuple[np.random.Generator, _Vars]:
    """A numpy stream for per-minute counts and a fast one for the variable parts of lines."""
    np_rng = np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])
    return np_rng, _Vars(random.Random(int(np_rng.integers(2**62))))


def _minutes(fleet: FleetMetrics, start: datetime, end: datetime) -> np.ndarray:
    """Indices of the metric steps overlapping [start, end)."""
    step = fleet.index[1] - fleet.index[0]
    return np.arange(int((start - fleet.index[0]) // step), -int((fleet.index[0] - end) // step))


@dataclass
class _Vars:
    """The variable parts of log lines, drawn from one seeded stream."""

    rng: random.Random

    def n(self, lo: int, hi: int) -> int:
        return lo + int(self.rng.random() * (hi - lo + 1))  # randint, at a fraction of the cost

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def ip(self) -> str:
        return f"10.{self.n(0, 9)}.{self.n(0, 255)}.{self.n(1, 254)}"

    def user(self) -> str:
        return f"u-{self.n(10000, 99999)}"

    def email(self) -> str:
        r = self.rng
        return f"{r.choice(FIRST)}.{r.choice(LAST)}{self.n(1, 99)}@{r.choice(DOMAINS)}"

    def ms(self, median_s: float) -> int:
        return max(1, round(median_s * 1000 * math.exp(self.rng.gauss(0.0, 0.45))))

    def path(self, operation: str) -> tuple[str, str]:
        method, _, route = operation.partition(" ")
        return method, route.replace("{id}", str(self.n(1, 99999)))

    def amount(self) -> str:
        return f"{self.n(199, 49999) / 100:.2f}"


def _request(v: _Vars, spec: ServiceSpec, p50: float) -> tuple[str, str]:
    """One sampled request line: (its event, `LEVEL component: content`)."""
    name, ms, r = spec.name, v.ms(p50), v.rng.random()
    if name == "postgres":
        shape = v.rng.choice(SQL)
        sql = shape.format(n=v.n(1, 99999), u=v.uuid())
        took = p50 * 1000 * math.exp(v.rng.gauss(0, 0.6))
        return (
            f"sql{SQL.index(shape)}",
            f"INFO postgres.db: duration: {took:.3f} ms  statement: {sql}",
        )
    if name == "redis":
        pick = int(v.rng.random() * 4)
        return f"redis{pick}", "INFO redis.server: " + (
            f"Accepted {v.ip()}:{v.n(30000, 60999)}",
            f"{v.n(100, 9999)} changes in 60 seconds. Saving...",
            f"Background saving started by pid {v.n(100, 32767)}",
            f"DB saved on disk ({v.n(100000, 999999)} keys, {v.n(100, 999)} MB)",
        )[pick]
    if name == "order-worker":
        return "consumed", (
            f"INFO order-worker.consumer: processed order {v.uuid()} "
            f"partition={v.n(0, 11)} offset={v.n(10**5, 10**7)} lag={ms}ms"
        )
    if r < 0.3 and name == "auth":
        return (
            "business",
            f"INFO auth.session: login ok for {v.email()} from {v.ip()} (session {v.hex(16)})",
        )
    if r < 0.3 and name == "checkout":
        return "business", (
            f"INFO checkout.api: order {v.uuid()} placed by {v.email()} "
            f"total={v.amount()} EUR items={v.n(1, 9)}"
        )
    if r < 0.3 and name == "payment":
        return "business", (
            f"INFO payment.provider: charge ok for order {v.uuid()} "
            f"amount={v.amount()} EUR psp_ref={v.hex(12)}"
        )
    if r < 0.3 and name == "inventory":
        return "business", (
            f"INFO inventory.reserve: reserved {v.n(1, 5)} units of "
            f"sku=SKU-{v.n(1000, 9999)} for order {v.uuid()}"
        )
    if r < 0.3 and name == "search":
        return (
            "business",
            f'INFO search.query: q="{v.rng.choice(TERMS)}" hits={v.n(0, 2000)} took={ms}ms',
        )
    if r < 0.3 and name == "recommendation":
        return "business", (
            f"INFO recommendation.model: scored {v.n(50, 500)} candidates for "
            f"user={v.user()} in {ms}ms (model {v.hex(8)})"
        )
    if r < 0.3 and name == "cart":
        return (
            "business",
            f"INFO cart.api: added sku=SKU-{v.n(1000, 9999)} qty={v.n(1, 4)} to cart {v.uuid()}",
        )
    if r < 0.3 and name == "catalog":
        return (
            "business",
            f"INFO catalog.api: served /products/{v.n(1, 99999)} from cache in {ms}ms",
        )
    method, path = v.path(v.rng.choice(spec.operations))
    return f"access:{method}", (
        f"INFO {name}.api: {method} {path} 200 {ms}ms user={v.user()} ip={v.ip()}"
    )


def _error(v: _Vars, spec: ServiceSpec, p50: float, spike: bool, cascade: bool) -> tuple[str, str]:
    name = spec.name
    method, path = v.path(v.rng.choice(spec.operations))
    if spike and v.rng.random() < 0.9:
        return "charge_failed", (
            f"ERROR payment.provider: charge failed for order {v.uuid()}: upstream "
            f"psp-gateway returned 502 after {v.n(800, 5000)}ms"
        )
    if cascade and v.rng.random() < 0.85:
        k = v.n(16, 64)
        return "redis_timeout", (
            f"ERROR {name}.cache: timeout after {v.n(200, 2000)}ms talking to redis:6379 "
            f"(pool exhausted {k}/{k})"
        )
    if name == "postgres":
        pid = v.n(100, 32767)
        return (
            "statement_timeout",
            f"ERROR postgres.db: canceling statement due to statement timeout (pid {pid})",
        )
    if name == "redis":
        return "reset", (
            f"ERROR redis.server: Error accepting a client connection: "
            f"Connection reset by peer (fd {v.n(8, 4096)})"
        )
    if name == "gateway":
        return f"bad_gateway:{method}", (
            f"ERROR gateway.proxy: upstream returned 502 for {method} {path} "
            f"request_id={v.uuid()} ip={v.ip()}"
        )
    return f"unhandled:{method}", (
        f"ERROR {name}.api: {method} {path} 500 {v.ms(p50)}ms: unhandled exception "
        f"(request_id={v.uuid()})"
    )


def _background(v: _Vars, spec: ServiceSpec, p50: float, threshold: int) -> tuple[str, str]:
    """A slow-request warning (redis: its slowlog)."""
    if spec.name == "redis":
        return (
            "slowlog",
            f"WARN redis.server: slowlog: GET key:{v.hex(8)} took {v.ms(p50) * 1000} us",
        )
    method, path = v.path(v.rng.choice(spec.operations))
    took = threshold + v.ms(p50)
    return (
        f"slow:{method}",
        f"WARN {spec.name}.api: slow {method} {path} took {took}ms (threshold {threshold}ms)",
    )


def _active(incident: Incident | None, at: datetime) -> bool:
    return (
        incident is not None
        and incident.start <= at
        and (incident.end is None or at < incident.end)
    )


def _service_lines(
    config: Any,
    spec: ServiceSpec,
    fleet: FleetMetrics,
    incidents: dict[str, Incident],
    deploys: list[Deploy],
    start: datetime,
) -> list[tuple[int, str, str]]:
    """(epoch ms, event, `LEVEL component: content`) for one service inside [start, end).

    The event names the line's true template (the f-string that wrote it), the ground truth
    the template miner's grouping accuracy is measured against. An HTTP method or SQL verb
    in a line is part of its event (`access:GET`, `slow:SELECT`): a closed set of words that
    says what happened is a constant, as in the corrected Loghub labels (Khan et al., 2022)
    that bench/bench_loghub.py measures against, not a parameter."""
    m, minutes = fleet.services[spec.name], _minutes(fleet, start, config.end)
    np_rng, v = _rngs(config.seed, "logs", spec.name)
    rate, err, p50 = m.request_rate[minutes], m.error_ratio[minutes], m.latency_p50[minutes]
    sampled = np.minimum(INFO_CAP, 0.4 + 0.05 * rate)
    typical = float(np.median(m.latency_p50))
    threshold = max(10, round(typical * 3000))  # ms
    frac = m.memory_bytes[minutes] / spec.memory_limit_bytes
    counts = np.stack(
        [
            np_rng.poisson(sampled),
            np_rng.poisson(np.minimum(ERROR_CAP, sampled * err * ERROR_BOOST)),
            np_rng.poisson(np.minimum(5.0, 0.05 * (p50 / typical) ** 2)),  # slow requests
            np_rng.poisson(0.4, len(minutes)),  # connection-pool chatter
            np_rng.poisson(1.0 if spec.name == "catalog" else 0.0, len(minutes)),  # cache warming
            np_rng.poisson(np.minimum(6.0, 6.0 * frac**8) * (spec.name == "cart")),  # GC pressure
            np_rng.poisson(0.2 if spec.name == "catalog" else 0.0, len(minutes)),  # cache rejects
        ],
        axis=1,
    )
    regression = incidents.get("latency_regression")
    redis_caller = spec.name in callers_of("redis", config.services)
    out: list[tuple[int, str, str]] = []
    for j, minute in enumerate(minutes):
        at = fleet.index[minute].to_pydatetime()
        n_req, n_err, n_slow, n_pool, n_warm, n_gc, n_reject = counts[j]
        spike = spec.name == "payment" and _active(incidents.get("error_spike"), at)
        cascade = redis_caller and _active(incidents.get("cascading_failure"), at)
        lines = [_request(v, spec, p50[j]) for _ in range(n_req)]
        lines += [_error(v, spec, p50[j], spike, cascade) for _ in range(n_err)]
        lines += [_background(v, spec, p50[j], threshold) for _ in range(n_slow)]
        lines += [
            (
                "pool",
                f"DEBUG {spec.name}.pool: connections active={v.n(1, 40)} idle={v.n(0, 20)} "
                f"max=64 waiting={v.n(0, 3)}",
            )
            for _ in range(n_pool)
        ]
        if regression is None or at < regression.start:  # silent after the regression rollout
            lines += [
                (
                    "warmed",
                    f"DEBUG catalog.cache: warmed {v.n(100, 20000)} entries in {v.n(5, 900)}ms",
                )
                for _ in range(n_warm)
            ]
        else:  # ...because 2.0.0's serializer makes the cache reject what the warm-up writes
            lines += [
                (
                    "rejected",
                    f"ERROR catalog.cache: warm-up aborted: cache rejected entry "
                    f"product:{v.n(1, 99999)} ({v.n(1_048_577, 4_000_000)} bytes exceeds the "
                    "1048576 byte item limit)",
                )
                for _ in range(n_reject)
            ]
        lines += [
            (
                "gc",
                f"WARN cart.gc: GC pressure: heap {m.memory_bytes[minute] / MiB:.0f}MiB of "
                f"{spec.memory_limit_bytes / MiB:.0f}MiB ({100 * frac[j]:.1f}%), "
                f"pause {v.n(20, 400)}ms",
            )
            for _ in range(n_gc)
        ]
        base_ms = round(at.timestamp() * 1000)
        out += [(base_ms + v.n(0, 59999), event, line) for event, line in lines]
    for d in (d for d in deploys if d.service == spec.name):
        at_ms = round(d.at.timestamp() * 1000)
        out += [
            (
                at_ms - v.n(500, 2000),
                "sigterm",
                f"INFO {d.service}.main: received SIGTERM, draining {v.n(0, 200)} connections",
            ),
            (
                at_ms + v.n(200, 3000),
                "starting",
                f"INFO {d.service}.main: starting {d.service} "
                f"version {d.version} (pid {v.n(100, 32767)})",
            ),
            (
                at_ms + v.n(3100, 9000),
                "listening",
                f"INFO {d.service}.main: listening on 0.0.0.0:{PORTS.get(d.service, 8080)}",
            ),
        ]
    lo, hi = start.timestamp() * 1000, config.end.timestamp() * 1000
    return [line for line in out if lo <= line[0] < hi]


@functools.lru_cache(maxsize=4096)
def _minute(epoch_minute: int) -> tuple[str, str]:
    t = datetime.fromtimestamp(epoch_minute * 60, tz=UTC)
    return f"{t:%Y-%m-%d}", f"{t:%H:%M}"


def _timestamp(ms: int, iso: bool = False) -> str:
    """`2026-10-31 14:00:03,123` (Loghub) or `2026-10-31T14:00:03.123Z` (ISO 8601)."""
    day, hm = _minute(ms // 60000)
    sec, milli = divmod(ms % 60000, 1000)
    return f"{day}T{hm}:{sec:02d}.{milli:03d}Z" if iso else f"{day} {hm}:{sec:02d},{milli:03d}"


def _access_lines(config: Any, fleet: FleetMetrics, start: datetime) -> list[tuple[int, str, str]]:
    """The gateway's structured access log: one JSON object per sampled request."""
    spec = next(s for s in config.services if s.name == "gateway")
    m, minutes = fleet.services["gateway"], _minutes(fleet, start, config.end)
    np_rng, v = _rngs(config.seed, "access", "gateway")
    counts = np_rng.poisson(np.minimum(10.0, 0.5 + 0.08 * m.request_rate[minutes]))
    lo, hi = start.timestamp() * 1000, config.end.timestamp() * 1000
    out: list[tuple[int, str, str]] = []
    for j, minute in enumerate(minutes):
        for _ in range(counts[j]):
            ts = round(fleet.index[minute].timestamp() * 1000) + v.n(0, 59999)
            failed = v.rng.random() < m.error_ratio[minute]
            status = v.rng.choice((502, 503, 504) if failed else (200, 200, 200, 304))
            method, path = v.path(v.rng.choice(spec.operations))
            entry: dict[str, Any] = {
                "@timestamp": _timestamp(ts, iso=True), "service": "gateway",
                "level": "ERROR" if failed else "INFO", "message": f"{method} {path} {status}",
                "method": method, "path": path, "status": status,
                "duration_ms": v.ms(float(m.latency_p50[minute])), "client_ip": v.ip(),
                "user_id": v.user(), "request_id": v.uuid()}  # fmt: skip
            if method == "POST" and v.rng.random() < 0.2:
                entry["user_email"] = v.email()
            if lo <= ts < hi:
                out.append((ts, f"access:{method}", json.dumps(entry, separators=(",", ":"))))
    return out


def labelled_lines(
    config: Any,
    incidents: list[Incident],
    deploys: list[Deploy],
    fleet: FleetMetrics,
    start: datetime,
) -> dict[str, list[tuple[int, str, str]]]:
    """Per file name, the (epoch ms, event, text) of every line in [start, config.end), sorted
    by time. The event is the line's true template, for measuring the template miner."""
    step = fleet.index[1] - fleet.index[0]
    if not fleet.index[0] <= start < config.end <= fleet.index[-1] + step:
        raise ValueError(
            f"logs window [{start}, {config.end}) is not inside the metrics "
            f"[{fleet.index[0]}, {fleet.index[-1] + step})"
        )
    by_kind = {inc.kind: inc for inc in incidents}
    files = {
        f"{spec.name}.log": sorted(
            _service_lines(config, spec, fleet, by_kind, list(deploys), start), key=_first
        )
        for spec in config.services
    }
    files[ACCESS_LOG] = sorted(_access_lines(config, fleet, start), key=_first)
    return files


def write_logs(
    config: Any,
    incidents: list[Incident],
    deploys: list[Deploy],
    fleet: FleetMetrics,
    start: datetime,
    out_dir: Path,
) -> list[Path]:
    """Write `out_dir/<service>.log` and `out_dir/gateway.access.jsonl` covering
    [start, config.end); returns the paths sorted. `config` is a WorldConfig. The latency
    regression's rollout counts as a deploy (it logs its own start-up line)."""
    files = labelled_lines(config, incidents, deploys, fleet, start)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, lines in files.items():
        paths.append(out_dir / name)
        if name == ACCESS_LOG:
            paths[-1].write_text("".join(f"{text}\n" for _, _, text in lines))
        else:
            paths[-1].write_text("".join(f"{_timestamp(ts)} {text}\n" for ts, _, text in lines))
    return sorted(paths)


def _first(item: tuple[int, str, str]) -> int:
    return item[0]
