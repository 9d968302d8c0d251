"""What people run today, behind the recommender's `fit(containers)` / `requests()` protocol,
so one bench replays them side by side. `RIGHTSIZERS` maps a name to a class.

- `KrrSimple`: Robusta KRR's "simple" strategy with its defaults: CPU request = the 95th
  percentile of CPU over the last 336 hours (14 days) of history, no CPU limit; memory
  request = limit = the maximum working set x 1.15; at least KRR's minimum values
  (`cpu_min_value` 10m, `memory_min_value` 100 MB). Simplified: its per-pod aggregation is
  left out.
- `VpaLike`: the Kubernetes VPA recommender's target, simplified. CPU: samples go into a
  histogram with exponentially growing buckets (first bucket 0.01 cores, ratio 1.05) weighted
  by 2^(age / 24 h half-life) (newer samples weigh more); the target is the histogram's 90th
  percentile (the upper edge of its bucket). Memory: the peak of each 24-hour aggregation
  interval goes into a decayed histogram (first bucket 10 MB, ratio 1.05); the target is its
  90th percentile, i.e. about the peak when there are few intervals. Both get the VPA's 15%
  safety margin and its pod minimums (`pod-recommendation-min-cpu-millicores` 25,
  `pod-recommendation-min-memory-mb` 250); memory request = limit. Simplified: CPU samples are not weighted by the
  container's request, no checkpoints (only the given window counts), no OOM bump, no
  confidence-interval scaling of the bounds (only the
  target is used), one container, not a pod.
- `CurrentRequests`: the requests the container already has (memory: the limit if known, as
  a would-be OOM is judged against the limit); None where unknown.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from aiops.rightsizing.recommend import Recommender, Requests, Rightsizer
from aiops.rightsizing.usage import HOUR_NS, ContainerUsage, RightsizingError, usage_arrays


class KrrSimple:
    """KRR simple strategy: CPU p95 over 14 days, memory max x 1.15."""

    def __init__(
        self,
        cpu_percentile: float = 95.0,
        memory_buffer: float = 0.15,
        history_hours: float = 336,
        cpu_min_cores: float = 0.010,
        memory_min_bytes: float = 100e6,
    ) -> None:
        self.cpu_percentile = cpu_percentile
        self.memory_buffer = memory_buffer
        self.history_hours = history_hours
        self.cpu_min_cores = cpu_min_cores
        self.memory_min_bytes = memory_min_bytes

    def fit(self, containers: Iterable[ContainerUsage]) -> KrrSimple:
        out: dict[str, Requests] = {}
        for c in containers:
            u = usage_arrays(c)
            keep = u.t_ns >= u.t_ns[-1] + u.step_ns - self.history_hours * HOUR_NS
            cpu = u.cpu[keep][~np.isnan(u.cpu[keep])]
            mem = u.memory[keep][~np.isnan(u.memory[keep])]
            if len(cpu) == 0 or len(mem) == 0:
                raise RightsizingError(f"{c.key}: no observed samples in the KRR window")
            out[c.key] = Requests(
                max(float(np.percentile(cpu, self.cpu_percentile)), self.cpu_min_cores),
                max(float(mem.max()) * (1.0 + self.memory_buffer), self.memory_min_bytes),
            )
        self.requests_ = out
        return self

    def requests(self) -> dict[str, Requests]:
        return dict(self.requests_)


def decayed_percentile(
    values: np.ndarray, weights: np.ndarray, q: float, first: float, ratio: float = 1.05
) -> float:
    """The VPA's histogram percentile: exponential buckets [first*ratio^(i-1), first*ratio^i)
    (bucket 0 is [0, first)); returns the upper edge of the bucket holding the q-th weight."""
    idx = np.zeros(len(values), dtype=np.intp)
    pos = values >= first
    idx[pos] = np.floor(np.log(values[pos] / first) / np.log(ratio)).astype(np.intp) + 1
    totals = np.bincount(idx, weights=weights)
    cum = np.cumsum(totals)
    bucket = int(np.searchsorted(cum, q * cum[-1]))
    return float(first * ratio**bucket)


class VpaLike:
    """VPA recommender target: decayed histograms (24 h half-life), p90, +15%."""

    def __init__(
        self,
        half_life_hours: float = 24.0,
        cpu_percentile: float = 0.9,
        memory_percentile: float = 0.9,
        safety_margin: float = 0.15,
        interval_hours: float = 24.0,
        cpu_min_cores: float = 0.025,
        memory_min_bytes: float = 250 * 2**20,
    ) -> None:
        self.half_life_hours = half_life_hours
        self.cpu_percentile = cpu_percentile
        self.memory_percentile = memory_percentile
        self.safety_margin = safety_margin
        self.interval_hours = interval_hours
        self.cpu_min_cores = cpu_min_cores
        self.memory_min_bytes = memory_min_bytes

    def fit(self, containers: Iterable[ContainerUsage]) -> VpaLike:
        out: dict[str, Requests] = {}
        half_life = self.half_life_hours * HOUR_NS
        for c in containers:
            u = usage_arrays(c)
            end = int(u.t_ns[-1]) + u.step_ns
            ok = ~np.isnan(u.cpu)
            # weights relative to the window's end, so they stay <= 1 (same ratios as the VPA)
            w = np.exp2((u.t_ns - end) / half_life)
            cpu = decayed_percentile(u.cpu[ok], w[ok], self.cpu_percentile, first=0.01)
            interval = int(self.interval_hours * HOUR_NS)
            block = (end - 1 - u.t_ns) // interval
            peaks, when = [], []
            for b in np.unique(block):
                m = u.memory[block == b]
                if (~np.isnan(m)).any():
                    peaks.append(float(np.nanmax(m)))
                    when.append(int(u.t_ns[block == b].max()))
            peaks_a, when_a = np.array(peaks), np.array(when)
            mw = np.exp2((when_a - end) / half_life)
            mem = decayed_percentile(peaks_a, mw, self.memory_percentile, first=1e7)
            margin = 1.0 + self.safety_margin
            out[c.key] = Requests(
                max(cpu * margin, self.cpu_min_cores), max(mem * margin, self.memory_min_bytes)
            )
        self.requests_ = out
        return self

    def requests(self) -> dict[str, Requests]:
        return dict(self.requests_)


class CurrentRequests:
    """The container's current requests (memory: its limit when known)."""

    def fit(self, containers: Iterable[ContainerUsage]) -> CurrentRequests:
        self.requests_ = {
            c.key: Requests(
                c.cpu_request,
                c.memory_limit if c.memory_limit is not None else c.memory_request,
            )
            for c in containers
        }
        return self

    def requests(self) -> dict[str, Requests]:
        return dict(self.requests_)


RIGHTSIZERS: dict[str, type[Rightsizer]] = {
    "aiops": Recommender,
    "krr-simple": KrrSimple,
    "vpa-like": VpaLike,
    "current": CurrentRequests,
}

__all__ = ["RIGHTSIZERS", "CurrentRequests", "KrrSimple", "VpaLike"]
