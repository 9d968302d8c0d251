"""Rows of the results store as the records the pages show (aiops.ui.records): an anomaly
event, a predicted breach, a forecast run, a finding, an incident.

Whether an event, a breach or an incident is still open is not in its row: it depends on the
newest hourly run (``hourly_end``, see aiops.ui.state_queries), which the caller passes in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiops.ui.records import (
    AlertSummary,
    EventSummary,
    FindingSummary,
    ForecastSummary,
    IncidentSummary,
)


def forecast_summary(rows: Sequence[Mapping[str, Any]]) -> ForecastSummary | None:
    """The summary of one run's rows of one signal (ordered by target time)."""
    ahead = sorted(
        (r for r in rows if r["target_time"] > r["generated_at"]), key=lambda r: r["target_time"]
    )
    if not ahead:
        return None
    first, last = ahead[0], ahead[-1]
    replicas = [r["desired_replicas"] for r in ahead if r["desired_replicas"] is not None]
    return ForecastSummary(
        service=first["service"],
        signal=first["metric"],
        generated_at=first["generated_at"],
        next_target=first["target_time"],
        value=float(first["value"]),
        lower=first["lower"],
        upper=first["upper"],
        horizon_end=last["target_time"],
        scaling_value=first["scaling_value"],
        desired_replicas=first["desired_replicas"],
        peak_replicas=max(replicas) if replicas else None,
        observed=first["observed"],
        observed_at=first["observed_at"],
        model=first["model"],
        model_version=first["model_version"],
    )


def event_summary(row: Mapping[str, Any], hourly_end: datetime | None) -> EventSummary:
    """An `anomaly_events` row as a summary; open only when it ran to the end of the run that
    wrote it and that run is the newest hourly run (ended at ``hourly_end``)."""
    ran_to_end = row["end"] >= row["as_of"]
    return EventSummary(
        service=row["service"],
        signal=row["signal"],
        kind=row["kind"],
        start=row["start"],
        end=row["end"],
        severity=row["severity"],
        direction=row["direction"],
        peak_score=float(row["peak_score"]),
        observed=row["observed"],
        expected_low=row["expected_low"],
        expected_high=row["expected_high"],
        explanation=row["explanation"],
        is_open=ran_to_end and (hourly_end is None or row["as_of"] >= hourly_end),
    )


def alert_summary(row: Mapping[str, Any], hourly_end: datetime | None) -> AlertSummary:
    """A `predictive_alerts` row as a summary; current when the newest hourly run made it."""
    return AlertSummary(
        service=row["service"],
        signal=row["signal"],
        generated_at=row["generated_at"],
        severity=row["severity"],
        threshold=float(row["threshold"]),
        observed=row["observed"],
        breach_at=row["breach_at"],
        breach_earliest=row["breach_earliest"],
        breach_latest=row["breach_latest"],
        message=row["message"],
        current=hourly_end is None or row["generated_at"] >= hourly_end,
    )


def finding_summary(row: Mapping[str, Any]) -> FindingSummary:
    """A `findings` row as a summary, its suggestion from the stored finding document."""
    doc = row["finding"] or {}
    return FindingSummary(
        source=row["source"],
        kind=row["kind"],
        service=row["service"],
        operation=row["operation"],
        title=row["title"],
        suggestion=str(doc.get("suggestion", "")),
        ms_per_request=float(row["ms_per_request"]),
        requests_affected=int(row["requests_affected"]),
        expected_saving_ms=row["expected_saving_ms"],
        safety=row["safety"],
        effort=row["effort"],
        confidence=float(row["confidence"]),
        interval_start=row["interval_start"],
        interval_end=row["interval_end"],
    )


def incident_summary(row: Mapping[str, Any], hourly_end: datetime | None) -> IncidentSummary:
    """An `incidents` row as a summary; open only when the newest hourly run stored it open."""
    return IncidentSummary(
        incident_id=row["incident_id"],
        status=row["status"],
        is_open=row["status"] == "open"
        and (hourly_end is None or row["interval_end"] >= hourly_end),
        severity=row["severity"],
        start=row["start"],
        end=row["end"],
        title=row["title"],
        root_service=row["root_service"],
        root_signal=row["root_signal"],
        services=tuple(row["services"] or ()),
        as_of=row["interval_end"],
    )


def costliest_first(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """As the trace pipeline orders a window's findings: total time lost, then fingerprint."""
    return sorted(
        rows,
        key=lambda r: (
            -(r["ms_per_request"] * r["requests_affected"]),
            r["source"],
            r["fingerprint"],
        ),
    )
