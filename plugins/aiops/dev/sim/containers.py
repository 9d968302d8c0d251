"""Per-container series of the demo fleet, as cAdvisor and kube-state-metrics expose them.

Each service runs as a Deployment of `replicas` pods in namespace `shop`, one container named
after the service, in pods named `<workload>-<replicaset hash>-<pod hash>`. A pod's CPU demand
is the service's `cpu_cores` / replicas times a small seeded jitter (a level per pod, noise per
minute, normalised so the pods add up to the service). Its working set is the service's
`memory_bytes` times the same kind of jitter, not divided by the replicas: the fleet's memory
is a per-instance figure (the catalog reads it with max(), the topology's `memory_limit_bytes`
is per container, and the planted leak is measured against it). At each deploy the pods are
replaced: a new ReplicaSet hash, new pod names, every series of the old pods stops.

Most containers are sized as a careful human would, from the whole window: CPU request = the
95th percentile of per-pod CPU rounded up to 50m, no CPU limit; memory request = limit = the
busiest per-pod working set x 1.25 rounded up to 64 MiB. Three are not (`PLANTS`):

- over_provisioned: asks for 2 cores and 4 GiB per pod, an order of magnitude above its use.
- throttled: CPU request = limit = the per-pod median rounded to 50m. Demand above 80% of the
  limit is throttled (all periods from 110%), and the CPU used is capped at the limit.
- oom_killed: from its first rollout in the last `OOM_WINDOW` (from the start, in a shorter
  world) the memory request = limit is cut to the highest value (on a 64 KiB grid) that its
  working set reaches `OOM_KILLS` times: a few busy hours end in an OOM kill. The container
  restarts in the same pod: its working set warms up again from 15% below demand, cAdvisor's
  counters restart from zero, the restart count rises and
  `last_terminated_reason{reason="OOMKilled"}` is 1 from then on. The working set never
  exceeds the limit.

Counters are exact: CPU seconds are summed in whole milliseconds (rounded down) and CFS
periods in whole periods, so no step's increase is more than the limit allowed.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from aiops.dev.sim.incidents import Deploy
from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.openmetrics import Family, SeriesBlock
from aiops.dev.sim.topology import GiB, MiB, ServiceSpec

NAMESPACE = "shop"
OVER_PROVISIONED = "over_provisioned"
THROTTLED = "throttled"
OOM_KILLED = "oom_killed"
CFS_PERIODS_PER_SECOND = 10  # 100 ms CFS periods
CPU_STEP_CORES = 0.05
MEMORY_STEP_BYTES = 64 * MiB
MEMORY_HEADROOM = 1.25
OOM_KILLS = 3  # the cut memory limit is the highest one (on a 64 KiB grid) reached this often
OOM_LIMIT_STEP_BYTES = 64 * 2**10
OOM_WINDOW = timedelta(days=14)  # the kills fall in a recommender's usual lookback
# Kubernetes' pod-template-hash alphabet (no vowels, no 0/1/3): a subset of [a-z0-9]
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Plant:
    """A container sized wrong on purpose, and the story the manifest tells about it."""

    workload: str
    problem: str
    summary: str


PLANTS: tuple[Plant, ...] = (
    Plant(
        "inventory",
        OVER_PROVISIONED,
        "inventory asks for 2 cores and 4 GiB per pod, an order of magnitude above its use",
    ),
    Plant(
        "recommendation",
        THROTTLED,
        "recommendation's CPU limit is its median use: CFS throttles it at every busy hour",
    ),
    Plant(
        "order-worker",
        OOM_KILLED,
        "a rollout cut order-worker's memory limit below its busiest working set: "
        "OOM-killed at peak hours",
    ),
)


@dataclass(frozen=True)
class Resources:
    """What a container asks Kubernetes for; None: not set."""

    cpu_request_cores: float
    memory_request_bytes: int
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None

    def to_json(self) -> dict[str, dict[str, float | int]]:
        return {
            "requests": dict(_quantities(self.cpu_request_cores, self.memory_request_bytes)),
            "limits": dict(_quantities(self.cpu_limit_cores, self.memory_limit_bytes)),
        }


@dataclass(frozen=True)
class Pod:
    """One pod of a workload over [start, stop), positions in the fleet's index."""

    name: str
    start: int
    stop: int
    resources: Resources
    demand_cores: np.ndarray
    cpu_cores: np.ndarray  # used: the demand, capped at the CPU limit
    memory_bytes: np.ndarray  # working set, whole bytes
    oom_kills: np.ndarray  # positions in the fleet's index

    def throttled_ratio(self) -> np.ndarray | None:
        limit = self.resources.cpu_limit_cores
        return None if limit is None else throttled_ratio(self.demand_cores, limit)


