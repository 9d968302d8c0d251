"""Calibrated scores: one scale on which every series' anomalies compare.

The property users depend on: how loud an event is (severity, confidence, the strength an
incident ranks by) says how rare the deviation is for that series, so a noisy series that
often leaves its band, or a quantised one moving by a step, does not outshout a
well-behaved series showing a real regression.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.baselines.calibration import (
    calibrated_sigma,
    fit_tails,
    normal_tail,
    sigma_equivalent,
    tail_probability,
)
from aiops.baselines.ladder import short_tier_config
from aiops.baselines.multivariate import ServiceDetector, ServiceDetectorConfig
from aiops.baselines.seasonal import SeasonalBaseline
from aiops.metrics.events import events_for_series

RNG = np.random.default_rng(11)


def test_a_normal_series_keeps_about_its_z_and_the_scale_reads_as_sigma() -> None:
    table = fit_tails(np.abs(RNG.normal(size=(50_000, 1))))
    z = np.array([[1.0], [2.0], [3.0], [4.0], [6.0], [10.0]])
    sigma = calibrated_sigma(z, table)[:, 0]
    assert sigma[:3] == pytest.approx([1.0, 2.0, 3.0], abs=0.1)  # the empirical body
    assert 3.6 < sigma[3] <= 4.0  # the fitted tail is a little heavier than a normal's
    assert np.all(np.diff(sigma) > 0)  # the tail keeps ranking past the training maximum
    assert np.all(sigma <= z[:, 0])
    assert sigma_equivalent(normal_tail(np.array([3.0])))[0] == pytest.approx(3.0)


def test_heavy_tails_are_discounted_and_sign_is_kept() -> None:
    calm = np.abs(RNG.normal(size=20_000))
    bursty = np.abs(RNG.standard_t(2, size=20_000))
    table = fit_tails(np.column_stack([calm, bursty]))
    sigma = calibrated_sigma(np.array([[-6.0, -6.0], [6.0, 6.0]]), table)
    assert sigma[0, 1] == -sigma[1, 1] and sigma[1, 1] < 3.0 < sigma[1, 0]
    p = tail_probability(np.array([[6.0, 6.0]]), table)[0]
    assert p[1] > 100 * p[0]  # 6 sigma is ordinary on the bursty series


def test_too_few_training_scores_leave_z_uncalibrated() -> None:
    table = fit_tails(np.abs(RNG.normal(size=(20, 1))))
    assert np.isnan(table.knots).all()
    assert calibrated_sigma(np.array([[-7.5]]), table)[0, 0] == -7.5


def _minute_index(days: float, start: str = "2026-10-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=int(days * 1440), freq="1min", tz="UTC")


def _loudness(model: SeasonalBaseline, later: pd.DataFrame) -> dict[str, dict]:
    """Each column's event over `later`, scored and calibrated by `model`."""
    z = model.score(later)
    calibrated = model.calibrate(z)
    out = {}
    for key in later.columns:
        (event,) = events_for_series("a", key.split(":")[1], z[key], later[key], later[key],
                                     later[key], step=timedelta(minutes=1), detector="t",
                                     model_version="v", bucket_label=str,
                                     calibrated=calibrated[key])  # fmt: skip
        out[key] = event
    return out


