"""Results stores for tests: a throwaway PostgreSQL database, and anomaly events stored the
way the hourly runs store them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from aiops.dev.cluster import scratch_pg_database
from aiops.store import Store

PG_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_pg_database(prefix: str = "aiops_test") -> Iterator[str]:
    """A new PostgreSQL database's URL (psycopg2), dropped afterwards; skips the test with
    the reason when the server is not reachable."""
    server_url = os.environ.get("AIOPS_TEST_PG_URL") or PG_SERVER_URL
    admin = create_engine(server_url, connect_args={"connect_timeout": 5})
    try:
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        shown = make_url(server_url).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL not reachable at {shown}: {exc}")
    finally:
        admin.dispose()
    with scratch_pg_database(server_url, prefix) as url:
        yield url


def hourly_snapshots(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The event as each hourly run it overlaps wrote it: cut at the run's end, its points
    in proportion (what `store_events` stores, hour by hour)."""
    out, hour_end = [], row["start"].replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while True:
        end = min(row["end"], hour_end)
        points = round(row["points"] * ((end - row["start"]) / (row["end"] - row["start"])))
        out.append({**row, "end": end, "points": points, "as_of": hour_end})
        if end == row["end"]:
            return out
        hour_end += timedelta(hours=1)


def store_as_hourly_runs(store: Store, *events: dict[str, Any]) -> None:
    """Events stored as the hourly runs that saw them would have: a snapshot per run, the
    newest view from the last."""
    for event in events:
        snapshots = hourly_snapshots(event)
        store.upsert("anomaly_event_snapshots", snapshots)
        store.upsert("anomaly_events", snapshots[-1:], newer="as_of")
