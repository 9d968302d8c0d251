"""Nightly forecaster training and hourly predictions of one service: the work behind the
forecast parts of both DAGs.

Nightly: the validated training frame the baselines were fitted on also trains the
service's forecasters (each series' model chosen by backtest) and is stored as one
registry version named after the window's end.

Hourly: the newest good forecaster trained on data that ended by the interval's start (so
a backfill predicts with the model the live run had) forecasts every signal from the
interval's end, the origin. Out of that come the `predictions` rows (every signal; desired
replicas for the scaling metric) and the `predictive_alerts` rows (signals with an SLO
threshold whose forecast crosses it within the horizon). Nothing reads the wall clock.

A forecast is as fresh as the data it was made from: every prediction row carries
`observed_at`, the newest observed (non-NaN) point of its series, and the scaler measures
age from it. A signal whose newest point is older than `max_input_age` (2 hours: two runs of
the hourly DAG) before the origin gets no prediction and no alert this hour, only a note and
the `stale_inputs` total: a forecast from data that ended hours ago must not be served as
this hour's, and the rows the last fresh run stored age out in the scaler on their own.

One service's failure never costs its shard-mates: each service runs on its own, what
succeeded is stored, and :class:`aiops.errors.ServicesFailed` names the failures at the end.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.catalog import Catalog, Scaling
from aiops.errors import PerService
from aiops.forecast import ForecastConfig, ForecastError, ForecastSet
from aiops.forecast.config import CANDIDATES
from aiops.metrics.frames import fetch_validated, service_frame, signal_bounds, window_grid
from aiops.model_registry import ModelMeta, ModelRegistry, version_for
from aiops.predictive.band_picture import band_picture
from aiops.predictive.breach import time_to_breach
from aiops.predictive.scaling import replicas_plan, scaling_values, unbiased_mean
from aiops.quality import FrameVerdict, quarantine
from aiops.settings import forecast_candidates
from aiops.sources.signals import SignalSource
from aiops.store import Store
from aiops.units import format_duration

log = logging.getLogger(__name__)


def _default_forecast() -> ForecastConfig:
    # request rates swing more as they grow (a campaign lifts the evening peak more than the
    # night): modelled in log space, their forecasts scale the daily profile with the level
    return ForecastConfig(log_signals=("request_rate",), candidates=forecast_candidates(CANDIDATES))


# How old the newest observed point of a series may be, before the origin, for the hourly run
# to forecast from it: two runs of the hourly DAG, the scaler's default max_age.
MAX_INPUT_AGE = timedelta(hours=2)


@dataclass(frozen=True)
class PredictionSettings:
    """``max_input_age``: a series whose newest observed point is older than this before the
    origin is not forecast (counted in ``stale_inputs``). ``scaling_only``: forecast only
    each service's scaling metric and raise no alerts (the refresh between hourly runs)."""

    forecast: ForecastConfig = field(default_factory=_default_forecast)
    max_input_age: timedelta = MAX_INPUT_AGE
    scaling_only: bool = False


@dataclass
class PredictionOutcome:
    """What one service's hourly prediction produced; the task upserts and counts it."""

    service: str
    predictions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[FrameVerdict] = field(default_factory=list)
    model: ModelMeta | None = None
    notes: list[str] = field(default_factory=list)
    stale_inputs: list[str] = field(default_factory=list)  # signals whose data ended too early

    @property
    def quarantined(self) -> list[FrameVerdict]:
        return [v for v in self.verdicts if not v.ok]


def forecast_model_name(service: str) -> str:
    return f"forecast/{service}"


def train_forecasts(
    frame: pd.DataFrame,
    service: str,
    window_end: datetime,
    registry: ModelRegistry,
    settings: PredictionSettings | None = None,
) -> ModelMeta:
    """Fit, backtest and store the service's forecasters on its validated training frame
    (default settings read when called, so AIOPS_FORECAST_CANDIDATES applies). The set
    stored for an earlier night (strictly before `window_end`, so a rerun of this night
    does the same work) spares the costly candidates where they do not pay."""
    settings = settings or PredictionSettings()
    previous = _previous_forecasts(registry, service, window_end)
    forecasts = ForecastSet(settings.forecast).fit(frame, previous)
    choices = {key: choice["model"] for key, choice in forecasts.choices_.items()}
    meta = ModelMeta(
        name=forecast_model_name(service),
        version=version_for(window_end),
        kind="forecast-set",
        data_start=frame.index[0].isoformat(),
        data_end=window_end.isoformat(),
        trained_at=window_end.isoformat(),
        points=int(frame.notna().to_numpy().sum()),
        series=len(choices),
        quality={
            "choices": choices,
            "mase": {k: _chosen_score(c, "mase") for k, c in forecasts.choices_.items()},
            "skipped": dict(forecasts.skipped_),
        },
    )
    registry.save(meta, lambda folder: forecasts.save(folder / "forecast"))
    return meta


