"""Nightly training and hourly scoring of a shard's baselines: the work behind both DAGs.

Nightly: pull `training_days` of every signal, quarantine frames that fail the quality suite,
fit the seasonal baseline (vectorised over the service's signals) and the service's
multivariate detector, and store them as one registry version named after the window's end.

Hourly: take the newest good model trained on data that ended by the interval's start (so a
backfill scores with the model the live run had), validate the interval's frames, score
them with a short lookback (so a deviation that started last hour continues its event), and
return debounced events. Missing data is a "no data" event, not a crash.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.baselines.multivariate import ServiceDetector, ServiceDetectorConfig
from aiops.baselines.seasonal import (
    InsufficientHistoryError,
    SeasonalBaseline,
    SeasonalBaselineConfig,
)
from aiops.catalog import Catalog
from aiops.logs.context import with_log_context
from aiops.metrics.event_store import open_event_starts, store_events
from aiops.metrics.events import EventConfig, events_for_series, multivariate_events, no_data_event
from aiops.metrics.frames import fetch_validated, service_frame, signal_bounds, window_grid
from aiops.model_registry import ModelMeta, ModelRegistry, version_for
from aiops.quality import FrameVerdict, quarantine
from aiops.sources.signals import SignalSource
from aiops.store import Store

log = logging.getLogger(__name__)

DETECTOR = "seasonal-robust"


@dataclass(frozen=True)
class DetectionSettings:
    training_days: int = 21
    lookback: timedelta = timedelta(minutes=30)
    events: EventConfig = EventConfig()
    baseline: SeasonalBaselineConfig = field(default_factory=SeasonalBaselineConfig)
    detector: ServiceDetectorConfig = field(default_factory=ServiceDetectorConfig)


@dataclass
class Outcome:
    """What one service's run produced; the DAG upserts and counts it."""

    service: str
    events: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[FrameVerdict] = field(default_factory=list)
    anomalous_points: int = 0
    model: ModelMeta | None = None
    notes: list[str] = field(default_factory=list)
    # nightly: the validated training frame, which the forecasters reuse
    frame: pd.DataFrame | None = None

    @property
    def quarantined(self) -> list[FrameVerdict]:
        return [v for v in self.verdicts if not v.ok]


def model_name(service: str) -> str:
    return f"baseline/{service}"


def train_service(
    source: SignalSource,
    catalog: Catalog,
    service: str,
    window_end: datetime,
    registry: ModelRegistry,
    settings: DetectionSettings = DetectionSettings(),
) -> Outcome:
    outcome = Outcome(service)
    start = window_end - timedelta(days=settings.training_days)
    step = timedelta(seconds=catalog.defaults.step)
    good, outcome.verdicts = fetch_validated(source, catalog, service, start, window_end, "train")
    if not good:
        outcome.notes.append(
            "no signal passed the training checks; the previous model stays in use"
        )
        return outcome
    frame = service_frame(service, good, window_grid(start, window_end, step))
    outcome.frame = frame
    try:
        baseline = SeasonalBaseline(settings.baseline).fit(frame)
    except InsufficientHistoryError as exc:
        outcome.notes.append(f"not trained: {exc}")
        return outcome
    detector = ServiceDetector(settings.detector).fit(baseline.score(frame))

    def write(folder: Path) -> None:
        baseline.save(folder / "seasonal")
        detector.save(folder / "detector")

    meta = ModelMeta(
        name=model_name(service),
        version=version_for(window_end),
        kind="seasonal+multivariate",
        data_start=start.isoformat(),
        data_end=window_end.isoformat(),
        trained_at=window_end.isoformat(),
        points=int(frame.notna().to_numpy().sum()),
        series=frame.shape[1],
        quality={"quarantined": sorted(v.signal for v in outcome.quarantined)},
    )
    registry.save(meta, write)
    outcome.model = meta
    return outcome


def score_service(
    source: SignalSource,
    catalog: Catalog,
    service: str,
    start: datetime,
    end: datetime,
    registry: ModelRegistry,
    open_events: dict[str, datetime],
    settings: DetectionSettings = DetectionSettings(),
) -> Outcome:
    """Events of one service touching [start, end). `open_events` maps a signal to the start of
    its event that was still open when this interval began (from the store)."""
    outcome = Outcome(service)
    found = registry.latest_good(model_name(service), as_of=start)
    if found is None:
        outcome.notes.append(f"no model trained on data ending by {start.isoformat()}; not scored")
        return outcome
    path, meta = found
    outcome.model = meta
    with tempfile.TemporaryDirectory(prefix="aiops-score-") as tmp:
        folder = registry.local_copy(path, Path(tmp))
        baseline = SeasonalBaseline.load(folder / "seasonal")
        detector = ServiceDetector.load(folder / "detector")

    step = timedelta(seconds=catalog.defaults.step)
    window_start = start - settings.lookback
    interval_grid = window_grid(start, end, step)
    good, outcome.verdicts = fetch_validated(source, catalog, service, window_start, end, "score")
    for verdict in outcome.verdicts:
        if not verdict.ok and verdict.points == 0:
            outcome.events.append(
                no_data_event(
                    service,
                    verdict.signal,
                    start,
                    end,
                    "; ".join(verdict.reasons),
                    detector=DETECTOR,
                    model_version=meta.version,
                )
            )
    if not good:
        return outcome

    grid = window_grid(window_start, end, step)
    keys = [f"{service}:{s}" for s in good]
    frame = service_frame(service, good, grid)
    z = raw_z = baseline.score(frame)
    center, low, high = baseline.expected(grid, keys, signal_bounds(catalog, service, good))
    if "error_ratio" in good and "request_rate" in good:
        z, low, high = _binomial_floor(
            service, frame, z, center, low, high, step, settings.baseline.k
        )
    for signal in good:
        key = f"{service}:{signal}"
        column = z[key]
        in_interval = column[column.index.isin(interval_grid)]
        outcome.anomalous_points += int((np.abs(in_interval) >= settings.events.threshold).sum())
        for event in events_for_series(
            service,
            signal,
            column,
            frame[key],
            low[key],
            high[key],
            step=step,
            detector=DETECTOR,
            model_version=meta.version,
            bucket_label=lambda ts, k=key: baseline.explain(k, ts).bucket,
            config=settings.events,
            continue_from=open_events.get(signal),
        ):
            if event["end"] > start:  # events wholly inside the lookback belong to earlier runs
                outcome.events.append(event)
    scores = detector.score(raw_z)
    if service in scores.columns:
        for event in multivariate_events(
            service,
            scores[service],
            raw_z,
            threshold=detector.config.threshold,
            step=step,
            detector=f"multivariate-{detector.config.method}",
            model_version=meta.version,
            config=settings.events,
        ):
            if event["end"] > start:
                outcome.events.append(event)
    return outcome


