"""The hourly scoring on data in hand: replays, evaluations and post-mortems without a
Prometheus or an Airflow.

:func:`score_frame` runs exactly what `aiops_hourly`'s scoring task runs
(:func:`aiops.metrics.pipeline.score_services`), hour after hour over [start, end), on a
:class:`~aiops.sources.frame_source.FrameSource` and a throwaway results store, so events
continue across hours the way the DAG's do (each hour reads what the hour before stored).
With `train_at`, the nightly training runs first on the same frame (models in a throwaway
registry); otherwise the models come from `registry`, and signals no model covers are
scored by the short tier as they are on a new install.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from aiops.catalog import Catalog
from aiops.metrics.pipeline import DetectionSettings, score_services, train_services
from aiops.model_registry import ModelRegistry
from aiops.sources.frame_source import FrameSource
from aiops.store import Store

HOUR = timedelta(hours=1)


def score_frame(
    frame: pd.DataFrame,
    catalog: Catalog,
    start: datetime,
    end: datetime,
    *,
    registry: ModelRegistry | None = None,
    train_at: datetime | None = None,
    services: Iterable[str] | None = None,
    settings: DetectionSettings | None = None,
) -> list[dict[str, Any]]:
    """The anomaly events the hourly runs of [start, end) would store, from a wide frame (a
    UTC-indexed column per `service:signal`; `metrics.long_csv.read_long_csv` makes one
    from a long export). `start` and `end` must fall on hour boundaries, as the DAG's
    intervals do. Events are returned as the store holds them (newest view, no log
    context: there are no logs here)."""
    if start.minute or start.second or end.minute or end.second or end <= start:
        raise ValueError(
            f"score_frame: [start, end) must be whole hours, got {start.isoformat()} .. "
            f"{end.isoformat()}"
        )
    if registry is not None and train_at is not None:
        raise ValueError(
            "score_frame: give registry (score with its models) or train_at "
            "(train on the frame first), not both"
        )
    names = list(services or sorted({str(c).split(":", 1)[0] for c in frame.columns}))
    unknown = [s for s in names if s not in catalog.services]
    if unknown:
        raise KeyError(f"score_frame: service(s) {unknown} are not in the catalog")
    settings = settings or DetectionSettings()
    source = FrameSource(frame)
    with tempfile.TemporaryDirectory(prefix="aiops-offline-") as tmp:
        if registry is None:
            registry = ModelRegistry(Path(tmp) / "models")
        with Store.open(f"sqlite:///{Path(tmp) / 'results.db'}") as store:
            if train_at is not None:
                train_services(store, source, catalog, names, train_at, registry,
                               settings=settings)  # fmt: skip
            hour = start
            while hour < end:
                score_services(store, source, catalog, names, hour, hour + HOUR, registry,
                               settings)  # fmt: skip
                hour += HOUR
            events = store.read("anomaly_events")
    return [{k: v for k, v in e.items() if k not in ("as_of", "context")} for e in events]
