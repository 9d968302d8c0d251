"""What the night makes of the day's incidents: one finding each (for the issue sink and the
narratives), and the alert-volume figure (raw anomalous points -> events -> incidents).

A finding goes to the team owning the first-ranked candidate, with the ranking, the chain
and the events as evidence, and a fix that follows from the root's signal: a cascade of
timeouts is contained by the callers' timeouts and circuit breakers as much as by fixing the
callee. Its fingerprint is the incident ID, so an incident that spans midnight updates one
issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiops.findings.kinds import KINDS, FindingKind
from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.incidents.incident import lag_text
from aiops.incidents.incident_event import SOURCES
from aiops.incidents.picture import chain_picture
from aiops.units import format_duration, signal_label

INCIDENT = KINDS.register(
    FindingKind(
        "incident",
        label="incident",
        why="Many alerts, one cause: fixing the first candidate should clear the symptoms it "
        "spread to, so start there.",
    )
)
MAX_EVENTS = 12  # event lines kept as evidence, strongest first
MAX_CANDIDATES = 5

#: What to do, by the kind of signal the root moved on: (action, the fix in a sentence).
_FIX = {
    "latency": (
        "config_change",
        "Look for what made {root} slow at {onset} (a deploy, a configuration change, "
        "saturation, a slow dependency of its own). In its callers, time out calls to "
        "{root} below their own latency objective and fail fast with a circuit "
        "breaker, so its next slowdown stays in {root} instead of spreading.",
    ),
    "errors": (
        "config_change",
        "Find why {root} began failing at {onset} (its logs and deploys at that time). "
        "In its callers, cap retries to {root} with a retry budget and back off, so its "
        "errors are not multiplied into a storm, and degrade gracefully where a "
        "response can do without it.",
    ),
    "saturation": (
        "scale_out",
        "{root} ran out of headroom at {onset}: raise its replicas or limits "
        "within the catalog's bounds (or let the KEDA scaler do it ahead of load), "
        "then find what drove the demand.",
    ),
    "memory": (
        "code_change",
        "{root}'s memory moved first at {onset}: look for a leak or an unbounded cache "
        "introduced before then, and set a limit that restarts it before it drags "
        "its callers down.",
    ),
    "silence": (
        "observe",
        "{root} stopped reporting at {onset}: check whether it was down or only its "
        "telemetry; alert on its absence so the next time is caught first.",
    ),
    "logs": (
        "code_change",
        "{root}'s logs changed first, at {onset}: read the new lines below and fix "
        "their cause; its callers' anomalies follow from it.",
    ),
}
_SIGNAL_FIX = {"latency_p95": "latency", "error_ratio": "errors", "cpu": "saturation",
               "request_rate": "saturation", "memory": "memory"}  # fmt: skip


def incident_finding(row: dict[str, Any]) -> Finding:
    """The finding of one stored incident row (its newest hour)."""
    ranking, events = row["ranking"], row["events"]
    candidates = [c for c in ranking["candidates"] if c["role"] != "connector"]
    root = candidates[0]
    onset = _time(root["first_onset"]) or f"{row['start']:%H:%M} UTC"
    family = _family(root["signal"], events, root["service"])
    action, fix = _FIX[family]
    symptoms = len(row["services"]) - 1
    n_events = sum(row[f"{s}_events"] for s in SOURCES)
    numbers: dict[str, float | int | str] = {
        "root_cause": f"{root['service']} ({signal_label(root['signal'])})",
        "ranking": ranking["note"],
        "first_anomaly": f"{row['start']:%Y-%m-%d %H:%M} UTC",
        "duration": (
            f"still open at {row['interval_end']:%Y-%m-%d %H:%M} UTC, the end of the newest "
            "hourly run that saw it"
            if row["status"] == "open"
            else format_duration((row["end"] - row["start"]).total_seconds())
        ),
        "services_affected": len(row["services"]),
        "events": f"{n_events}: " + ", ".join(f"{row[f'{s}_events']} {s}" for s in SOURCES),
        "raw_anomalous_points": row["points"],
        "incident_id": row["incident_id"],
    }
    for n, c in enumerate(candidates[:MAX_CANDIDATES], 1):
        numbers[f"candidate_{n}"] = _candidate(c, ranking["method"])
    for n, link in enumerate(ranking["chain"], 1):
        numbers[f"spread_{n}"] = _link(link)
    unexplained = [c["service"] for c in candidates if c["role"] == "unexplained"]
    if unexplained and ranking["method"] == "random_walk":
        numbers["not_downstream_of_root"] = ", ".join(unexplained)
    strongest = sorted(events, key=lambda e: (-e["strength"], e["start"], e["key"]))
    for n, e in enumerate(strongest[:MAX_EVENTS], 1):
        numbers[f"event_{n}"] = f"{e['service']} {signal_label(e['signal'])}: {e['explanation']}"
    suggestion = fix.format(root=root["service"], onset=onset)
    if symptoms:
        suggestion += (
            f" The {symptoms} other service{'s' if symptoms > 1 else ''} "
            f"({', '.join(s for s in row['services'] if s != root['service'])}) "
            "showed symptoms; check them only if they do not recover with it."
        )
    return Finding(
        source="incidents",
        kind=INCIDENT.name,
        service=root["service"],
        operation="",
        title=row["title"],
        impact=Impact(ms_per_request=0.0, requests_affected=n_events),
        evidence=Evidence(numbers, picture=chain_picture(row["incident_id"], ranking)),
        suggestion=suggestion,
        expected_improvement=(
            f"the {n_events} alerts of this incident come from one cause; fixing it and "
            f"containing it in its callers keeps {symptoms} service"
            f"{'s' if symptoms != 1 else ''} from alerting next time"
        ),
        action=action,
        effort=Effort.MEDIUM,
        confidence=float(row["confidence"]),
        key={"incident_id": row["incident_id"]},
    )


def alert_volume(rows: Sequence[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    """The day's figure from its incidents (each event counted once, however many hourly
    rows show it): raw anomalous points -> events -> incidents."""
    events: dict[str, dict[str, Any]] = {}
    for row in rows:
        for e in row["events"]:
            events.setdefault(e["key"], e)
    counts = {s: sum(1 for e in events.values() if e["source"] == s) for s in SOURCES}
    return {
        "interval_start": start,
        "interval_end": end,
        "points": sum(int(e.get("points", 1)) for e in events.values()),
        **{f"{s}_events": counts[s] for s in SOURCES},
        "events": len(events),
        "incidents": len(rows),
        "multi_service_incidents": sum(1 for r in rows if len(r["services"]) > 1),
    }


def _family(signal: str, events: list[dict[str, Any]], root: str) -> str:
    if signal in _SIGNAL_FIX:
        return _SIGNAL_FIX[signal]
    if signal.startswith("log"):
        return "logs"
    if signal.startswith("forecast"):
        return "saturation"
    kinds = {e["kind"] for e in events if e["service"] == root}
    return "silence" if kinds == {"no_data"} else "latency"


def _candidate(c: dict[str, Any], method: str) -> str:
    first = _time(c["first_onset"]) or "onset unknown"
    parts = (
        f"walk {c['walk']:.2f}, onset {c['onset']:.2f}, strength {c['strength']:.2f}"
        if method == "random_walk"
        else f"onset {c['onset']:.2f}, strength {c['strength']:.2f}"
    )
    return (
        f"{c['service']}: score {c['score']:.2f} ({parts}); first anomaly {first} on "
        f"{signal_label(c['signal'])}, peak {c['peak']:.1f} sigma; {c['role']}"
    )


def _link(link: dict[str, Any]) -> str:
    onset = datetime.fromisoformat(link["onset"]) if link["onset"] else None
    text = f"{link['service']} {signal_label(link['signal'])}"
    if link["lag_seconds"]:
        text += f" at {_time(link['onset'])} ({lag_text(link['lag_seconds'], onset)})"
    else:
        text += f" at {lag_text(None, onset)}" + (" UTC" if onset else "")
    if len(link["via"]) > 1:
        text += ", through " + " → ".join(link["via"])
    return text


def _time(iso: str | None) -> str | None:
    return f"{datetime.fromisoformat(iso):%H:%M} UTC" if iso else None
