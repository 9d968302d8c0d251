"""The results store keeps one row per key, round-trips UTC times and versions its schema.

Every behaviour runs on SQLite (a file under tmp_path) and on a real PostgreSQL on loopback
(a throwaway database per module; skipped, with the reason, when no server answers).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, Connection, Text, select, text
from sqlalchemy.engine import make_url

from aiops.settings import default_store_url, resolve_store_url
from aiops.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    Store,
    StoreError,
    add_column,
    schema_version,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def summary_row(**overrides: object) -> dict[str, object]:
    """A complete series_summary row for the 10:00-11:00 UTC interval of cart/cpu."""
    row: dict[str, object] = {
        "interval_start": T0,
        "interval_end": T0 + HOUR,
        "service": "cart",
        "signal": "cpu",
        "source": "prometheus",
        "query": 'sum(rate(cpu{service="cart"}[5m]))',
        "step_seconds": 60.0,
        "points": 58,
        "expected_points": 60,
        "gaps": 2,
        "max_gap_seconds": 120.0,
        "non_finite": 0,
        "value_min": 0.1,
        "value_max": 0.9,
        "value_mean": 0.5,
        "value_last": 0.4,
        "first_ts": T0,
        "last_ts": T0 + HOUR - timedelta(minutes=1),
        "warnings": ["2 missing steps"],
    }
    row.update(overrides)
    return row


# --- upserts -------------------------------------------------------------------------------


def test_upsert_same_key_twice_keeps_one_row_with_second_values(store: Store) -> None:
    store.upsert("series_summary", [summary_row(points=58, warnings=["first"])])
    written = store.upsert("series_summary", [summary_row(points=60, warnings=[])])

    rows = store.read("series_summary")
    assert written == 1
    assert len(rows) == 1
    assert rows[0]["points"] == 60
    assert rows[0]["warnings"] == []


def test_rerunning_the_same_batch_leaves_the_table_identical(store: Store) -> None:
    batch = [summary_row(service=s, signal=g) for s in ("cart", "checkout") for g in ("cpu", "rps")]
    store.upsert("series_summary", batch)
    before = store.read("series_summary")

    store.upsert("series_summary", batch)

    assert store.count("series_summary") == 4
    assert store.read("series_summary") == before


def test_a_different_interval_end_with_the_same_start_is_a_different_row(store: Store) -> None:
    store.upsert("series_summary", [summary_row(interval_end=T0 + HOUR)])
    store.upsert("series_summary", [summary_row(interval_end=T0 + 2 * HOUR)])

    ends = [row["interval_end"] for row in store.read("series_summary", interval_start=T0)]
    assert ends == [T0 + HOUR, T0 + 2 * HOUR]


def _prediction(generated_at: datetime, value: float) -> dict[str, object]:
    return {
        "service": "search",
        "metric": "request_rate",
        "target_time": T0 + 3 * HOUR,
        "generated_at": generated_at,
        "value": value,
        "model": "seasonal_naive",
        "model_version": "v1",
    }


def test_upsert_newer_lets_a_later_run_replace_but_never_an_older_backfill(store: Store) -> None:
    store.upsert("predictions", [_prediction(T0 + HOUR, 10.0)], newer="generated_at")
    store.upsert("predictions", [_prediction(T0 + 2 * HOUR, 20.0)], newer="generated_at")
    store.upsert("predictions", [_prediction(T0 + HOUR, 11.0)], newer="generated_at")  # backfill
    (row,) = store.read("predictions")
    assert (row["generated_at"], row["value"]) == (T0 + 2 * HOUR, 20.0)

    store.upsert("predictions", [_prediction(T0 + 2 * HOUR, 21.0)], newer="generated_at")  # rerun
    assert [r["value"] for r in store.read("predictions")] == [21.0]


def test_read_bounds_both_sides_in_the_query(store: Store) -> None:
    rows = [{**_prediction(T0 + HOUR, float(k)), "target_time": T0 + k * HOUR} for k in range(1, 6)]
    rows[4]["generated_at"] = T0 + 5 * HOUR  # made later than the reader's now
    store.upsert("predictions", rows)
    got = store.read(
        "predictions",
        at_least={"target_time": T0 + 2 * HOUR},
        at_most={"target_time": T0 + 5 * HOUR, "generated_at": T0 + 2 * HOUR},
    )
    assert [r["value"] for r in got] == [2.0, 3.0, 4.0]
    with pytest.raises(StoreError, match="has no column"):
        store.read("predictions", at_most={"made_at": T0})


def test_upsert_newer_names_an_unknown_column(store: Store) -> None:
    with pytest.raises(StoreError, match="no column 'made_at'"):
        store.upsert("predictions", [_prediction(T0, 1.0)], newer="made_at")


def test_read_filters_by_equality_and_orders_by_key(store: Store) -> None:
    store.upsert(
        "series_summary",
        [summary_row(service="payments"), summary_row(service="cart", signal="rps")]
        + [summary_row(service="cart", signal="cpu")],
    )

    cart = store.read("series_summary", service="cart")

    assert [(r["service"], r["signal"]) for r in cart] == [("cart", "cpu"), ("cart", "rps")]
    with pytest.raises(StoreError, match="no column.*colour"):
        store.read("series_summary", colour="red")


def test_a_large_batch_upserts_in_one_call(store: Store) -> None:
    batch = [summary_row(service=f"svc-{i:05d}") for i in range(5_000)]

    assert store.upsert("series_summary", batch) == 5_000
    assert store.upsert("series_summary", batch) == 5_000
    assert store.count("series_summary") == 5_000


def test_rows_from_a_dataframe_store_nan_as_null_and_numpy_as_plain(store: Store) -> None:
    frame = pd.DataFrame([summary_row(value_min=np.nan, last_ts=pd.NaT, points=np.int64(7))])

    store.upsert("series_summary", frame.to_dict("records"))

    row = store.read("series_summary")[0]
    assert row["value_min"] is None
    assert row["last_ts"] is None
    assert row["points"] == 7
    read_back = store.read_frame("series_summary")
    assert str(read_back["interval_start"].dtype) == "datetime64[us, UTC]"
    assert read_back["value_min"].isna().all()


def test_a_row_missing_a_required_value_is_refused_and_nothing_is_written(store: Store) -> None:
    good, bad = summary_row(service="a"), summary_row(service="b", source=None)

    with pytest.raises(StoreError, match="row 1: missing value.*source"):
        store.upsert("series_summary", [good, bad])
    assert store.count("series_summary") == 0


# --- time ----------------------------------------------------------------------------------


def test_datetimes_come_back_tz_aware_utc_equal_to_what_was_written(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    first_local = datetime(2024, 5, 1, 12, 0, 30, 250, tzinfo=plus_two)  # 10:00:30.000250Z
    store.upsert(
        "series_summary",
        [summary_row(first_ts=first_local, last_ts=pd.Timestamp("2024-05-01 10:59", tz="UTC"))],
    )

    row = store.read("series_summary")[0]

    assert row["first_ts"] == datetime(2024, 5, 1, 10, 0, 30, 250, tzinfo=UTC)
    for column in ("interval_start", "interval_end", "first_ts", "last_ts"):
        assert row[column].utcoffset() == timedelta(0), column
        assert type(row[column]) is datetime, column
    assert row["last_ts"] == datetime(2024, 5, 1, 10, 59, tzinfo=UTC)
    # The same interval given in +02:00 addresses the same row.
    assert len(store.read("series_summary", interval_start=T0.astimezone(plus_two))) == 1


def test_a_naive_datetime_is_rejected_with_a_clear_message(store: Store) -> None:
    with pytest.raises(StoreError, match=r"row 0 column interval_start: naive datetime"):
        store.upsert("series_summary", [summary_row(interval_start=datetime(2024, 5, 1, 10))])
    with pytest.raises(StoreError, match="naive datetime"):
        store.read("series_summary", interval_start=datetime(2024, 5, 1, 10))
    assert store.count("series_summary") == 0


# --- schema versions -----------------------------------------------------------------------


def _versions(store: Store) -> list[tuple[int, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema_version).order_by(schema_version.c.version))
        return [tuple(row) for row in rows]


def test_a_new_store_records_the_current_schema_version(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert [version for version, _ in _versions(store)] == [SCHEMA_VERSION]


def test_reopening_a_store_changes_nothing(store: Store, store_url: str) -> None:
    store.upsert("series_summary", [summary_row()])
    before = (_versions(store), store.read("series_summary"))

    with Store.open(store_url) as reopened:
        assert (_versions(reopened), reopened.read("series_summary")) == before


def test_a_store_with_a_newer_schema_is_refused(store: Store, store_url: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema_version.insert().values(version=99, description="from the future"))

    with pytest.raises(StoreError) as raised:
        Store.open(store_url)

    message = str(raised.value)
    assert "version 99" in message
    assert f"version {SCHEMA_VERSION}" in message
    assert make_url(store_url).render_as_string(hide_password=True) in message


def test_a_pending_migration_step_runs_once(store: Store, store_url: str) -> None:
    calls: list[int] = []

    def add_note(conn: Connection) -> None:
        calls.append(1)
        add_column(conn, "series_summary", Column("note", Text))

    steps = [*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "series_summary.note", add_note)]
    store.upsert("series_summary", [summary_row()])

    for _ in range(2):
        with Store.open(store_url, migrations=steps) as upgraded:
            assert upgraded.schema_version() == SCHEMA_VERSION + 1

    assert calls == [1]
    assert _versions(store)[-1] == (SCHEMA_VERSION + 1, "series_summary.note")
    assert store.count("series_summary") == 1
    with pytest.raises(StoreError, match=f"version {SCHEMA_VERSION + 1}.*version {SCHEMA_VERSION}"):
        Store.open(store_url)  # this code's own steps stop one version short


def test_a_v4_store_gains_the_ledger_last_told_and_keeps_its_entries(store_url: str) -> None:
    """v5: issue_ledger.last_told. Entries filed before it stay, saying nothing (their next
    comment is made as before), and the column stores a finding from then on."""
    from aiops.sinks.ledger import read_ledger, write_ledger

    filed = {"sink": "file:///issues", "repository": "acme/catalog", "fingerprint": "f1",
             "number": None, "url": "file:///issues/f1.md", "state": "open",
             "state_reason": None, "kind": "n_plus_one", "service": "catalog", "title": "N+1",
             "first_interval_end": T0, "last_interval_end": T0, "last_write_day": "2024-05-01",
             "comments": 2}  # fmt: skip
    with Store.open(store_url) as old:
        old.upsert("issue_ledger", [filed])
        with old.engine.begin() as conn:  # the v4 layout
            conn.execute(text("ALTER TABLE issue_ledger DROP COLUMN last_told"))
            conn.execute(text("UPDATE schema_version SET version = 4"))
    with Store.open(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert (5, "issue_ledger: last_told") in _versions(upgraded)
        ((_, entry),) = read_ledger(upgraded, "file:///issues").items()
        assert (entry.fingerprint, entry.comments, entry.last_told) == ("f1", 2, None)
        told = {"fingerprint": "f1", "evidence": {"numbers": {"repeats_median": 18}}}
        write_ledger(upgraded, [replace(entry, last_told=told)])
        assert read_ledger(upgraded, "file:///issues")[entry.key].last_told == told


def test_a_v5_store_gains_the_alert_picture_and_keeps_its_alerts(store_url: str) -> None:
    """v6: predictive_alerts.picture. Alerts stored before keep every value and have no
    picture; a picture stored after comes back as stored."""
    alert = {"service": "cart", "signal": "latency_p95", "generated_at": T0,
             "severity": "warning", "threshold": 0.25, "observed": 0.2, "breach_at": T0,
             "breach_earliest": T0, "breach_latest": None, "horizon_seconds": 3600.0,
             "message": "latency_p95 crosses 250ms in 1h", "model": "prophet",
             "model_version": "v1"}  # fmt: skip
    with Store.open(store_url) as old:
        old.upsert("predictive_alerts", [alert])
        with old.engine.begin() as conn:  # the v5 layout
            conn.execute(text("ALTER TABLE predictive_alerts DROP COLUMN picture"))
            conn.execute(text("UPDATE schema_version SET version = 5"))
    with Store.open(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert _versions(upgraded)[-1] == (6, "predictive_alerts: picture")
        (row,) = upgraded.read("predictive_alerts")
        assert row == {**alert, "picture": {}}  # JSONDoc reads NULL as an empty document
        picture = {"type": "forecast", "service": "cart"}
        upgraded.upsert("predictive_alerts", [{**alert, "picture": picture}])
        assert upgraded.read("predictive_alerts")[0]["picture"] == picture


def test_concurrent_openers_of_a_new_store_all_succeed(store_url: str) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            Store.open(store_url).close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with Store.open(store_url) as store:
        assert [version for version, _ in _versions(store)] == [SCHEMA_VERSION]


# --- URLs and errors -----------------------------------------------------------------------


def test_an_unreachable_store_error_names_the_url_without_its_password() -> None:
    with pytest.raises(StoreError) as raised:
        Store.open("postgres://aiops:s3cret-pw@127.0.0.1:1/results")

    message = str(raised.value)
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg2://aiops:***@127.0.0.1:1/results" in message


def test_an_unsupported_database_is_named_in_the_error() -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'") as raised:
        Store.open("mysql://aiops:s3cret-pw@localhost/results")
    assert "s3cret-pw" not in str(raised.value)


def test_an_unknown_table_is_named_with_the_known_ones(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown table 'nope'.*series_summary"):
        store.upsert("nope", [{}])


def test_store_url_comes_from_argument_then_environment_then_aiops_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIOPS_STORE_URL", raising=False)
    assert default_store_url() == f"sqlite:///{tmp_path / 'home' / 'aiops.db'}"
    assert resolve_store_url() == default_store_url()

    monkeypatch.setenv("AIOPS_STORE_URL", "postgres://u:p@db:5432/aiops")
    assert resolve_store_url() == "postgresql+psycopg2://u:p@db:5432/aiops"
    assert resolve_store_url("postgresql://h/x") == "postgresql+psycopg2://h/x"
    assert resolve_store_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_default_store_is_created_under_aiops_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path / "fresh" / "home"))
    monkeypatch.delenv("AIOPS_STORE_URL", raising=False)

    with Store.open() as opened:
        opened.upsert("series_summary", [summary_row()])

    assert (tmp_path / "fresh" / "home" / "aiops.db").is_file()


def test_read_with_a_lower_bound_returns_only_rows_at_or_after_it(store) -> None:
    """The hourly scorer asks for events still running; it must not read the whole history."""
    base = datetime(2026, 10, 31, tzinfo=UTC)
    rows = [
        summary_row(
            interval_start=base + timedelta(hours=h), interval_end=base + timedelta(hours=h + 1)
        )
        for h in range(5)
    ]
    store.upsert("series_summary", rows)
    got = store.read("series_summary", at_least={"interval_end": base + timedelta(hours=3)})
    assert [r["interval_start"] for r in got] == [base + timedelta(hours=h) for h in (2, 3, 4)]
    with pytest.raises(StoreError, match="no column"):
        store.read("series_summary", at_least={"nope": 1})
