"""Store.replace: a window's result set (a day's edges, a day's findings) replaced whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiops.store import Store, StoreError


def _edge_row(day: datetime, parent: str, child: str, calls: int) -> dict:
    return {
        "interval_start": day,
        "interval_end": day + timedelta(days=1),
        "parent": parent,
        "child": child,
        "call_count": calls,
        "error_count": 0,
        "error_rate": 0.0,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": 3.0,
        "operations": ["GET /x"],
        "instrumented": True,
        "asynchronous": False,
    }


def test_replace_makes_a_windows_rows_exactly_the_new_set(store: Store) -> None:
    monday, tuesday = datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    window = {"interval_start": tuesday, "interval_end": tuesday + timedelta(days=1)}
    store.replace("dependency_edges", [_edge_row(monday, "a", "b", 5)],
                  interval_start=monday, interval_end=monday + timedelta(days=1))  # fmt: skip
    store.replace("dependency_edges", [_edge_row(tuesday, "a", "b", 7),
                                       _edge_row(tuesday, "a", "c", 1)], **window)  # fmt: skip
    # a rerun of Tuesday that no longer sees a -> c leaves no stale row, and Monday alone
    store.replace("dependency_edges", [_edge_row(tuesday, "a", "b", 9)], **window)
    rows = store.read("dependency_edges")
    assert [(r["interval_start"], r["child"], r["call_count"]) for r in rows] == [
        (monday, "b", 5),
        (tuesday, "b", 9),
    ]
    assert rows[1]["instrumented"] is True and rows[1]["operations"] == ["GET /x"]


def test_replace_refuses_rows_outside_its_scope_and_writes_nothing(store: Store) -> None:
    monday = datetime(2026, 10, 26, tzinfo=UTC)
    window = {"interval_start": monday, "interval_end": monday + timedelta(days=1)}
    store.replace("dependency_edges", [_edge_row(monday, "a", "b", 5)], **window)
    stray = _edge_row(monday + timedelta(days=1), "x", "y", 1)
    with pytest.raises(StoreError, match="outside the scope"):
        store.replace("dependency_edges", [stray], **window)
    with pytest.raises(StoreError, match="needs a scope"):
        store.replace("dependency_edges", [])
    assert [r["child"] for r in store.read("dependency_edges")] == ["b"]
