"""What predictive scaling asked for over a service's last days, and what it cost: the
service's scaling metric as the source has it, replayed through the decision rule with the
forecasters the nightly stored (each hour uses the newest one trained by then), beside
reactive scaling and perfect foresight (`aiops.predictive.replay`). `aiops scaler plan`
prints it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from aiops.catalog import Catalog, Scaling
from aiops.forecast import ForecastSet
from aiops.metrics.frames import fetch_validated, service_frame, window_grid
from aiops.model_registry import ModelRegistry, newest_good
from aiops.predictive.pipeline import forecast_model_name
from aiops.predictive.replay import Replay, hours_of, replay_scaling
from aiops.sources.signals import SignalSource

OURS = "ours"
SHOWN = (OURS, "reactive", "perfect")


class PlanError(ValueError):
    """A plan that cannot be made; the message says which service and why."""


class StoredModels:
    """The newest forecaster stored by an hour: the registry's versions listed once, each
    loaded once (a replay asks every hour)."""

    def __init__(self, registry: ModelRegistry, service: str) -> None:
        self.registry = registry
        self.name = forecast_model_name(service)
        self.versions = registry.versions(self.name)
        self.used: dict[str, ForecastSet] = {}

    def __call__(self, hour: pd.Timestamp) -> ForecastSet | None:
        meta = newest_good(self.versions, hour)
        if meta is None:
            return None
        if meta.version not in self.used:
            path = self.registry.root / self.name / meta.version
            with tempfile.TemporaryDirectory(prefix="aiops-plan-") as tmp:
                local = self.registry.local_copy(path, Path(tmp)) / "forecast"
                self.used[meta.version] = ForecastSet.load(local)
        return self.used[meta.version]


@dataclass(frozen=True)
class ScalingPlan:
    service: str
    metric: str
    scaling: Scaling
    span: tuple[datetime, datetime]
    replay: Replay
    models: tuple[str, ...]  # forecaster versions the replay used

    def days(self) -> list[dict[str, Any]]:
        """Per UTC day: bins, mean and peak load, replicas asked, share short and
        replica-hours of ours, reactive and perfect foresight."""
        frame = self.replay.frame()
        if frame.empty:
            return []
        capacity = self.scaling.capacity_per_replica
        rows = []
        for day, part in frame.groupby(frame.index.floor("1D")):
            row: dict[str, Any] = {"day": day.date().isoformat(), "bins": len(part),
                                   "load_mean": float(part["load"].mean()),
                                   "load_peak": float(part["load"].max())}  # fmt: skip
            for name in SHOWN:
                short = (part[name] * capacity < part["load"] - 1e-9).mean()
                row[f"{name}_replicas_mean"] = float(part[name].mean())
                row[f"{name}_short"] = float(short)
                row[f"{name}_replica_hours"] = float(part[name].sum() * self.replay.step
                                                     / timedelta(hours=1))  # fmt: skip
            rows.append(row)
        return rows

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bins": len(self.replay.times)}
        for name in SHOWN:
            tally = self.replay.tallies[name]
            out[name] = {"short": tally.short_share, "cost_vs_perfect": tally.cost,
                         "replica_hours": hours_of(self.replay, name)}  # fmt: skip
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "metric": self.metric,
            "span": [t.isoformat() for t in self.span],
            "scaling": self.scaling.model_dump(),
            "models": list(self.models),
            "days": self.days(),
            "totals": self.totals(),
        }


def plan_scaling(
    source: SignalSource,
    catalog: Catalog,
    registry: ModelRegistry,
    service: str,
    at: datetime,
    days: float,
) -> ScalingPlan:
    """Replay the service's scaling decisions over [at - days, at)."""
    if service not in catalog.services:
        raise PlanError(
            f"unknown service {service!r} (known: {', '.join(sorted(catalog.services))})"
        )
    scaling = catalog.services[service].scaling
    if scaling is None:
        raise PlanError(f"{service}: no scaling section in the catalog: nothing is scaled")
    start = at - timedelta(days=days)
    models = StoredModels(registry, service)
    first = models(pd.Timestamp(start))
    history = first.history_needed if first is not None else timedelta(days=1)
    step = timedelta(seconds=catalog.defaults.step)
    good, verdicts = fetch_validated(source, catalog, service, start - history, at, "predict",
                                     [scaling.metric], max_gap=None)  # fmt: skip
    if scaling.metric not in good:
        why = "; ".join(r for v in verdicts if not v.ok for r in v.reasons) or "no data"
        raise PlanError(f"{service}:{scaling.metric}: no usable history ({why})")
    frame = service_frame(service, good, window_grid(start - history, at, step))
    key = f"{service}:{scaling.metric}"
    load = frame[key].asfreq(pd.Timedelta(step))
    replay = replay_scaling(load, key, models, {OURS: scaling}, pd.Timestamp(start),
                            pd.Timestamp(at))  # fmt: skip
    if not replay.times:
        raise PlanError(f"{service}: no forecaster stored before {at.isoformat()}; nothing "
                        "to replay (the nightly trains them)")  # fmt: skip
    return ScalingPlan(service, scaling.metric, scaling, (start, at), replay,
                       tuple(sorted(models.used)))  # fmt: skip
