"""A results store as a day of hourly runs and one nightly run leave it, for the AIOps page
(its unit tests, and the real API server's in tests/integration/test_airflow_page.py).

Four services, the clock at 12:20 on 2026-10-30, the newest hourly run ended at 12:00:

* payment: the root of an open incident (latency p95 from 11:10), a predicted latency breach;
* cart: calls payment, in the same incident (latency p95 from 11:20); an older event of its
  request rate that ran to the end of the 09:00 run and was not seen again (ended);
* search: anomalous on its own (latency p95 from 11:40), not in an incident; a finding (N+1)
  in the nightly trace window; a frame quarantined at 11:00;
* inventory: its forecasts stopped after the 07:00 run (newest observed point 06:59): stale.

An older incident whose newest row (09:00) still says "open" is not open any more: no later
run stored it. Forecasts every 15 minutes over 6 hours, each run's row carrying the last
observed value before it, as the hourly prediction writes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.findings.model import finding_row
from aiops.store import Store
from aiops.traces.model import Edge
from support.findings import finding

NOW = datetime(2026, 10, 30, 12, 20, tzinfo=UTC)
LAST_RUN = datetime(2026, 10, 30, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
STEP = timedelta(minutes=15)
HORIZON = timedelta(hours=6)
RUNS = [LAST_RUN - k * HOUR for k in range(23, -1, -1)]  # 24 hourly runs, 13:00 .. 12:00
SERVICES = ("cart", "payment", "search", "inventory")
SIGNALS = ("request_rate", "latency_p95")
INVENTORY_LAST_RUN = datetime(2026, 10, 30, 7, tzinfo=UTC)
MAP_WINDOW = (datetime(2026, 10, 29, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC))
INCIDENT = "7f3a9c2e1b04"
OLD_INCIDENT = "0c1d2e3f4a5b"


def level(service: str, signal: str, t: datetime) -> float:
    """A daily cycle per series peaking at 15:00: request rate around 40 req/s, latency
    around 120 ms."""
    phase = 2 * math.pi * (t.hour - 9 + t.minute / 60) / 24
    rank = SERVICES.index(service) if service in SERVICES else 0
    base = {"request_rate": 40.0, "latency_p95": 0.12}[signal] * (1 + rank / 10)
    return round(base * (1 + 0.3 * math.sin(phase)), 6)


def prediction_rows(service: str, signal: str, made: datetime) -> list[dict[str, Any]]:
    """One hourly run's forecast of one series, as the prediction step writes it."""
    scaling = service == "cart" and signal == "request_rate"
    rows = []
    for k in range(1, int(HORIZON / STEP) + 1):
        target = made + k * STEP
        mean = level(service, signal, target)
        rows.append(
            {"service": service, "metric": signal, "target_time": target, "generated_at": made,
             "value": mean, "lower": mean * 0.9, "upper": mean * 1.1,
             "scaling_value": mean * 1.1 if scaling else None,
             "desired_replicas": math.ceil(mean * 1.1 / 5) if scaling else None,
             "observed": level(service, signal, made - timedelta(minutes=1)),
             "observed_at": made - timedelta(minutes=1), "model": "ets",
             "model_version": "20261029T000000Z"}
        )  # fmt: skip
    return rows


def event(service: str, signal: str, start: datetime, end: datetime, as_of: datetime,
          observed: float, explanation: str = "") -> dict[str, Any]:  # fmt: skip
    """An `anomaly_events` row as the newest run that saw it left it."""
    return {"service": service, "signal": signal, "kind": "anomaly", "start": start,
            "end": end, "severity": "critical", "confidence": 0.95, "direction": "above",
            "points": int((end - start) / timedelta(minutes=1)), "peak_score": 9.5,
            "observed": observed, "expected_low": observed / 3, "expected_high": observed / 2,
            "explanation": explanation or f"{signal} well above its band",
            "detector": "seasonal-robust", "model_version": "20261029T000000Z",
            "context": {}, "signal_kind": "latency", "as_of": as_of}  # fmt: skip


def incident_row(incident_id: str, end: datetime, status: str, chain: bool) -> dict[str, Any]:
    """An `incidents` row as the hourly correlation stores it: payment's latency first,
    then cart (which calls it) ten minutes later."""
    start = end - HOUR + timedelta(minutes=10)
    candidates = [
        {"service": "payment", "score": 0.8123, "walk": 1.0, "onset": 1.0, "strength": 1.0,
         "peak": 9.5, "first_onset": start.isoformat(), "signal": "latency_p95",
         "signals": ["latency_p95"], "role": "root"},
        {"service": "cart", "score": 0.4071, "walk": 0.52, "onset": 0.0, "strength": 0.9,
         "peak": 8.6, "first_onset": (start + timedelta(minutes=10)).isoformat(),
         "signal": "latency_p95", "signals": ["latency_p95"], "role": "symptom"},
    ]  # fmt: skip
    links = [
        {"service": "payment", "signal": "latency_p95", "onset": start.isoformat(),
         "lag_seconds": None, "via": ["payment"]},
        {"service": "cart", "signal": "latency_p95",
         "onset": (start + timedelta(minutes=10)).isoformat(), "lag_seconds": 600.0,
         "via": ["payment", "cart"]},
    ]  # fmt: skip
    events = [
        {"source": "metric", "service": s, "signal": "latency_p95", "kind": "anomaly",
         "start": (start + timedelta(minutes=10 * n)).isoformat(), "end": end.isoformat(),
         "strength": 9.5 - n, "severity": "critical", "onset_known": True,
         "explanation": f"{s} latency p95 well above its band", "key": f"{s}|latency_p95",
         "points": 40, "signal_kind": "latency"}
        for n, s in enumerate(("payment", "cart"))
    ]  # fmt: skip
    return {
        "interval_start": end - HOUR, "interval_end": end, "incident_id": incident_id,
        "start": start, "end": end, "status": status, "severity": "critical",
        "root_service": "payment", "root_signal": "latency_p95", "root_score": 0.8123,
        "method": "random_walk", "confidence": 0.4, "services": ["cart", "payment"],
        "metric_events": 2, "log_events": 0, "predictive_events": 0, "points": 80,
        "title": "payment latency p95 likely caused anomalies in 1 more service",
        "summary": "payment latency p95 moved first; cart, which calls it, followed.",
        "graph_window": "traces of 2026-10-29",
        "ranking": {"method": "random_walk", "note": "a walk on the call graph",
                    "confidence": 0.4, "candidates": candidates,
                    "chain": links if chain else []},
        "events": events,
    }  # fmt: skip


