"""The demo world's containers, as a right-sizing reader sees them: cAdvisor and
kube-state-metrics series per pod, three containers sized wrong on purpose, the rest sized
with care."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.dev.sim.containers import (
    NAMESPACE,
    OOM_KILLED,
    OVER_PROVISIONED,
    PLANTS,
    THROTTLED,
    ContainerFleet,
    simulate_containers,
)
from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.openmetrics import read_openmetrics_series
from aiops.dev.sim.world import WorldConfig, build_world

PLANTED = {p.workload: p.problem for p in PLANTS}
# a short world on a 5-minute step: the written file, parsed back (the 1-minute, 30-day
# default is checked through the series the writer is given)
FILE_WORLD = WorldConfig(days=14, step_seconds=300, trace_hours=2, traces_per_hour=5, log_hours=2)

Key = tuple[str, tuple[tuple[str, str], ...]]  # metric and its labels, as written


@pytest.fixture(scope="module")
def deploys(config: WorldConfig) -> list:
    names = [s.name for s in config.services]
    return rollouts(config.start, config.end, names, planted_incidents(config.start, config.end))


@pytest.fixture(scope="module")
def containers(fleet: FleetMetrics, config: WorldConfig, deploys: list) -> ContainerFleet:
    return simulate_containers(fleet, config.services, deploys, config.seed)


@pytest.fixture(scope="module")
def series(containers: ContainerFleet) -> dict[Key, pd.Series]:
    """Every container series exactly as handed to the writer, on its timestamps."""
    out: dict[Key, pd.Series] = {}
    for family in containers.families():
        for s in family.series:
            index = containers.index[s.start : s.start + len(s.values)]
            key = (s.metric, tuple(s.labels.items()))
            assert key not in out, key
            out[key] = pd.Series(np.asarray(s.values, dtype=float), index=index)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("container-world")
    return out, build_world(FILE_WORLD, out)


def _of(series: dict[Key, pd.Series], metric: str, container: str, **extra: str):
    """{pod: series} of one metric of one container (with `extra` labels matching)."""
    found = {}
    for (name, labels), s in series.items():
        d = dict(labels)
        wanted = all(d.get(k) == v for k, v in extra.items())
        if name == metric and d["container"] == container and wanted:
            found[d["pod"]] = s
    return found


def _rate(counter: pd.Series, step_s: float) -> pd.Series:
    """Per-second increase per step; a reset counts from zero (what rate() assumes)."""
    values = counter.to_numpy()
    inc = np.diff(values, prepend=0.0)
    inc = np.where(inc < 0, values, inc)
    return pd.Series(inc / step_s, index=counter.index)


def _usage(series, container: str, step_s: float) -> np.ndarray:
    cpu = _of(series, "container_cpu_usage_seconds_total", container)
    return np.concatenate([_rate(s, step_s).to_numpy() for s in cpu.values()])


def _kills(series, container: str) -> list[tuple[str, pd.Timestamp]]:
    """(pod, time) of each restart, in time order."""
    restarts = _of(series, "kube_pod_container_status_restarts_total", container)
    found = [(pod, t) for pod, s in restarts.items() for t in s.index[np.diff(s, prepend=0.0) > 0]]
    return sorted(found, key=lambda kill: kill[1])


def test_pods_are_named_as_deployments_name_them_and_replaced_at_each_rollout(
    series, containers: ContainerFleet, config: WorldConfig, deploys: list
) -> None:
    for spec in config.services:
        pods = _of(series, "container_memory_working_set_bytes", spec.name)
        pattern = re.compile(rf"^{re.escape(spec.name)}-[a-z0-9]{{10}}-[a-z0-9]{{5}}$")
        assert all(pattern.match(p) for p in pods), sorted(pods)
        alive = pd.DataFrame({p: s for p, s in pods.items()}).reindex(containers.index).notna()
        assert (alive.sum(axis=1) == spec.replicas).all(), spec.name  # never more, never fewer
        # the set of live pods changes exactly at the rollouts, and wholly
        times = pd.DatetimeIndex([d.at for d in deploys if d.service == spec.name])
        at = set(containers.index.searchsorted(times))
        changes = np.flatnonzero((alive.to_numpy()[1:] != alive.to_numpy()[:-1]).any(axis=1)) + 1
        assert set(changes) == at, spec.name
        for i in changes:
            before = set(alive.columns[alive.iloc[i - 1]])
            after = set(alive.columns[alive.iloc[i]])
            assert not before & after
            assert len({p.rsplit("-", 1)[0] for p in after}) == 1  # one ReplicaSet
        # a new pod's CPU counter starts from zero: its first sample is one minute's use
        for s in _of(series, "container_cpu_usage_seconds_total", spec.name).values():
            assert 0 <= s.iloc[0] <= 2.0 * 60


def test_pods_share_the_services_cpu_and_each_holds_its_memory(
    containers: ContainerFleet, fleet: FleetMetrics
) -> None:
    for name, w in containers.workloads.items():
        total = np.zeros(len(fleet.index))
        for p in w.pods:
            total[p.start : p.stop] += p.demand_cores
        np.testing.assert_allclose(total, fleet.services[name].cpu_cores, rtol=1e-9)
        if name == "order-worker":  # OOM kills cut its working set
            continue
        memory, pods = np.zeros(len(fleet.index)), np.zeros(len(fleet.index))
        for p in w.pods:
            memory[p.start : p.stop] += p.memory_bytes
            pods[p.start : p.stop] += 1
        np.testing.assert_allclose(memory / pods, fleet.services[name].memory_bytes, rtol=1e-6)


def test_over_provisioned_container_asks_for_many_times_its_use(
    series, containers: ContainerFleet
) -> None:
    requests = _of(series, "kube_pod_container_resource_requests", "inventory", resource="cpu")
    memory = _of(series, "kube_pod_container_resource_requests", "inventory", resource="memory")
    p95 = np.percentile(_usage(series, "inventory", containers.step_seconds), 95)
    working_set = _of(series, "container_memory_working_set_bytes", "inventory")
    peak = max(s.max() for s in working_set.values())
    assert {s.iloc[-1] for s in requests.values()} == {2.0}
    assert {s.iloc[-1] for s in memory.values()} == {4 * 2**30}
    assert 5 * p95 <= 2.0 and 5 * peak <= 4 * 2**30
    assert not _of(series, "kube_pod_container_resource_limits", "inventory", resource="cpu")


def test_throttled_container_is_throttled_at_busy_hours_and_never_above_its_limit(
    series, containers: ContainerFleet
) -> None:
    step = containers.step_seconds
    (limit,) = {
        s.iloc[-1]
        for s in _of(
            series, "kube_pod_container_resource_limits", "recommendation", resource="cpu"
        ).values()
    }
    periods = _of(series, "container_cpu_cfs_periods_total", "recommendation")
    throttled = _of(series, "container_cpu_cfs_throttled_periods_total", "recommendation")
    assert periods and set(periods) == set(throttled)
    ratio = pd.concat(
        [_rate(throttled[p], step) / _rate(periods[p], step) for p in periods], axis=1
    ).mean(axis=1)
    assert (ratio.index == containers.index).all()
    share = float((ratio > 0.05).mean())
    assert share >= 0.05
    busy = ratio.groupby(ratio.index.hour).mean()
    assert busy[20] > busy[4]  # throttled by the evening peak, not at night
    assert _usage(series, "recommendation", step).max() <= limit + 1e-9
    for s in periods.values():  # 100 ms periods, every one of them counted
        assert (np.diff(s) == 10 * step).all()
    entry = next(e for e in containers.planted() if e["problem"] == THROTTLED)
    assert entry["limits"]["cpu"] == entry["requests"]["cpu"] == limit
    assert entry["throttled_share_of_minutes"] == pytest.approx(share, abs=0.01)


def test_oom_killed_container_dies_a_few_times_at_busy_hours_and_shows_it(
    series, containers: ContainerFleet, config: WorldConfig, fleet: FleetMetrics
) -> None:
    kills = _kills(series, "order-worker")
    assert 3 <= len(kills) <= 6
    assert all(config.end - timedelta(days=14) <= t for _, t in kills)
    assert all(9 <= t.hour <= 22 for _, t in kills), kills
    entry = next(e for e in containers.planted() if e["problem"] == OOM_KILLED)
    assert [(k["pod"], k["at"]) for k in entry["oom_kills"]] == [
        (p, t.isoformat()) for p, t in kills
    ]
    limits = _of(series, "kube_pod_container_resource_limits", "order-worker", resource="memory")
    working_set = _of(series, "container_memory_working_set_bytes", "order-worker")
    cpu = _of(series, "container_cpu_usage_seconds_total", "order-worker")
    reasons = _of(
        series, "kube_pod_container_status_last_terminated_reason", "order-worker",
        reason="OOMKilled",
    )  # fmt: skip
    # a rollout cut the limit below what the one pod would use at its busiest
    assert entry["limits"]["memory"] < entry["resources_before"]["limits"]["memory"]
    assert entry["limits"]["memory"] < fleet.services["order-worker"].memory_bytes.max()
    for pod, ws in working_set.items():
        assert (ws <= limits[pod]).all(), pod
        pod_kills = [t for p, t in kills if p == pod]
        if not pod_kills:
            assert pod not in reasons
            continue
        # the reason appears at the first kill and stays; the counter restarts at each kill
        assert reasons[pod].index[0] == pod_kills[0] and reasons[pod].index[-1] == ws.index[-1]
        assert (reasons[pod] == 1).all()
        drops = cpu[pod].index[np.diff(cpu[pod], prepend=0.0) < 0]
        assert list(drops) == pod_kills
        for t in pod_kills:  # the new container starts warm-up below the old one's peak
            before = ws.index.get_loc(t) - 1
            assert ws.loc[t] < 0.9 * ws.iloc[before]


def test_carefully_sized_containers_have_none_of_the_problems(
    series, containers: ContainerFleet
) -> None:
    careful = [name for name in containers.workloads if name not in PLANTED]
    assert len(careful) == len(containers.workloads) - 3
    for name in careful:
        usage = _usage(series, name, containers.step_seconds)
        p90, p95 = np.percentile(usage, [90, 95])
        (request,) = {
            s.iloc[-1]
            for s in _of(
                series, "kube_pod_container_resource_requests", name, resource="cpu"
            ).values()
        }
        assert p90 <= request <= 2 * p95, (name, p90, request, p95)
        assert not _of(series, "container_cpu_cfs_throttled_periods_total", name), name
        assert not _of(series, "kube_pod_container_resource_limits", name, resource="cpu"), name
        assert not _kills(series, name), name
        assert not _of(series, "kube_pod_container_status_last_terminated_reason", name), name


def test_manifest_lists_the_planted_containers(built) -> None:
    _, manifest = built
    entries = {e["workload"]: e for e in manifest["rightsizing"]}
    assert {w: e["problem"] for w, e in entries.items()} == {
        "inventory": OVER_PROVISIONED,
        "recommendation": THROTTLED,
        "order-worker": OOM_KILLED,
    }
    for workload, e in entries.items():
        assert (e["namespace"], e["container"]) == (NAMESPACE, workload)
        assert e["requests"]["cpu"] > 0 and e["requests"]["memory"] > 0
    assert 3 <= len(entries["order-worker"]["oom_kills"]) <= 6
    assert entries["inventory"]["requests"] == {"cpu": 2.0, "memory": 4 * 2**30}


def _parse(path: Path) -> tuple[list[str], dict[Key, list[tuple[int, float]]], int]:
    """Families in file order, every container series' samples, and the number of samples."""
    families: list[str] = []
    samples: dict[Key, list[tuple[int, float]]] = defaultdict(list)
    count = 0
    label = re.compile(r'(\w+)="([^"]*)"')
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# TYPE "):
                families.append(line.split()[2])
                continue
            if line.startswith("#"):
                continue
            count += 1
            if not line.startswith(("container_", "kube_")):
                continue
            head, value, ts = line.rsplit(" ", 2)
            metric, labels = head.split("{", 1)
            key = (metric, tuple(label.findall(labels)))
            samples[key].append((int(ts), float(value)))
    return families, samples, count


