"""What incident correlation reads: metric, log and predictive events on one footing.

The three stores speak differently (a metric event has a start to the minute and a robust z;
a log anomaly covers an hour and scores a template; a predictive alert is a forecast made at
an hour's end), so each becomes an `IncidentEvent` with:

- a time span, and whether its onset is known to the minute (`onset_known`). Only known
  onsets take part in "who moved first": an hourly log row starts at the hour by
  construction, not because anything happened then;
- a `strength` in sigma, the unit of the metric events (their calibrated score: how rare
  the peak is for its own series, as a normal sigma), so the ranking can weigh a log spike
  against a latency event;
- a `key` that stays the same while the event goes on, from hour to hour, which is how an
  incident keeps its ID across the hourly runs that see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from aiops.metrics.events import EventConfig
from aiops.units import SIGNAL_LABELS, signal_label

#: The robust z at which a metric point is anomalous: the floor every source is mapped onto.
Z_FLOOR = EventConfig().threshold
#: A predictive alert is raised at an hour's end from that hour's data.
PREDICTIVE_SPAN = timedelta(hours=1)
#: Log anomaly kinds that are news during an incident (new INFO templates after a deploy
#: are not): a new template counts only at WARN and above.
LOG_LEVELS_FOR_NEW = frozenset({"WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"})
SOURCES = ("metric", "log", "predictive")
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class IncidentEvent:
    source: str  # "metric" | "log" | "predictive"
    service: str
    signal: str  # "latency_p95", "*", "log error ratio", "forecast memory", ...
    kind: str  # anomaly | no_data | spike | drop | silence | new_template | error_ratio | breach
    start: datetime
    end: datetime  # exclusive
    strength: float  # sigma: a metric event's calibrated score (or its equivalent for the source)
    severity: str  # "info" | "warning" | "critical"
    onset_known: bool  # the start says when it began, to the minute
    explanation: str
    key: str  # identity while it goes on
    points: int = 1  # raw anomalous points it condenses (log and predictive rows count 1)
    #: traffic, errors, latency, saturation, other, combined (several signals), log or
    #: forecast: which way ranking lets it propagate; "" when the row did not say
    signal_kind: str = ""

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["start"], doc["end"] = self.start.isoformat(), self.end.isoformat()
        doc["strength"] = round(self.strength, 4)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IncidentEvent:
        return cls(
            **{
                **doc,
                "start": datetime.fromisoformat(doc["start"]),
                "end": datetime.fromisoformat(doc["end"]),
                "strength": float(doc["strength"]),
                "points": int(doc.get("points", 1)),
                "signal_kind": str(doc.get("signal_kind", "")),
            }
        )

    @property
    def label(self) -> str:
        """How a person names it: "redis latency p95", "cart forecast memory"."""
        return f"{self.service} {signal_label(self.signal)}"


def severity_rank(severity: str) -> int:
    return _SEVERITY_RANK.get(severity, 0)


def from_anomaly_event(row: dict[str, Any]) -> IncidentEvent:
    """An `anomaly_events` row (an anomaly or a "no data" stretch)."""
    # a service that stops reporting is as loud as a threshold breach; anomalies carry their
    # calibrated score (aiops.baselines.calibration), univariate and multivariate alike
    strength = Z_FLOOR if row["kind"] == "no_data" else abs(float(row["peak_score"]))
    return IncidentEvent(
        source="metric",
        service=row["service"],
        signal=row["signal"],
        kind=row["kind"],
        start=row["start"],
        end=row["end"],
        strength=strength,
        severity=row["severity"],
        onset_known=True,
        explanation=row["explanation"],
        key=f"metric|{row['service']}|{row['signal']}|{row['kind']}|{row['start'].isoformat()}",
        points=max(1, int(row["points"])),
        signal_kind=row.get("signal_kind") or "",
    )


def from_log_anomaly(row: dict[str, Any]) -> IncidentEvent | None:
    """A `log_anomalies` row; None for a new template below WARN (deploys log many)."""
    kind, level = row["kind"], str(row["level"]).upper()
    if kind == "new_template" and level not in LOG_LEVELS_FOR_NEW:
        return None
    detail = row.get("detail") or {}
    first_seen = detail.get("first_seen") if kind == "new_template" else None
    start = row["interval_start"]
    if first_seen:
        start = max(start, min(row["interval_end"], datetime.fromisoformat(first_seen)))
    if kind == "new_template":
        strength = Z_FLOOR * (1.5 if level in ("ERROR", "FATAL", "CRITICAL") else 1.0)
    else:
        strength = abs(float(row["score"]))
    template = str(row["template"])
    what = "error ratio" if kind == "error_ratio" else f"{kind.replace('_', ' ')} of"
    text = (
        f"log {what} {template!r}" if kind != "error_ratio" else "log error ratio"
    ) + f": {_num(row['observed'])} vs expected {_num(row['expected'])}"
    return IncidentEvent(
        source="log",
        service=row["service"],
        signal=f"log {kind.replace('_', ' ')}",
        kind=kind,
        start=start,
        end=row["interval_end"],
        strength=strength,
        severity="critical" if strength >= 2 * Z_FLOOR else "warning",
        onset_known=bool(first_seen),
        explanation=text[:300],
        key=f"log|{row['service']}|{kind}|{row['template_id']}",
        signal_kind="log",
    )


def from_predictive_alert(row: dict[str, Any]) -> IncidentEvent:
    """A `predictive_alerts` row: trouble forecast from the hour before `generated_at`."""
    warning = row["severity"] == "warning"
    return IncidentEvent(
        source="predictive",
        service=row["service"],
        signal=f"forecast {SIGNAL_LABELS.get(row['signal'], row['signal'])}",
        kind="breach",
        start=row["generated_at"] - PREDICTIVE_SPAN,
        end=row["generated_at"],
        # a forecast is weaker evidence than a measurement: at the threshold when the mean
        # crosses, half of it when only the interval's upper end does
        strength=Z_FLOOR if warning else Z_FLOOR / 2,
        severity="warning" if warning else "info",
        onset_known=False,
        explanation=row["message"],
        key=f"predictive|{row['service']}|{row['signal']}",
        signal_kind="forecast",
    )


def merged(events: Iterable[IncidentEvent]) -> list[IncidentEvent]:
    """One event per key: consecutive hourly rows of the same log anomaly or forecast are
    one event spanning them, as strong as its strongest hour."""
    by_key: dict[str, IncidentEvent] = {}
    for e in sorted(events, key=lambda e: (e.key, e.start)):
        seen = by_key.get(e.key)
        if seen is None:
            by_key[e.key] = e
            continue
        stronger = e if e.strength > seen.strength else seen
        by_key[e.key] = replace(
            stronger,
            start=min(seen.start, e.start),
            end=max(seen.end, e.end),
            onset_known=seen.onset_known if seen.start <= e.start else e.onset_known,
            severity=max(seen.severity, e.severity, key=severity_rank),
            points=seen.points + e.points,
        )
    return sorted(by_key.values(), key=lambda e: (e.start, e.key))


def clipped(event: IncidentEvent, end: datetime) -> IncidentEvent:
    """The event as an interval ending at `end` saw it (a later run may have extended it)."""
    return event if event.end <= end else replace(event, end=end)


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    value = float(value)
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