def fill(store: Store) -> None:
    """Every table the page reads, as the DAGs write them."""
    for made in RUNS:
        for service in SERVICES:
            if service == "inventory" and made > INVENTORY_LAST_RUN:
                continue
            for signal in SIGNALS:
                store.upsert("predictions", prediction_rows(service, signal, made),
                             newer="generated_at")  # fmt: skip
        store.upsert(
            "pipeline_runs",
            [{"dag_id": "aiops_hourly", "interval_start": made - HOUR, "interval_end": made,
              "parts": ["series", "quarantine", "events", "predictions", "incidents"]}],
        )  # fmt: skip
    at = datetime(2026, 10, 30, tzinfo=UTC)
    store.upsert(
        "anomaly_events",
        [
            event("payment", "latency_p95", at.replace(hour=11, minute=10), LAST_RUN, LAST_RUN, 0.9),
            event("cart", "latency_p95", at.replace(hour=11, minute=20), LAST_RUN, LAST_RUN, 0.8),
            event("search", "latency_p95", at.replace(hour=11, minute=40), LAST_RUN, LAST_RUN, 0.7),
            # ran to the end of the 09:00 run, then nothing: it ended
            event("cart", "request_rate", at.replace(hour=8, minute=30), at.replace(hour=9),
                  at.replace(hour=9), 95.0),
            event("search", "latency_p95", at.replace(hour=3), at.replace(hour=3, minute=30),
                  at.replace(hour=4), 0.6),
        ],
        newer="as_of",
    )  # fmt: skip
    store.upsert(
        "predictive_alerts",
        [{"service": "payment", "signal": "latency_p95", "generated_at": LAST_RUN,
          "severity": "warning", "threshold": 0.5, "observed": 0.3,
          "breach_at": LAST_RUN + 2 * HOUR, "breach_earliest": LAST_RUN + HOUR,
          "breach_latest": None, "horizon_seconds": HORIZON.total_seconds(),
          "message": "payment latency p95 will reach 500 ms in ~2h", "model": "ets",
          "model_version": "20261029T000000Z"}],
    )  # fmt: skip
    store.upsert(
        "incidents",
        [incident_row(INCIDENT, LAST_RUN, "open", chain=True),
         incident_row(OLD_INCIDENT, at.replace(hour=9), "open", chain=False)],
    )  # fmt: skip
    window = {"interval_start": MAP_WINDOW[0], "interval_end": MAP_WINDOW[1]}
    edges = [
        Edge("cart", "payment", 1200, 12, 20.0, 80.0, 140.0, ("POST /pay",)),
        Edge("cart", "search", 3400, 3, 8.0, 30.0, 55.0, ("GET /search",)),
        Edge("search", "inventory", 5100, 0, 4.0, 12.0, 20.0, ("GET /stock",)),
        Edge("payment", "postgres", 1300, 1, 2.0, 9.0, 15.0, ("INSERT",), instrumented=False),
    ]
    store.replace("dependency_edges", [{**window, **e.to_json()} for e in edges], **window)
    nplus1 = finding("search", "GET /search", 21.4, table="products")
    store.replace("findings", [{**window, **finding_row(nplus1.to_json())}], **window,
                  source="traces")  # fmt: skip
    store.upsert(
        "trace_runs",
        [{**window, "source": "traces/", "traces": 960, "spans": 19321, "dropped": 0,
          "issues": {}, "operations": [], "edge_diff": None}],
    )  # fmt: skip
    store.upsert(
        "quarantine",
        [{"interval_start": LAST_RUN - 2 * HOUR, "interval_end": LAST_RUN - HOUR,
          "service": "search", "signal": "latency_p95", "stage": "score", "suite": "series",
          "reason": "12 of 60 points missing", "points": 48, "report": {}}],
    )  # fmt: skip


@dataclass(frozen=True)
class World:
    """What the tests know about the store: its clock, runs and IDs, and how its rows were
    made (so a test can compare a page with the row behind it, or build a store of its own)."""

    now: datetime = NOW
    last_run: datetime = LAST_RUN
    runs: tuple[datetime, ...] = tuple(RUNS)
    inventory_last_run: datetime = INVENTORY_LAST_RUN
    incident: str = INCIDENT
    old_incident: str = OLD_INCIDENT
    level: Callable[[str, str, datetime], float] = level
    prediction_rows: Callable[..., list[dict[str, Any]]] = prediction_rows
    event: Callable[..., dict[str, Any]] = event
    fill: Callable[[Store], None] = fill
