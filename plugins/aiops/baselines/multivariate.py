"""Per-service multivariate detection: PyOD's ECOD over the service's vector of signals.

Features are the seasonal baseline's signed z-scores (`SeasonalBaseline.score`), not the
raw values. Raw request rate, CPU and latency all swing together with the time of day, so
on raw values ECOD's tails are the daily peaks and troughs: it would flag every busy evening
and miss an incident at 4 am. The z-scores already say "how unusual for this hour of the
week", are free of units, and keep their sign, which ECOD's left and right tails use. A
missing signal in a row counts as z = 0 ("as expected"); a row with no signal at all
scores NaN.

ECOD adds up per-feature tail scores as if the features were independent, and each one is
capped by the rank of the most extreme training row (about log(n)). A service's request
rate, CPU and memory share the load's noise, so an ordinary traffic burst is three or four
moderately extreme features at once and outscores a real failure that is extreme in two
(redis at 25x latency and 12% errors scored below the training maximum). With `whiten`
(the default) the z-scores are first decorrelated with the ZCA transform of their robust
correlation (z clipped to +-5), which keeps each whitened feature closest to its own signal
and turns the shared load component into one feature instead of several.

Four named steps, as in Merlion's detectors:

1. raw score (`raw_score`): ECOD's outlier score, the summed -log tail probabilities of
   each feature against the training rows;
2. calibration (`score`, in [0, 1]): the empirical CDF of the training rows' own raw
   scores, so 0.999 means "more unusual than 99.9% of the training minutes" for every
   service, however many signals it has;
3. decision (`flag`): score >= `threshold`;
4. loudness (`sigma`): the raw score's tail probability among the training rows, with an
   exponential tail past the rarest of them, as a normal sigma: the scale univariate events
   use (`aiops.baselines.calibration`), so incidents weigh both alike. The [0, 1] score
   cannot do this: it stops at 1 at the rarest training row.

Persistence without pickle: ECOD is deterministic and its whole fitted state is derived
from its training matrix, so `save` stores each service's (whitened) training matrix and
whitening transform (float64, in an .npz) and `load` refits ECOD on that matrix, which
reproduces the same decision scores bit for bit.
PyOD's `decision_function` ranks new rows together with the training rows, so a row's
score depends very slightly on the other rows of its batch; with an hourly batch of 60
rows against up to `max_train_rows` training rows the effect is negligible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD

from aiops.baselines.artifacts import read_meta
from aiops.baselines.calibration import TailTable, fit_tails, sigma_equivalent, tail_probability
from aiops.baselines.errors import BaselineError

ARRAYS_FILE = "service_detector.npz"
META_FILE = "service_detector.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ServiceDetectorConfig:
    """Every knob of the per-service detector."""

    # feature order; a service uses those it has. None: every `service:signal` column, in
    # the frame's order (a catalog's signals are open-ended)
    signals: tuple[str, ...] | None = None
    method: Literal["ecod", "copod"] = "ecod"
    max_train_rows: int = 20_000  # evenly strided sample of the training rows
    min_train_rows: int = 1_000
    threshold: float = 0.999  # calibrated score at or above which a row is flagged
    whiten: bool = True  # decorrelate the z-scores (ZCA of their robust correlation) first

    def __post_init__(self) -> None:
        if self.method not in ("ecod", "copod"):
            raise BaselineError(f"method: expected 'ecod' or 'copod', got {self.method!r}")
        if self.signals is not None and not self.signals:
            raise BaselineError("signals: need at least one signal (or None for all)")
        if self.min_train_rows < 2 or self.max_train_rows < self.min_train_rows:
            raise BaselineError(
                f"max_train_rows ({self.max_train_rows}) must be >= min_train_rows "
                f"({self.min_train_rows}) >= 2"
            )
        if not 0 < self.threshold <= 1:
            raise BaselineError(f"threshold: must be in (0, 1], got {self.threshold}")


class ServiceDetector:
    """One ECOD (or COPOD) per service over its signals' z-scores; fit, score, save, load."""

    def __init__(self, config: ServiceDetectorConfig | None = None) -> None:
        self.config = config or ServiceDetectorConfig()

    def __repr__(self) -> str:
        fitted = f", {len(self.services_)} services" if hasattr(self, "services_") else ""
        return f"ServiceDetector({self.config!r}{fitted})"

    def fit(self, z: pd.DataFrame) -> ServiceDetector:
        """Fit on a wide z-score frame (columns `service:signal`), one model per service."""
        columns = self._service_columns(z.columns)
        if not columns:
            raise BaselineError(
                "fit: no column is `service:signal`"
                + (f" with a signal in {list(self.config.signals)}" if self.config.signals else "")
            )
        self.services_: list[str] = []
        self.features_: dict[str, list[str]] = {}
        self.train_: dict[str, np.ndarray] = {}
        self.transform_: dict[str, np.ndarray] = {}
        self.calibration_: dict[str, np.ndarray] = {}
        self.tails_: dict[str, TailTable] = {}
        self.skipped_: dict[str, str] = {}
        self._models: dict[str, ECOD | COPOD] = {}
        for service, cols in columns.items():
            x, rows = _features(z, cols)
            x = x[rows]
            # a signal that never moved in training (z-scores within rounding of one value)
            # tells the model nothing, and every
            # later row would tie with all training rows: leave it out
            varying = np.ptp(x, axis=0) > 1e-6 if len(x) else np.zeros(len(cols), dtype=bool)
            if not varying.any():
                self.skipped_[service] = "every signal was constant in training"
                continue
            cols = [c for c, keep in zip(cols, varying, strict=True) if keep]
            x = x[:, varying]
            if len(x) < self.config.min_train_rows:
                self.skipped_[service] = (
                    f"only {len(x)} rows with data (min_train_rows={self.config.min_train_rows})"
                )
                continue
            if len(x) > self.config.max_train_rows:
                pick = np.linspace(0, len(x) - 1, self.config.max_train_rows).round()
                x = x[pick.astype(np.intp)]
            transform = _zca(x) if self.config.whiten else np.eye(x.shape[1])
            self._install(
                service,
                [c.split(":", 1)[1] for c in cols],
                np.ascontiguousarray(x @ transform),
                transform,
            )
        if not self.services_:
            raise BaselineError(f"fit: no service could be fitted: {self.skipped_}")
        return self

    def raw_score(self, z: pd.DataFrame) -> pd.DataFrame:
        """ECOD's outlier score per row and service (higher is more unusual); NaN if no data."""
        self._check_fitted()
        out = pd.DataFrame(np.nan, index=z.index, columns=list(self.services_))
        for service in self.services_:
            cols = [f"{service}:{s}" for s in self.features_[service]]
            present = [c for c in cols if c in z.columns]
            if not present:
                continue
            x, rows = _features(z.reindex(columns=cols), cols)
            if rows.any():
                scores = np.full(len(z), np.nan)
                features = x[rows] @ self.transform_[service]
                scores[rows] = self._models[service].decision_function(features)
                out[service] = scores
        return out

    def score(self, z: pd.DataFrame) -> pd.DataFrame:
        """Calibrated scores in [0, 1]: the share of training rows with a strictly lower raw
        score."""
        return self.calibrate(self.raw_score(z))

    def calibrate(self, raw: pd.DataFrame) -> pd.DataFrame:
        """`raw_score`'s scores as the share of training rows with a strictly lower one."""
        self._check_fitted()
        out = raw.copy()
        for service in self.services_:
            values = raw[service].to_numpy()
            ok = ~np.isnan(values)
            ref = self.calibration_[service]
            calibrated = np.full(len(values), np.nan)
            # strictly lower: a row that ties with every training row is ordinary, not rare
            calibrated[ok] = np.searchsorted(ref, values[ok], side="left") / len(ref)
            out[service] = calibrated
        return out

    def sigma(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Raw scores (`raw_score`) as the sigma-equivalent of their tail probability among
        the service's training rows, extrapolated past the largest (see
        `aiops.baselines.calibration`): the scale univariate events use, so an incident can
        weigh a combination of signals against one signal's deviation."""
        self._check_fitted()
        out = raw.copy()
        for service in self.services_:
            p = tail_probability(raw[service].to_numpy(dtype=float), self.tails_[service])
            out[service] = sigma_equivalent(p)
        return out

    def flag(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Rows whose calibrated score reaches the threshold (NaN scores are not flagged)."""
        return scores >= self.config.threshold

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write each service's training matrix and the configuration into folder."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, service in enumerate(self.services_):
            arrays[f"train_{i}"] = self.train_[service]
            arrays[f"transform_{i}"] = self.transform_[service]
        with (folder / ARRAYS_FILE).open("wb") as fh:
            np.savez(fh, **arrays)
        meta = {
            "format": FORMAT_VERSION,
            "kind": "service-detector",
            "config": {
                **asdict(self.config),
                "signals": None if self.config.signals is None else list(self.config.signals),
            },
            "services": self.services_,
            "features": self.features_,
            "skipped": self.skipped_,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ServiceDetector:
        folder = Path(folder)
        meta = read_meta(folder / META_FILE, FORMAT_VERSION, ServiceDetectorConfig, "detector")
        config = ServiceDetectorConfig(
            **{
                **meta["config"],
                "signals": None
                if meta["config"].get("signals") is None
                else tuple(meta["config"]["signals"]),
            }
        )
        model = cls(config)
        model.services_, model.features_, model.train_, model.transform_ = [], {}, {}, {}
        model.calibration_, model.tails_, model._models = {}, {}, {}
        model.skipped_ = dict(meta["skipped"])
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
            for i, service in enumerate(meta["services"]):
                model._install(
                    service,
                    list(meta["features"][service]),
                    arrays[f"train_{i}"],
                    arrays[f"transform_{i}"],
                )
        return model

    # --- internals ----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "services_"):
            raise BaselineError("ServiceDetector is not fitted: call fit(z) or load(folder)")

    def _service_columns(self, columns: Sequence[object]) -> dict[str, list[str]]:
        """service -> its `service:signal` columns, in the configured signal order."""
        wanted = self.config.signals
        by_service: dict[str, list[str]] = {}
        for c in columns:
            service, sep, signal = str(c).partition(":")
            if sep and (wanted is None or signal in wanted):
                by_service.setdefault(service, []).append(str(c))
        if wanted is not None:
            order = {sig: i for i, sig in enumerate(wanted)}
            for cols in by_service.values():
                cols.sort(key=lambda c: order[c.split(":", 1)[1]])
        return by_service

    def _install(
        self, service: str, features: list[str], x: np.ndarray, transform: np.ndarray
    ) -> None:
        """Fit the model on the (transformed) training rows x, deterministic, and keep what
        scoring, calibration and saving need."""
        model = ECOD() if self.config.method == "ecod" else COPOD()
        model.fit(x)
        self.services_.append(service)
        self.features_[service] = features
        self.train_[service] = x
        self.transform_[service] = transform
        self.calibration_[service] = np.sort(model.decision_scores_)
        self.tails_[service] = fit_tails(self.calibration_[service])
        self._models[service] = model


def _features(z: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, features) matrix with NaN as 0, and which rows had any data."""
    x = z[cols].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    rows = finite.any(axis=1)
    return np.where(finite, x, 0.0), rows


def _zca(x: np.ndarray) -> np.ndarray:
    """ZCA whitening matrix of the correlation of x clipped to +-5 (robust to incidents)."""
    clipped = np.clip(x, -5.0, 5.0)
    cov = np.atleast_2d(np.cov(clipped, rowvar=False))
    scale = np.sqrt(np.diag(cov))
    flat = scale == 0
    scale[flat] = 1.0
    corr = cov / np.outer(scale, scale)
    corr[flat, :] = 0.0
    corr[:, flat] = 0.0
    corr[flat, flat] = 1.0
    eigenvalues, vectors = np.linalg.eigh(corr)
    return (vectors * np.clip(eigenvalues, 1e-2, None) ** -0.5) @ vectors.T
