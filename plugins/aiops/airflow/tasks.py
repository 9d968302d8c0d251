"""What each DAG task does, given the interval the DAG hands it. Thin: wiring, not logic."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiops.airflow.hooks import metric_source, store_url
from aiops.catalog import load_catalog
from aiops.store import Store
from aiops.summary import summarize_services

log = logging.getLogger(__name__)


def plan_shards(shard_size: int) -> list[list[str]]:
    return load_catalog().shards(shard_size)


def utc(when: datetime) -> datetime:
    """A plain stdlib UTC datetime from Airflow's pendulum one (pendulum arithmetic differs)."""
    return datetime.fromtimestamp(when.timestamp(), tz=UTC)


def summarize_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Pull every catalog signal of the shard's services for [start, end) and upsert summaries."""
    start, end = utc(start), utc(end)
    summary = summarize_services(metric_source(), load_catalog(), shard, start, end)
    with Store.open(store_url()) as store:
        store.upsert("series_summary", summary.rows)
    totals = summary.totals
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), shard, totals)
    return totals


def combine_totals(parts: list[dict[str, Any]]) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            combined[key] = combined.get(key, 0) + value
    log.info("interval totals: %s", combined)
    return combined
