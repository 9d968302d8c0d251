"""Baselines: what each series normally looks like, and how unusual each minute is.

- `SeasonalBaseline` (aiops.baselines.seasonal): per (service, signal), an hour-of-week
  profile with a robust spread and a trend, fitted on at least 14 days for every column of a
  wide frame at once; `score` returns signed robust z-scores, `expected` the band,
  `explain` one point ("Tue 14:00: expected 0.031 s, 0.027..0.035, z = 9.2").
- `ServiceDetector` (aiops.baselines.multivariate): per service, PyOD's ECOD over the
  service's vector of z-scores, calibrated to [0, 1] against its training minutes.

Both take their knobs from a frozen config dataclass, learn in `fit`, keep learned state in
trailing-underscore attributes, and `save(folder)` / `load(folder)` round-trip exactly
(numpy arrays and JSON, no pickle).
"""

from aiops.baselines.multivariate import ServiceDetector, ServiceDetectorConfig
from aiops.baselines.seasonal import (
    BaselineError,
    Explanation,
    InsufficientHistoryError,
    SeasonalBaseline,
    SeasonalBaselineConfig,
    bucket_label,
)

__all__ = [
    "BaselineError",
    "Explanation",
    "InsufficientHistoryError",
    "SeasonalBaseline",
    "SeasonalBaselineConfig",
    "ServiceDetector",
    "ServiceDetectorConfig",
    "bucket_label",
]