def _previous_forecasts(
    registry: ModelRegistry, service: str, window_end: datetime
) -> ForecastSet | None:
    found = registry.latest_good(forecast_model_name(service),
                                 as_of=window_end - timedelta(microseconds=1))  # fmt: skip
    if found is None:
        return None
    path, _ = found
    try:
        with tempfile.TemporaryDirectory(prefix="aiops-train-") as tmp:
            return ForecastSet.load(registry.local_copy(path, Path(tmp)) / "forecast")
    except (ForecastError, OSError, ValueError, KeyError) as exc:  # unreadable: a full night
        log.warning("%s: previous forecasters at %s not read (%s); every candidate runs",
                    service, path, exc)  # fmt: skip
        return None


def train_service_forecasts(
    frame: pd.DataFrame, service: str, window_end: datetime, registry: ModelRegistry
) -> bool:
    """:func:`train_forecasts` for the nightly training step: a service none of whose series
    can be forecast keeps its previous forecaster (logged), instead of failing the shard."""
    try:
        train_forecasts(frame, service, window_end, registry)
    except ForecastError as exc:
        log.warning("%s: forecasters not trained: %s", service, exc)
        return False
    return True


def _chosen_score(choice: dict[str, Any], metric: str) -> float | None:
    score = choice.get("scores", {}).get(choice["model"], {}).get(metric)
    return None if score is None or not np.isfinite(score) else round(float(score), 4)


def predict_service(
    source: SignalSource,
    catalog: Catalog,
    service: str,
    start: datetime,
    end: datetime,
    registry: ModelRegistry,
    settings: PredictionSettings = PredictionSettings(),
) -> PredictionOutcome:
    """Forecast every signal of the service from `end` (the interval's end) and derive the
    predictions and predictive-alert rows."""
    outcome = PredictionOutcome(service)
    found = registry.latest_good(forecast_model_name(service), as_of=start)
    if found is None:
        outcome.notes.append(
            f"no forecaster trained on data ending by {start.isoformat()}; no predictions"
        )
        return outcome
    path, meta = found
    outcome.model = meta
    with tempfile.TemporaryDirectory(prefix="aiops-predict-") as tmp:
        forecasts = ForecastSet.load(registry.local_copy(path, Path(tmp)) / "forecast")

    history_start = end - forecasts.history_needed
    svc = catalog.services[service]
    signals = None
    if settings.scaling_only:
        if svc.scaling is None:
            outcome.notes.append("no scaling section; nothing to refresh")
            return outcome
        signals = [svc.scaling.metric]
    good, outcome.verdicts = fetch_validated(
        source, catalog, service, history_start, end, "predict", signals
    )
    if not good:
        outcome.notes.append("no signal passed the checks; no predictions this hour")
        return outcome
    step = timedelta(seconds=catalog.defaults.step)
    for signal, why in stale_signals(good, end, settings.max_input_age).items():
        del good[signal]
        outcome.stale_inputs.append(signal)
        outcome.notes.append(f"{service}:{signal}: {why}; no prediction this hour")
    if not good:
        return outcome
    history = service_frame(service, good, window_grid(history_start, end, step))
    paths = forecasts.predict(history, end, bounds=signal_bounds(catalog, service, good))

    thresholds = {} if settings.scaling_only else svc.slo.thresholds()
    for signal in good:
        key = f"{service}:{signal}"
        forecast = paths.get(key)
        if forecast is None or forecast.empty:
            outcome.notes.append(
                f"{key}: no forecast ({forecasts.skipped_.get(key, 'not fitted')})"
            )
            continue
        model = forecasts.choices_.get(key, {}).get("model", "unknown")
        observed_at, observed = _last_observation(history[key])
        scaling = svc.scaling if svc.scaling and svc.scaling.metric == signal else None
        shape = Shape(forecasts.config.level, forecasts.is_log(key))
        rows = _prediction_rows(
            service, signal, forecast, shape, end, observed, observed_at, model, meta.version,
            scaling,
        )  # fmt: skip
        outcome.predictions += rows
        if signal in thresholds:
            breach = time_to_breach(
                service,
                signal,
                forecast,
                thresholds[signal],
                end,
                observed,
                level=settings.forecast.level,
                unit=catalog.signal(service, signal).unit,
            )
            if breach is not None:
                log.info("%s: %s", service, breach.message())
                unit = catalog.signal(service, signal).unit or ""
                picture = band_picture(service, signal, unit, end, history[key], rows,
                                       thresholds[signal])  # fmt: skip
                outcome.alerts.append({**breach.row(model, meta.version),
                                       "picture": picture.to_json()})  # fmt: skip
    return outcome


