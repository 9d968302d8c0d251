"""What the quality gate refuses as impossible, what it lets through as real, how it counts
NaN and gaps, and how a rerun of an interval replaces its quarantine rows (issue 21)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import load_catalog
from aiops.quality import FrameChecks, FrameVerdict, quarantine, validate_frame
from aiops.store import Store

START = datetime(2026, 10, 31, 22, tzinfo=UTC)
END = START + timedelta(hours=1)
STEP = timedelta(minutes=1)
OPEN_ABOVE = FrameChecks(step=STEP, lower=0.0)  # memory, latency, request rate: no upper bound
RATIO = FrameChecks(step=STEP, lower=0.0, upper=1.0)


def _minutes(values: np.ndarray, start: datetime = START) -> pd.Series:
    index = pd.DatetimeIndex([start + i * STEP for i in range(len(values))])
    return pd.Series(np.asarray(values, dtype="float64"), index=index)


def _load(n: int = 60, seed: int = 1) -> np.ndarray:
    """An ordinary request rate: about 100 req/s with noise."""
    return 100 + np.random.default_rng(seed).normal(0, 5, n)


def _check(
    values: np.ndarray,
    checks: FrameChecks = OPEN_ABOVE,
    *,
    service: str = "cart",
    signal: str = "request_rate",
    stage: str = "score",
) -> FrameVerdict:
    return validate_frame(_minutes(values), checks, service=service, signal=signal, stage=stage)


# -- impossible values are refused, naming the value and the rule -----------------------------


def test_1e308_in_an_ordinary_series_is_quarantined_naming_the_value_and_the_rule(
    tmp_path,
) -> None:
    values = _load()
    values[23] = 1e308
    verdict = _check(values)
    assert not verdict.ok
    (reason,) = verdict.reasons
    assert reason.startswith(
        "cart/request_rate: 1 implausible value: 1e+308 (first at 2026-10-31T22:23:00Z); "
        "allowed where the catalog sets no bound: ["
    ), reason
    assert "x the robust spread" in reason and "+- 1000 x" in reason
    assert verdict.implausible == 1
    with Store.open(f"sqlite:///{tmp_path}/r.db") as store:
        assert quarantine(store, [verdict], START, END) == 1
        (row,) = store.read("quarantine")
    assert row["reason"] == reason
    assert row["points"] == 60
    assert row["report"]["counts"]["implausible"] == 1


def test_several_implausible_values_are_counted_with_their_range() -> None:
    values = _load()
    values[[5, 6, 7, 30]] = [3e20, -4e20, 1e300, 7e299]
    verdict = _check(values, FrameChecks(step=STEP))  # no bound on either side
    (reason,) = verdict.reasons
    assert reason.startswith(
        "cart/request_rate: 4 implausible values: -4e+20 to 1e+300 (first at 2026-10-31T22:05:00Z)"
    ), reason


def test_a_series_that_is_1e308_throughout_is_refused_although_it_has_no_spread() -> None:
    verdict = _check(np.full(60, 1e308))
    assert not verdict.ok
    assert "60 implausible values: 1e+308" in verdict.reasons[0]


@pytest.mark.parametrize("factor", [20, 50])
def test_a_real_spike_passes(factor: int) -> None:
    values = _load()
    values[30:33] = 100 * factor  # a flash sale: 20x (and 50x) the usual load for 3 minutes
    verdict = _check(values)
    assert verdict.ok, verdict.reasons
    assert verdict.implausible == 0


def test_real_load_on_a_mostly_idle_or_flat_series_passes() -> None:
    idle_then_busy = np.r_[np.zeros(40), np.full(20, 5000.0)]  # traffic only after 22:40
    assert _check(idle_then_busy).ok
    flat = np.full(60, 0.5)
    flat[45] = 10.0  # 20x a flat CPU reading
    assert _check(flat, signal="cpu").ok


def test_a_point_beyond_a_catalog_bound_is_quarantined_naming_the_bound(tmp_path) -> None:
    values = np.full(60, 0.02)
    values[12] = 1.7
    verdict = _check(values, RATIO, signal="error_ratio")
    assert verdict.reasons == [
        "cart/error_ratio: 1 value outside the signal's bounds [0, 1]: 1.7 "
        "(first at 2026-10-31T22:12:00Z)"
    ]
    with Store.open(f"sqlite:///{tmp_path}/r.db") as store:
        quarantine(store, [verdict], START, END)
        (row,) = store.read("quarantine")
    assert "bounds [0, 1]: 1.7" in row["reason"]


# -- NaN is no traffic, not a bad value; training needs points, not contiguity ----------------


def test_nan_from_zero_traffic_is_counted_not_refused() -> None:
    values = np.full(60, 0.01)
    values[20:28] = np.nan  # 0/0 for eight minutes: nobody called the service
    verdict = _check(values, RATIO, signal="error_ratio")
    assert verdict.ok, verdict.reasons
    assert (verdict.points, verdict.observed, verdict.nan_points, verdict.missing_steps) == (
        60,
        52,
        8,
        8,
    )
    assert verdict.report["counts"]["nan"] == 8


def test_nan_counts_as_a_gap_when_scoring() -> None:
    values = np.full(60, 0.01)
    values[20:32] = np.nan
    verdict = _check(values, RATIO, signal="error_ratio")
    assert verdict.reasons == [
        "cart/error_ratio: 1 gap longer than 10m, the longest 13m "
        "(first ending at 2026-10-31T22:32:00Z)"
    ]


def test_an_hour_without_traffic_is_too_few_points_and_says_they_were_nan() -> None:
    verdict = _check(np.full(60, np.nan), RATIO, signal="error_ratio")
    assert verdict.reasons == [
        "cart/error_ratio: 0 points, fewer than the 30 needed to score "
        "(60 more were NaN: no traffic or no data)"
    ]
    assert (verdict.points, verdict.observed, verdict.nan_points) == (60, 0, 60)


def _train_checks(signal: str) -> FrameChecks:
    return FrameChecks.for_signal(load_catalog().signal("cart", signal), stage="train", step=STEP)


def test_training_accepts_gaps_and_nan_when_enough_points_remain() -> None:
    """Three weeks with a 3-day outage and every night's error ratio NaN (no traffic) train:
    training needs enough points, not contiguous ones."""
    n = 21 * 24 * 60
    index = pd.date_range(START - timedelta(days=21), periods=n, freq="60s")
    values = pd.Series(np.full(n, 0.01), index=index)
    values[(index.hour >= 2) & (index.hour < 4)] = np.nan  # 2 idle hours every night
    values = values.drop(index[3 * 24 * 60 : 6 * 24 * 60])  # the exporter was down 3 days
    checks = _train_checks("error_ratio")
    verdict = validate_frame(values, checks, service="cart", signal="error_ratio", stage="train")
    assert verdict.ok, verdict.reasons
    assert verdict.nan_points == 18 * 2 * 60
    assert verdict.missing_steps == 3 * 24 * 60 + 18 * 2 * 60
    assert verdict.observed == 18 * 22 * 60


def test_training_needs_two_days_of_points_wherever_they_are() -> None:
    n = 21 * 24 * 60
    index = pd.date_range(START - timedelta(days=21), periods=n, freq="60s")
    values = pd.Series(np.nan, index=index)
    for day in (2, 9, 16):  # three scattered half days of traffic: 36 hours of values
        values[day * 1440 : day * 1440 + 720] = 0.01
    verdict = validate_frame(
        values, _train_checks("error_ratio"), service="cart", signal="error_ratio", stage="train"
    )
    assert verdict.reasons == [
        "cart/error_ratio: 2160 points, fewer than the 2880 needed to train "
        "(28080 more were NaN: no traffic or no data)"
    ]
    values[20 * 1440 : 20 * 1440 + 720] = 0.01  # a fourth half day: 48 hours
    assert validate_frame(
        values, _train_checks("error_ratio"), service="cart", signal="error_ratio", stage="train"
    ).ok


# -- a rerun of an interval replaces its quarantine rows --------------------------------------


def _bad(service: str, signal: str) -> FrameVerdict:
    values = _load()
    values[3] = np.inf
    return _check(values, service=service, signal=signal)


def _good(service: str, signal: str) -> FrameVerdict:
    return _check(_load(), service=service, signal=signal)


def test_a_rerun_leaves_exactly_the_rows_of_its_own_verdicts(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/r.db") as store:
        first = [_bad("cart", "request_rate"), _bad("cart", "cpu"), _bad("search", "cpu")]
        assert quarantine(store, first, START, END) == 3
        # the rerun: cart's request rate is good now (the backfilled source was repaired)
        rerun = [_good("cart", "request_rate"), _bad("cart", "cpu")]
        assert quarantine(store, rerun, START, END) == 1
        assert quarantine(store, rerun, START, END) == 1  # and again: nothing changes
        rows = store.read("quarantine")
    assert [(r["service"], r["signal"]) for r in rows] == [("cart", "cpu"), ("search", "cpu")]


def test_a_rerun_keeps_other_stages_and_intervals(tmp_path) -> None:
    train = _check(np.full(60, np.inf), stage="train")
    with Store.open(f"sqlite:///{tmp_path}/r.db") as store:
        quarantine(store, [train], START, END)
        quarantine(store, [_bad("cart", "cpu")], START - timedelta(hours=1), START)
        quarantine(store, [_good("cart", "cpu"), _good("cart", "request_rate")], START, END)
        rows = store.read("quarantine")
    assert sorted((r["stage"], r["interval_start"]) for r in rows) == [
        ("score", START - timedelta(hours=1)),
        ("train", START),
    ]
