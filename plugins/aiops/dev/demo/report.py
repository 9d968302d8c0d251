"""What `aiops demo` prints about the results it landed, read back from the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiops.catalog import load_catalog
from aiops.store import Store
from aiops.units import format_value


class _Interval(Protocol):
    start: datetime
    end: datetime

    @property
    def label(self) -> str: ...


Say = Callable[[str], None]


def results_digest(
    store: Store, hours: list[_Interval], nights: list[_Interval] = ()
) -> str | None:
    """One digest over every row the demo's intervals produced: equal digests, equal results."""
    rows: list[dict[str, Any]] = []
    for n in nights:
        for table in (
            "trace_runs",
            "dependency_edges",
            "findings",
            "trace_quarantine",
            "narratives",
        ):
            rows += store.read(table, interval_start=n.start, interval_end=n.end)
    for h in hours:
        rows += store.read("series_summary", interval_start=h.start, interval_end=h.end)
        rows += store.read("quarantine", interval_start=h.start, interval_end=h.end)
    for n in [*hours, *nights]:
        rows += store.read("log_anomalies", interval_start=n.start, interval_end=n.end)
        rows += store.read("incidents", interval_start=n.start, interval_end=n.end)
        rows += store.read("alert_volume", interval_start=n.start, interval_end=n.end)
    for h in hours:
        rows += store.read("predictions", at_least={"target_time": h.end}, generated_at=h.end)
        rows += store.read("predictive_alerts", generated_at=h.end)
    rows += [
        e
        for e in store.read("anomaly_events")
        if any(h.start < e["end"] and e["start"] < h.end for h in hours)
    ]
    rows += store.read("issue_ledger")  # the filing: a rerun must write nothing here either
    rows += store.read("pipeline_runs")  # the runs' own summaries
    if not rows:
        return None
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def print_ingest(store: Store, hours: list[_Interval], say: Say) -> None:
    catalog = load_catalog()
    for n, h in enumerate(hours):
        rows = store.read("series_summary", interval_start=h.start, interval_end=h.end)
        sources = ", ".join(sorted({r["source"] for r in rows})) or "nothing"
        with_data = {r["service"] for r in rows if r["points"] > 0}
        gaps = sum(r["gaps"] for r in rows)
        say(
            f"      aiops_ingest [{h.label}): {len(rows)} series from {sources}, "
            f"{len(with_data)}/{len(catalog.services)} services with data, {gaps} missing points"
        )
        if n == 0:
            _ingest_table(rows, catalog, say)


def _ingest_table(rows: list[dict[str, Any]], catalog, say: Say) -> None:
    by = {(r["service"], r["signal"]): r for r in rows}
    say(
        f"        {'service':<15} {'points':>9}  {'latency p95':>11} {'error ratio':>11} {'memory':>9}"
    )
    for service in catalog.service_names:
        points = sum(
            by[(service, s)]["points"] for s in catalog.defaults.signals if (service, s) in by
        )
        expected = sum(
            by[(service, s)]["expected_points"]
            for s in catalog.defaults.signals
            if (service, s) in by
        )
        cells = [
            format_value(s, (by.get((service, s)) or {}).get("value_mean") or float("nan"))
            for s in ("latency_p95", "error_ratio", "memory")
        ]
        say(
            f"        {service:<15} {points:>4}/{expected:<4}  {cells[0]:>11} {cells[1]:>11} {cells[2]:>9}"
        )


def print_detection(
    store: Store, manifest: dict[str, Any], hours: list[_Interval], say: Say
) -> None:
    events = [
        e
        for e in store.read("anomaly_events")
        if any(h.start < e["end"] and e["start"] < h.end for h in hours)
    ]
    quarantined = [
        q
        for h in hours
        for q in store.read("quarantine", interval_start=h.start, interval_end=h.end)
    ]
    anomalies = [e for e in events if e["kind"] == "anomaly"]
    raw = sum(e["points"] for e in anomalies)
    say(
        f"      aiops_hourly: {raw} raw anomalous points -> {len(anomalies)} events "
        f"({sum(1 for e in events if e['kind'] == 'no_data')} no-data), {len(quarantined)} frames quarantined"
    )
    by_service: dict[str, list[dict[str, Any]]] = {}
    for e in anomalies:
        by_service.setdefault(e["service"], []).append(e)
    for service, evs in sorted(by_service.items(), key=lambda kv: -sum(e["points"] for e in kv[1])):
        say(
            f"        {service:<15} {len(evs):>2} events from {sum(e['points'] for e in evs):>3} points: "
            + "; ".join(sorted({e["signal"] for e in evs}))
        )
    say("      planted incidents:")
    for inc in manifest["incidents"]:
        if inc["kind"] not in ("latency_regression", "cascading_failure", "error_spike"):
            continue
        began = datetime.fromisoformat(inc["start"])
        hits = [
            e
            for e in anomalies
            if e["service"] == inc["service"] and abs(e["start"] - began) <= timedelta(minutes=10)
        ]
        if hits:
            # the per-signal event explains itself best; the multivariate one backs it up
            first = min(hits, key=lambda e: (e["signal"] == "*", e["start"]))
            say(
                f"        DETECTED {inc['kind']:<18} {inc['service']:<8} planted {began:%m-%d %H:%M}, "
                f"event from {first['start']:%H:%M} [{first['severity']}, confidence {first['confidence']:.2f}]"
            )
            say(f"          {first['explanation']}")
        else:
            say(
                f"        MISSED   {inc['kind']:<18} {inc['service']:<8} planted {began:%m-%d %H:%M}"
            )
