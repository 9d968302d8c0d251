"""Anomaly events as each hourly run saw them: a rerun of an earlier hour reads what that hour
read the first time, however far later hours have moved the event since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from aiops.incidents.incident_event import from_anomaly_event
from aiops.metrics.event_store import events_as_of, store_events
from aiops.store import SCHEMA_VERSION, Store
from aiops.store.schema import anomaly_events

T12 = datetime(2026, 10, 30, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def event(service: str, start: datetime, end: datetime, points: int) -> dict:
    return {
        "service": service, "signal": "latency_p95", "kind": "anomaly", "start": start,
        "end": end, "severity": "warning", "confidence": 0.8, "direction": "above",
        "points": points, "peak_score": 6.0, "observed": 0.4, "expected_low": 0.1,
        "expected_high": 0.2, "explanation": "latency high", "detector": "seasonal",
        "model_version": "v1", "context": {},
    }  # fmt: skip


def hour_runs(store: Store, *, rerun_first: bool) -> None:
    """The 13:00 run sees redis begin; the 14:00 run sees it go on and confirms a cart event
    that began at 12:58 (too short to be one by 13:00); then, maybe, 13:00 runs again."""
    first = T12 + HOUR
    store_events(store, "redis", [event("redis", T12 + 30 * MIN, first, 30)], first)
    store_events(store, "cart", [], first)
    second = first + HOUR
    store_events(store, "redis", [event("redis", T12 + 30 * MIN, first + 20 * MIN, 50)], second)
    store_events(store, "cart", [event("cart", T12 + 58 * MIN, first + 10 * MIN, 12)], second)
    if rerun_first:
        store_events(store, "redis", [event("redis", T12 + 30 * MIN, first, 30)], first)
        store_events(store, "cart", [], first)


def test_a_rerun_hour_reads_what_it_first_read_and_leaves_the_newer_view(store: Store) -> None:
    hour_runs(store, rerun_first=False)
    before = store.read("anomaly_events"), store.read("anomaly_event_snapshots")
    hour_runs(store, rerun_first=True)
    assert (store.read("anomaly_events"), store.read("anomaly_event_snapshots")) == before

    (seen,) = events_as_of(store, T12, T12 + HOUR)  # not cart: detected only at 14:00
    assert (seen["service"], seen["end"], seen["points"]) == ("redis", T12 + HOUR, 30)
    later = events_as_of(store, T12 + HOUR, T12 + 2 * HOUR)
    assert [(e["service"], e["end"], e["points"]) for e in later] == [
        ("cart", T12 + 70 * MIN, 12), ("redis", T12 + 80 * MIN, 50)
    ]  # fmt: skip
    newest = {row["service"]: row for row in store.read("anomaly_events")}
    assert newest["redis"]["end"] == T12 + 80 * MIN  # the rerun did not shrink it
    assert newest["redis"]["as_of"] == T12 + 2 * HOUR


def test_an_event_a_rerun_no_longer_finds_is_gone_from_its_hour(store: Store) -> None:
    end = T12 + HOUR
    store_events(store, "redis", [event("redis", T12 + 30 * MIN, T12 + 40 * MIN, 10)], end)
    assert len(events_as_of(store, T12, end)) == 1
    store_events(store, "redis", [], end)  # e.g. retrained models see nothing there
    assert events_as_of(store, T12, end) == []


def test_events_that_ended_before_the_window_are_not_read(store: Store) -> None:
    end = T12 + HOUR
    store_events(store, "redis", [event("redis", T12, T12 + 10 * MIN, 10)], end)
    assert events_as_of(store, T12 + 10 * MIN, end) == []  # an end is exclusive
    assert len(events_as_of(store, T12 + 9 * MIN, end)) == 1
    assert events_as_of(store, T12, end - MIN) == []  # a run before the one that wrote it


def test_a_version_1_store_keeps_its_events_readable(store_url: str) -> None:
    """Events stored before runs were recorded read as they did: from their own start."""
    with Store.open(store_url, migrations=()) as old:
        with old.engine.begin() as conn:  # the v1 layout: no snapshots, no as_of
            conn.execute(text("DROP TABLE anomaly_event_snapshots"))
            conn.execute(text("ALTER TABLE anomaly_events DROP COLUMN as_of"))
            conn.execute(text("ALTER TABLE anomaly_events DROP COLUMN signal_kind"))
        legacy = event("redis", T12 + 30 * MIN, T12 + 90 * MIN, 60)
        with old.engine.begin() as conn:  # only the columns given: as_of stays out
            conn.execute(insert(anomaly_events), [legacy])
    with Store.open(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION == 6
        (row,) = upgraded.read("anomaly_events")
        assert row["as_of"] == legacy["start"]
        # v4: the kind was not recorded; ranking reads "" (a kind it does not know)
        assert row["signal_kind"] is None
        assert from_anomaly_event(row).signal_kind == ""
        (seen,) = events_as_of(upgraded, T12, T12 + HOUR)
        assert (seen["start"], seen["points"]) == (legacy["start"], 60)
        # a run after the upgrade replaces the legacy view, as runs did before
        store_events(upgraded, "redis", [{**legacy, "end": T12 + 2 * HOUR, "points": 90}],
                     T12 + 2 * HOUR)  # fmt: skip
        assert upgraded.read("anomaly_events")[0]["points"] == 90