def _binomial_floor(
    service: str,
    frame: pd.DataFrame,
    z: pd.DataFrame,
    center: pd.DataFrame,
    low: pd.DataFrame,
    high: pd.DataFrame,
    step: timedelta,
    k: float,
):
    """An error ratio cannot be judged more precisely than its request count allows.

    At 4 req/s one failed request in a minute is a 0.4% error ratio; the robust spread of
    mostly-zero minutes is near zero, so without this floor every lone error at night would
    be "10 sigma". The floor is the binomial standard error sqrt(p(1-p)/n) with n the
    minute's requests, so a change is only anomalous when it exceeds counting noise.
    """
    key, rate_key = f"{service}:error_ratio", f"{service}:request_rate"
    n = np.maximum(frame[rate_key].to_numpy() * step.total_seconds(), 1.0)
    c = center[key].to_numpy()
    p = np.clip(np.maximum(c, 0.5 / n), 0.0, 1.0)
    floor = np.sqrt(p * (1.0 - p) / n)
    spread = np.maximum((high[key].to_numpy() - c) / k, floor)
    z, low, high = z.copy(), low.copy(), high.copy()
    z[key] = (frame[key].to_numpy() - c) / spread
    low[key] = np.maximum(c - k * spread, 0.0)
    high[key] = np.minimum(c + k * spread, 1.0)
    return z, low, high


#: Trains a service's forecasters on the validated frame its baselines were fitted on, for
#: the window ending at the given time; True when a forecaster was stored.
ForecastTrainer = Callable[[pd.DataFrame, str, datetime], bool]


def train_services(
    store: Store,
    source: SignalSource,
    catalog: Catalog,
    services: Iterable[str],
    end: datetime,
    registry: ModelRegistry,
    *,
    train_forecasts: ForecastTrainer | None = None,
    settings: DetectionSettings = DetectionSettings(),
) -> dict[str, int]:
    """The nightly training step: each service trained on the window ending at ``end`` and
    stored as a registry version named after it, failed frames quarantined, and (through
    ``train_forecasts``) its forecasters fitted on the same validated frame, one service
    after another so a failure keeps what the services before it stored."""
    window_start = end - timedelta(days=settings.training_days)
    totals = {"services": 0, "trained": 0, "quarantined": 0, "not_trained": 0, "forecasters": 0}
    services = list(services)
    for service in services:
        outcome = train_service(source, catalog, service, end, registry, settings)
        totals["quarantined"] += quarantine(store, outcome.quarantined, window_start, end)
        totals["services"] += 1
        totals["trained" if outcome.model else "not_trained"] += 1
        if train_forecasts is not None and outcome.model is not None and outcome.frame is not None:
            totals["forecasters"] += int(train_forecasts(outcome.frame, service, end))
        for note in outcome.notes:
            log.warning("%s: %s", service, note)
    log.info("training window ending %s, shard %s: %s", end.isoformat(), services, totals)
    return totals


def score_services(
    store: Store,
    source: SignalSource,
    catalog: Catalog,
    services: Iterable[str],
    start: datetime,
    end: datetime,
    registry: ModelRegistry,
    settings: DetectionSettings = DetectionSettings(),
) -> dict[str, int]:
    """The hourly scoring step: each service's events touching [start, end) (continuing the
    ones the previous hour left open), carrying the same service's log anomalies as context,
    stored as this run saw them (aiops.metrics.event_store); failed frames quarantined."""
    reach = timedelta(seconds=60) * (settings.events.merge_gap + 1)
    totals = {"services": 0, "events": 0, "anomalous_points": 0, "quarantined": 0,
              "no_data": 0, "unscored": 0}  # fmt: skip
    services = list(services)
    for service in services:
        open_events = open_event_starts(store, service, start, reach)
        outcome = score_service(
            source, catalog, service, start, end, registry, open_events, settings
        )
        store_events(store, service, with_log_context(store, outcome.events, until=end), end)
        totals["quarantined"] += quarantine(store, outcome.quarantined, start, end)
        totals["services"] += 1
        totals["events"] += sum(1 for e in outcome.events if e["kind"] == "anomaly")
        totals["no_data"] += sum(1 for e in outcome.events if e["kind"] == "no_data")
        totals["anomalous_points"] += outcome.anomalous_points
        totals["unscored"] += 0 if outcome.model else 1
        for note in outcome.notes:
            log.warning("%s: %s", service, note)
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), services,
             totals)  # fmt: skip
    return totals
