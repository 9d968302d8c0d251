"""The default causal detector and `detect_csv`, as `aiops detect` uses them."""

from __future__ import annotations

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
