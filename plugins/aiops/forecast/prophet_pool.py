"""Prophet's fits in a bounded pool of worker processes: the jobs, the workers, the pool.

Prophet fits one series at a time through cmdstan, about 0.1-0.5 s for 21 days of
15-minute points and five times that at 5 minutes, so it is fitted on `resolution`-wide
bin means (default an hour: ProphetConfig.resolution_floor) and each fit is a job for a `ProcessPoolExecutor` of
`ForecastConfig.workers` processes. They start from a "forkserver" (never a plain fork:
the parent may hold threads and open connections, e.g. inside an Airflow task) that has
imported Prophet once (`aiops.forecast._preload`), so a pool starts in ~0.05 s instead of
the ~2 s a spawned worker needs to import Prophet, after the first pool of the process. A
job is one series with all of its backtest fits and, if asked, the final fit on all
data; it returns the forecasts and the fitted model as Prophet's own JSON
(`prophet.serialize`), never a pickle.

Time is placed at bin centres: a resolution bin labelled L (holding [L - res, L)) is the
point L - res/2, and the forecast for the step bin labelled T is Prophet's value at
T - step/2, so the coarse fit and the fine targets describe the same instants.
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiops.forecast.grid import StepGrid, timedelta_ns

if TYPE_CHECKING:
    from aiops.forecast.prophet_model import ProphetConfig

log = logging.getLogger(__name__)

NOISY_LOGGERS = ("cmdstanpy", "prophet")
PRELOAD = "aiops.forecast._preload"  # imported once by the fork server: Prophet, quietly


def quiet_prophet_logging() -> None:
    """Prophet logs an error on import when plotly is missing ("Importing plotly failed"),
    sets its own logger to INFO, and cmdstanpy adds an INFO stream handler on first use
    unless one exists; all three are turned down to warnings here, before the import."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.WARNING)


def _prophet_class() -> Any:
    quiet_prophet_logging()
    from prophet import Prophet

    logging.getLogger("prophet").setLevel(logging.WARNING)  # the import set it to INFO
    return Prophet


@dataclass(frozen=True)
class ProphetJob:
    """One series: its resolution bins, the backtest fits and the origins each forecasts
    from, and the targets."""

    key: str
    label_ns: np.ndarray  # resolution bin labels (right edges)
    y: np.ndarray  # resolution bin means, NaN where empty
    resolution_ns: int
    # (fit end, origins it forecasts from): a fit uses the bins labelled <= its end
    fits: tuple[tuple[int, tuple[int, ...]], ...]
    target_offsets_ns: np.ndarray  # target bin centres relative to the origin
    final_origin_ns: int | None  # also fit on bins up to here and return the model JSON
    config: ProphetConfig


@dataclass(frozen=True)
class ProphetResult:
    key: str
    forecasts: np.ndarray  # (origins of all fits in order, horizon steps); NaN: no fit
    model_json: str | None
    errors: tuple[str, ...]


def run_job(job: ProphetJob) -> ProphetResult:
    """Worker entry point (module level, so workers can import it): fit and forecast one
    series."""
    quiet_prophet_logging()
    from prophet.serialize import model_to_json

    horizon = len(job.target_offsets_ns)
    forecasts = np.full((n_origins(job), horizon), np.nan)
    errors: list[str] = []
    row = 0
    for fit_end, origins in job.fits:
        try:
            model = _fit(job, fit_end)
            if model is not None:
                targets = (np.array(origins)[:, None] + job.target_offsets_ns[None, :]).ravel()
                forecasts[row : row + len(origins)] = predict_at(model, targets).reshape(
                    -1, horizon
                )
        except Exception as exc:  # one failed fit costs its origins, not the set
            errors.append(f"fit at {pd.Timestamp(fit_end, tz='UTC')}: {exc}")
        row += len(origins)
    model_json = None
    if job.final_origin_ns is not None:
        try:
            model = _fit(job, job.final_origin_ns)
            with _prophet_deprecations_hidden():
                model_json = None if model is None else model_to_json(model)
        except Exception as exc:
            errors.append(f"final fit: {exc}")
    return ProphetResult(job.key, forecasts, model_json, tuple(errors))