@dataclass(frozen=True)
class Workload:
    name: str
    pods: tuple[Pod, ...]  # in start order, replicas in order within a rollout
    plant: Plant | None = None

    @property
    def resources(self) -> Resources:
        """What the workload asks for today (its last rollout's pods)."""
        return self.pods[-1].resources


@dataclass(frozen=True)
class ContainerFleet:
    index: pd.DatetimeIndex
    step_seconds: float
    workloads: dict[str, Workload]

    def families(self) -> tuple[Family, ...]:
        """The exposition, family by family; within each, workloads in fleet order and pods in
        start order."""
        blocks: dict[str, list[SeriesBlock]] = {name: [] for name, _, _ in _FAMILIES}
        for w in self.workloads.values():
            for pod in w.pods:
                for block in self._pod_series(w.name, pod):
                    # a counter's samples end in _total, its family's name does not
                    blocks[block.metric.removesuffix("_total")].append(block)
        return tuple(
            Family(name, kind, help_text, tuple(blocks[name]))
            for name, kind, help_text in _FAMILIES
        )

    def _pod_series(self, container: str, pod: Pod) -> Iterator[SeriesBlock]:
        labels = {"namespace": NAMESPACE, "pod": pod.name, "container": container}
        n = pod.stop - pod.start
        kills = pod.oom_kills - pod.start

        def block(metric: str, values: np.ndarray, fmt: str, **extra: str) -> SeriesBlock:
            return SeriesBlock(metric, {**labels, **extra}, pod.start, values, fmt)

        cpu_ms = np.floor(pod.cpu_cores * self.step_seconds * 1000.0).astype(np.int64)
        cpu_seconds = _counter(cpu_ms, kills) / 1000.0
        yield block("container_cpu_usage_seconds_total", cpu_seconds, "milli")
        yield block("container_memory_working_set_bytes", pod.memory_bytes, "int")
        ratio = pod.throttled_ratio()
        if ratio is not None:
            per_step = CFS_PERIODS_PER_SECOND * self.step_seconds
            periods = np.full(n, round(per_step), dtype=np.int64)
            throttled = np.round(ratio * per_step).astype(np.int64)
            yield block("container_cpu_cfs_periods_total", _counter(periods, kills), "int")
            yield block(
                "container_cpu_cfs_throttled_periods_total", _counter(throttled, kills), "int"
            )
        res = pod.resources
        for metric, cpu, memory in (
            (
                "kube_pod_container_resource_requests",
                res.cpu_request_cores,
                res.memory_request_bytes,
            ),
            ("kube_pod_container_resource_limits", res.cpu_limit_cores, res.memory_limit_bytes),
        ):
            for resource, value in _quantities(cpu, memory):
                unit, fmt = ("core", "g") if resource == "cpu" else ("byte", "int")
                yield block(metric, np.full(n, value), fmt, resource=resource, unit=unit)
        restarts = np.zeros(n, dtype=np.int64)
        np.add.at(restarts, kills, 1)
        yield block("kube_pod_container_status_restarts_total", np.cumsum(restarts), "int")
        if kills.size:  # present from the first OOM kill on, as kube-state-metrics shows it
            first = int(kills[0])
            yield SeriesBlock(
                "kube_pod_container_status_last_terminated_reason",
                {**labels, "reason": "OOMKilled"},
                pod.start + first,
                np.ones(n - first, dtype=np.int64),
                "int",
            )

    def planted(self) -> list[dict[str, Any]]:
        """The manifest's `rightsizing` entries: each planted container and what was planted."""
        out: list[dict[str, Any]] = []
        for w in self.workloads.values():
            if w.plant is None:
                continue
            cpu = np.concatenate([p.cpu_cores for p in w.pods])
            demand = np.concatenate([p.demand_cores for p in w.pods])
            memory = np.concatenate([p.memory_bytes for p in w.pods])
            entry: dict[str, Any] = {
                "namespace": NAMESPACE,
                "workload": w.name,
                "container": w.name,
                "problem": w.plant.problem,
                "summary": w.plant.summary,
                **w.resources.to_json(),
                "usage_per_pod": {
                    "cpu_p50_cores": round(float(np.percentile(cpu, 50)), 4),
                    "cpu_p95_cores": round(float(np.percentile(cpu, 95)), 4),
                    "cpu_demand_max_cores": round(float(demand.max()), 4),
                    "memory_max_bytes": int(memory.max()),
                },
                "pods": [p.name for p in w.pods],
            }
            if w.resources.cpu_limit_cores is not None:
                entry["throttled_share_of_minutes"] = round(self.throttled_share(w.name, 0.05), 4)
                entry["throttled_above"] = 0.05
            if w.pods[0].resources != w.resources:  # resized by a rollout in the window
                since = next(p for p in w.pods if p.resources == w.resources)
                entry["resources_since"] = self.index[since.start].isoformat()
                entry["resources_before"] = w.pods[0].resources.to_json()
            if w.plant.problem == OOM_KILLED:
                entry["oom_kills"] = [
                    {"pod": p.name, "at": self.index[k].isoformat()}
                    for p in w.pods
                    for k in p.oom_kills
                ]
            out.append(entry)
        return out

    def throttled_share(self, workload: str, above: float) -> float:
        """Share of the window's minutes in which the workload's pods, together, were throttled
        in more than `above` of their CFS periods (0 without a CPU limit)."""
        throttled = np.zeros(len(self.index))
        for p in self.workloads[workload].pods:
            ratio = p.throttled_ratio()
            if ratio is not None:
                throttled[p.start : p.stop] += ratio
        replicas = np.zeros(len(self.index))
        for p in self.workloads[workload].pods:
            replicas[p.start : p.stop] += 1
        return float(np.mean(throttled / np.maximum(replicas, 1) > above))


