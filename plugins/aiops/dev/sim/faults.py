"""Seeded fault scenarios for measuring root-cause ranking: a random fleet in the demo
world's shape, one fault, and the anomaly events it would leave behind.

The fleet follows `sim.topology`: a frontend calls a layer of APIs, APIs call a few other
APIs below them, and everything ends in shared databases and caches; some APIs hand work to
a worker through a queue. A fault starts in one non-frontend service and travels up to its
callers, hop by hop, with:

- a delay per hop (a caller notices when its timeouts or queues fill), and a detection
  delay on top (the first point over the threshold comes later for a weaker deviation);
- a strength that changes per hop, often *growing* (a caller that calls the faulty cache
  thirty times per request suffers more than the cache looks), so the loudest service is
  frequently a symptom;
- detection that can miss a service (too weak to cross the threshold) while its callers
  still show it;
- unrelated anomalies elsewhere in the fleet at about the same time, and trace maps that
  miss an edge now and then (an uninstrumented call).

The events are `IncidentEvent`s as the store readers make them, so the benchmark runs the
same grouping and ranking code as the hourly DAG.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiops.incidents.incident_event import Z_FLOOR, IncidentEvent


@dataclass(frozen=True)
class ScenarioConfig:
    apis: tuple[int, int] = (4, 9)  # API services, inclusive range
    databases: tuple[int, int] = (1, 2)
    caches: tuple[int, int] = (1, 2)
    workers: tuple[int, int] = (0, 2)
    hop_delay_s: tuple[float, float] = (30.0, 180.0)  # caller notices this much later
    detection_delay_mean_s: float = 45.0  # first point over the threshold, on top
    hop_gain: tuple[float, float] = (0.5, 1.7)  # a caller's strength over its callee's
    root_z: tuple[float, float] = (4.5, 14.0)
    missed_edges: float = 0.05  # share of real calls the trace map does not show
    noise_events: float = 1.0  # mean unrelated anomalies around the fault (Poisson)
    log_events: float = 0.4  # chance an affected service also logs something anomalous
    max_hops: int = 4  # how far up the fault travels


@dataclass(frozen=True)
class Scenario:
    seed: int
    services: tuple[str, ...]
    calls: tuple[tuple[str, str], ...]  # the fleet's real calls, caller -> callee
    observed: tuple[tuple[str, str], ...]  # what the trace map shows
    root: str
    affected: tuple[str, ...]  # services the fault reached and detection saw, root first
    events: tuple[IncidentEvent, ...]  # the fault's and the noise's, by start


def random_fleet(
    rng: random.Random, config: ScenarioConfig
) -> tuple[list[str], list[tuple[str, str]]]:
    """Service names and caller -> callee calls, a DAG in the demo world's layers."""
    apis = [f"api-{i}" for i in range(rng.randint(*config.apis))]
    dbs = [f"db-{i}" for i in range(rng.randint(*config.databases))]
    caches = [f"cache-{i}" for i in range(rng.randint(*config.caches))]
    workers = [f"worker-{i}" for i in range(rng.randint(*config.workers))]
    calls: set[tuple[str, str]] = set()
    for api in rng.sample(apis, k=max(1, round(len(apis) * rng.uniform(0.5, 0.9)))):
        calls.add(("frontend", api))
    for i, api in enumerate(apis):
        lower = apis[i + 1 :]
        for callee in rng.sample(lower, k=min(len(lower), rng.choice((0, 0, 1, 1, 2)))):
            calls.add((api, callee))
        stores = dbs + caches
        for callee in rng.sample(stores, k=rng.randint(1, min(2, len(stores)))):
            calls.add((api, callee))
    for worker in workers:
        calls.add((rng.choice(apis), worker))
        calls.add((worker, rng.choice(dbs)))
    called = {c for _, c in calls}
    for api in apis:  # an API nobody calls is reached from the frontend
        if api not in called:
            calls.add(("frontend", api))
    return ["frontend", *apis, *dbs, *caches, *workers], sorted(calls)


