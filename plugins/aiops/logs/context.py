"""What the logs said while a metric was anomalous: the log anomalies of the same service in
the intervals the event overlaps, attached to the event's `context` so whoever reads the
event (a person, the incident correlation, an issue) sees the new error template next to the
error-ratio spike without a second query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiops.store import Store

MAX_ITEMS = 8
SAMPLES = 2
#: Which log anomaly explains an event best comes first.
_ORDER = {"new_template": 0, "error_ratio": 1, "silence": 2, "spike": 3, "drop": 4}
_TINY = timedelta(microseconds=1)


def with_log_context(
    store: Store, events: Iterable[dict[str, Any]], *, until: datetime
) -> list[dict[str, Any]]:
    """The events, each anomaly's `context["logs"]` set from the stored log anomalies (other
    context keys kept); events without overlapping log anomalies come back unchanged.

    Only log anomalies of intervals that ended by `until` (the scoring run's end) are read:
    a nightly row of the same day ends later, and reading it would make a backfilled hour
    differ from the live one, which ran before that night."""
    out = []
    for event in events:
        if event.get("kind") != "anomaly":
            out.append(event)
            continue
        rows = store.read(
            "log_anomalies", service=event["service"],
            at_least={"interval_end": event["start"] + _TINY},
            at_most={"interval_start": event["end"] - _TINY, "interval_end": until},
        )  # fmt: skip
        items = log_items(rows)
        context = {k: v for k, v in (event.get("context") or {}).items() if k != "logs"}
        if items:
            context["logs"] = items
        out.append({**event, "context": context})
    return out


def log_items(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per (kind, template), from the shortest interval that saw it, best first."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(
        rows, key=lambda r: (r["interval_end"] - r["interval_start"], r["interval_start"])
    ):
        best.setdefault((row["kind"], row["template_id"]), row)
    ranked = sorted(
        best.values(),
        key=lambda r: (
            _ORDER.get(r["kind"], 9),
            r["level"] not in ("ERROR", "FATAL"),
            -abs(r["score"]),
            r["template_id"],
        ),
    )
    return [
        {
            "kind": r["kind"],
            "template_id": r["template_id"],
            "template": r["template"],
            "level": r["level"],
            "observed": r["observed"],
            "expected": r["expected"],
            "score": r["score"],
            "interval_start": r["interval_start"].isoformat(),
            "samples": list((r["detail"] or {}).get("samples", []))[:SAMPLES],
        }
        for r in ranked[:MAX_ITEMS]
    ]