_FAMILIES = (
    (
        "container_cpu_usage_seconds",
        "counter",
        "Cumulative cpu time consumed by the container in core-seconds (cAdvisor).",
    ),
    (
        "container_memory_working_set_bytes",
        "gauge",
        "Current working set of the container in bytes (cAdvisor).",
    ),
    (
        "container_cpu_cfs_periods",
        "counter",
        "Number of elapsed enforcement period intervals (cAdvisor).",
    ),
    (
        "container_cpu_cfs_throttled_periods",
        "counter",
        "Number of throttled period intervals (cAdvisor).",
    ),
    (
        "kube_pod_container_resource_requests",
        "gauge",
        "The number of requested request resource by a container (kube-state-metrics).",
    ),
    (
        "kube_pod_container_resource_limits",
        "gauge",
        "The number of requested limit resource by a container (kube-state-metrics).",
    ),
    (
        "kube_pod_container_status_restarts",
        "counter",
        "The number of container restarts per container (kube-state-metrics).",
    ),
    (
        "kube_pod_container_status_last_terminated_reason",
        "gauge",
        "Describes the last reason the container was in terminated state (kube-state-metrics).",
    ),
)


def throttled_ratio(demand_cores: np.ndarray, limit_cores: float) -> np.ndarray:
    """Share of CFS periods throttled: none below 80% of the limit, all from 110% of it."""
    return np.clip((demand_cores / limit_cores - 0.8) / 0.3, 0.0, 1.0)


