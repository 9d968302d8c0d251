"""Desired replicas: ceil(predicted load at t + lead / capacity), clamped to the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import Scaling
from aiops.predictive.scaling import (
    desired_replicas,
    forecast_quantile,
    replicas_plan,
    scaling_values,
    unbiased_mean,
)

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


def _forecast(values: list[float], width: float = 0.0) -> pd.DataFrame:
    index = pd.date_range(T0 + timedelta(minutes=5), periods=len(values), freq="5min")
    mean = np.array(values, dtype=float)
    return pd.DataFrame({"mean": mean, "lower": mean - width, "upper": mean + width}, index=index)


def _scaling(**knobs) -> Scaling:
    base = {
        "capacity_per_replica": 24,
        "min_replicas": 1,
        "max_replicas": 10,
        "lead_time": 600,
        "target_quantile": 0.5,
        "refresh": 300,
        "scale_down_window": 0,
    }
    return Scaling(**{**base, **knobs})  # fmt: skip


def test_a_spike_anywhere_in_the_window_a_decision_covers_is_served() -> None:
    # a 5-minute spike to 100 at T0+30m; a decision read at T covers [T - 10m, T + 5m]
    frame = _forecast([40, 40, 40, 40, 40, 100, 40, 40, 40, 40])
    values = scaling_values(frame, _scaling(), level=0.8)
    served = dict(zip(frame.index.strftime("%H:%M"), values, strict=True))
    assert served["16:20"] == 40  # covers 16:10-16:25
    assert served["16:25"] == served["16:30"] == served["16:35"] == served["16:40"] == 100
    assert served["16:45"] == 40  # 16:35-16:50: the spike is over


def test_the_load_observed_is_a_floor() -> None:
    frame = _forecast([40, 40, 40, 40])  # the forecast missed a ramp to 90
    values = scaling_values(frame, _scaling(), level=0.8, observed=90.0)
    assert values.tolist() == [90.0] * 4
    assert replicas_plan(values, _scaling()).iloc[0] == 4  # ceil(90 / 24)


def test_replicas_drop_only_after_the_scale_down_window() -> None:
    frame = _forecast([100, 100, 40, 40, 40, 40, 40, 40])
    held = scaling_values(frame, _scaling(lead_time=0, refresh=0, scale_down_window=900),
                          level=0.8)  # fmt: skip
    assert held.tolist() == [100, 100, 100, 100, 100, 40, 40, 40]  # 15 minutes of 100 first
    now = scaling_values(frame, _scaling(lead_time=0, refresh=0), level=0.8)
    assert now.tolist() == [100, 100, 40, 40, 40, 40, 40, 40]


def test_the_quantile_is_read_off_the_interval() -> None:
    frame = _forecast([100.0, 100.0], width=25.6)  # 80% interval: 100 +- 1.2816 sd, sd 20
    q = {p: forecast_quantile(frame, p, 0.8)[0] for p in (0.1, 0.5, 0.75, 0.9, 0.95)}
    assert q[0.5] == pytest.approx(100.0)
    assert q[0.9] == pytest.approx(125.6)
    assert q[0.1] == pytest.approx(74.4)
    assert q[0.75] == pytest.approx(100 + 0.6745 * 20, rel=1e-3)
    assert q[0.95] == pytest.approx(100 + 1.6449 * 20, rel=1e-3)
    higher = scaling_values(frame, _scaling(target_quantile=0.9), level=0.8)
    assert higher.iloc[0] == pytest.approx(125.6)


def test_the_mean_of_a_log_normal_load_is_unbiased() -> None:
    """A series modelled as log1p(load): the back-transformed centre is the median; the mean
    a table reader averages must be the mean, which a simulation checks."""
    rng = np.random.default_rng(7)
    mu, sd = np.log(200.0), 0.5
    draws = np.exp(rng.normal(mu, sd, 400_000))
    lo, mid, hi = np.quantile(np.log1p(draws), [0.1, 0.5, 0.9])
    frame = pd.DataFrame({"mean": [np.expm1(mid)], "lower": [np.expm1(lo)],
                          "upper": [np.expm1(hi)]})  # fmt: skip
    assert unbiased_mean(frame, 0.8, log_scale=True)[0] == pytest.approx(draws.mean(), rel=0.01)
    assert frame["mean"].iloc[0] < 0.9 * draws.mean()  # the median is well below it
    assert unbiased_mean(frame, 0.8, log_scale=False)[0] == frame["mean"].iloc[0]
    # and its quantiles are the log-normal's, not a symmetric guess
    q95 = forecast_quantile(frame, 0.95, 0.8, log_scale=True)[0]
    assert q95 == pytest.approx(np.quantile(draws, 0.95), rel=0.01)


def test_forecast_mean_and_upper_still_read_as_quantiles() -> None:
    base = {"capacity_per_replica": 24, "min_replicas": 1, "max_replicas": 10}
    assert Scaling(**base, forecast="mean").target_quantile == 0.5
    assert Scaling(**base, forecast="upper").target_quantile == 0.9
    with pytest.raises(ValueError, match="forecast: expected 'mean' or 'upper'"):
        Scaling(**base, forecast="p99")


def test_replicas_at_t_are_what_keda_asks_for_from_the_row_at_t_plus_lead() -> None:
    values = pd.Series([40.0, 40.0, 100.0, 100.0],
                       index=pd.date_range(T0, periods=4, freq="5min"))  # fmt: skip
    plan = replicas_plan(values, _scaling(lead_time=300))
    assert plan.iloc[:3].tolist() == [2, 5, 5]
    assert plan.iloc[3:].isna().all()


def test_without_an_interval_yet_the_point_forecast_stands_in() -> None:
    """A series too short to backtest has no interval: its quantiles and its mean are the
    point forecast, never NaN (a NaN would ask for the safe maximum, or store no mean)."""
    frame = pd.DataFrame({"mean": [80.0, 90.0], "lower": [np.nan] * 2, "upper": [np.nan] * 2})
    assert forecast_quantile(frame, 0.9, 0.8, log_scale=True).tolist() == pytest.approx([80, 90])
    assert unbiased_mean(frame, 0.8, log_scale=True).tolist() == pytest.approx([80, 90])