def n_origins(job: ProphetJob) -> int:
    return sum(len(origins) for _, origins in job.fits)


def _fit(job: ProphetJob, origin_ns: int) -> Any:
    cfg = job.config
    keep = job.label_ns <= origin_ns
    if cfg.history is not None:
        keep &= job.label_ns > origin_ns - timedelta_ns(cfg.history)
    keep &= np.isfinite(job.y)
    if keep.sum() < cfg.min_points:
        return None
    centres = job.label_ns[keep] - job.resolution_ns // 2
    frame = pd.DataFrame({"ds": _naive(centres), "y": job.y[keep]})
    model = _prophet_class()(
        growth="linear",
        daily_seasonality=cfg.daily_seasonality,
        weekly_seasonality=cfg.weekly_seasonality,
        yearly_seasonality=False,
        changepoint_prior_scale=cfg.changepoint_prior_scale,
        seasonality_prior_scale=cfg.seasonality_prior_scale,
        uncertainty_samples=0,
    )
    with _prophet_deprecations_hidden():
        return model.fit(frame, seed=cfg.seed)


def predict_at(model: Any, centres_ns: np.ndarray) -> np.ndarray:
    """Prophet's yhat at the given instants (epoch ns, UTC)."""
    with _prophet_deprecations_hidden():
        out = model.predict(pd.DataFrame({"ds": _naive(np.asarray(centres_ns))}))
    return out["yhat"].to_numpy(dtype=float)


def model_from_json(text: str) -> Any:
    _prophet_class()
    from prophet.serialize import model_from_json as _from_json

    with _prophet_deprecations_hidden():
        return _from_json(text)


@contextmanager
def _prophet_deprecations_hidden() -> Iterator[None]:
    """Prophet 1.5 calls pandas APIs that pandas 3 deprecates (DataFrame.drop(inplace=),
    read_json(convert_dates=)); those warnings are Prophet's to fix and would otherwise
    repeat for every series in every hourly log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        yield


def _naive(t_ns: np.ndarray) -> pd.Series:
    """Prophet wants naive timestamps; these are UTC."""
    return pd.Series(np.asarray(t_ns, dtype=np.int64).astype("datetime64[ns]"))


def resolution_bins(grid: StepGrid, resolution_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, means) of the grid averaged into resolution-wide bins, same labelling rule:
    the step bin labelled T, [T - step, T), falls in the resolution bin labelled ceil(T / res)."""
    labels = -(-grid.t_ns // resolution_ns) * resolution_ns
    valid = np.isfinite(grid.values)
    uniq, starts = np.unique(labels, return_index=True)
    sums = np.add.reduceat(np.where(valid, grid.values, 0.0), starts, axis=0)
    counts = np.add.reduceat(valid.astype(np.int64), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return uniq, means


def _init_worker() -> None:
    quiet_prophet_logging()


class ProphetPool:
    """A lazily started, bounded process pool; use as a context manager around a fit."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProphetPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, jobs: list[ProphetJob]) -> list[ProphetResult]:
        """Results in job order; a job whose worker died comes back all-NaN with the error."""
        if not jobs:
            return []
        if multiprocessing.current_process().daemon:
            log.warning(
                "prophet: this is a daemonic process (e.g. a Celery prefork worker), which "
                "cannot start a pool; fitting %d series here, one at a time",
                len(jobs),
            )
            return self._report([run_job(job) for job in jobs])
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([PRELOAD])
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_init_worker
            )
        futures: list[Future[ProphetResult]] = [self._executor.submit(run_job, j) for j in jobs]
        results, broken = [], False
        for job, future in zip(jobs, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as exc:  # a worker killed (OOM), a pickling error: Prophet only
                broken |= isinstance(exc, BrokenProcessPool)
                shape = (n_origins(job), len(job.target_offsets_ns))
                results.append(ProphetResult(job.key, np.full(shape, np.nan), None, (repr(exc),)))
        if broken:  # the next run() starts a fresh pool
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        return self._report(results)

    @staticmethod
    def _report(results: list[ProphetResult]) -> list[ProphetResult]:
        for result in results:
            for error in result.errors:
                log.warning("prophet: %s: %s", result.key, error)
        return results
