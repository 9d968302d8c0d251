"""How the AIOps page reads the results store: small aggregate questions (the newest time a
table holds, the greatest value per group, whether any row matches), one SELECT each.

Read-only: nothing here, nor in the ``*_queries`` modules built on it, writes. Every read is
bounded by time (or by a key), so a page load reads the last day of a year-old store, not
the year. "Now" for the data is the newest result the store holds at or before the clock's
now (`newest_result`): a store that holds last month's backfill shows last month, with every
service marked stale by how old that is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from aiops.store import Store, StoreError

#: Tables whose times say how new the store's results are (table, time column).
RESULT_TIMES = (
    ("pipeline_runs", "interval_end"),
    ("anomaly_events", "as_of"),
    ("incidents", "interval_end"),
    ("predictions", "generated_at"),
    ("series_summary", "interval_end"),
    ("dependency_edges", "interval_end"),
    ("findings", "interval_end"),
)


def newest_result(store: Store, now: datetime) -> datetime | None:
    """The newest time any result table holds at or before ``now``; None for a store with
    nothing in it yet."""
    times = [newest_time(store, table, column, now) for table, column in RESULT_TIMES]
    return max((t for t in times if t is not None), default=None)


def newest_time(
    store: Store, table_name: str, column: str, now: datetime, **equals: Any
) -> datetime | None:
    """The greatest ``column`` of ``table_name`` at or before ``now`` (rows equal to
    ``equals``), by one aggregate query; None when there is none."""
    found = grouped_max(store, table_name, (), column, at_most={column: now}, **equals)
    return found.get(())


def grouped_max(
    store: Store,
    table_name: str,
    group_by: Sequence[str],
    column: str,
    *,
    at_least: Mapping[str, Any] | None = None,
    at_most: Mapping[str, Any] | None = None,
    not_null: Sequence[str] = (),
    **equals: Any,
) -> dict[Any, Any]:
    """``max(column)`` per ``group_by`` value (a tuple key for several columns, ``()`` for
    none) over the rows matching the bounds, by one aggregate query."""
    table = store.table(table_name)
    keys = [table.c[name] for name in group_by]
    query = select(*keys, func.max(table.c[column]))
    for name, value in equals.items():
        query = query.where(table.c[name] == value)
    for name, value in (at_least or {}).items():
        query = query.where(table.c[name] >= value)
    for name, value in (at_most or {}).items():
        query = query.where(table.c[name] <= value)
    for name in not_null:
        query = query.where(table.c[name].is_not(None))
    if keys:
        query = query.group_by(*keys)
    try:
        with store.engine.connect() as conn:
            result = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"store {store.name}: read from {table_name} failed: {exc}") from exc
    out: dict[Any, Any] = {}
    for row in result:
        *group, value = tuple(row)
        if value is None:
            continue
        key = tuple(group) if len(group) != 1 else group[0]
        out[key] = value
    return out


def has_row(store: Store, table_name: str, **equals: Any) -> bool:
    """Whether ``table_name`` has a row equal to ``equals`` (at least one column), by a query
    that stops at the first."""
    table = store.table(table_name)
    query = select(table.c[next(iter(equals))]).limit(1)
    for name, value in equals.items():
        query = query.where(table.c[name] == value)
    try:
        with store.engine.connect() as conn:
            return conn.execute(query).first() is not None
    except SQLAlchemyError as exc:
        raise StoreError(f"store {store.name}: read from {table_name} failed: {exc}") from exc


def optional_time(iso: str | None) -> datetime | None:
    """An ISO time stored inside a JSON column (an incident's ranking), None when absent."""
    return datetime.fromisoformat(iso) if iso else None


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``: the store's times are UTC-aware and compare only with aware
    ones, and a naive clock would silently mean the server's zone."""
    if now.tzinfo is None:
        raise ValueError(f"the page's now must be timezone-aware, got {now!r}")


def forecast_rows(store: Store, service: str, metric: str, made: datetime) -> list[dict[str, Any]]:
    """The predictions rows of the run that made ``service``'s ``metric`` forecast at ``made``
    (its targets from then on): one forecast, as the scaler serves it."""
    return store.read(
        "predictions",
        service=service,
        metric=metric,
        generated_at=made,
        at_least={"target_time": made},
    )
