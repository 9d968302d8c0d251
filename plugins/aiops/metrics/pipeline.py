"""Nightly training and hourly scoring of a shard's baselines: the work behind both DAGs.

Nightly: pull `training_days` of every signal, quarantine frames that fail the quality suite,
fit the baseline ladder (each signal on the longest seasonal tier its history allows,
aiops.baselines.ladder) and the service's multivariate detector, and store them as one
registry version named after the window's end.

Hourly: take the newest good model trained on data that ended by the interval's start (so a
backfill scores with the model the live run had), validate the interval's frames, score
them with a short lookback (so a deviation that started last hour continues its event), and
return debounced events. Signals no nightly tier covers yet are scored by the short tier
fitted on the hours before the interval, so a new service is scored from its first hours.
A signal that had data and stops is a "no data" event; one that never had a series is
reported as absent, never an event.
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

from aiops.baselines.errors import BaselineError, InsufficientHistoryError
from aiops.baselines.ladder import SHORT_TIER, BaselineLadder, LadderConfig
from aiops.baselines.multivariate import ServiceDetector, ServiceDetectorConfig
from aiops.catalog import Catalog
from aiops.errors import PerService
from aiops.logs.context import with_log_context
from aiops.metrics.event_store import open_event_starts, store_events
from aiops.metrics.events import EventConfig, events_for_series, multivariate_events, no_data_event
from aiops.metrics.frames import fetch_validated, service_frame, window_grid
from aiops.metrics.window_scoring import binomial_floor, score_window
from aiops.model_registry import ModelMeta, ModelRegistry, version_for
from aiops.quality import FrameVerdict, quarantine
from aiops.sources.signals import SignalSource
from aiops.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionSettings:
    training_days: int = 21
    lookback: timedelta = timedelta(minutes=30)
    events: EventConfig = EventConfig()
    ladder: LadderConfig = field(default_factory=LadderConfig)
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
    #: signal -> the tier that scored it (hourly) or models it (nightly)
    tiers: dict[str, str] = field(default_factory=dict)
    #: catalog signals with no series at all: reported, never an event
    absent: list[str] = field(default_factory=list)
    #: signals not scored this run, with the reason
    unscored: dict[str, str] = field(default_factory=dict)

    @property
    def judged(self) -> list[FrameVerdict]:
        """The verdicts that decide an hour's quarantine rows (the failed ones become rows,
        the rest clear a rerun's old rows). A signal with no series is not bad data: the
        nightly reports it once (its training verdict is quarantined: 0 points), the
        hours do not repeat it."""
        return [v for v in self.verdicts if v.signal not in self.absent]

    @property
    def quarantined(self) -> list[FrameVerdict]:
        return [v for v in self.judged if not v.ok]


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
    """Fit the service's baseline ladder (each signal on the longest tier its history allows)
    and its multivariate detector on the window ending at `window_end`; store them as one
    registry version. Signals without any series are listed as absent, not quarantined."""
    outcome = Outcome(service)
    start = window_end - timedelta(days=settings.training_days)
    step = timedelta(seconds=catalog.defaults.step)
    good, outcome.verdicts = fetch_validated(source, catalog, service, start, window_end, "train")
    outcome.absent = [v.signal for v in outcome.verdicts if not v.ok and v.observed == 0]
    if not good:
        outcome.notes.append(
            "no signal passed the training checks; the previous model stays in use"
        )
        return outcome
    frame = service_frame(service, good, window_grid(start, window_end, step))
    outcome.frame = frame
    try:
        ladder = BaselineLadder.fit(frame, settings.ladder.tiers)
    except InsufficientHistoryError as exc:
        outcome.notes.append(f"no nightly baseline yet, scored on recent hours: {exc}")
        return outcome
    for key, why in ladder.skipped_.items():
        outcome.unscored[key.split(":", 1)[1]] = why
    outcome.tiers = {k.split(":", 1)[1]: str(ladder.tier_of(k)) for k in ladder.keys_}
    detector: ServiceDetector | None
    try:
        detector = ServiceDetector(settings.detector).fit(ladder.score(frame))
    except BaselineError as exc:
        detector = None
        outcome.notes.append(f"no multivariate detector: {exc}")

    def write(folder: Path) -> None:
        ladder.save(folder)
        if detector is not None:
            detector.save(folder / "detector")

    meta = ModelMeta(
        name=model_name(service),
        version=version_for(window_end),
        kind="seasonal+multivariate" if detector is not None else "seasonal",
        data_start=start.isoformat(),
        data_end=window_end.isoformat(),
        trained_at=window_end.isoformat(),
        points=int(frame.notna().to_numpy().sum()),
        series=frame.shape[1],
        quality={
            "quarantined": sorted(v.signal for v in outcome.quarantined),
            "absent": sorted(outcome.absent),
            "tiers": dict(sorted(outcome.tiers.items())),
        },
    )
    registry.save(meta, write)
    outcome.model = meta
    return outcome


def load_models(
    registry: ModelRegistry, service: str, as_of: datetime
) -> tuple[ModelMeta | None, BaselineLadder | None, ServiceDetector | None]:
    """The newest good model trained on data ending by `as_of`, or Nones when there is none."""
    found = registry.latest_good(model_name(service), as_of=as_of)
    if found is None:
        return None, None, None
    path, meta = found
    with tempfile.TemporaryDirectory(prefix="aiops-score-") as tmp:
        folder = registry.local_copy(path, Path(tmp))
        ladder = BaselineLadder.load(folder)
        has_detector = (folder / "detector").exists()
        detector = ServiceDetector.load(folder / "detector") if has_detector else None
    return meta, ladder, detector


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
    its event that was still open when this interval began (from the store).

    Signals the nightly model covers are scored by their tier; the others (a new service, a
    new signal) by the short tier fitted on the hours before the interval. A signal without
    data this hour is a "no data" event only when it had data before; one that never had a
    series is listed as absent (reported once per run, never an event)."""
    outcome = Outcome(service)
    meta, ladder, detector = load_models(registry, service, start)
    outcome.model = meta
    version = meta.version if meta is not None else "none"
    step = timedelta(seconds=catalog.defaults.step)
    window_start = start - settings.lookback
    interval_grid = window_grid(start, end, step)
    good, outcome.verdicts = fetch_validated(source, catalog, service, window_start, end, "score")
    empty = [v for v in outcome.verdicts if not v.ok and v.observed == 0]

    modelled = {
        s for s in catalog.signals_of(service) if ladder and ladder.tier_of(f"{service}:{s}")
    }
    short_signals = [s for s in catalog.signals_of(service) if s not in modelled]
    history = _recent_history(source, catalog, service, start, short_signals, settings)
    for verdict in empty:
        had_data = verdict.signal in modelled or verdict.signal in history
        if not had_data:
            outcome.absent.append(verdict.signal)
        elif _no_traffic(catalog, service, verdict.signal, good):
            outcome.notes.append(f"{verdict.signal}: no traffic this interval, nothing to score")
        else:
            outcome.events.append(
                no_data_event(
                    service,
                    verdict.signal,
                    start,
                    end,
                    "; ".join(verdict.reasons),
                    detector=_tier_name(ladder, service, verdict.signal),
                    model_version=version,
                    signal_kind=catalog.signal(service, verdict.signal).kind or "other",
                )  # fmt: skip
            )
    if not good:
        return outcome

    grid = window_grid(window_start, end, step)
    frame = service_frame(service, good, grid)
    scoring = score_window(catalog, service, frame, ladder, history, settings.ladder.short)
    outcome.tiers = {k.split(":", 1)[1]: t for k, t in scoring.tiers.items()}
    for signal in good:
        key = f"{service}:{signal}"
        if key not in scoring.tiers:
            outcome.unscored[signal] = "under 2 hours of history"
    z, low, high = scoring.z, scoring.low, scoring.high
    if {"error_ratio", "request_rate"} <= set(outcome.tiers):
        z, low, high = binomial_floor(
            service, frame, z, scoring.center, low, high, step, settings.ladder.k
        )
    calibrated = scoring.calibrated(z)
    for signal, tier in outcome.tiers.items():
        key = f"{service}:{signal}"
        spec = catalog.signal(service, signal)
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
            detector=tier,
            model_version=version,
            bucket_label=scoring.explain[key],
            config=settings.events,
            continue_from=open_events.get(signal),
            unit=spec.unit,
            bad_direction=spec.direction or "both",
            calibrated=calibrated[key],
            signal_kind=spec.kind or "other",
        ):
            if event["end"] > start:  # events wholly inside the lookback belong to earlier runs
                outcome.events.append(event)
    if detector is None or ladder is None:
        return outcome
    raw_z = ladder.score(frame[[c for c in frame.columns if ladder.tier_of(str(c))]])
    raw = detector.raw_score(raw_z)
    scores, sigma = detector.calibrate(raw), detector.sigma(raw)
    if service in scores.columns:
        for event in multivariate_events(
            service,
            scores[service],
            raw_z,
            threshold=detector.config.threshold,
            step=step,
            detector=f"multivariate-{detector.config.method}",
            model_version=version,
            config=settings.events,
            sigma=sigma[service],
        ):
            if event["end"] > start:
                outcome.events.append(event)
    return outcome


