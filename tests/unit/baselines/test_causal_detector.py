"""The default causal detector and `detect_csv`, as `aiops detect` uses them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.baselines.causal import CausalDetector, CausalDetectorConfig, detect_frame
from aiops.metrics.detect_csv import DetectInputError, detect_csv


def seasonal_series(n: int = 3000, seed: int = 7, shift_at: int | None = None) -> pd.DataFrame:
    """5-minute samples with a daily cycle and noise; optionally a level shift at `shift_at`."""
    rng = np.random.default_rng(seed)
    timestamps = pd.date_range("2024-01-01", periods=n, freq="5min")
    phase = 2 * np.pi * np.arange(n) / 288
    values = 50 + 10 * np.sin(phase) + rng.normal(0, 1.0, n)
    if shift_at is not None:
        values[shift_at:] += 12.0
    return pd.DataFrame({"timestamp": timestamps, "value": values})


def test_scores_are_causal():
    frame = seasonal_series()
    k = 2000
    before = detect_frame(frame)
    changed = frame.copy()
    changed.loc[k:, "value"] = changed.loc[k:, "value"] * 3 + 100
    after = detect_frame(changed)
    np.testing.assert_array_equal(before["anomaly_score"][:k], after["anomaly_score"][:k])
    np.testing.assert_array_equal(before["is_anomaly"][:k], after["is_anomaly"][:k])
    assert not np.array_equal(before["anomaly_score"][k:], after["anomaly_score"][k:])


def test_scores_are_in_unit_interval_and_columns_are_the_contract():
    scored = detect_frame(seasonal_series(shift_at=2000))
    assert list(scored.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert scored["anomaly_score"].between(0.0, 1.0).all()
    assert scored["is_anomaly"].dtype == bool


def test_level_shift_is_flagged_within_a_few_points():
    shift_at = 2200
    scored = detect_frame(seasonal_series(shift_at=shift_at))
    flagged = np.flatnonzero(scored["is_anomaly"].to_numpy())
    after = flagged[flagged >= shift_at]
    assert len(after) and after[0] - shift_at <= 5, f"first detection after the shift: {after[:3]}"


def test_clean_series_has_almost_no_detections():
    scored = detect_frame(seasonal_series(n=5000, seed=11))
    assert scored["is_anomaly"].sum() <= 3  # under 0.1% of 5000 rows


def test_probation_never_flags():
    config = CausalDetectorConfig()
    scored = detect_frame(seasonal_series(shift_at=100), config)
    assert not scored["is_anomaly"][: config.probation].any()


def test_detector_is_not_per_series_state():
    frame = seasonal_series(shift_at=2200)
    detector = CausalDetector()
    first = detector.score(frame["timestamp"], frame["value"].to_numpy())
    detector.score(
        seasonal_series(seed=3)["timestamp"], seasonal_series(seed=3)["value"].to_numpy()
    )
    again = detector.score(frame["timestamp"], frame["value"].to_numpy())
    np.testing.assert_array_equal(first, again)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_detect_csv_writes_the_four_columns(tmp_path: Path):
    frame = seasonal_series(n=1500, shift_at=1200)
    src = tmp_path / "series.csv"
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(
        src, index=False
    )
    summary = detect_csv(src, tmp_path / "out" / "scores.csv")
    out = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert list(out.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert summary.rows == len(out) == 1500
    assert out["anomaly_score"].between(0, 1).all()
    assert set(out["is_anomaly"].unique()) <= {0, 1}
    assert summary.anomalies == out["is_anomaly"].sum() >= 1
    assert out["timestamp"].iloc[0] == "2024-01-01 00:00:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2024-01-01 00:00,1\nnot-a-time,2\n", "line 3: unparsable timestamp 'not-a-time'"),
        ("2024-01-01 00:00,1\n2024-01-01 00:05,abc\n", "line 3: unparsable value 'abc'"),
        ("2024-01-01 00:00,1\n2024-01-01 00:05,nan\n", "line 2: a single row with a value"),
        ("2024-01-01 00:00,1\n2024-01-01 00:05,inf\n", "line 3: value must be finite"),
        ("2024-01-01 00:00,1\n2024-01-01 00:05\n", "line 3: expected 2 columns"),
    ],
)
def test_detect_csv_errors_name_the_file_and_line(tmp_path: Path, body: str, message: str):
    src = write(tmp_path / "bad.csv", "timestamp,value\n" + body)
    with pytest.raises(DetectInputError) as info:
        detect_csv(src, tmp_path / "scores.csv")
    assert str(src) in str(info.value)
    assert message in str(info.value)
    assert not (tmp_path / "scores.csv").exists()


def test_detect_csv_requires_the_header(tmp_path: Path):
    src = write(tmp_path / "noheader.csv", "2024-01-01 00:00,1\n")
    with pytest.raises(DetectInputError, match="line 1: header must name timestamp and value"):
        detect_csv(src, tmp_path / "scores.csv")


# --- knobs chosen for issue 22 on NAB: calibration floor, rearm ---

#: the detector before `likelihood_min_std` and `rearm` existed (and with its first default
#: `likelihood_short`), to show what the new knobs change
FIRST_DEFAULT = CausalDetectorConfig(likelihood_short=5, likelihood_min_std=1e-6, rearm=False)


def square_wave(n: int = 4032) -> pd.DataFrame:
    """NAB's art_daily_perfect_square_wave shape: 5-minute rows, 80 for 9 h a day, else 20."""
    phase = np.arange(n) % 288
    values = np.where((phase >= 108) & (phase < 216), 80.0, 20.0)
    return pd.DataFrame(
        {"timestamp": pd.date_range("2024-01-01", periods=n, freq="5min"), "value": values}
    )


