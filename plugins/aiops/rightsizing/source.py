"""Containers' usage, requests, limits and OOM kills read from Prometheus for a window.

Each input of the catalog's `rightsizing:` section is a PromQL expression per pod and
container. The reader names the workload from the pod (`pod_patterns`, as a Deployment's
"cart-7d9f8b6c5-x7k2p" is workload "cart", with `label_replace`, so Prometheus does the
work) and takes, per workload and container, the busiest pod at each step (`max`): a request
is per pod, so it must fit the busiest one; pods replaced by a rollout continue the same
workload. OOM kills are summed over pods instead (each is a kill).

What comes back is one `ContainerUsage` per (namespace, workload, container) on the window's
regular grid, with NaN where Prometheus had no sample: whether that is too much missing data
is the recommender's rule (`min_coverage`, `max_gap_hours`), applied by the pipeline, which
quarantines such a container with the reason instead of dropping it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from aiops.rightsizing.settings import REQUIRED, RightsizingSettings
from aiops.rightsizing.usage import ContainerUsage
from aiops.sources.prometheus import PrometheusClient, RangeSeries

log = logging.getLogger(__name__)

LABELS = ("namespace", "workload", "container")
USAGE = ("cpu", "memory", "throttled")
RESOURCES = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


@dataclass(frozen=True)
class ContainerKey:
    namespace: str
    workload: str
    container: str

    @property
    def name(self) -> str:
        """The recommender's key, "workload/container" (unique within a namespace)."""
        return f"{self.workload}/{self.container}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.workload}/{self.container}"


@dataclass(frozen=True)
class ContainerRead:
    """What the window held: usage per container, and the queries that read it."""

    start: datetime
    end: datetime
    step: timedelta
    containers: dict[ContainerKey, ContainerUsage] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    missing_inputs: tuple[str, ...] = ()  # optional inputs no series answered

    def namespaces(self) -> list[str]:
        return sorted({key.namespace for key in self.containers})

    def in_namespace(self, namespace: str) -> dict[ContainerKey, ContainerUsage]:
        return {k: c for k, c in self.containers.items() if k.namespace == namespace}


def workload_expression(expr: str, patterns: Sequence[str]) -> str:
    """``expr`` with a `workload` label from its `pod` label: the pod's name first, then each
    pattern's group 1 where it matches the whole name (label_replace anchors), the last
    matching pattern winning."""
    out = f'label_replace({expr}, "workload", "$1", "pod", "(.+)")'
    for pattern in patterns:
        out = f'label_replace({out}, "workload", "$1", "pod", {_promql_string(pattern)})'
    return out


def input_query(settings: RightsizingSettings, name: str) -> str:
    """The PromQL the reader sends for input ``name``: per workload and container, the
    busiest pod (max), or the sum of kills for `oom_kills`."""
    how = "sum" if name == "oom_kills" else "max"
    inner = workload_expression(settings.query(name), settings.pod_patterns)
    return f"{how} by ({', '.join(LABELS)}) ({inner})"


def read_containers(
    client: PrometheusClient, settings: RightsizingSettings, start: datetime, end: datetime
) -> ContainerRead:
    """Every container with CPU or memory usage in [start, end), at `settings.step`.

    A container with only one of CPU and memory is kept with the other all missing (the
    pipeline then quarantines it, naming what was missing). Requests and limits are the last
    value in the window (None when kube-state-metrics has none); OOM kills are the steps at
    which kills were counted, a timestamp per kill."""
    step = timedelta(seconds=settings.step)
    grid = pd.date_range(start, end, freq=step, inclusive="left")
    if len(grid) < 2:
        raise ValueError(
            f"rightsizing window [{start.isoformat()}, {end.isoformat()}) holds fewer than two "
            f"steps of {settings.step:g} s"
        )
    last = grid[-1].to_pydatetime()
    queries = {name: input_query(settings, name) for name in (*USAGE, *RESOURCES, "oom_kills")}
    answers: dict[str, dict[ContainerKey, pd.Series]] = {}
    missing = []
    for name, query in queries.items():
        result = client.query_range(query, grid[0].to_pydatetime(), last, step)
        answers[name] = _by_key(result.series, name, query)
        if not answers[name] and name not in REQUIRED:
            missing.append(name)
    if not answers["cpu"] and not answers["memory"]:
        log.info("rightsizing: no container usage in [%s, %s)", start, end)
    wanted = set(settings.namespaces)
    keys = sorted(
        (k for k in {*answers["cpu"], *answers["memory"]} if not wanted or k.namespace in wanted),
        key=str,
    )
    containers = {}
    for key in keys:
        frame = pd.DataFrame(
            {name: _on_grid(answers[name].get(key), grid) for name in USAGE if name != "throttled"}
        )
        if key in answers["throttled"]:
            frame["throttled"] = _on_grid(answers["throttled"][key], grid).clip(0.0, 1.0)
        containers[key] = ContainerUsage(
            key=key.name,
            usage=frame,
            cpu_request=_last(answers["cpu_request"].get(key)),
            cpu_limit=_last(answers["cpu_limit"].get(key)),
            memory_request=_last(answers["memory_request"].get(key)),
            memory_limit=_last(answers["memory_limit"].get(key)),
            oom_kills=_kills(answers["oom_kills"].get(key)),
        )
    return ContainerRead(start, end, step, containers, queries, tuple(missing))


def _by_key(series: Iterable[RangeSeries], name: str, query: str) -> dict[ContainerKey, pd.Series]:
    out: dict[ContainerKey, pd.Series] = {}
    for s in series:
        labels = s.labels
        if any(not labels.get(label) for label in LABELS):
            raise ValueError(
                f"rightsizing input {name!r}: a series without {'/'.join(LABELS)} labels "
                f"({labels}); the query must keep namespace, pod and container: {query}"
            )
        out[ContainerKey(labels["namespace"], labels["workload"], labels["container"])] = s.values
    return out


def _on_grid(values: pd.Series | None, grid: pd.DatetimeIndex) -> pd.Series:
    if values is None:
        return pd.Series(np.nan, index=grid, dtype="float64")
    return values.reindex(grid)


def _last(values: pd.Series | None) -> float | None:
    if values is None:
        return None
    observed = values.dropna()
    if observed.empty:
        return None
    value = float(observed.iloc[-1])
    return value if math.isfinite(value) and value > 0 else None


def _kills(values: pd.Series | None) -> tuple[pd.Timestamp, ...]:
    """A timestamp per kill counted at a step. `increase()` extrapolates, so a counted
    1.0 may read 1.2 or 0.8: a step counts round(value) kills, at least one when positive."""
    if values is None:
        return ()
    out: list[pd.Timestamp] = []
    for at, value in values.dropna().items():
        if value > 0.25:
            out.extend([pd.Timestamp(at)] * max(1, round(float(value))))
    return tuple(out)


def _promql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