def simulate_containers(
    fleet: FleetMetrics,
    services: tuple[ServiceSpec, ...],
    deploys: list[Deploy],
    seed: int,
) -> ContainerFleet:
    """Every service's pods over the fleet's window, sized by `PLANTS` or the careful rule."""
    index = fleet.index
    n = len(index)
    step_s = float((index[1] - index[0]).total_seconds())
    plants = {p.workload: p for p in PLANTS}
    workloads: dict[str, Workload] = {}
    for spec in services:
        m = fleet.services[spec.name]
        times = pd.DatetimeIndex([d.at for d in deploys if d.service == spec.name])
        rollouts = index.searchsorted(times) if len(times) else np.array([], dtype=np.int64)
        starts = np.unique(np.concatenate([[0], rollouts[rollouts < n]])).astype(np.int64)
        stops = np.concatenate([starts[1:], [n]])
        cpu, memory = _per_pod(spec, m.cpu_cores, m.memory_bytes, starts, seed)
        sizing = _sizing(plants.get(spec.name), cpu, memory, starts, stops, index)
        pods: list[Pod] = []
        for generation, (a, b) in enumerate(zip(starts, stops, strict=True)):
            res = sizing[generation]
            replicaset = _hash(f"{spec.name}/{generation}", 10)
            for replica in range(spec.replicas):
                demand = cpu[replica, a:b]
                used = (
                    demand
                    if res.cpu_limit_cores is None
                    else np.minimum(demand, res.cpu_limit_cores)
                )
                ws, kills = memory[replica, a:b], np.array([], dtype=np.int64)
                if res.memory_limit_bytes is not None:
                    ws, kills = oom_killed(ws, res.memory_limit_bytes)
                name = f"{spec.name}-{replicaset}-{_hash(f'{spec.name}/{generation}/{replica}', 5)}"
                pods.append(Pod(name, int(a), int(b), res, demand, used, ws, kills + a))
        workloads[spec.name] = Workload(spec.name, tuple(pods), plants.get(spec.name))
    return ContainerFleet(index, step_s, workloads)


