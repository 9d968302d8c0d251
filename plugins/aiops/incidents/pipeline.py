"""The hourly correlation step: the interval's events in, its incidents out.

Reads what the hour's other tasks stored (metric events, log anomalies, predictive alerts)
plus a `window` of lookback, so an event that ended at 13:58 still joins one that began at
14:03. Everything is read up to the interval's end and no further (an event a later hour
extended is cut back to this hour's end), so a rerun of the hour gives its incidents again.
The dependency map is the newest trace window that ended by the interval's end and is at
most `map_max_age_days` old; which one is recorded on each incident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiops.catalog import IncidentSettings
from aiops.findings.model import finding_row
from aiops.incidents.graph import DependencyGraph
from aiops.incidents.grouping import GroupingConfig, group_events
from aiops.incidents.incident import Incident, incident_ids
from aiops.incidents.incident_event import (
    IncidentEvent,
    clipped,
    from_anomaly_event,
    from_log_anomaly,
    from_predictive_alert,
    merged,
)
from aiops.incidents.ranking import RankingConfig, rank_root_causes
from aiops.incidents.report import alert_volume, incident_finding
from aiops.metrics.event_store import events_as_of
from aiops.store import Store
from aiops.traces.model import Edge

log = logging.getLogger(__name__)
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class Correlation:
    incidents: list[Incident]
    events: int  # events read (lookback included)
    graph_window: str  # "" without a map

    def totals(self) -> dict[str, int]:
        return {
            "events": self.events,
            "incidents": len(self.incidents),
            "multi_service": sum(1 for i in self.incidents if len(i.services) > 1),
            "open": sum(1 for i in self.incidents if i.status == "open"),
        }


def grouping_config(settings: IncidentSettings) -> GroupingConfig:
    return GroupingConfig(
        window=timedelta(minutes=settings.window_minutes),
        max_hops=settings.max_hops,
        without_map=settings.without_map,
    )


def correlate_window(
    store: Store,
    start: datetime,
    end: datetime,
    settings: IncidentSettings,
    ranking: RankingConfig | None = None,
) -> Correlation:
    """The incidents active in [start, end), continuing the previous hour's IDs."""
    grouping = grouping_config(settings)
    since = start - grouping.window
    events = read_events(store, since, end)
    graph = dependency_graph(store, end, settings)
    groups = [
        g for g in group_events(events, graph, grouping) if any(e.end > start for e in g)
    ]  # a group that ended in the lookback was the previous hour's news
    previous = store.read("incidents", interval_end=start)
    carried = {row["incident_id"]: row["events"] for row in previous}
    current = {e.key for g in groups for e in g}
    incidents = []
    for group, (incident_id, earlier) in zip(groups, incident_ids(groups, previous), strict=True):
        if earlier is not None:
            # it continues an incident: keep the events that ended before this hour's
            # lookback, so its newest row (what the night reports) still holds all of them
            done = [
                IncidentEvent.from_json(doc)
                for doc in carried.get(incident_id, ())
                if doc["key"] not in current
            ]
            group = sorted([*group, *done], key=lambda e: (e.start, e.key))
        services = {e.service for e in group}
        connectors = graph.connectors(services, grouping.max_hops) if graph else set()
        ranked = rank_root_causes(
            group, graph, ranking or RankingConfig(), connectors=sorted(connectors)
        )
        # when it began: its first onset known to the minute (an hourly log row "starts"
        # at the hour by construction), the first of any when none is known
        first = min(e.start for e in group if e.onset_known) if any(
            e.onset_known for e in group) else min(e.start for e in group)  # fmt: skip
        last = max(e.end for e in group)
        incidents.append(
            Incident(
                incident_id=incident_id,
                start=min(first, earlier) if earlier else first,
                end=last,
                status=_status(group, end),
                events=tuple(group),
                ranking=ranked,
                graph_window=graph.window if graph else "",
            )
        )
    return Correlation(incidents, len(events), graph.window if graph else "")


def _status(group: list[IncidentEvent], end: datetime) -> str:
    """Open while an event runs to the interval's end. Hourly log rows and forecasts end
    there by construction, so they decide only when the incident has no metric event."""
    precise = [e for e in group if e.source == "metric"] or group
    return "open" if any(e.end >= end for e in precise) else "resolved"


