"""Kubernetes workloads from cAdvisor (`container_cpu_usage_seconds_total`,
`container_memory_working_set_bytes`) and, when present, kube-state-metrics.

With kube-state-metrics a workload is a Deployment (`kube_deployment_status_replicas`), its
pods found by name (`<deployment>-<replicaset hash>-<pod hash>`) in its namespace; without it,
a workload is a container name. cpu is the cores all its containers use together; memory is
the working set of its largest pod, bounded by that pod's memory limit when
`kube_pod_container_resource_limits` has one (a pod is killed there, so it is the real max).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiops.discovery.conventions import (
    RATE_WINDOW,
    DraftSignal,
    FoundService,
    Inventory,
    jobs_of,
    label_values,
    promql_string,
    service_matcher,
    service_name,
)

CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
DEPLOYMENTS = "kube_deployment_status_replicas"
LIMITS = "kube_pod_container_resource_limits"
_REAL_CONTAINER = 'container!="",container!="POD"'
_POD_SUFFIX = "-[a-z0-9]+-[a-z0-9]+"


@dataclass(frozen=True)
class Workload:
    raw: str  # the deployment or container name as labelled
    name: str  # the catalog service name
    selector: str  # label matchers of its containers (templated when raw == name)
    evidence: str
    deployment: bool = False  # a kube-state-metrics Deployment (else a container name)


@dataclass(frozen=True)
class ContainerConvention:
    name: str = "kubernetes"
    title: str = "cAdvisor containers (kube-state-metrics workloads)"

    def recognise(self, inventory: Inventory, claimed_jobs: frozenset[str]) -> list[FoundService]:
        have = inventory.metric_names()
        if CPU not in have and MEMORY not in have:
            return []
        base = CPU if CPU in have else MEMORY
        containers = inventory.series(f"{base}{{{_REAL_CONTAINER}}}")
        workloads = (
            _deployments(inventory, containers) if DEPLOYMENTS in have else _containers(containers)
        )
        found = []
        for w in workloads:
            signals: dict[str, DraftSignal] = {}
            if CPU in have:
                signals["cpu"] = DraftSignal(
                    f"sum(rate({CPU}{{{w.selector},{_REAL_CONTAINER}}}[{RATE_WINDOW}]))",
                    "cores",
                    "saturation",
                    "up",
                )
            if MEMORY in have:
                limit = None
                if LIMITS in have:
                    limit = inventory.value(
                        f'max(sum by (namespace, pod) ({LIMITS}{{{_literal(w)},resource="memory"}}))'
                    )
                signals["memory"] = DraftSignal(
                    f"max(sum by (namespace, pod) ({MEMORY}{{{w.selector},{_REAL_CONTAINER}}}))",
                    "bytes",
                    "saturation",
                    "up",
                    0.0,
                    limit or None,
                )
            if w.deployment:
                dep = service_matcher("deployment", w.raw, w.name)
                signals["replicas"] = DraftSignal(
                    f"sum({DEPLOYMENTS}{{{dep}}})", "count", "other", "both"
                )
            own = [s for s in containers if _matches(s, w)]
            found.append(FoundService(w.name, self.name, w.evidence, signals, jobs_of(own)))
        return found


def _deployments(inventory: Inventory, containers: list[dict[str, str]]) -> list[Workload]:
    """Deployments whose pods cAdvisor sees (several namespaces of one name: the first)."""
    out: dict[str, Workload] = {}
    for dep in inventory.series(DEPLOYMENTS):
        raw, ns = dep.get("deployment", ""), dep.get("namespace", "")
        name = service_name(raw)
        if not raw or name is None or name in out:
            continue
        pods = re.compile(re.escape(raw) + _POD_SUFFIX + "$")
        if not any(s.get("namespace") == ns and pods.match(s.get("pod", "")) for s in containers):
            continue
        pod = (
            f'pod=~"${{service}}{_POD_SUFFIX}"'
            if raw == name
            else f"pod=~{promql_string(re.escape(raw) + _POD_SUFFIX).replace('$', '$$')}"
        )
        selector = f"namespace={promql_string(ns)},{pod}"
        out[name] = Workload(
            raw,
            name,
            selector,
            f'{DEPLOYMENTS} deployment="{raw}" namespace="{ns}", pods in {CPU}',
            True,
        )
    return list(out.values())


def _containers(containers: list[dict[str, str]]) -> list[Workload]:
    out: dict[str, Workload] = {}
    for raw in label_values(containers, "container"):
        name = service_name(raw)
        if name is not None and name not in out:
            out[name] = Workload(
                raw, name, service_matcher("container", raw, name), f'{CPU} container="{raw}"'
            )
    return list(out.values())


def _literal(w: Workload) -> str:
    """The workload's matchers with the service name filled in (for a query run now)."""
    return w.selector.replace("${service}", w.name).replace("$$", "$")


def _matches(series: dict[str, str], w: Workload) -> bool:
    if w.deployment:
        return bool(re.match(re.escape(w.raw) + _POD_SUFFIX + "$", series.get("pod", "")))
    return series.get("container") == w.raw


CONTAINERS = ContainerConvention()

__all__ = ["CONTAINERS", "ContainerConvention"]
