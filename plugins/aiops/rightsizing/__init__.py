"""Right-sizing: CPU and memory requests for Kubernetes containers from their usage history.

What it reads, per container (key "workload/container", e.g. "cartservice/server"): a frame on
a regular UTC grid with `cpu` (cores) and `memory` (working set, bytes), optionally
`throttled` (share of CFS periods throttled, 0..1), plus what is known of the container today:
its CPU and memory request and limit, and its OOM-kill timestamps (`ContainerUsage`).

How it decides (`Recommender`, details in `aiops.rightsizing.recommend`):

- CPU request, by default for the whole fleet at once (`risk_budget`,
  aiops.rightsizing.allocation): the fewest cores whose mean predicted share of minutes
  above the request is within the budget, each container at most `max_container_risk`;
  cores go where they buy the most safety. With `risk_budget=None`, per container:
  usage is bucketed by hour of week (by hour of day for less than two weeks of
  history); within each bucket a high quantile is taken, and the busiest bucket decides, so a
  Monday-morning peak counts even when it is two hours of a week. That peak is multiplied by
  the growth a robust trend (Theil-Sen over daily peaks) predicts over a horizon (>= 1, at
  most `max_growth`), floored and rounded up to a millicore. The risk it accepts is stated:
  `risk` is the in-sample share of samples above the request.
- Memory: request = limit = the peak working set (or its daily-peak trend a week ahead,
  when higher) plus a headroom sized by how far the container's daily peaks stray above
  that trend (at least 3%), raised by `oom_bump` once when the window holds OOM kills (as
  the VPA does), at least 100 MB, rounded up to a MiB.
- CPU limit: when the container is throttled while near its limit, the advice is to remove
  (or raise) the limit, with the evidence.
- Each recommendation carries the change against the current requests, the saving in cores,
  GiB and money (GKE-like on-demand prices by default), the risk and the evidence.

The knobs are the fields of `RightsizingConfig`; their defaults were chosen by leave-one-
family-out cross-validation in bench/bench_rightsizing.py (docs/RIGHTSIZING.md).
`aiops.rightsizing.findings` turns a recommendation into a `rightsizing` finding with its
patch (Kubernetes and Helm). `aiops.rightsizing.peers` holds what people run today (KRR's
simple strategy, a VPA-like decaying histogram, the current requests) behind the same
`requests()` protocol.
"""

from aiops.rightsizing.recommend import (
    CpuLimitAdvice,
    Evidence,
    Recommendation,
    Recommender,
    Requests,
    Rightsizer,
    RightsizingConfig,
)
from aiops.rightsizing.usage import ContainerUsage, RightsizingError

__all__ = [
    "ContainerUsage",
    "CpuLimitAdvice",
    "Evidence",
    "Recommendation",
    "Recommender",
    "Requests",
    "Rightsizer",
    "RightsizingConfig",
    "RightsizingError",
]