def oom_killed(demand_bytes: np.ndarray, limit_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """A container's working set under a memory limit, and the positions of its OOM kills.

    When the working set would reach the limit the container is killed and restarted in the
    same pod: from then on it warms up again (15% below its demand, recovering over ~30 min,
    as a restarted service does in the fleet simulation). It never exceeds the limit.
    """
    ws = demand_bytes.astype(np.float64)
    kills: list[int] = []
    pos = 0
    while (over := np.flatnonzero(ws[pos:] >= limit_bytes)).size:
        k = pos + int(over[0])
        since = np.arange(len(ws) - k, dtype=np.float64)
        ws[k:] = np.round(demand_bytes[k:] * (1.0 - 0.15 * np.exp(-since / 30.0)))
        ws[k] = min(ws[k], limit_bytes - 1)  # the new container starts below its limit
        kills.append(k)
        pos = k + 1
    return ws, np.array(kills, dtype=np.int64)


def _per_pod(
    spec: ServiceSpec,
    cpu_cores: np.ndarray,
    memory_bytes: np.ndarray,
    starts: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(replicas, minutes) arrays of per-pod CPU demand and working set: the service's share
    times a seeded jitter normalised over the pods."""
    n, replicas = len(cpu_cores), spec.replicas
    cpu_log = np.empty((replicas, n))
    mem_log = np.empty((replicas, n))
    bounds = np.concatenate([starts, [n]])
    for r in range(replicas):
        rng = np.random.default_rng([seed, _crc("containers"), _crc(spec.name), r])
        cpu_log[r] = rng.normal(0.0, 0.03, n)
        mem_log[r] = rng.normal(0.0, 0.003, n)
        for generation, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            level = np.random.default_rng(
                [seed, _crc("pod-level"), _crc(spec.name), generation, r]
            ).normal(0.0, [0.04, 0.015])
            cpu_log[r, a:b] += level[0]
            mem_log[r, a:b] += level[1]
    cpu_w, mem_w = np.exp(cpu_log), np.exp(mem_log)
    cpu = cpu_cores / replicas * cpu_w / cpu_w.mean(axis=0)
    memory = np.round(memory_bytes * mem_w / mem_w.mean(axis=0))
    return cpu, memory


def _sizing(
    plant: Plant | None,
    cpu: np.ndarray,
    memory: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    index: pd.DatetimeIndex,
) -> list[Resources]:
    """Each rollout's resources: the careful rule's, or what the plant says."""
    memory_careful = int(_round_up(float(memory.max()) * MEMORY_HEADROOM, MEMORY_STEP_BYTES))
    careful = Resources(
        cpu_request_cores=_round_up(float(np.percentile(cpu, 95)), CPU_STEP_CORES),
        memory_request_bytes=memory_careful,
        memory_limit_bytes=memory_careful,
    )
    generations = len(starts)
    if plant is None:
        return [careful] * generations
    if plant.problem == OVER_PROVISIONED:
        return [Resources(2.0, 4 * GiB, None, 4 * GiB)] * generations
    if plant.problem == THROTTLED:
        steps = max(round(float(np.median(cpu)) / CPU_STEP_CORES), 1)
        median = round(steps * CPU_STEP_CORES, 9)
        sized = Resources(median, memory_careful, median, memory_careful)
        return [sized] * generations
    if plant.problem == OOM_KILLED:
        cut_at = index.searchsorted(index[-1] + (index[1] - index[0]) - OOM_WINDOW)
        first = int(np.flatnonzero(starts >= cut_at)[0]) if (starts >= cut_at).any() else 0
        limit = _oom_limit(memory, starts[first:], stops[first:])
        cut = Resources(careful.cpu_request_cores, limit, None, limit)
        return [careful] * first + [cut] * (generations - first)
    raise ValueError(f"containers.PLANTS: {plant.workload}: unknown problem {plant.problem!r}")


def _oom_limit(memory: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> int:
    """The highest limit (a multiple of 64 KiB) the pods' working sets reach `OOM_KILLS` times
    or more."""
    limit = int(memory.max()) // OOM_LIMIT_STEP_BYTES * OOM_LIMIT_STEP_BYTES
    while limit > OOM_LIMIT_STEP_BYTES:
        kills = sum(
            len(oom_killed(memory[r, a:b], limit)[1])
            for r in range(memory.shape[0])
            for a, b in zip(starts, stops, strict=True)
        )
        if kills >= OOM_KILLS:
            return limit
        limit -= OOM_LIMIT_STEP_BYTES
    raise ValueError(f"containers: no memory limit gives {OOM_KILLS} OOM kills")


def _counter(increments: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """Cumulative sum that starts again from the increment at each reset (a new container)."""
    total = np.cumsum(increments)
    resets = resets[resets > 0]
    if resets.size:
        base = np.zeros_like(total)
        base[resets] = total[resets - 1]
        total = total - np.maximum.accumulate(base)
    return total


def _quantities(cpu: float | None, memory: int | None) -> list[tuple[str, float | int]]:
    """The resources that are set, cpu first."""
    return [(r, v) for r, v in (("cpu", cpu), ("memory", memory)) if v is not None]


def _round_up(value: float, step: float) -> float:
    return round(math.ceil(round(value / step, 9)) * step, 9)


def _crc(name: str) -> int:
    return zlib.crc32(name.encode())


def _hash(key: str, length: int) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:length])
