"""CPU requests for a fleet under one risk budget: cores go where they buy the most safety.

Why a fleet and not each container alone. With one constant request per container, every
rule (a window's p95, a seasonal peak, a VPA histogram) is a point on the same curve for
that container: the share of minutes its usage will exceed the request falls as the request
rises. No rule can be both cheaper and safer than another on one container. Across a fleet
they can: for a steady container the last 5% of minutes cost a few millicores to cover,
while for a bursty one they cost whole cores. Spending the fleet's cores where an extra
core removes the most minutes above the request, for the same average risk, requests fewer
cores than giving every container the same quantile (KRR's p95). This is the
newsvendor's answer with a price per core and a cost per minute short. The cost is not
asked of the user: it is the multiplier that makes the fleet's average risk equal
`risk_budget`.

Per container the candidates are its growth-adjusted usage quantiles (0.5 to 1 in
`QUANTILE_STEPS` steps), each with the share of its (growth-adjusted) samples above it:
the risk the candidate predicts for the horizon. No container is given more than
`max_risk` whatever the fleet saves, so one team's service is not made the fleet's
shock absorber. The fleet's risk is the mean over containers, as the benchmark counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUANTILE_STEPS = np.linspace(0.5, 1.0, 201)
_BISECTIONS = 100
#: Usage this close above a request (cores) is at it: a rate Prometheus computes for a
#: container capped at its 0.15-core limit reads 0.15000000000000002, which is not "above".
CPU_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RequestCurve:
    """A container's candidate CPU requests (cores, increasing) and the predicted share of
    minutes above each."""

    requests: np.ndarray
    risks: np.ndarray


def request_curve(cpu: np.ndarray, growth: float, floor: float, step: float) -> RequestCurve:
    """Candidates from observed CPU samples (cores; NaN ignored): growth x the usage
    quantiles, at least `floor`, rounded up to `step` cores; risk = share of growth-adjusted
    samples above the candidate."""
    scaled = np.sort(cpu[~np.isnan(cpu)] * growth)
    if len(scaled) == 0:
        raise ValueError("request_curve: no observed CPU samples")
    raw = np.quantile(scaled, QUANTILE_STEPS)
    requests = np.unique(np.maximum(np.ceil(np.round(raw / step, 6)) * step, floor))
    above = len(scaled) - np.searchsorted(scaled, requests + CPU_TOLERANCE, side="right")
    return RequestCurve(requests, above / len(scaled))


def allocate(curves: Sequence[RequestCurve], budget: float, max_risk: float) -> list[int]:
    """Per curve, the index of the chosen request: the fewest total cores whose mean risk is
    at most `budget`, no container above `max_risk` (found by bisection on the price of risk;
    a budget below what the containers' own caps allow gives every container its safest
    candidate)."""
    allowed = [c.risks <= max_risk + 1e-12 for c in curves]
    if not all(a.any() for a in allowed):  # a curve's last candidate is its maximum: risk 0
        raise ValueError("allocate: a curve has no candidate within max_risk")

    def picks(price: float) -> list[int]:
        out = []
        for c, ok in zip(curves, allowed, strict=True):
            cost = np.where(ok, c.requests + price * c.risks, np.inf)
            out.append(int(np.argmin(cost)))
        return out

    def mean_risk(chosen: list[int]) -> float:
        return float(np.mean([c.risks[i] for c, i in zip(curves, chosen, strict=True)]))

    low, high = 0.0, 1.0
    while mean_risk(picks(high)) > budget and high < 1e12:
        high *= 4.0
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2.0
        if mean_risk(picks(middle)) > budget:
            low = middle
        else:
            high = middle
    return picks(high)