def fault_scenario(seed: int, config: ScenarioConfig = ScenarioConfig()) -> Scenario:
    rng = random.Random(seed)
    services, calls = random_fleet(rng, config)
    callers: dict[str, list[str]] = {}
    for caller, callee in calls:
        callers.setdefault(callee, []).append(caller)
    root = rng.choice([s for s in services if s != "frontend"])
    t0 = datetime(2026, 10, 30, 14, 0, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 20))
    # true onset and strength per reached service: breadth-first up the callers
    onset, strength = {root: t0}, {root: rng.uniform(*config.root_z)}
    frontier, hops = [root], 0
    while frontier and hops < config.max_hops:
        hops += 1
        nxt = []
        for callee in frontier:
            for caller in sorted(callers.get(callee, [])):
                delay = timedelta(seconds=rng.uniform(*config.hop_delay_s))
                z = strength[callee] * rng.uniform(*config.hop_gain)
                if caller not in onset or onset[callee] + delay < onset[caller]:
                    onset[caller] = onset[callee] + delay
                    strength[caller] = max(strength.get(caller, 0.0), z)
                    nxt.append(caller)
        frontier = nxt
    events: list[IncidentEvent] = []
    affected = []
    for service in sorted(onset, key=lambda s: (onset[s], s)):
        evs = _service_events(rng, service, onset[service], strength[service], config,
                              is_root=service == root)  # fmt: skip
        if evs:
            affected.append(service)
            events += evs
    events += _noise(rng, services, t0, config)
    observed = [c for c in calls if rng.random() >= config.missed_edges]
    events.sort(key=lambda e: (e.start, e.key))
    return Scenario(seed, tuple(services), tuple(calls), tuple(observed), root,
                    tuple(affected), tuple(events))  # fmt: skip


def _service_events(
    rng: random.Random,
    service: str,
    onset: datetime,
    z: float,
    config: ScenarioConfig,
    *,
    is_root: bool,
) -> list[IncidentEvent]:
    """What detection sees of one affected service: nothing when too weak (the root is
    always seen: a fault nobody detects is not an incident), else metric events, maybe a
    log event."""
    if z < Z_FLOOR and not is_root:
        return []
    z = max(z, Z_FLOOR + 0.1)
    signals = ["latency_p95", "error_ratio"]
    if is_root:
        signals += ["cpu", "memory", "request_rate"]
    chosen = rng.sample(signals, k=rng.choice((1, 1, 2)))
    out = []
    for n, signal in enumerate(sorted(chosen)):
        delay = rng.expovariate(1.0 / config.detection_delay_mean_s) * (Z_FLOOR * 2 / z)
        start = _minute(onset + timedelta(seconds=delay))
        peak = z * (1.0 if n == 0 else rng.uniform(0.6, 1.0))
        out.append(_metric(service, signal, start, peak, rng.randint(10, 40)))
    if rng.random() < config.log_events:
        hour = start.replace(minute=0)
        out.append(
            IncidentEvent("log", service, "log error ratio", "error_ratio", hour,
                          hour + timedelta(hours=1), rng.uniform(Z_FLOOR, 3 * Z_FLOOR),
                          "warning", False, "log error ratio", f"log|{service}|error_ratio|")
        )  # fmt: skip
    return out


def _noise(
    rng: random.Random, services: list[str], t0: datetime, config: ScenarioConfig
) -> list[IncidentEvent]:
    """Unrelated anomalies within the hour around the fault, anywhere in the fleet."""
    n, limit, p = 0, rng.random(), 2.718281828**-config.noise_events
    while limit > p:  # Knuth's Poisson draw
        limit *= rng.random()
        n += 1
    out = []
    for _ in range(n):
        service = rng.choice(services)
        start = _minute(t0 + timedelta(minutes=rng.uniform(-20, 40)))
        signal = rng.choice(("latency_p95", "error_ratio", "cpu", "memory"))
        out.append(_metric(service, signal, start, Z_FLOOR + rng.expovariate(1 / 3.0),
                           rng.randint(3, 20), noise=True))  # fmt: skip
    return out


def _metric(
    service: str, signal: str, start: datetime, z: float, minutes: int, noise: bool = False
) -> IncidentEvent:
    return IncidentEvent(
        source="metric",
        service=service,
        signal=signal,
        kind="anomaly",
        start=start,
        end=start + timedelta(minutes=minutes),
        strength=round(z, 3),
        severity="critical" if z >= 2 * Z_FLOOR else "warning",
        onset_known=True,
        explanation=f"{service} {signal} {z:.1f} robust sigma" + (" (unrelated)" if noise else ""),
        key=f"metric|{service}|{signal}|anomaly|{start.isoformat()}",
        points=minutes,
    )


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)
