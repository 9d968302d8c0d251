"""The tables and cells more than one page shows: a service's state pills, its open anomalies,
breaches and replicas in a few words, and the tables of incidents, predicted breaches and
findings.

Like the pages, each function takes records (aiops.ui.records) and returns HTML, every value
from the store escaped where it is put in.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.ui.layout import Links, age, esc, link, pill, table, when
from aiops.ui.records import (
    AlertSummary,
    EventSummary,
    FindingSummary,
    ForecastSummary,
    IncidentSummary,
    ServiceState,
)
from aiops.units import format_duration, format_value, signal_label


def state_pills(s: ServiceState) -> str:
    """The service's state pill, then a stale pill with the data's age when it is stale."""
    out = pill(s.state, s.state)
    if s.stale:
        out += pill(
            "stale · no data" if s.data_age is None else f"stale · {age(s.data_age)}", "stale"
        )
    return out


def kind_text(kind: str) -> str:
    """How a finding's kind reads ("N+1"), its name when no source registered it."""
    from aiops.findings.model import kind_label

    try:
        return kind_label(kind)
    except LookupError:
        return kind


def open_events_text(events: Iterable[EventSummary]) -> str:
    """The open anomalies as severity pills with their signals ("(no data)" for a gap)."""
    return ", ".join(
        f"{pill(e.severity, e.severity)}{esc(signal_label(e.signal))}"
        + (" (no data)" if e.kind == "no_data" else "")
        for e in events
    )


def breaches_text(alerts: Iterable[AlertSummary]) -> str:
    """The breaches the newest run predicts, "latency in 2h 10m", or a muted "none"."""
    current = [a for a in alerts if a.current]
    if not current:
        return '<span class="muted">none</span>'
    return ", ".join(f"{esc(signal_label(a.signal))} in {esc(breach_in(a))}" for a in current)


def breach_in(a: AlertSummary) -> str:
    """How long after the forecast was made the breach is expected (as `aiops alerts`)."""
    if a.severity == "critical":
        return "now"
    if a.breach_at is not None:
        return format_duration((a.breach_at - a.generated_at).total_seconds())
    if a.breach_earliest is not None:
        return ">" + format_duration((a.breach_earliest - a.generated_at).total_seconds())
    return "-"


def replicas_text(f: ForecastSummary) -> str:
    """The replicas the forecast asks for next, "3 → 5" when its peak asks for more."""
    if f.desired_replicas is None:
        return "-"
    if f.peak_replicas is not None and f.peak_replicas != f.desired_replicas:
        return f"{f.desired_replicas} → {f.peak_replicas}"
    return str(f.desired_replicas)


def incident_table(incidents: Iterable[IncidentSummary], links: Links) -> str:
    """Incidents, one row each, linked to their pages and their services'."""
    rows = [
        [
            link(links.incident(i.incident_id), i.incident_id),
            pill("open", "open") if i.is_open else pill(i.status, "resolved"),
            pill(i.severity, i.severity),
            esc(when(i.start)),
            ", ".join(link(links.service(s), s) for s in i.services),
            f"{link(links.service(i.root_service), i.root_service)} "
            f"{esc(signal_label(i.root_signal))}",
            f'<span class="wrap">{esc(i.title)}</span>',
        ]
        for i in incidents
    ]
    return table(
        ["incident", "status", "severity", "started", "services", "root cause", "title"], rows
    )


def alert_table(alerts: Iterable[AlertSummary], links: Links, *, with_service: bool = False) -> str:
    """Predicted breaches, one row each; ``with_service`` adds the service as the first
    column (the overview lists every service's)."""
    rows = []
    for a in alerts:
        observed = "-" if a.observed is None else format_value(a.signal, a.observed)
        row = [link(links.service(a.service), a.service)] if with_service else []
        row += [
            esc(signal_label(a.signal)),
            pill(a.severity, a.severity),
            esc(format_value(a.signal, a.threshold)),
            esc(observed),
            esc(breach_in(a)),
            esc(when(a.generated_at))
            + ("" if a.current else ' <span class="muted">(earlier run)</span>'),
            f'<span class="wrap">{esc(a.message)}</span>',
        ]
        rows.append(row)
    header = (["service"] if with_service else []) + [
        "signal",
        "severity",
        "threshold",
        "observed",
        "breach in",
        "made",
        "message",
    ]
    return table(header, rows)


def finding_table(findings: Iterable[FindingSummary], links: Links, *, with_service: bool) -> str:
    """Findings with their impact, safety, effort and suggestion; ``with_service`` adds the
    service as the first column (the map page lists every service's)."""
    rows = []
    for f in findings:
        row = [link(links.service(f.service), f.service)] if with_service else []
        impact = f"{f.ms_per_request:.1f} ms × {f.requests_affected:,} requests"
        row += [
            esc(kind_text(f.kind)),
            f'<span class="wrap">{esc(f.title)}</span>'
            + (f'<br><span class="muted">{esc(f.operation)}</span>' if f.operation else ""),
            esc(impact) if f.ms_per_request else '<span class="muted">-</span>',
            esc(f.safety.lower().replace("_", " ")),
            esc(f.effort),
            f'<span class="wrap">{esc(f.suggestion)}</span>',
            esc(f"{f.source}, {when(f.interval_end)}"),
        ]
        rows.append(row)
    header = (["service"] if with_service else []) + [
        "kind",
        "finding",
        "impact",
        "safety",
        "effort",
        "suggestion",
        "window (end)",
    ]
    return table(header, rows)
