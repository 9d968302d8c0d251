"""The catalog's `rightsizing:` section: what the nightly reads, how far back, and the
recommender's knobs.

The inputs are PromQL expressions per pod and container (labels `namespace`, `pod`,
`container`), named as cAdvisor and kube-state-metrics name them. A cluster whose exporters
relabel (a `kube_` prefix, a `container_name` label) overrides only the inputs that differ;
the rest keep their defaults. The reader (aiops.rightsizing.source) adds the workload label
from the pod's name and takes the busiest pod of each workload, so an override states only
what to read, never how to aggregate it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aiops.rightsizing.recommend import RightsizingConfig
from aiops.rightsizing.usage import RightsizingError
from aiops.units import parse_duration_seconds

_CONTAINERS = 'container!="",container!="POD"'

#: The inputs by name: a PromQL expression per pod and container. `oom_kills` counts kills
#: per step (the restarts that ended in OOMKilled; `$step` is the read's step, so each kill
#: is counted once); requests and limits are read at the window's end.
DEFAULT_QUERIES: dict[str, str] = {
    "cpu": f"rate(container_cpu_usage_seconds_total{{{_CONTAINERS}}}[5m])",
    "memory": f"container_memory_working_set_bytes{{{_CONTAINERS}}}",
    "throttled": (
        f"rate(container_cpu_cfs_throttled_periods_total{{{_CONTAINERS}}}[5m])"
        f" / rate(container_cpu_cfs_periods_total{{{_CONTAINERS}}}[5m])"
    ),
    "cpu_request": 'kube_pod_container_resource_requests{resource="cpu"}',
    "cpu_limit": 'kube_pod_container_resource_limits{resource="cpu"}',
    "memory_request": 'kube_pod_container_resource_requests{resource="memory"}',
    "memory_limit": 'kube_pod_container_resource_limits{resource="memory"}',
    "oom_kills": (
        "increase(kube_pod_container_status_restarts_total[$step])"
        " * on (namespace, pod, container) group_left ()"
        ' (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1)'
    ),
}
REQUIRED = ("cpu", "memory")

#: The characters Kubernetes draws a name's random suffix and a ReplicaSet's pod-template
#: hash from (no vowels, no 0, 1 or 3: a word in a workload's name is not taken for a hash).
HASH = "[bcdfghjklmnpqrstvwxz2456789]"
#: How a pod's name gives its workload, tried in order, the last match winning: a
#: StatefulSet's "web-0", a DaemonSet's "agent-x7k2p", a Deployment's "cart-7d9f8b6c5-x7k2p".
#: A pod no pattern matches is its own workload.
DEFAULT_POD_PATTERNS = (
    r"(.+)-[0-9]+",
    rf"(.+)-{HASH}{{5}}",
    rf"(.+)-{HASH}{{6,10}}-{HASH}{{5}}",
)


class RightsizingSettings(BaseModel):
    """Right-sizing in the nightly (aiops.rightsizing.pipeline); every key is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="false: the nightly does not right-size")
    window_days: float = Field(
        14, ge=1, le=90, description="history read, ending at the interval's end"
    )
    step: Annotated[float, BeforeValidator(parse_duration_seconds)] = Field(
        300, ge=15, le=3600, description="resolution of the usage read, seconds or '5m'"
    )
    namespaces: list[str] = Field(
        default_factory=list, description="namespaces right-sized; empty: every namespace"
    )
    queries: dict[str, str] = Field(
        default_factory=dict, description="inputs overridden by name (see DEFAULT_QUERIES)"
    )
    pod_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_POD_PATTERNS),
        description="regexes whose group 1 is the workload of a pod's name; the last match wins",
    )
    min_change: float = Field(
        0.2, ge=0, description="a recommendation within this of the current requests is not filed"
    )
    currency: str = Field("$", min_length=1, description="prefix of the monthly saving")
    workload_kind: str = Field("deployment", description="named in the kubectl patch command")
    values_paths: dict[str, str] = Field(
        default_factory=dict, description='Helm values path by "workload/container"'
    )
    recommender: dict[str, Any] = Field(
        default_factory=dict, description="RightsizingConfig fields (risk_budget, prices, ...)"
    )

    @model_validator(mode="after")
    def _check(self) -> RightsizingSettings:
        unknown = sorted(set(self.queries) - set(DEFAULT_QUERIES))
        if unknown:
            raise ValueError(
                f"queries: unknown input(s) {unknown}; known: {sorted(DEFAULT_QUERIES)}"
            )
        for name, query in self.queries.items():
            if not query.strip():
                raise ValueError(f"queries.{name}: empty PromQL; drop the key to use the default")
        for pattern in self.pod_patterns:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pod_patterns: {pattern!r} is not a regex ({exc})") from exc
            if compiled.groups < 1:
                raise ValueError(f"pod_patterns: {pattern!r} needs a group (the workload)")
        try:
            self.config()
        except (RightsizingError, TypeError) as exc:
            raise ValueError(f"recommender: {exc}") from exc
        return self

    def query(self, name: str) -> str:
        """The input's PromQL (the catalog's override, else the default), `$step` replaced by
        the read's step."""
        query = self.queries.get(name) or DEFAULT_QUERIES[name]
        return query.replace("$step", f"{self.step:g}s")

    def config(self) -> RightsizingConfig:
        """The recommender's frozen configuration from the `recommender:` mapping."""
        return RightsizingConfig(**self.recommender)
