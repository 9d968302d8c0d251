"""Per-series summaries count what arrived: gaps, holes, non-finite values, on a half-open grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.metrics.series_summary import summarize_series
from aiops.sources.signals import SignalSeries

START = datetime(2026, 10, 31, 12, tzinfo=UTC)
END = START + timedelta(hours=1)
STEP = timedelta(minutes=1)


def _series(
    values: list[float], times: list[datetime], warnings: list[str] | None = None
) -> SignalSeries:
    return SignalSeries(
        pd.Series(values, index=pd.DatetimeIndex(times), dtype="float64"),
        "test",
        "q",
        warnings or [],
    )


def test_complete_hour() -> None:
    times = [START + i * STEP for i in range(60)]
    row = summarize_series(_series([float(i) for i in range(60)], times), START, END, STEP)
    assert (row["points"], row["expected_points"], row["gaps"], row["max_gap_seconds"]) == (
        60,
        60,
        0,
        0,
    )
    assert (row["value_min"], row["value_max"], row["value_last"]) == (0.0, 59.0, 59.0)
    assert row["first_ts"] == START and row["last_ts"] == END - STEP


def test_gaps_and_the_longest_hole() -> None:
    keep = [i for i in range(60) if not (10 <= i < 25 or i in (40, 41))]
    row = summarize_series(
        _series([1.0] * len(keep), [START + i * STEP for i in keep]), START, END, STEP
    )
    assert row["gaps"] == 17
    assert row["max_gap_seconds"] == 15 * 60


def test_samples_outside_the_interval_or_off_grid_are_not_counted() -> None:
    times = [START - STEP, START, START + STEP + timedelta(seconds=30), END]
    row = summarize_series(_series([1.0, 2.0, 3.0, 4.0], times), START, END, STEP)
    assert row["points"] == 1 and row["gaps"] == 59


def test_non_finite_values_are_counted_not_averaged() -> None:
    times = [START + i * STEP for i in range(4)]
    row = summarize_series(_series([1.0, np.nan, np.inf, 3.0], times), START, END, STEP)
    assert row["non_finite"] == 2
    assert row["value_mean"] == pytest.approx(2.0)


def test_no_data_is_a_row_not_a_crash() -> None:
    row = summarize_series(_series([], [], ["no column"]), START, END, STEP)
    assert (row["points"], row["gaps"], row["value_mean"], row["first_ts"]) == (0, 60, None, None)
    assert row["warnings"] == ["no column"]