def test_the_file_holds_every_family_whole_after_the_fleets_own(built) -> None:
    out, manifest = built
    path = out / "metrics.om"
    assert path.read_bytes()[-6:] == b"# EOF\n"
    families, samples, count = _parse(path)
    assert families[:4] == [
        "http_requests",
        "http_request_duration_seconds",
        "process_cpu_seconds",
        "process_resident_memory_bytes",
    ]
    assert families[4:] == [
        "container_cpu_usage_seconds",
        "container_memory_working_set_bytes",
        "container_cpu_cfs_periods",
        "container_cpu_cfs_throttled_periods",
        "kube_pod_container_resource_requests",
        "kube_pod_container_resource_limits",
        "kube_pod_container_status_restarts",
        "kube_pod_container_status_last_terminated_reason",
    ]
    assert manifest["samples"] == count
    assert manifest["series"] == 7 * len(manifest["config"]["services"]) + len(samples)
    step = FILE_WORLD.step_seconds
    for key, points in samples.items():
        ts = np.array([t for t, _ in points])
        assert (np.diff(ts) == step).all(), key  # every step, in time order, no repeats
        labels = dict(key[1])
        assert labels["namespace"] == NAMESPACE and labels["pod"].startswith(labels["container"])
    pod = next(dict(k[1])["pod"] for k in samples if dict(k[1])["container"] == "order-worker")
    ws = read_openmetrics_series(
        path, "container_memory_working_set_bytes",
        namespace=NAMESPACE, pod=pod, container="order-worker",
    )  # fmt: skip
    assert len(ws) > 0 and ws.index.tz is not None and ws.min() > 100 * 2**20


def test_same_config_same_bytes(built, tmp_path: Path) -> None:
    out, manifest = built
    again = build_world(FILE_WORLD, tmp_path / "again")
    assert again["sha256"]["metrics.om"] == manifest["sha256"]["metrics.om"]
    assert again["rightsizing"] == manifest["rightsizing"]
    digest = hashlib.sha256((out / "metrics.om").read_bytes()).hexdigest()
    assert digest == manifest["sha256"]["metrics.om"]
