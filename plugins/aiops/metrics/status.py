"""Where every catalog signal stands: which model scores it, how much history it has, when
its newest point is from, and why it is not scored when it is not.

A new user's first question after installing is "is it watching my services?". The
answer used to be spread over a task log ("not trained: ..."), the model registry and the
store. :func:`signal_status` puts it in one row per (service, signal), computed from the
same facts the hourly run uses: the newest good model as of a time, the series in the
source, and the quarantine rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from aiops.baselines.ladder import SHORT_TIER, LadderConfig
from aiops.catalog import Catalog
from aiops.metrics.pipeline import model_name
from aiops.model_registry import ModelRegistry
from aiops.sources.signals import SignalSource
from aiops.store import Store

#: The coarsest step history is read at: enough to date a series' first and last points
#: without pulling weeks of per-minute data for every signal.
HISTORY_STEP = timedelta(minutes=10)


@dataclass(frozen=True)
class SignalStatus:
    service: str
    signal: str
    unit: str
    model: str  # the tier scoring it next hour, or "-" when none can
    model_version: str | None
    history_days: float  # from its first to its newest point within the lookback
    last_point: datetime | None
    why_not: str | None  # why it is not scored, None when it is
    quarantined: str | None  # the newest quarantine reason, when its newest frame failed


def signal_status(
    catalog: Catalog,
    source: SignalSource,
    registry: ModelRegistry,
    store: Store | None,
    at: datetime,
    services: Iterable[str] | None = None,
    lookback_days: float = 21.0,
    ladder: LadderConfig | None = None,
) -> list[SignalStatus]:
    """One row per catalog signal of `services` (default all) as of `at`."""
    ladder = ladder or LadderConfig()
    since = at - timedelta(days=lookback_days)
    step = max(HISTORY_STEP, timedelta(seconds=catalog.defaults.step))
    short_needs = timedelta(days=ladder.short.min_days)
    rows: list[SignalStatus] = []
    for service in services or catalog.service_names:
        if service not in catalog.services:
            raise KeyError(f"service {service!r} is not in the catalog")
        found = registry.latest_good(model_name(service), as_of=at)
        meta = found[1] if found else None
        tiers: dict[str, str] = dict((meta.quality or {}).get("tiers", {})) if meta else {}
        quarantined = _newest_quarantine(store, service) if store is not None else {}
        for signal, spec in catalog.signals_of(service).items():
            query = catalog.query(service, signal)
            values = source.fetch(service, signal, query, since, at, step).values.dropna()
            first, last = _first_last(values)
            span = (last - first + step) if first and last else timedelta(0)
            history = span.total_seconds() / 86_400
            model, why = tiers.get(signal), None
            if model is None:
                if last is None:
                    why = f"no series in the last {lookback_days:g} days (query: {query})"
                elif last < at - timedelta(hours=ladder.short_history_hours):
                    why = f"no data since {last.isoformat()}"
                elif span < short_needs:
                    why = f"{_hours(span)} of history; scoring starts at {_hours(short_needs)}"
                else:
                    model = SHORT_TIER
            rows.append(
                SignalStatus(
                    service=service,
                    signal=signal,
                    unit=spec.unit or "",
                    model=model or "-",
                    model_version=meta.version if meta and signal in tiers else None,
                    history_days=round(history, 2),
                    last_point=last,
                    why_not=why,
                    quarantined=quarantined.get(signal),
                )
            )
    return rows


def _first_last(values: pd.Series) -> tuple[datetime | None, datetime | None]:
    if values.empty:
        return None, None
    return values.index[0].to_pydatetime(), values.index[-1].to_pydatetime()


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"


def _newest_quarantine(store: Store, service: str) -> dict[str, str]:
    """signal -> the reason of its newest quarantine row (any stage)."""
    newest: dict[str, tuple[datetime, str]] = {}
    for row in store.read("quarantine", service=service):
        seen = newest.get(row["signal"])
        if seen is None or row["interval_end"] > seen[0]:
            newest[row["signal"]] = (row["interval_end"], str(row["reason"]).splitlines()[0])
    return {signal: reason for signal, (_, reason) in newest.items()}