def _tier_name(ladder: BaselineLadder | None, service: str, signal: str) -> str:
    tier = ladder.tier_of(f"{service}:{signal}") if ladder is not None else None
    return tier or SHORT_TIER


def _recent_history(
    source: SignalSource,
    catalog: Catalog,
    service: str,
    start: datetime,
    signals: list[str],
    settings: DetectionSettings,
) -> dict[str, pd.Series]:
    """The validated hours before `start` of signals no nightly tier covers: what the short
    tier is fitted on, and the proof that a signal silent now had data before. Not
    quarantined here: those hours were judged by the runs that scored them."""
    if not signals:
        return {}
    since = start - timedelta(hours=settings.ladder.short_history_hours)
    good, _ = fetch_validated(source, catalog, service, since, start, "score", signals=signals,
                              min_points=1, max_gap=None, max_missing_fraction=1.0)  # fmt: skip
    return {s: v for s, v in good.items() if v.notna().any()}


def _no_traffic(catalog: Catalog, service: str, signal: str, good: dict[str, pd.Series]) -> bool:
    """An error ratio is 0/0 when nothing was served: "no traffic", not missing data."""
    if catalog.signal(service, signal).kind != "errors":
        return False
    signals = catalog.signals_of(service)
    traffic = [s for s in good if signals[s].kind == "traffic"]
    return bool(traffic) and all(float(np.nanmax(good[s].to_numpy())) <= 0 for s in traffic)


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
    ``train_forecasts``) its forecasters fitted on the same validated frame.

    A service that fails (a query the server rejects, a store error) costs only itself: the
    others are trained and stored, then :class:`ServicesFailed` names the ones that failed
    (permanent when every failure is, so Airflow does not retry a rejected query); an
    unreachable Prometheus stops the shard at once (:class:`aiops.errors.PerService`)."""
    window_start = end - timedelta(days=settings.training_days)
    totals = {"services": 0, "trained": 0, "quarantined": 0, "not_trained": 0, "forecasters": 0,
              "absent_signals": 0, "failed": 0}  # fmt: skip
    services = list(services)

    def train(service: str) -> Outcome:
        outcome = train_service(source, catalog, service, end, registry, settings)
        totals["quarantined"] += quarantine(store, outcome.verdicts, window_start, end)
        if train_forecasts is not None and outcome.model is not None and outcome.frame is not None:
            totals["forecasters"] += int(train_forecasts(outcome.frame, service, end))
        return outcome

    shard = PerService("train")
    for service, outcome in shard.run(services, train):
        totals["trained" if outcome.model else "not_trained"] += 1
        totals["absent_signals"] += len(outcome.absent)
        for signal in outcome.absent:
            log.warning("%s: signal %s has no series in the training window", service, signal)
        for note in outcome.notes:
            log.warning("%s: %s", service, note)
    totals["services"], totals["failed"] = len(services), len(shard.failures)
    log.info("training window ending %s, shard %s: %s", end.isoformat(), services, totals)
    shard.raise_failures()
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
    stored as this run saw them (aiops.metrics.event_store); failed frames quarantined.
    Failures are per service, as in :func:`train_services`."""
    reach = timedelta(seconds=60) * (settings.events.merge_gap + 1)
    totals = {"services": 0, "events": 0, "anomalous_points": 0, "quarantined": 0,
              "no_data": 0, "unscored": 0, "short_tier": 0, "absent_signals": 0,
              "failed": 0}  # fmt: skip
    services = list(services)

    def score(service: str) -> Outcome:
        open_events = open_event_starts(store, service, start, reach)
        outcome = score_service(source, catalog, service, start, end, registry, open_events,
                                settings)  # fmt: skip
        store_events(store, service, with_log_context(store, outcome.events, until=end), end)
        totals["quarantined"] += quarantine(store, outcome.judged, start, end)
        return outcome

    shard = PerService("score")
    for service, outcome in shard.run(services, score):
        totals["events"] += sum(1 for e in outcome.events if e["kind"] == "anomaly")
        totals["no_data"] += sum(1 for e in outcome.events if e["kind"] == "no_data")
        totals["anomalous_points"] += outcome.anomalous_points
        totals["unscored"] += 0 if outcome.tiers else 1
        totals["short_tier"] += sum(1 for t in outcome.tiers.values() if t == SHORT_TIER)
        totals["absent_signals"] += len(outcome.absent)
        for signal, why in outcome.unscored.items():
            log.warning("%s: %s not scored: %s", service, signal, why)
        for note in outcome.notes:
            log.warning("%s: %s", service, note)
    totals["services"], totals["failed"] = len(services), len(shard.failures)
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), services,
             totals)  # fmt: skip
    shard.raise_failures()
    return totals
