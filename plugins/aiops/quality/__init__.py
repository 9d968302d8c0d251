"""The data-quality gate: great-expectations suites that decide whether a frame may be used.

A metric frame that fails its suite (timestamps out of order or duplicated, gaps beyond the
tolerance, infinite, out-of-bounds or implausible values, too few points for the stage) is
quarantined in the store with its validation report and counted in the run summary; it is
neither silently dropped nor silently used. NaN (Prometheus' 0/0, no traffic) is a step
without a value, counted in the verdict, not a bad value.
"""

from aiops.quality.metric_frames import (
    SUITE_NAME,
    FrameChecks,
    FrameVerdict,
    metric_frame,
    quarantine,
    validate_frame,
)

__all__ = [
    "SUITE_NAME",
    "FrameChecks",
    "FrameVerdict",
    "metric_frame",
    "quarantine",
    "validate_frame",
]
