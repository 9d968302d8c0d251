"""Planted incidents: the ground truth every detector in this project is checked against.

Times are placed relative to the end of the simulated window so the same story holds for any
window length; the manifest records them as absolute UTC times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Incident:
    kind: str
    service: str
    start: datetime
    end: datetime | None  # None: lasts past the end of the data
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat() if self.end else None
        return out


@dataclass(frozen=True)
class Deploy:
    """A rollout: the service restarts, so its counters reset to zero."""

    service: str
    at: datetime
    version: str


def planted_incidents(start: datetime, end: datetime) -> list[Incident]:
    """The seven stories the demo world tells, placed inside [start, end).

    All but the leak and the ramp fall in the last three days, which the traces and logs cover.
    """
    day = timedelta(days=1)
    span_days = (end - start) / day
    if span_days < 14:
        raise ValueError(
            f"the demo world needs at least 14 days to plant its incidents, got {span_days:g}"
        )
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    leak_start = midnight - 10 * day
    return [
        Incident(
            kind="latency_regression",
            service="catalog",
            start=midnight - 3 * day + timedelta(hours=10, minutes=30),
            end=None,
            summary="catalog 2.0.0 rollout makes every product lookup ~60% slower (p95)",
            details={"latency_factor": 1.6, "version": "2.0.0", "signal": "latency_p95"},
        ),
        Incident(
            kind="error_spike",
            service="payment",
            start=midnight - 1 * day + timedelta(hours=15, minutes=10),
            end=midnight - 1 * day + timedelta(hours=15, minutes=50),
            summary="payment provider rejects requests: error ratio jumps to ~8% for 40 minutes",
            details={"error_ratio": 0.08, "signal": "error_ratio"},
        ),
        Incident(
            kind="memory_leak",
            service="cart",
            start=leak_start,
            end=None,
            summary="cart leaks memory steadily since a config change; breaches its limit ~2 days "
            "after the end of the data",
            # bytes/second chosen by the metrics simulator so the limit is crossed 2 days after end
            details={"breach_after_end": "P2D", "signal": "memory"},
        ),
        Incident(
            kind="n_plus_one",
            service="catalog",
            start=start,
            end=None,
            summary="GET /products issues one SELECT per product instead of one batched query",
            details={
                "operation": "GET /products",
                "callee": "postgres",
                "statement": "SELECT * FROM reviews WHERE product_id = ?",
                "repeats_min": 12,
                "repeats_max": 24,
            },
        ),
        Incident(
            kind="sequential_calls",
            service="checkout",
            start=start,
            end=None,
            summary="POST /checkout calls cart, inventory and recommendation one after another "
            "although they are independent",
            details={
                "operation": "POST /checkout",
                "callees": ["cart", "inventory", "recommendation"],
            },
        ),
        Incident(
            kind="traffic_ramp",
            service="search",
            start=midnight - 3 * day,
            end=None,
            summary="a campaign ramps search traffic to ~2.5x over three days; the current "
            "replicas cannot carry the peak",
            details={"factor": 2.5, "signal": "request_rate"},
        ),
        Incident(
            kind="cascading_failure",
            service="redis",
            start=midnight - 2 * day + timedelta(hours=14),
            end=midnight - 2 * day + timedelta(hours=14, minutes=35),
            summary="redis saturates (evictions, slow commands); callers time out and the "
            "gateway returns errors",
            details={
                "root_cause": "redis",
                "latency_factor": 25.0,
                "error_ratio": 0.12,
                "symptoms": ["auth", "cart", "catalog", "search", "recommendation", "gateway"],
                "propagation_delay_minutes_per_hop": 1,
            },
        ),
    ]


def rollouts(
    start: datetime, end: datetime, services: list[str], incidents: list[Incident]
) -> list[Deploy]:
    """Every deploy in the window: weekly routine rollouts plus the planted regression's.

    Each rollout restarts its service (counters reset, a start line is logged). The leaking
    service is not redeployed after its leak starts (a restart would hide the leak), and the
    regressed service is not redeployed after its bad rollout (the regression persists).
    """
    day = timedelta(days=1)
    frozen_after: dict[str, datetime] = {}
    planted: list[Deploy] = []
    for inc in incidents:
        if inc.kind == "memory_leak":
            frozen_after[inc.service] = inc.start
        elif inc.kind == "latency_regression":
            frozen_after[inc.service] = inc.start
            planted.append(Deploy(inc.service, inc.start, str(inc.details["version"])))
    deploys: list[Deploy] = list(planted)
    for i, name in enumerate(sorted(services)):
        at = start + (2 + i % 6) * day + timedelta(hours=9 + i % 7, minutes=7 * i % 60)
        n = 0
        while at < end - day:
            if at < frozen_after.get(name, end):
                n += 1
                deploys.append(Deploy(name, at, f"1.{n}.0"))
            at += 7 * day
    return sorted(deploys, key=lambda d: (d.at, d.service))