@pytest.mark.parametrize(
    ("config", "days"),
    [(None, 15.0), (short_tier_config(), 2.0)],
    ids=["weekly tier", "short tier (two days, the day-one ladder)"],
)
def test_a_step_of_a_quantised_series_is_not_louder_than_a_latency_regression(config, days):
    index = _minute_index(days)
    replicas = np.full(len(index), 3.0)
    replicas[RNG.choice(len(index), len(index) // 400, replace=False)] = 4.0
    latency = 0.2 + RNG.normal(0, 0.01, len(index))
    model = SeasonalBaseline(config).fit(
        pd.DataFrame({"a:replicas": replicas, "a:latency": latency}, index=index)
    )
    later = pd.date_range(index[-1] + pd.Timedelta(minutes=1), periods=20, freq="1min")
    # the replica count jumps by one and stays there; latency regresses by 30%
    step = pd.DataFrame({"a:replicas": 4.0, "a:latency": 0.26}, index=later)
    z = model.score(step)
    calibrated = model.calibrate(z)
    assert calibrated["a:replicas"].abs().max() < 2.0 < 4.0 < calibrated["a:latency"].min()
    # forced over the band (a lower event threshold), the step is still the quieter event
    bigger = pd.DataFrame({"a:replicas": 7.0, "a:latency": 0.26}, index=later)
    events = _loudness(model, bigger)
    assert events["a:replicas"]["peak_score"] < events["a:latency"]["peak_score"]
    assert events["a:replicas"]["confidence"] < events["a:latency"]["confidence"]


def test_a_bursty_series_leaving_its_band_is_quieter_than_a_calm_one() -> None:
    """Same robust z, different histories: the series that does this every day gets a lower
    peak, a lower confidence, and says why in its explanation."""
    index = _minute_index(15.0)
    calm = 100 + RNG.normal(0, 1.0, len(index))
    bursty = 100 + RNG.standard_t(2, len(index))
    model = SeasonalBaseline().fit(pd.DataFrame({"a:calm": calm, "a:bursty": bursty}, index=index))
    later = pd.date_range(index[-1] + pd.Timedelta(minutes=1), periods=10, freq="1min")
    center, _, _ = model.expected(later, ["a:calm", "a:bursty"])
    spread = model.explain("a:calm", later[0]).spread, model.explain("a:bursty", later[0]).spread
    six = pd.DataFrame(
        {"a:calm": center["a:calm"] + 6 * spread[0], "a:bursty": center["a:bursty"] + 6 * spread[1]}
    )
    events = _loudness(model, six)
    calm_event, bursty_event = events["a:calm"], events["a:bursty"]
    assert calm_event["context"]["robust_sigma"] == pytest.approx(6.0, abs=0.2)
    assert bursty_event["context"]["robust_sigma"] == pytest.approx(6.0, abs=0.2)
    assert bursty_event["peak_score"] < calm_event["peak_score"] - 1.0
    assert bursty_event["confidence"] < calm_event["confidence"]
    assert "as rare as" in bursty_event["explanation"]
    assert "as rare as" not in calm_event["explanation"]
    assert bursty_event["context"]["tail_probability"] > calm_event["context"]["tail_probability"]


def test_tails_round_trip_and_older_models_stay_uncalibrated(tmp_path) -> None:
    index = _minute_index(15.0)
    model = SeasonalBaseline().fit(
        pd.DataFrame({"a:x": 5 + RNG.standard_t(3, len(index))}, index=index)
    )
    model.save(tmp_path / "m")
    loaded = SeasonalBaseline.load(tmp_path / "m")
    assert np.array_equal(loaded.tails_.knots, model.tails_.knots)
    assert np.array_equal(loaded.tails_.scale, model.tails_.scale)
    later = pd.DataFrame({"a:x": [5.0, 9.0, 30.0]}, index=_minute_index(3 / 1440, "2026-10-17"))
    z = model.score(later)
    pd.testing.assert_frame_equal(loaded.calibrate(z), model.calibrate(z), check_exact=True)
    # a model saved before calibration existed: no tail arrays, scores stay the z
    with np.load(tmp_path / "m" / "seasonal_baseline.npz") as arrays:
        older = {k: arrays[k] for k in arrays.files if not k.startswith("tail_")}
    np.savez(tmp_path / "m" / "seasonal_baseline.npz", **older)
    pd.testing.assert_frame_equal(SeasonalBaseline.load(tmp_path / "m").calibrate(z), z)


def test_multivariate_sigma_ranks_past_the_training_maximum(tmp_path) -> None:
    index = _minute_index(2.0)
    z = pd.DataFrame(RNG.normal(size=(len(index), 3)), index=index,
                     columns=["s:cpu", "s:latency", "s:errors"])  # fmt: skip
    detector = ServiceDetector(ServiceDetectorConfig()).fit(z)
    rows = pd.DataFrame([[0.0, 0.0, 0.0], [3.0, 3.0, 0.0], [6.0, 6.0, 6.0], [12.0, 12.0, 12.0]],
                        index=index[:4], columns=z.columns)  # fmt: skip
    raw = detector.raw_score(rows)
    sigma = detector.sigma(raw)["s"].to_numpy()
    assert sigma[0] < 2.0 and np.all(np.diff(sigma) > 0)
    # the [0, 1] score saturates at the rarest training row; sigma keeps ranking past it
    assert detector.calibrate(raw)["s"].iloc[2:].tolist() == [1.0, 1.0]
    detector.save(tmp_path / "d")
    again = ServiceDetector.load(tmp_path / "d")
    np.testing.assert_array_equal(again.sigma(again.raw_score(rows))["s"].to_numpy(), sigma)
