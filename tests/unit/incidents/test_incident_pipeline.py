"""The hourly correlation step and the nightly incident report on a real SQLite store: the
rows the other tasks write go in as they write them, and the incidents come out as people
read them (one per problem, rooted at the backend, an ID that lasts, no look-ahead)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiops.catalog import CatalogError, IncidentSettings, parse_catalog
from aiops.incidents.pipeline import correlate_window, latest_incidents, store_incidents
from aiops.incidents.report import alert_volume, incident_finding
from aiops.store import Store
from aiops.traces.model import Edge
from support.catalogs import catalog_yaml
from support.stores import store_as_hourly_runs

DAY = datetime(2026, 10, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
CASCADE = ("gateway>auth", "auth>redis", "billing>postgres")


def hm(hour: int, minute: int = 0, day: datetime = DAY) -> datetime:
    return day + hour * HOUR + minute * MINUTE


@pytest.fixture
def store(tmp_path) -> Store:
    with Store.open(f"sqlite:///{tmp_path}/aiops.db") as opened:
        yield opened


def put_map(store: Store, day: datetime, pairs=CASCADE) -> None:
    """A nightly trace window's edges, stored as the trace pipeline stores them."""
    window = {"interval_start": day, "interval_end": day + timedelta(days=1)}
    edges = [Edge(p, c, 100, 1, 5.0, 20.0, 40.0, ("GET /x",)) for p, c in
             (pair.split(">") for pair in pairs)]  # fmt: skip
    store.replace("dependency_edges", [{**window, **e.to_json()} for e in edges], **window)


def metric(service: str, start: datetime, end: datetime, z: float, signal: str = "latency_p95"):
    """An `anomaly_events` row as events_for_series writes it."""
    points = int((end - start) / MINUTE)
    return {"service": service, "signal": signal, "kind": "anomaly", "start": start, "end": end,
            "severity": "critical" if z >= 8 else "warning", "confidence": 0.9,
            "direction": "above", "points": points, "peak_score": z, "observed": 0.4,
            "expected_low": 0.18, "expected_high": 0.24,
            "explanation": f"{signal} {z} robust sigma above", "detector": "seasonal",
            "model_version": "20261029T000000Z", "context": {}}  # fmt: skip


def log_row(service: str, start: datetime, end: datetime, kind: str = "error_ratio",
            template_id: str = "", level: str = "ERROR", score: float = 8.0, detail=None):  # fmt: skip
    """A `log_anomalies` row as service_log_anomalies writes it."""
    return {"interval_start": start, "interval_end": end, "service": service, "kind": kind,
            "template_id": template_id, "template": f"{service} failed <*>" if template_id else "",
            "level": level, "observed": 0.2, "expected": 0.01, "score": score,
            "detail": detail or {"errors": 40, "lines": 200, "history_lines": 5000}}  # fmt: skip


def forecast(service: str, generated_at: datetime, signal: str = "memory") -> dict[str, Any]:
    """A `predictive_alerts` row as Breach.row writes it."""
    return {"service": service, "signal": signal, "generated_at": generated_at,
            "severity": "warning", "threshold": 2e9, "observed": 1.5e9,
            "breach_at": generated_at + 2 * HOUR, "breach_earliest": generated_at + HOUR,
            "breach_latest": None, "horizon_seconds": 6 * 3600.0,
            "message": f"{service} {signal} will reach its limit", "model": "ets",
            "model_version": "20261029T000000Z"}  # fmt: skip


def put(store: Store, *rows: dict[str, Any]) -> None:
    """Rows into the table their shape belongs to, the way each producer stores them."""
    for row in rows:
        if "peak_score" in row:
            store_as_hourly_runs(store, row)
        elif "generated_at" in row:
            store.upsert("predictive_alerts", [row])
        else:
            window = {k: row[k] for k in ("interval_start", "interval_end")}
            store.replace("log_anomalies", [*store.read("log_anomalies", **window), row], **window)


def run(store: Store, start: datetime, settings: IncidentSettings | None = None):
    correlation = correlate_window(store, start, start + HOUR, settings or IncidentSettings())
    store_incidents(store, correlation, start, start + HOUR)
    return correlation


def rows_of(store: Store, start: datetime) -> list[dict[str, Any]]:
    return store.read("incidents", interval_start=start, interval_end=start + HOUR)


def with_service(rows: list[dict[str, Any]], service: str) -> dict[str, Any]:
    (row,) = [r for r in rows if service in r["services"]]
    return row


def canonical(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, sort_keys=True, default=str)


