"""A run summary is what the run left: a late rerun of an hour, after the next hour ran, stores
the same summary the first run stored; and the summary says which optional integrations the
run went without."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiops.metrics.event_store import store_events
from aiops.pipeline_runs import run_summary, store_run_summary, summary_line
from aiops.store import SCHEMA_VERSION, Store

H = timedelta(hours=1)
STEP = timedelta(minutes=5)
HORIZON = 3 * H
HOUR_START = datetime(2026, 10, 30, 10, tzinfo=UTC)


@pytest.fixture
def store(tmp_path) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'aiops.db'}") as opened:
        yield opened


def _forecasts(origin: datetime) -> list[dict]:
    """What the hourly prediction writes from ``origin``: targets origin + step .. + horizon."""
    targets = [origin + STEP * i for i in range(1, HORIZON // STEP + 1)]
    return [
        {"service": service, "metric": "request_rate", "target_time": target,
         "generated_at": origin, "value": 1.0, "model": "naive", "model_version": "v1"}
        for service in ("cart", "auth") for target in targets
    ]  # fmt: skip


def _event(start: datetime, end: datetime) -> dict:
    return {
        "service": "cart", "signal": "latency_p95", "kind": "anomaly", "start": start,
        "end": end, "severity": "warning", "confidence": 0.9, "direction": "above",
        "points": 5, "peak_score": 6.0, "explanation": "high", "detector": "seasonal",
        "model_version": "v1",
    }  # fmt: skip


def _alert(generated_at: datetime) -> dict:
    return {
        "service": "cart", "signal": "memory", "generated_at": generated_at,
        "severity": "warning", "threshold": 1.0, "horizon_seconds": HORIZON.total_seconds(),
        "message": "will cross", "model": "naive", "model_version": "v1",
    }  # fmt: skip


def _run_hour(store: Store, start: datetime) -> dict:
    """What the hourly DAG writes for [start, start + 1h), the way its steps write it, and the
    summary its record_run stores."""
    end = start + H
    # an event that began in the first hour and that the next hour extends
    store_events(store, "cart", [_event(HOUR_START + 20 * timedelta(minutes=1), end)], end)
    store.upsert("predictions", _forecasts(end), newer="generated_at")
    store.upsert("predictive_alerts", [_alert(end)])
    return store_run_summary(store, "aiops_hourly", start, end)


def test_a_late_rerun_of_an_hour_stores_the_summary_its_first_run_stored(store: Store) -> None:
    first = _run_hour(store, HOUR_START)
    stored = store.read("pipeline_runs", interval_start=HOUR_START)
    _run_hour(store, HOUR_START + H)  # the next hour: replaces the overlapping forecasts
    again = _run_hour(store, HOUR_START)  # the late rerun

    assert again == first
    assert store.read("pipeline_runs", interval_start=HOUR_START) == stored
    # what the hour counts: its own forecasts up to the next run's origin, both series
    assert (first["predictions"], first["predicted_series"]) == (2 * (H // STEP), 2)
    assert (first["events"], first["predictive_alerts"]) == (1, 1)


def test_the_summary_lists_the_integrations_the_run_went_without(store: Store) -> None:
    end = HOUR_START + H
    row = run_summary(store, "aiops_hourly", HOUR_START, end, not_configured=["traces", "logs"])
    assert row["not_configured"] == ["logs", "traces"]
    assert summary_line(row).endswith("; not configured: logs, traces")
    configured = run_summary(store, "aiops_hourly", HOUR_START, end)
    assert configured["not_configured"] == []
    assert "not configured" not in summary_line(configured)


def test_the_stored_row_lists_the_integrations_the_run_went_without(store: Store) -> None:
    end = HOUR_START + H
    store_run_summary(store, "aiops_nightly", HOUR_START, end, not_configured=["logs"])
    (row,) = store.read("pipeline_runs")
    assert row["not_configured"] == ["logs"]


def test_a_store_from_before_the_column_gains_it_on_upgrade(tmp_path) -> None:
    """Schema v3: a store whose runs predate `not_configured` opens, keeps its rows (None:
    they said nothing) and stores the list from then on."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Store.open(url) as old:
        store_run_summary(old, "aiops_hourly", HOUR_START, HOUR_START + H)
        with old.engine.begin() as conn:
            conn.execute(text("ALTER TABLE pipeline_runs DROP COLUMN not_configured"))
            conn.execute(text("UPDATE schema_version SET version = 2"))
    with Store.open(url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION == 6
        (row,) = upgraded.read("pipeline_runs")
        assert row["not_configured"] in (None, [])
        store_run_summary(upgraded, "aiops_hourly", HOUR_START + H, HOUR_START + 2 * H,
                          not_configured=["logs"])  # fmt: skip
        assert upgraded.read("pipeline_runs")[-1]["not_configured"] == ["logs"]