def test_square_wave_is_not_flagged_after_its_first_cycle():
    flagged = np.flatnonzero(detect_frame(square_wave())["is_anomaly"].to_numpy())
    assert not (flagged >= 288).any(), f"detections after the first day: {flagged}"


def test_square_wave_was_flagged_without_the_calibration_floor():
    # every upward flip after a long low stretch looked infinitely rare to the calibration
    flagged = np.flatnonzero(detect_frame(square_wave(), FIRST_DEFAULT)["is_anomaly"].to_numpy())
    assert (flagged >= 288).sum() >= 5


def test_calibration_floor_ignores_a_small_blip_on_a_flat_series():
    n = 1000
    frame = pd.DataFrame(
        {"timestamp": pd.date_range("2024-01-01", periods=n, freq="5min"), "value": 10.0}
    )
    frame.loc[600, "value"] = 10.02  # 0.2% of the level: twice the scale floor
    floored = detect_frame(frame)["is_anomaly"]
    unfloored = detect_frame(frame, CausalDetectorConfig(likelihood_min_std=1e-6))["is_anomaly"]
    assert not floored.any()
    assert unfloored.any()


def test_rearm_reports_a_long_incident_once():
    scores = np.zeros(1000)
    scores[400:600] = 1.0  # one incident, 200 rows above the threshold
    scores[700] = 1.0  # a second one
    config = CausalDetectorConfig(rearm=True, suppress=30)
    rearmed = np.flatnonzero(CausalDetector(config).detect(scores))
    repeated = np.flatnonzero(CausalDetector(replace(config, rearm=False)).detect(scores))
    assert list(rearmed) == [400, 700]
    assert len(repeated) > 3 and repeated[0] == 400


def test_rearm_needs_a_drop_not_only_time():
    scores = np.zeros(300)
    scores[200:300] = 1.0
    scores[250] = 0.0  # a drop: the next row above the threshold is a new report
    flags = CausalDetector(CausalDetectorConfig(rearm=True, suppress=30)).detect(scores)
    assert list(np.flatnonzero(flags)) == [200, 251]


@pytest.mark.parametrize(
    "config",
    [
        CausalDetectorConfig(),
        FIRST_DEFAULT,
    ],
    ids=["default", "first-default"],
)
def test_prefix_scores_equal_batch_scores(config: CausalDetectorConfig):
    frame = seasonal_series(n=2400, shift_at=1800)
    full = detect_frame(frame, config)
    for k in (700, 1500, 1900):
        prefix = detect_frame(frame.iloc[:k].reset_index(drop=True), config)
        np.testing.assert_allclose(
            prefix["anomaly_score"], full["anomaly_score"][:k], rtol=0, atol=1e-12
        )
        np.testing.assert_array_equal(prefix["is_anomaly"], full["is_anomaly"][:k])
