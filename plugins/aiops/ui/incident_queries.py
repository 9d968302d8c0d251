"""What the page of one incident shows: its newest stored row, with the ranked root-cause
candidates, the chain (as lines and as a picture) and the events it was made of.
"""

from __future__ import annotations

from datetime import datetime

from aiops.incidents.picture import chain_picture
from aiops.store import Store
from aiops.ui.records import CandidateLine, ChainLine, IncidentDetail, IncidentEventLine
from aiops.ui.row_summaries import incident_summary
from aiops.ui.state_queries import RECENT, newest_hourly_end
from aiops.ui.store_reads import optional_time, require_aware


def incident_detail(store: Store, incident_id: str, now: datetime) -> IncidentDetail | None:
    """The newest stored row of the incident, at or before ``now``; None when no hourly run
    stored it."""
    require_aware(now)
    rows = store.read("incidents", incident_id=incident_id, at_most={"interval_end": now})
    if not rows:
        return None
    row = max(rows, key=lambda r: r["interval_end"])
    hourly_end = newest_hourly_end(store, row["interval_end"] - RECENT, now)
    ranking = row["ranking"] or {}
    walked = ranking.get("method", row["method"]) == "random_walk"
    candidates = tuple(
        CandidateLine(
            rank=n,
            service=str(c["service"]),
            score=float(c["score"]),
            walk=float(c["walk"]) if walked else None,
            onset=float(c["onset"]),
            strength=float(c["strength"]),
            peak=None if c.get("role") == "connector" else float(c["peak"]),
            first_onset=optional_time(c.get("first_onset")),
            signal=str(c.get("signal") or ""),
            role=str(c.get("role") or ""),
        )
        for n, c in enumerate(ranking.get("candidates") or (), 1)
    )
    chain = tuple(
        ChainLine(
            str(link["service"]),
            str(link["signal"]),
            optional_time(link.get("onset")),
            link.get("lag_seconds"),
            tuple(link.get("via") or ()),
        )
        for link in ranking.get("chain") or ()
    )
    events = tuple(
        IncidentEventLine(
            source=str(e["source"]),
            service=str(e["service"]),
            signal=str(e["signal"]),
            kind=str(e["kind"]),
            start=datetime.fromisoformat(e["start"]),
            end=datetime.fromisoformat(e["end"]),
            strength=float(e["strength"]),
            severity=str(e["severity"]),
            onset_known=bool(e.get("onset_known", True)),
            explanation=str(e.get("explanation", "")),
        )
        for e in sorted(row["events"] or (), key=lambda e: (e["start"], e["service"]))
    )
    return IncidentDetail(
        summary=incident_summary(row, hourly_end),
        text=row["summary"],
        method=row["method"],
        confidence=float(row["confidence"]),
        note=str(ranking.get("note", "")),
        graph_window=row["graph_window"],
        hours=len(rows),
        counts={
            "metric": row["metric_events"],
            "log": row["log_events"],
            "predictive": row["predictive_events"],
            "points": row["points"],
        },
        candidates=candidates,
        chain=chain,
        picture=chain_picture(incident_id, ranking),
        events=events,
    )
