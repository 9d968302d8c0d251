"""Anomaly events in the results store, as each hourly run saw them.

An event that runs across hours is rewritten by every hour that sees it continue, and an
event that starts late in one hour may only be confirmed (debounced) by the next. Rows that
only ever hold the newest view would make a rerun of an earlier hour read its future: an
event it never detected, or the points a later hour added. So each run stores two things:
the newest view (`anomaly_events`, which an older run never overwrites) and its own snapshot
(`anomaly_event_snapshots`, keyed by the run's interval end, `as_of`). Readers that must
reproduce a past run read the snapshots as of that run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiops.store import Store

_KEY = ("service", "signal", "kind", "start")


def store_events(
    store: Store, service: str, events: Iterable[dict[str, Any]], as_of: datetime
) -> int:
    """Write one service's events as the run whose interval ends at ``as_of`` saw them.

    The snapshot is replaced whole, so a rerun that no longer finds an event leaves none
    behind; the newest view is replaced only by a run of the same or a later interval."""
    rows = [{**event, "as_of": as_of} for event in events]
    store.upsert("anomaly_events", rows, newer="as_of")
    return store.replace("anomaly_event_snapshots", rows, service=service, as_of=as_of)


def events_as_of(
    store: Store, since: datetime, end: datetime, **equals: Any
) -> list[dict[str, Any]]:
    """Events as the run ending at ``end`` left them: per event, the newest snapshot taken
    by ``end``, for events that were still running after ``since`` (end > since).

    An event first detected after ``end`` is absent, and one that later runs extended ends
    where it did at ``end``. ``equals`` narrows by column (service=, kind=)."""
    newest: dict[tuple, dict[str, Any]] = {}
    # a snapshot is taken at or after its event's end, so older ones cannot reach `since`
    for row in store.read(
        "anomaly_event_snapshots", at_least={"as_of": since}, at_most={"as_of": end}, **equals
    ):
        key = tuple(row[k] for k in _KEY)
        if key not in newest or row["as_of"] > newest[key]["as_of"]:
            newest[key] = row
    rows = [row for row in newest.values() if row["end"] > since]
    return sorted(rows, key=lambda row: tuple(row[k] for k in _KEY))


def open_event_starts(
    store: Store, service: str, start: datetime, reach: timedelta
) -> dict[str, datetime]:
    """Per signal, the start of the service's anomaly event still running when the interval
    beginning at ``start`` opens (ended within ``reach`` before it), as the run before left
    it, not as later runs extended it: a deviation that carries on keeps its start."""
    out: dict[str, datetime] = {}
    for row in events_as_of(store, start - reach, start, service=service, kind="anomaly"):
        out[row["signal"]] = max(out.get(row["signal"], row["start"]), row["start"])
    return out
