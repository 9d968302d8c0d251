"""Desired replicas: ceil(predicted load at t + lead / capacity), clamped to the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import Scaling
from aiops.predictive.scaling import desired_replicas, replicas_plan

T0 = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (0.0, 2),  # below the minimum: the minimum
        (47.9, 2),
        (48.0, 2),  # exactly two replicas' worth is two, not three
        (48.0000000001, 2),  # float noise does not buy a replica
        (48.1, 3),
        (240.0, 10),
        (241.0, 10),  # above the maximum: the maximum
        (1e9, 10),
        (float("nan"), 2),  # no forecast: keep the minimum, never scale to zero
    ],
)
def test_desired_replicas_at_the_bounds(load: float, expected: int) -> None:
    assert desired_replicas(load, 24.0, 2, 10) == expected


def test_zero_min_replicas_allows_scale_to_zero_only_on_zero_load() -> None:
    assert desired_replicas(0.0, 24.0, 0, 10) == 0
    assert desired_replicas(0.1, 24.0, 0, 10) == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity_per_replica must be > 0"):
        desired_replicas(10.0, 0.0, 1, 5)


def _forecast(values: list[float], upper_extra: float = 0.0) -> pd.DataFrame:
    index = pd.date_range(T0 + timedelta(minutes=5), periods=len(values), freq="5min")
    mean = np.array(values, dtype=float)
    return pd.DataFrame({"mean": mean, "lower": mean - 1, "upper": mean + upper_extra}, index=index)


def test_replicas_at_t_follow_the_load_predicted_at_t_plus_lead() -> None:
    # load steps from 40 to 100 at the fourth step (T0+20m); lead 10m
    frame = _forecast([40, 40, 40, 100, 100, 100])
    scaling = Scaling(capacity_per_replica=24, min_replicas=1, max_replicas=10, lead_time=600)
    plan = replicas_plan(frame, scaling)
    # T0+5m needs what T0+15m will carry (40 -> 2); T0+10m already needs T0+20m's 100 -> 5
    assert plan.iloc[:4].tolist() == [2, 5, 5, 5]
    assert plan.iloc[4:].isna().all()  # t + lead is past the forecast: no value


def test_a_lead_between_steps_interpolates_the_load() -> None:
    frame = _forecast([0, 48, 96])
    scaling = Scaling(capacity_per_replica=24, min_replicas=0, max_replicas=10, lead_time=150)
    # T0+5m + 2.5m is halfway from 0 to 48: 24 -> exactly 1 replica
    assert replicas_plan(frame, scaling).iloc[0] == 1


def test_forecast_upper_scales_on_the_interval_upper_end() -> None:
    frame = _forecast([40, 40, 40], upper_extra=20)
    mean = Scaling(capacity_per_replica=24, min_replicas=1, max_replicas=10, lead_time=300)
    upper = Scaling(
        capacity_per_replica=24, min_replicas=1, max_replicas=10, lead_time=300, forecast="upper"
    )
    assert replicas_plan(frame, mean).iloc[0] == 2  # 40 / 24
    assert replicas_plan(frame, upper).iloc[0] == 3  # 60 / 24
