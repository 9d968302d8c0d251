"""Time to breach: first crossings of the mean and the interval's ends, and what people read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from aiops.predictive.breach import first_crossing, time_to_breach

ORIGIN = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
MIB = 2**20


def _linear(start: float, per_hour: float, spread: float, hours: float = 6) -> pd.DataFrame:
    index = pd.date_range(
        ORIGIN + timedelta(minutes=5), ORIGIN + timedelta(hours=hours), freq="5min"
    )
    h = (index - ORIGIN).total_seconds().to_numpy() / 3600
    mean = start + per_hour * h
    return pd.DataFrame({"mean": mean, "lower": mean - spread, "upper": mean + spread}, index=index)


def test_a_linear_rise_crosses_where_the_line_says_with_the_interval_around_it() -> None:
    # 860 MiB rising 10 MiB/h, threshold 890 MiB: the mean crosses in exactly 3 h;
    # +-5 MiB moves the crossing by 30 minutes either way.
    frame = _linear(860 * MIB, 10 * MIB, 5 * MIB)
    breach = time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, observed=860 * MIB)
    assert breach is not None
    assert breach.at == ORIGIN + timedelta(hours=3)
    assert breach.earliest == ORIGIN + timedelta(hours=2, minutes=30)
    assert breach.latest == ORIGIN + timedelta(hours=3, minutes=30)
    assert breach.severity == "warning"
    assert breach.message() == (
        "cart memory will reach its limit 890 MiB in ~3h 00m (at 2026-10-31 19:00 UTC), "
        "80% interval 2h 30m to 3h 30m; now 860 MiB"
    )


def test_the_crossing_is_interpolated_between_forecast_steps() -> None:
    times = pd.date_range(ORIGIN + timedelta(minutes=5), periods=3, freq="5min")
    at = first_crossing(times, np.array([1.0, 2.0, 3.0]), 2.5)
    assert at == ORIGIN + timedelta(minutes=12, seconds=30)


def test_a_crossing_before_the_first_step_is_placed_after_the_last_observation() -> None:
    times = pd.date_range(ORIGIN + timedelta(minutes=5), periods=2, freq="5min")
    at = first_crossing(times, np.array([3.0, 4.0]), 2.0, start=(ORIGIN, 1.0))
    assert at == ORIGIN + timedelta(minutes=2, seconds=30)


def test_nothing_is_raised_when_even_the_upper_end_stays_below() -> None:
    frame = _linear(500 * MIB, 1 * MIB, 5 * MIB)
    assert time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, observed=500 * MIB) is None


def test_only_the_upper_end_crossing_is_an_info_alert_and_says_so() -> None:
    frame = _linear(870 * MIB, 0.0, 25 * MIB)  # flat, but the interval reaches the limit
    breach = time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, observed=870 * MIB)
    assert breach is not None and breach.at is None and breach.latest is None
    assert breach.severity == "info"
    assert "may reach its limit 890 MiB within 6h 00m" in breach.message()
    assert "mean forecast stays below" in breach.message()


def test_a_lower_end_that_never_crosses_reads_beyond_the_horizon() -> None:
    frame = _linear(860 * MIB, 10 * MIB, 40 * MIB)
    breach = time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, observed=860 * MIB)
    assert breach is not None and breach.latest is None
    assert "to beyond the 6h 00m horizon" in breach.message()


def test_a_value_already_above_the_limit_is_a_critical_breach_now() -> None:
    frame = _linear(900 * MIB, 0.0, 5 * MIB)
    breach = time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, observed=901 * MIB)
    assert breach is not None and breach.severity == "critical"
    assert breach.at == breach.earliest == ORIGIN
    assert breach.message() == "cart memory is at or above its limit 890 MiB; now 901 MiB"


def test_the_alert_row_is_keyed_by_the_interval_end_and_equal_on_a_rerun() -> None:
    frame = _linear(860 * MIB, 10 * MIB, 5 * MIB)
    rows = [
        time_to_breach("cart", "memory", frame, 890 * MIB, ORIGIN, 860 * MIB).row("prophet", "v1")
        for _ in range(2)
    ]
    assert rows[0] == rows[1]
    assert rows[0]["generated_at"] == ORIGIN and rows[0]["severity"] == "warning"
