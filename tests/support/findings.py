"""Findings the sink, LLM and CLI tests share: trace findings (an N+1 query in three
services) and an incident cascade ranked on a small call graph, the row the hourly run would
store for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident import Incident, new_id
from aiops.incidents.incident_event import IncidentEvent
from aiops.incidents.ranking import rank_root_causes

DAY1 = (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
DAY = (datetime(2025, 10, 30, tzinfo=UTC), datetime(2025, 10, 31, tzinfo=UTC))
T0 = datetime(2025, 10, 30, 13, 10, tzinfo=UTC)


def finding(service: str, operation: str, ms: float, *, table: str = "reviews") -> Finding:
    statement = f"SELECT * FROM {table} WHERE product_id = ?"
    return Finding(
        source="traces", kind="n_plus_one", service=service, operation=operation,
        title=f"N+1 query in {service} `{operation}`: `{statement}` runs 18 times per request",
        impact=Impact(ms_per_request=ms, requests_affected=400, p95_share=0.3,
                      requests_per_day=90_000.0),
        evidence=Evidence({"statement": statement, "repeats_median": 18, "time_in_loop_ms_p50": ms},
                          trace_ids=("4bf92f3577b34da6",),
                          links=("http://jaeger:16686/trace/4bf92f3577b34da6",)),
        suggestion=f"Load the rows in one query: `{statement.replace('= ?', 'IN (?, ?, ...)')}`.",
        expected_improvement=f"about {ms * 0.9:.1f} ms less per request",
        action="code_change", effort=Effort.LOW, confidence=0.9,
        key={"statement": statement}, expected_saving_ms=ms * 0.9,
    )  # fmt: skip


PRODUCTS = finding("catalog", "GET /products", 21.4)
CHECKOUT = finding("checkout", "POST /checkout", 29.1, table="carts")
STRIPE = finding("stripe-api", "POST /v1/charges", 5.0, table="charges")


def _event(
    service: str, signal: str, minute: int, strength: float, text: str = ""
) -> IncidentEvent:
    start = T0 + timedelta(minutes=minute)
    return IncidentEvent(
        source="metric", service=service, signal=signal, kind="anomaly", start=start,
        end=start + timedelta(minutes=10), strength=strength,
        severity="critical" if strength >= 6 else "warning", onset_known=True,
        explanation=text or f"{service} {signal} above its usual range", points=10,
        key=f"metric|{service}|{signal}|anomaly|{start.isoformat()}",
    )  # fmt: skip


def _row(events: list[IncidentEvent], pairs: list[tuple[str, str]]) -> dict:
    """The incidents row the hourly run would store for these events."""
    graph = DependencyGraph.from_pairs(pairs, window="traces of 2025-10-29")
    incident = Incident(
        incident_id=new_id(events[0].key),
        start=min(e.start for e in events),
        end=max(e.end for e in events),
        status="resolved",
        events=tuple(events),
        ranking=rank_root_causes(events, graph),
        graph_window=graph.window,
    )
    return incident.to_row((datetime(2025, 10, 30, 13, tzinfo=UTC), DAY[1]))


CASCADE = [
    _event("redis", "latency_p95", 0, 5.0),
    _event("cart", "latency_p95", 2, 8.0),
    _event("frontend", "latency_p95", 4, 12.0),
    _event("frontend", "error_ratio", 5, 7.0),
]
CALLS = [("frontend", "cart"), ("cart", "redis")]