# --- one hour -----------------------------------------------------------------------------


def test_a_cascade_is_one_incident_rooted_at_the_backend(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    rows = [metric("redis", hm(14, 10), hm(14, 30), 9), metric("auth", hm(14, 11), hm(14, 40), 7),
            metric("gateway", hm(14, 12), hm(15), 8)]  # fmt: skip
    put(store, *rows)
    correlation = run(store, hm(14))
    assert correlation.events == 3 and correlation.graph_window == "traces of 2026-10-29"
    (row,) = rows_of(store, hm(14))
    assert row["root_service"] == "redis" and row["method"] == "random_walk"
    assert row["services"] == ["auth", "gateway", "redis"]
    assert row["graph_window"] == "traces of 2026-10-29"
    assert (row["start"], row["end"]) == (hm(14, 10), hm(15))
    assert row["status"] == "open"  # gateway's event runs to the interval's end
    assert row["metric_events"] == 3 and row["points"] == sum(r["points"] for r in rows)
    put(store, metric("gateway", hm(14, 12), hm(14, 50), 8))  # it had ended after all
    run(store, hm(14))
    (row,) = rows_of(store, hm(14))
    assert row["status"] == "resolved" and row["end"] == hm(14, 50)


def test_a_rerun_of_the_hour_writes_the_same_rows(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    put(store, metric("redis", hm(14, 10), hm(14, 30), 9), metric("auth", hm(14, 11), hm(15), 7),
        metric("postgres", hm(14, 20), hm(14, 35), 6), log_row("auth", hm(14), hm(15)),
        forecast("auth", hm(15)))  # fmt: skip
    run(store, hm(14))
    before = store.read("incidents")
    assert len(before) == 2
    assert [sum(r[f"{s}_events"] for r in before) for s in ("metric", "log", "predictive")] == [
        3, 1, 1
    ]  # fmt: skip
    run(store, hm(14))
    assert canonical(store.read("incidents")) == canonical(before)


def test_no_look_ahead_past_the_interval_end(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    put(store, metric("redis", hm(14, 30), hm(15, 40), 9),  # extended by the 15:00 run
        metric("auth", hm(15, 5), hm(15, 30), 12),  # began after this interval
        log_row("auth", hm(15), hm(16)), forecast("redis", hm(16)))  # the next hour's  # fmt: skip
    correlation = run(store, hm(14))
    assert correlation.events == 1
    (row,) = rows_of(store, hm(14))
    assert row["services"] == ["redis"] and row["status"] == "open"
    (event,) = row["events"]
    assert event["end"] == hm(15).isoformat() and row["end"] == hm(15)


# --- across hours ---------------------------------------------------------------------------


def test_an_incident_keeps_its_id_into_the_next_hour(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    put(store, metric("redis", hm(14, 20), hm(14, 30), 9), metric("auth", hm(14, 22), hm(15), 8),
        metric("billing", hm(14, 35), hm(14, 50), 6))  # fmt: skip
    run(store, hm(14))
    first = with_service(rows_of(store, hm(14)), "auth")
    # the 15:00 run extends auth's event (same start) and sees something new and unrelated
    put(
        store,
        metric("auth", hm(14, 22), hm(15, 20), 8),
        metric("postgres", hm(15, 40), hm(15, 50), 6),
    )
    run(store, hm(15))
    rows = rows_of(store, hm(15))
    assert len(rows) == 2  # billing's incident ended in the lookback: the last hour's news
    again, new = with_service(rows, "auth"), with_service(rows, "postgres")
    assert again["incident_id"] == first["incident_id"]
    # redis's event ended before this hour's lookback, the incident still began with it
    assert again["start"] == hm(14, 20) == first["start"]
    assert again["status"] == "resolved" and again["end"] == hm(15, 20)
    assert new["incident_id"] != first["incident_id"]


def test_the_dependency_map_is_the_newest_window_that_ended_by_the_interval(store: Store) -> None:
    settings = IncidentSettings(without_map="service")
    put_map(store, DAY - timedelta(days=2), ("gateway>auth",))  # older, no redis edge
    put_map(store, DAY - timedelta(days=1), ("gateway>auth", "auth>redis"))
    put_map(store, DAY, ("gateway>redis",))  # analysed after the day ends: the future
    put(
        store, metric("redis", hm(14, 10), hm(14, 30), 9), metric("auth", hm(14, 12), hm(14, 40), 7)
    )
    assert run(store, hm(14), settings).graph_window == "traces of 2026-10-29"
    (row,) = rows_of(store, hm(14))
    assert row["services"] == ["auth", "redis"] and row["root_service"] == "redis"


def test_a_map_older_than_the_limit_is_not_used(store: Store) -> None:
    put_map(store, DAY - timedelta(days=9))
    put(
        store, metric("redis", hm(14, 10), hm(14, 30), 9), metric("auth", hm(14, 12), hm(14, 40), 7)
    )
    apart = run(store, hm(14), IncidentSettings(map_max_age_days=7, without_map="service"))
    assert apart.graph_window == "" and len(apart.incidents) == 2
    by_time = run(store, hm(14), IncidentSettings(map_max_age_days=7, without_map="time"))
    (row,) = rows_of(store, hm(14))
    assert by_time.graph_window == row["graph_window"] == ""
    assert row["method"] == "onset_order" and row["root_service"] == "redis"
    fresh_enough = run(store, hm(14), IncidentSettings(map_max_age_days=10, without_map="service"))
    assert fresh_enough.graph_window == f"traces of {DAY - timedelta(days=9):%Y-%m-%d}"
    assert len(fresh_enough.incidents) == 1


def test_hourly_log_anomalies_join_and_nightly_rows_do_not(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    late = hm(23)  # the last hour: the nightly row's interval ends with it
    put(store, metric("redis", hm(23, 10), hm(23, 30), 9), metric("auth", hm(23, 12), hm(23, 40), 7),
        log_row("auth", late, late + HOUR), log_row("gateway", late, late + HOUR),
        log_row("gateway", DAY, DAY + timedelta(days=1), "spike", "t-night", "WARN", 11.0),
        log_row("auth", late, late + HOUR, "new_template", "t-info", "INFO", 30.0,
                {"first_seen": hm(23, 5).isoformat(), "samples": ["auth ready"]}))  # fmt: skip
    correlation = run(store, late)
    assert correlation.events == 4  # two metric events and the two hourly log rows
    row, alone = sorted(rows_of(store, late), key=lambda r: -len(r["services"]))
    # auth's log row joins auth's event; gateway's, known only to the hour, says nothing
    # about another service and stays an incident of its own
    assert row["services"] == ["auth", "redis"] and alone["services"] == ["gateway"]
    assert (row["metric_events"], row["log_events"]) == (2, 1)
    assert row["root_service"] == "redis"  # a log row's hour start is not an onset
    assert row["status"] == "resolved"  # nor does its hour's end keep the incident open
    assert {e["key"] for e in row["events"] if e["source"] == "log"} == {"log|auth|error_ratio|"}


# --- the night --------------------------------------------------------------------------------


def two_hours_of_one_incident(store: Store) -> list[dict[str, Any]]:
    """The cascade's events as the 15:00 run extended them, and a one-service incident."""
    put_map(store, DAY - timedelta(days=1))
    put(store, metric("redis", hm(14, 40), hm(15), 9), metric("auth", hm(14, 42), hm(15), 7),
        metric("gateway", hm(14, 43), hm(15), 8))  # fmt: skip
    run(store, hm(14))
    rows = [metric("redis", hm(14, 40), hm(15, 10), 9), metric("auth", hm(14, 42), hm(15, 15), 7),
            metric("gateway", hm(14, 43), hm(15, 20), 8),
            metric("billing", hm(15, 30), hm(15, 45), 6)]  # fmt: skip
    put(store, *rows)
    run(store, hm(15))
    return rows


def test_the_night_reports_each_incident_as_its_newest_hour_saw_it(store: Store) -> None:
    newest = two_hours_of_one_incident(store)
    (early,) = rows_of(store, hm(14))
    later = with_service(rows_of(store, hm(15)), "redis")
    assert later["incident_id"] == early["incident_id"]
    latest = latest_incidents(store, DAY, DAY + timedelta(days=1))
    assert len(latest) == 2
    row = with_service(latest, "redis")
    assert row["interval_end"] == hm(16) and row["end"] == hm(15, 20)
    finding = incident_finding(row)
    assert (finding.source, finding.kind, finding.service) == ("incidents", "incident", "redis")
    assert finding.key == {"incident_id": row["incident_id"]}
    numbers = finding.evidence.numbers
    assert numbers["candidate_1"].startswith("redis: ")
    assert numbers["spread_1"].startswith("redis ")
    assert numbers["incident_id"] == row["incident_id"]
    assert incident_finding(early).fingerprint == finding.fingerprint
    volume = alert_volume(latest, DAY, DAY + timedelta(days=1))
    # the newest rows: each event once, its points as the newest hour saw them
    assert (volume["events"], volume["metric_events"], volume["incidents"]) == (4, 4, 2)
    assert volume["multi_service_incidents"] == 1
    assert volume["points"] == sum(r["points"] for r in newest)
    assert volume["points"] >= volume["events"] >= volume["incidents"]


def test_incidents_that_merge_keep_the_oldest_id_and_count_shared_events_once(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1), ("billing>postgres", "billing>redis"))
    put(store, metric("postgres", hm(14, 30), hm(15), 6), metric("redis", hm(14, 40), hm(15), 9))
    run(store, hm(14))
    older, younger = (with_service(rows_of(store, hm(14)), s) for s in ("postgres", "redis"))
    assert older["incident_id"] != younger["incident_id"]  # two calls apart: not related
    # billing calls both: the next hour they are one incident, under the older one's ID
    put(
        store,
        metric("postgres", hm(14, 30), hm(15, 30), 6),
        metric("redis", hm(14, 40), hm(15, 30), 9),
        # began in the last hour, first scored in this one (the scorer's lookback)
        metric("billing", hm(14, 41), hm(15, 20), 7),
    )
    run(store, hm(15))
    (merged,) = rows_of(store, hm(15))
    assert merged["incident_id"] == older["incident_id"] and merged["start"] == hm(14, 30)
    latest = latest_incidents(store, DAY, DAY + timedelta(days=1))
    assert {r["incident_id"] for r in latest} == {older["incident_id"], younger["incident_id"]}
    volume = alert_volume(latest, DAY, DAY + timedelta(days=1))
    # redis's event is in both rows and counts once, as the newest hour saw it (50 points)
    assert (volume["events"], volume["incidents"]) == (3, 2)
    assert volume["points"] == 60 + 50 + 39


def test_the_newest_row_keeps_the_events_of_earlier_hours(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1))
    put(store, metric("redis", hm(14, 20), hm(14, 30), 9), metric("auth", hm(14, 22), hm(15), 8))
    run(store, hm(14))
    put(store, metric("auth", hm(14, 22), hm(15, 20), 8))
    run(store, hm(15))
    latest = latest_incidents(store, DAY, DAY + timedelta(days=1))
    (row,) = latest
    assert alert_volume(latest, DAY, DAY + timedelta(days=1))["events"] == 2
    assert row["services"] == ["auth", "redis"]
    assert incident_finding(row).service == "redis"


def test_separate_incidents_of_one_day_get_separate_ids(store: Store) -> None:
    put_map(store, DAY - timedelta(days=1), ("checkout>payment",))
    for hour in (10, 16):
        put(store, log_row("payment", hm(hour), hm(hour + 1)),
            metric("payment", hm(hour, 10), hm(hour, 30), 9),
            metric("checkout", hm(hour, 12), hm(hour, 30), 7))  # fmt: skip
        run(store, hm(hour))
    morning, afternoon = rows_of(store, hm(10)), rows_of(store, hm(16))
    assert len(morning) == len(afternoon) == 1
    assert morning[0]["incident_id"] != afternoon[0]["incident_id"]
    latest = latest_incidents(store, DAY, DAY + timedelta(days=1))
    assert alert_volume(latest, DAY, DAY + timedelta(days=1))["incidents"] == 2


# --- the catalog ------------------------------------------------------------------------------

SERVICES = "  redis: {owner: acme-shop/redis, team: platform}\n"


def test_the_catalog_incidents_section_validates_and_reports_bad_lines() -> None:
    section = ("incidents:\n  window_minutes: 20\n  max_hops: 2\n  map_max_age_days: 3\n"
               "  without_map: service\n  min_events_for_issue: 3\n")  # fmt: skip
    settings = parse_catalog(catalog_yaml(SERVICES) + section, "c.yaml").incidents
    assert settings == IncidentSettings(window_minutes=20, max_hops=2, map_max_age_days=3,
                                        without_map="service", min_events_for_issue=3)  # fmt: skip
    assert parse_catalog(catalog_yaml(SERVICES), "c.yaml").incidents == IncidentSettings()
    for key, bad in (("max_hops", "0"), ("without_map", "x")):
        text = catalog_yaml(SERVICES) + "incidents:\n  window_minutes: 20\n" + f"  {key}: {bad}\n"
        line = len(text.splitlines())
        with pytest.raises(CatalogError) as info:
            parse_catalog(text, "c.yaml")
        assert str(info.value).startswith(f"c.yaml:{line}: incidents.{key}: ")
