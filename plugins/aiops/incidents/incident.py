"""An incident: the events that are one problem, ranked, with an ID that outlives the hour.

The ID is what people quote ("incident 3f9a..."), what the finding's fingerprint is made of,
and what the alert-volume figure counts. It is carried over from the previous hour's
incidents when this hour's group continues one of their events (same event key), so an
incident that runs from 13:50 to 14:20 is one incident in both hourly runs. A new group
takes the hash of its first event's key: a rerun of the hour gives the same ID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops.incidents.incident_event import SOURCES, IncidentEvent, severity_rank
from aiops.incidents.ranking import Ranking
from aiops.units import format_duration, signal_label


@dataclass(frozen=True)
class Incident:
    incident_id: str
    start: datetime  # its first event's start (or the incident's, as an earlier hour saw it)
    end: datetime  # its last event's end, at most the interval's end
    status: str  # "open" (an event runs to the interval's end) | "resolved"
    events: tuple[IncidentEvent, ...]
    ranking: Ranking
    graph_window: str  # the trace window whose map related its services ("" without one)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({e.service for e in self.events}))

    @property
    def severity(self) -> str:
        return max((e.severity for e in self.events), key=severity_rank)

    @property
    def points(self) -> int:
        return sum(e.points for e in self.events)

    def count(self, source: str) -> int:
        return sum(1 for e in self.events if e.source == source)

    @property
    def title(self) -> str:
        root = self.ranking.root
        signal = signal_label(root.signal)
        others = len(self.services) - 1
        if others <= 0:
            if root.signal.startswith("forecast "):
                what = f"{signal.removeprefix('forecast ')} forecast to cross its threshold"
            else:
                what = signal if root.signal.startswith("log ") else f"{signal} anomaly"
            return f"{root.service} {what} at {self.start:%Y-%m-%d %H:%M} UTC"
        return (
            f"{root.service} {signal} likely caused anomalies in {others} more "
            f"service{'s' if others > 1 else ''} at {self.start:%m-%d %H:%M} UTC"
        )

    @property
    def summary(self) -> str:
        """One paragraph: who moved first, who followed and when, how much noise it saves."""
        chain = []
        for link in self.ranking.chain:
            label = signal_label(link.signal)
            chain.append(f"{link.service} {label} ({lag_text(link.lag_seconds, link.onset)})")
        span = f"{self.start:%H:%M}-{self.end:%H:%M} UTC" + (
            ", still open" if self.status == "open" else ""
        )
        n = len(self.events)
        return (
            f"{' -> '.join(chain)}. {n} event{'s' if n != 1 else ''} across "
            f"{len(self.services)} service{'s' if len(self.services) != 1 else ''}, {span}."
        )

    def to_row(self, interval: tuple[datetime, datetime]) -> dict[str, Any]:
        root = self.ranking.root
        return {
            "interval_start": interval[0],
            "interval_end": interval[1],
            "incident_id": self.incident_id,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "severity": self.severity,
            "root_service": root.service,
            "root_signal": root.signal,
            "root_score": round(root.score, 4),
            "method": self.ranking.method,
            "confidence": round(self.ranking.confidence, 4),
            "services": list(self.services),
            **{f"{source}_events": self.count(source) for source in SOURCES},
            "points": self.points,
            "title": self.title,
            "summary": self.summary,
            "graph_window": self.graph_window,
            "ranking": self.ranking.to_json(),
            "events": [e.to_json() for e in self.events],
        }


def incident_ids(
    groups: Sequence[Sequence[IncidentEvent]], previous: Iterable[dict[str, Any]]
) -> list[tuple[str, datetime | None]]:
    """An (ID, earlier start) per group: the previous hour's incident it continues (the
    oldest one, when it joins several), else a new ID from its first event's key."""
    owner: dict[str, tuple[datetime, str]] = {}
    for row in previous:
        for event in row["events"]:
            key = (row["start"], row["incident_id"])
            owner[event["key"]] = min(owner.get(event["key"], key), key)
    taken: set[str] = set()
    out = []
    for group in groups:
        claims = sorted({owner[e.key] for e in group if e.key in owner} - {
            (s, i) for s, i in owner.values() if i in taken
        })  # fmt: skip
        if claims:
            start, incident_id = claims[0]
            taken.add(incident_id)
            out.append((incident_id, start))
            continue
        first = min(group, key=lambda e: (e.start, e.key))
        # log and forecast keys carry no time: the start keeps two incidents of a day apart
        seed = f"{first.key}|{first.start.isoformat()}"
        incident_id, n = new_id(seed), 1
        while incident_id in taken:
            incident_id, n = new_id(f"{seed}#{n}"), n + 1
        taken.add(incident_id)
        out.append((incident_id, None))
    return out


def lag_text(lag_seconds: float | None, onset: datetime | None) -> str:
    """ "+2m" after the root, "1m before" it (the map and the clocks disagree), or the onset
    itself for the root ("14:00")."""
    if lag_seconds:
        return (
            f"+{format_duration(lag_seconds)}" if lag_seconds > 0
            else f"{format_duration(-lag_seconds)} before"
        )  # fmt: skip
    return f"{onset:%H:%M}" if onset else "onset unknown"


def new_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]
