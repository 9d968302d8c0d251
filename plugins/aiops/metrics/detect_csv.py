"""`aiops detect`: score a real-world two-column CSV with the default causal detector.

The file is read by :mod:`aiops.metrics.series_csv`, which repairs what real exports carry
(repeated and unsorted timestamps, mixed offsets, epoch times, empty values, irregular
steps) and reports each repair, or refuses a file it cannot read, naming the file and line.
This module scores the regular series it gives and writes one row per step that has a value.

Missing steps are left out of the detector's input rather than passed as NaN:
:func:`aiops.baselines.causal.detect_frame` would give a NaN row a raw score of 0 (a
perfectly ordinary observation), which the calibration then learns from and which dilutes
the short windows around a real anomaly; that would be an invented value. The detector's
timestamps are the grid's, so its seasonal look-ups still find the same time yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiops.baselines.causal import SCORE_COLUMNS, CausalDetectorConfig, detect_frame
from aiops.metrics.series_csv import SeriesCsvError, SeriesReport, read_regular_series

#: The error `aiops detect` reports with exit code 2 (the name its callers already catch).
DetectInputError = SeriesCsvError


@dataclass(frozen=True)
class DetectSummary:
    input_path: Path
    output_path: Path
    rows: int
    anomalies: int
    first_anomaly: str | None  # timestamp, as written in the output
    report: SeriesReport  # what reading the input found and repaired

    def __str__(self) -> str:
        first = f", first at {self.first_anomaly}" if self.first_anomaly else ""
        return f"{self.output_path}: {self.rows:,} rows scored, {self.anomalies} anomalies{first}"


def detect_csv(
    input_path: Path, output_path: Path, config: CausalDetectorConfig | None = None
) -> DetectSummary:
    """Score `input_path` causally and write timestamp,value,anomaly_score,is_anomaly, one
    row per step of the regular grid that has a value (missing steps are not written)."""
    input_path, output_path = Path(input_path), Path(output_path)
    series = read_regular_series(input_path)
    frame = series.frame
    scored = detect_frame(frame[["timestamp", "value"]], config)
    # times in the input's style; values as read (or the average of the rows combined)
    scored["timestamp"] = frame["time_text"].to_numpy()
    scored["value"] = frame["value_text"].to_numpy()
    scored["anomaly_score"] = scored["anomaly_score"].round(6)
    scored["is_anomaly"] = scored["is_anomaly"].astype(int)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scored[SCORE_COLUMNS].to_csv(output_path, index=False)
    flagged = scored.loc[scored["is_anomaly"] == 1, "timestamp"]
    return DetectSummary(
        input_path=input_path,
        output_path=output_path,
        rows=len(scored),
        anomalies=len(flagged),
        first_anomaly=str(flagged.iloc[0]) if len(flagged) else None,
        report=series.report,
    )
