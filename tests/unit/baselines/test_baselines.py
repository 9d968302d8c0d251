"""Seasonal baselines and the per-service detector, checked against the demo world's incidents.

The baseline is trained on the first 24 days of the 30-day world (as the nightly job would be
some days before the incidents) and scores the rest; the world's planted incidents say what
must be flagged and when.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.baselines import (
    BaselineError,
    InsufficientHistoryError,
    SeasonalBaseline,
    SeasonalBaselineConfig,
    ServiceDetector,
)
from aiops.dev.sim.incidents import planted_incidents

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def world(world_config):
    from aiops.dev.sim.world import simulate_metrics

    fleet = simulate_metrics(world_config)
    incidents = {i.kind: i for i in planted_incidents(world_config.start, world_config.end)}
    return fleet, fleet.signals_frame(), incidents


@pytest.fixture(scope="module")
def frame(world) -> pd.DataFrame:
    return world[1]


@pytest.fixture(scope="module")
def incidents(world):
    return world[2]


@pytest.fixture(scope="module")
def train_end(frame) -> pd.Timestamp:
    return frame.index[0] + 24 * DAY


@pytest.fixture(scope="module")
def baseline(frame, train_end) -> SeasonalBaseline:
    return SeasonalBaseline().fit(frame[frame.index < train_end])


@pytest.fixture(scope="module")
def z(baseline, frame) -> pd.DataFrame:
    return baseline.score(frame)


def test_catalog_latency_regression_is_flagged_within_ten_minutes(z, incidents):
    start = incidents["latency_regression"].start
    series = z["catalog:latency_p95"]
    after = series[start : start + 10 * MINUTE]
    assert (after.abs() > 4).any(), after.round(1).tolist()
    assert after[after.abs() > 4].index[0] <= start + 10 * MINUTE
    # the regression persists, and so does the flag (it is a change of level, not a spike)
    assert (series[start + 10 * MINUTE : start + 6 * 60 * MINUTE] > 4).mean() > 0.9
    # the same hours one week earlier are ordinary
    week_before = series[start - 7 * DAY : start - 7 * DAY + 6 * 60 * MINUTE]
    assert len(week_before) == 361
    assert (week_before.abs() < 3).mean() > 0.95


def test_payment_error_spike_is_detected(z, incidents):
    spike = incidents["error_spike"]
    window = z["payment:error_ratio"][spike.start + 2 * MINUTE : spike.end - MINUTE]
    assert (window > 4).mean() > 0.9  # positive: more errors than expected
    before = z["payment:error_ratio"][spike.start - 6 * 60 * MINUTE : spike.start - MINUTE]
    assert (before > 4).mean() < 0.05


def test_trend_learned_in_training_is_followed_not_flagged(world, frame):
    """The cart leak, trained on nightly (all data up to the last midnight), is a trend.

    What is right: the baseline extrapolates the slope it learned, so the leak's last day
    is not flagged minute after minute as a point anomaly (the leak is the forecaster's to
    report, as a time to breach); a baseline without trend handling flags all of it.
    """
    fleet = world[0]
    nightly_end = frame.index[-1].floor("D")
    history, last_day = frame[frame.index < nightly_end], frame[frame.index >= nightly_end]
    model = SeasonalBaseline().fit(history)
    col = model.keys_.index("cart:memory")
    leak_per_day = fleet.leak_bytes_per_second * 86_400
    assert model.slope_[col] == pytest.approx(leak_per_day, rel=0.1)
    assert (model.score(last_day)["cart:memory"].abs() > 4).mean() < 0.02

    flat = SeasonalBaseline(SeasonalBaselineConfig(trend="none")).fit(history)
    assert (flat.score(last_day)["cart:memory"] > 4).mean() > 0.9


def test_daily_and_weekly_seasonality_is_not_flagged(frame):
    """A normal week (Mon-Sun, no planted incident but the cart leak) out of sample."""
    start = frame.index[0]
    model = SeasonalBaseline().fit(frame[frame.index < start + 17 * DAY])
    week = frame[(frame.index >= start + 17 * DAY) & (frame.index < start + 24 * DAY)]
    assert week.index[0].day_name() == "Monday" and len(week) == 7 * 1440
    z = model.score(week.drop(columns=["cart:memory"]))
    assert (z.abs() > 4).to_numpy().mean() < 0.01
    # the busiest and quietest hours are not where the flags are
    rate = z["gateway:request_rate"]
    assert (rate.abs() > 4).mean() < 0.01


def test_expected_band_and_explain(baseline, frame, incidents, z):
    start = incidents["latency_regression"].start + 5 * MINUTE
    center, low, high = baseline.expected(frame.index[-1440:])
    assert center.shape == (1440, len(baseline.keys_))
    assert (low.to_numpy() < center.to_numpy()).all() and (center < high).to_numpy().all()
    bounded = baseline.expected(frame.index[-60:], bounds={"error_ratio": (0.0, 1.0)})[1]
    assert (bounded.filter(like=":error_ratio").to_numpy() >= 0).all()

    value = float(frame.at[start, "catalog:latency_p95"])
    why = baseline.explain("catalog:latency_p95", start, value)
    assert why.bucket == "Thu 10:00"  # 2026-10-29 10:35 UTC is a Thursday
    assert why.low < why.expected < why.high < value
    assert why.z == pytest.approx(z.at[start, "catalog:latency_p95"])
    with pytest.raises(BaselineError, match="unknown series 'nope:cpu'"):
        baseline.explain("nope:cpu", start)


def test_save_load_round_trip_is_exact(baseline, frame, tmp_path):
    baseline.save(tmp_path / "baseline")
    loaded = SeasonalBaseline.load(tmp_path / "baseline")
    assert loaded.config == baseline.config
    assert loaded.keys_ == baseline.keys_ and loaded.skipped_ == baseline.skipped_
    for name in ("profile_", "spread_", "levels_", "slope_", "history_days_"):
        assert np.array_equal(getattr(loaded, name), getattr(baseline, name)), name
        assert getattr(loaded, name).dtype == getattr(baseline, name).dtype
    assert (loaded.end_ns_, loaded.step_ns_) == (baseline.end_ns_, baseline.step_ns_)
    recent = frame.iloc[-180:]
    pd.testing.assert_frame_equal(loaded.score(recent), baseline.score(recent), check_exact=True)


def test_short_history_is_skipped_with_the_reason(frame):
    start = frame.index[0]
    history = frame[frame.index < start + 20 * DAY].copy()
    history.loc[: start + 10 * DAY, "cart:cpu"] = np.nan  # a new series: 10 days of data
    model = SeasonalBaseline().fit(history)
    assert model.skipped_ == {"cart:cpu": "only 10.0 days of data (min_days=14)"}
    assert "cart:cpu" not in model.keys_
    assert model.score(frame.iloc[-5:])["cart:cpu"].isna().all()
    with pytest.raises(BaselineError, match="cart:cpu was not fitted: only 10.0 days"):
        model.explain("cart:cpu", frame.index[-1])
    history.loc[history.index[::3], "redis:cpu"] = np.nan  # gaps alone do not skip a series
    history.loc[history.index[history.index.minute % 10 < 8], "auth:cpu"] = np.nan
    assert SeasonalBaseline().fit(history).skipped_ == {
        "cart:cpu": "only 10.0 days of data (min_days=14)",
        "auth:cpu": "only 20% of its 20.0 days observed (min_coverage=0.5)",
    }

    short = frame[frame.index < start + 5 * DAY][["cart:cpu", "redis:cpu"]]
    with pytest.raises(InsufficientHistoryError, match=r"cart:cpu: only 5.0 days.*redis:cpu"):
        SeasonalBaseline().fit(short)
    # a short history can still use hour-of-day buckets, when asked for
    daily = SeasonalBaseline(SeasonalBaselineConfig(bucket="hour_of_day", min_days=3)).fit(short)
    assert daily.profile_.shape == (24, 2)
    with pytest.raises(BaselineError, match="hour_of_week buckets need at least 7 days"):
        SeasonalBaselineConfig(min_days=3)


def test_nan_gaps_are_handled(baseline, frame, train_end):
    history = frame[frame.index < train_end].copy()
    rng = np.random.default_rng(1)
    holes = rng.random(history.shape) < 0.1
    history = history.mask(holes)
    history.loc[history.index[5000] : history.index[5000 + 6 * 60], :] = np.nan  # a 6-hour gap
    model = SeasonalBaseline().fit(history)
    assert model.keys_ == baseline.keys_ and not model.skipped_
    assert np.isfinite(model.profile_).all() and np.isfinite(model.spread_).all()
    # expects nearly what the model trained without gaps expects (in units of its spread)
    day_after = frame.index[(frame.index >= train_end) & (frame.index < train_end + DAY)]
    center_gaps = model.expected(day_after)[0].to_numpy()
    center, low, _ = (f.to_numpy() for f in baseline.expected(day_after))
    gap = np.abs(center_gaps - center) / ((center - low) / baseline.config.k)
    assert np.median(gap) < 0.1 and np.quantile(gap, 0.99) < 1.0

    recent = frame.iloc[-120:].copy()
    recent.iloc[10:20, 3] = np.nan
    recent["unknown:cpu"] = 1.0
    scored = model.score(recent)
    assert scored.columns.tolist() == recent.columns.tolist()
    assert scored.iloc[10:20, 3].isna().all() and scored["unknown:cpu"].isna().all()
    assert np.isfinite(scored.drop(columns=["unknown:cpu"]).iloc[20:].to_numpy()).all()


def test_service_detector_flags_the_redis_cascade(baseline, frame, z, incidents, tmp_path):
    train = frame[frame.index < baseline_end(baseline)]
    detector = ServiceDetector().fit(baseline.score(train))
    assert detector.services_ == list(dict.fromkeys(c.split(":")[0] for c in frame.columns))
    cascade = incidents["cascading_failure"]
    # hourly scoring, as the DAG does it
    hour = z[cascade.start : cascade.start + 59 * MINUTE]
    scores = detector.score(hour)
    assert ((scores >= 0) & (scores <= 1)).all().all()
    flags = detector.flag(scores)["redis"]
    in_window = flags[cascade.start + 2 * MINUTE : cascade.end - MINUTE]
    assert in_window.mean() > 0.8, scores["redis"].round(4).tolist()
    # the ordinary days before the incidents are rarely flagged
    quiet = z[baseline_end(baseline) : baseline_end(baseline) + 3 * DAY]
    assert detector.flag(detector.score(quiet))["redis"].mean() < 0.005

    detector.save(tmp_path / "detector")
    loaded = ServiceDetector.load(tmp_path / "detector")
    assert loaded.config == detector.config and loaded.services_ == detector.services_
    for service in detector.services_:
        assert np.array_equal(loaded.train_[service], detector.train_[service])
        assert np.array_equal(loaded.transform_[service], detector.transform_[service])
        assert np.array_equal(loaded.calibration_[service], detector.calibration_[service])
    pd.testing.assert_frame_equal(loaded.score(hour), scores, check_exact=True)


def test_config_errors_name_the_knob():
    with pytest.raises(BaselineError, match="bucket: expected one of"):
        SeasonalBaselineConfig(bucket="minute")  # type: ignore[arg-type]
    with pytest.raises(BaselineError, match="spread_shrink: must be in"):
        replace(SeasonalBaselineConfig(), spread_shrink=2.0)
    with pytest.raises(BaselineError, match="naive"):
        SeasonalBaseline().fit(
            pd.DataFrame(
                {"a:cpu": [1.0, 2.0]}, index=pd.date_range("2026-01-01", periods=2, freq="min")
            )
        )


def baseline_end(model: SeasonalBaseline) -> pd.Timestamp:
    return pd.Timestamp(model.end_ns_, tz="UTC")


def test_a_quantised_series_moving_one_step_is_quieter_than_a_real_regression():
    """Comparable scores: a flat replica count that moves by one replica, and a real-valued
    latency that regresses, scored by the same baseline."""
    index = pd.date_range("2026-10-01", periods=15 * 1440, freq="1min", tz="UTC")
    rng = np.random.default_rng(7)
    replicas = np.full(len(index), 3.0)
    replicas[rng.choice(len(index), 40, replace=False)] = 4.0  # nearly constant, quantised
    latency = 0.2 + rng.normal(0, 0.01, len(index))
    model = SeasonalBaseline().fit(pd.DataFrame({"a:replicas": replicas, "a:latency": latency},
                                                index=index))  # fmt: skip
    later = pd.date_range(index[-1] + pd.Timedelta(minutes=1), periods=30, freq="1min")
    z = model.score(pd.DataFrame({"a:replicas": 4.0, "a:latency": 0.26}, index=later))
    assert z["a:replicas"].abs().max() <= 1.0 + 1e-9
    assert z["a:latency"].abs().min() > 4.0
    constant = SeasonalBaseline().fit(pd.DataFrame({"a:pods": 2.0}, index=index))
    assert constant.score(pd.DataFrame({"a:pods": 3.0}, index=later))["a:pods"].max() <= 1.0