def store_incidents(store: Store, correlation: Correlation, start: datetime, end: datetime) -> int:
    """Replace the interval's incident rows (an incident gone on a rerun does not linger)."""
    window = {"interval_start": start, "interval_end": end}
    return store.replace(
        "incidents", [i.to_row((start, end)) for i in correlation.incidents], **window
    )


def read_events(store: Store, since: datetime, end: datetime) -> list[IncidentEvent]:
    """Metric events, log anomalies and predictive alerts that overlap [since, end), as the
    run ending at `end` saw them (a rerun after later hours ran reads what it read first)."""
    out = [clipped(from_anomaly_event(row), end) for row in events_as_of(store, since, end)]
    longest = end - since
    logs = []
    for row in store.read(
        "log_anomalies", at_least={"interval_end": since + _TINY}, at_most={"interval_end": end}
    ):
        # the nightly's day-long rows say the same as the hours they cover, later
        if row["interval_end"] - row["interval_start"] <= longest:
            event = from_log_anomaly(row)
            if event is not None:
                logs.append(event)
    forecasts = [
        from_predictive_alert(row)
        for row in store.read(
            "predictive_alerts", at_least={"generated_at": since + _TINY},
            at_most={"generated_at": end},
        )
    ]  # fmt: skip
    out += [clipped(e, end) for e in merged(logs + forecasts)]
    return sorted(out, key=lambda e: (e.start, e.key))


def dependency_graph(
    store: Store, end: datetime, settings: IncidentSettings
) -> DependencyGraph | None:
    """The newest stored trace map that ended by `end`, at most `map_max_age_days` old."""
    oldest = end - timedelta(days=settings.map_max_age_days)
    rows = store.read(
        "dependency_edges", at_least={"interval_end": oldest}, at_most={"interval_end": end}
    )
    if not rows:
        return None
    newest = max((r["interval_end"], r["interval_start"]) for r in rows)
    edges = [Edge.from_json(r) for r in rows if (r["interval_end"], r["interval_start"]) == newest]
    return DependencyGraph.from_edges(edges, window=window_label(newest[1], newest[0]))


def window_label(start: datetime, end: datetime) -> str:
    if end - start == timedelta(days=1) and start.hour == 0 and start.minute == 0:
        return f"traces of {start:%Y-%m-%d}"
    return f"traces of {start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M}"


def latest_incidents(store: Store, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each incident's newest row among the hourly runs whose interval ends in (start, end]:
    the day's incidents as they stood when the day (or the incident) ended."""
    rows = store.read(
        "incidents", at_least={"interval_end": start + _TINY}, at_most={"interval_end": end}
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = newest.get(row["incident_id"])
        if seen is None or row["interval_end"] > seen["interval_end"]:
            newest[row["incident_id"]] = row
    return sorted(newest.values(), key=lambda r: (r["start"], r["incident_id"]))


def record_incidents(
    store: Store, settings: IncidentSettings, start: datetime, end: datetime
) -> Correlation:
    """The hourly correlation step: the interval's incidents correlated, stored (replacing the
    interval's rows) and logged."""
    correlation = correlate_window(store, start, end, settings)
    store_incidents(store, correlation, start, end)
    log.info("incidents [%s, %s) with the map of %s: %s", start.isoformat(), end.isoformat(),
             correlation.graph_window or "(no map)", correlation.totals())  # fmt: skip
    for incident in correlation.incidents:
        log.info("  %s %s %s", incident.incident_id, incident.status, incident.title)
        log.info("    %s", incident.summary)
    return correlation


def record_day(
    store: Store, settings: IncidentSettings, start: datetime, end: datetime
) -> dict[str, int]:
    """The nightly summary step: the day's incidents (each as its newest hour saw it) stored
    as findings for the issue sink, those with at least `min_events_for_issue` events, and
    the day's alert-volume row (raw points -> events -> incidents)."""
    window = {"interval_start": start, "interval_end": end}
    rows = latest_incidents(store, start, end)
    volume = alert_volume(rows, start, end)
    store.upsert("alert_volume", [volume])
    filed = [incident_finding(r) for r in rows if len(r["events"]) >= settings.min_events_for_issue]
    store.replace("findings", [{**window, **finding_row(f.to_json())} for f in filed], **window,
                  source="incidents")  # fmt: skip
    log.info("incidents of [%s, %s): %s", start.isoformat(), end.isoformat(), volume)
    return {"incidents": len(rows), "findings": len(filed), "events": volume["events"]}
