"""The causal detector's knob grid for the NAB bench, and its scores cached per (config, file).

The grid is small on purpose (64 configs): with three real categories to choose on, a large
grid would mostly measure how well a search overfits. It crosses the knobs most likely to
move a NAB score, the default among them:

- `threshold` in {0.99, 0.995, 0.999, 0.9995}: how rare a calibrated score must be;
- `likelihood_short` in {3, 5}: rows of raw score averaged before calibration (the most
  sensitive knob when the first default was chosen; 10 was in the first grid and never
  chosen in any fold);
- `likelihood_min_std` in {1e-6, 1.0}: the floor on the raw-score history's deviation in
  the calibration (1e-6 is the detector before the floor existed; 1.0 stops near-constant
  histories, e.g. a perfect square wave's, from making one blip look infinitely rare);
- a memory / decision variant, four of them: the first default (`baseline_window` 500,
  `likelihood_long` 500, `suppress` 30, no `rearm`); a longer memory (`baseline_window`
  1000 and `likelihood_long` 1000, for slow series where 500 rows is less than a cycle);
  one report per 100 rows (`suppress` 100); and `rearm` (one report per incident: a new
  detection only after the score went below the threshold).

`threshold`, `suppress` and `rearm` act only in `detect`, so the anomaly scores of a file
are computed once per remaining knobs and re-thresholded; each (config, file) score is
computed once and kept for every fold of the leave-one-category-out selection.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import fields, replace

import numpy as np

from aiops.baselines.causal import CausalDetector, CausalDetectorConfig
from bench.nab import scoring
from bench.nab.corpus import NabFile

DEFAULT = CausalDetectorConfig()
THRESHOLDS = (0.99, 0.995, 0.999, 0.9995)
LIKELIHOOD_SHORT = (3, 5)
LIKELIHOOD_MIN_STD = (1e-6, 1.0)
MEMORY_VARIANTS = (
    {"rearm": False},
    {"baseline_window": 1000, "likelihood_long": 1000, "rearm": False},
    {"suppress": 100, "rearm": False},
    {"rearm": True},
)


def causal_grid() -> list[CausalDetectorConfig]:
    """The 64 configs, in a fixed order (ties in the selection go to the earlier one)."""
    return [
        replace(DEFAULT, threshold=t, likelihood_short=s, likelihood_min_std=m, **memory)
        for m, memory, s, t in itertools.product(
            LIKELIHOOD_MIN_STD, MEMORY_VARIANTS, LIKELIHOOD_SHORT, THRESHOLDS
        )
    ]


def describe(config: CausalDetectorConfig) -> str:
    """The knobs that differ from the default, e.g. `threshold=0.995 suppress=100`."""
    changed = [
        f"{f.name}={getattr(config, f.name)}"
        for f in fields(config)
        if getattr(config, f.name) != getattr(DEFAULT, f.name)
    ]
    return " ".join(changed) or "default"


class CausalRuns:
    """Per-file NAB scores of `CausalDetector` configs, each (config, file) computed once."""

    def __init__(self, files: Iterable[NabFile]) -> None:
        self.files = list(files)
        self._anomaly_scores: dict[CausalDetectorConfig, dict[str, np.ndarray]] = {}
        self._file_scores: dict[CausalDetectorConfig, dict[str, scoring.FileScore]] = {}

    def file_scores(self, config: CausalDetectorConfig) -> dict[str, scoring.FileScore]:
        """Each file's score with the detector's own `is_anomaly` under `config`."""
        if config not in self._file_scores:
            # the anomaly scores do not depend on the decision knobs: share them
            key = replace(
                config, threshold=DEFAULT.threshold, suppress=DEFAULT.suppress, rearm=DEFAULT.rearm
            )
            if key not in self._anomaly_scores:
                self._anomaly_scores[key] = {
                    f.name: CausalDetector(key).score(
                        f.frame["timestamp"], f.frame["value"].to_numpy(dtype=float)
                    )
                    for f in self.files
                }
            detector = CausalDetector(config)
            self._file_scores[config] = {
                f.name: scoring.score_detections(
                    f.prepared, detector.detect(self._anomaly_scores[key][f.name])
                )
                for f in self.files
            }
        return self._file_scores[config]

    @property
    def scored_configs(self) -> int:
        """How many anomaly-score passes over the files were actually run."""
        return len(self._anomaly_scores)