def predict_services(
    store: Store,
    source: SignalSource,
    catalog: Catalog,
    services: Iterable[str],
    start: datetime,
    end: datetime,
    registry: ModelRegistry,
    settings: PredictionSettings | None = None,
) -> dict[str, int]:
    """The hourly prediction step: each service forecast from ``end``, its predictions (which
    the KEDA scaler serves) and predictive alerts upserted, its quarantine rows of the
    interval replaced by this run's verdicts.

    Services run one after another, each on its own: a service that fails (its query, its
    model, its writes) is logged and the next one runs; after the last,
    :class:`~aiops.errors.ServicesFailed` names every failure, with the others' rows stored.
    Totals: ``stale_inputs`` counts signals not forecast because their data ended more than
    ``max_input_age`` before ``end``; ``failed`` the services that raised.
    """
    settings = settings or PredictionSettings()
    totals = {
        "services": 0,
        "predictions": 0,
        "alerts": 0,
        "quarantined": 0,
        "unpredicted": 0,
        "stale_inputs": 0,
        "failed": 0,
    }
    services = list(services)

    def predict(service: str) -> PredictionOutcome:
        outcome = predict_service(source, catalog, service, start, end, registry, settings)
        # a backfilled hour never replaces what a newer hour predicted for the same time
        store.upsert("predictions", outcome.predictions, newer="generated_at")
        store.upsert("predictive_alerts", outcome.alerts)
        totals["quarantined"] += quarantine(store, outcome.verdicts, start, end)
        return outcome

    shard = PerService("predict")
    for service, outcome in shard.run(services, predict):
        totals["services"] += 1
        totals["predictions"] += len(outcome.predictions)
        totals["alerts"] += len(outcome.alerts)
        totals["unpredicted"] += 0 if outcome.predictions else 1
        totals["stale_inputs"] += len(outcome.stale_inputs)
        for note in outcome.notes:
            log.warning("%s: %s", service, note)
    totals["failed"] = len(shard.failures)
    log.info("forecast from %s, shard %s: %s", end.isoformat(), services, totals)
    shard.raise_failures()
    return totals


def refresh_scaling(
    store: Store,
    source: SignalSource,
    catalog: Catalog,
    start: datetime,
    end: datetime,
    registry: ModelRegistry,
) -> dict[str, int]:
    """Between hourly runs: each scaled service's scaling metric forecast again from ``end``
    with the stored model (no refit) and the newest data, so the rows the KEDA scaler serves
    carry the load observed minutes ago as their floor and their age. Newer rows replace the
    hourly run's for the same target times; no alert is raised (the hourly run does that)."""
    scaled = [name for name, svc in catalog.services.items() if svc.scaling is not None]
    settings = replace(PredictionSettings(), scaling_only=True)
    return predict_services(store, source, catalog, scaled, start, end, registry, settings)


def stale_signals(
    series: dict[str, pd.Series], origin: datetime, limit: timedelta
) -> dict[str, str]:
    """Signals whose newest observed (non-NaN) point is more than ``limit`` before ``origin``,
    each with why: a forecast from them would be presented as this hour's."""
    stale: dict[str, str] = {}
    for signal, values in series.items():
        observed = values.dropna()
        if observed.empty:
            stale[signal] = "no observed point in the history"
            continue
        newest = observed.index.max().to_pydatetime()
        if origin - newest > limit:
            age = format_duration((origin - newest).total_seconds())
            stale[signal] = (
                f"newest observed point {newest.isoformat()} is {age} before the origin "
                f"{origin.isoformat()} (limit {format_duration(limit.total_seconds())})"
            )
    return stale


def _last_observation(series: pd.Series) -> tuple[datetime | None, float | None]:
    observed = series.dropna()
    if observed.empty:
        return None, None
    return observed.index[-1].to_pydatetime(), float(observed.iloc[-1])


@dataclass(frozen=True)
class Shape:
    """How to read a forecast's columns: the interval's level, and whether the series was
    modelled as log1p (then `mean` is the back-transformed centre, a median)."""

    level: float
    log_scale: bool


def _prediction_rows(
    service: str,
    signal: str,
    forecast: pd.DataFrame,
    shape: Shape,
    origin: datetime,
    observed: float | None,
    observed_at: datetime | None,
    model: str,
    model_version: str,
    scaling: Scaling | None,
) -> list[dict[str, Any]]:
    """The predictions rows of one signal: `value` the unbiased mean, the interval, and for
    the scaling metric the load to serve and the replicas it asks for."""
    values = replicas = None
    if scaling is not None:
        values = scaling_values(forecast, scaling, level=shape.level,
                                log_scale=shape.log_scale, observed=observed)  # fmt: skip
        replicas = replicas_plan(values, scaling)
    means = unbiased_mean(forecast, shape.level, shape.log_scale)
    rows = []
    for i, (target, point) in enumerate(forecast.iterrows()):
        rows.append(
            {
                "service": service,
                "metric": signal,
                "target_time": target.to_pydatetime(),
                "generated_at": origin,
                "value": float(means[i]),
                "lower": float(point["lower"]),
                "upper": float(point["upper"]),
                "scaling_value": (
                    None if values is None or pd.isna(values.iloc[i]) else float(values.iloc[i])
                ),
                "desired_replicas": (
                    None if replicas is None or pd.isna(replicas.iloc[i]) else int(replicas.iloc[i])
                ),
                "observed": observed,
                "observed_at": observed_at,
                "model": model,
                "model_version": model_version,
            }
        )
    return rows
