"""What the page of one service shows: its state, its newest forecasts drawn as pictures, its
events, incidents and findings, frames the data-quality gate refused, and where it sits on
the newest dependency map.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiops.predictive.pictures import forecast_picture
from aiops.store import Store
from aiops.traces.picture import neighbourhood_picture
from aiops.ui.map_queries import newest_edges
from aiops.ui.records import FindingSummary, ForecastSummary, QuarantineSummary, ServiceDetail
from aiops.ui.row_summaries import costliest_first, finding_summary, forecast_summary
from aiops.ui.state_queries import LOOKBACK, RECENT, STALE_AFTER, RecentRows
from aiops.ui.store_reads import (
    forecast_rows,
    grouped_max,
    has_row,
    newest_result,
    require_aware,
)

if TYPE_CHECKING:
    from aiops.catalog import Catalog


def service_known(store: Store, service: str, catalog: Catalog | None = None) -> bool:
    """Whether the catalog lists ``service`` or the store holds any result about it."""
    if catalog is not None and service in catalog.services:
        return True
    return any(
        has_row(store, table, service=service)
        for table in ("predictions", "anomaly_events", "series_summary", "findings")
    )


def service_detail(
    store: Store,
    service: str,
    now: datetime,
    *,
    catalog: Catalog | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> ServiceDetail | None:
    """What the page of ``service`` shows as of ``now``; None for a service neither the
    catalog nor the store knows."""
    require_aware(now)
    if not service_known(store, service, catalog):
        return None
    as_of = newest_result(store, now) or now
    recent = RecentRows.read(store, now, as_of, service=service)
    state = recent.state(service, stale_after)
    forecasts = newest_forecasts(store, service, now, catalog=catalog)
    pictures = []
    for f in forecasts:
        alert = recent.alert_threshold(f.signal)
        picture = forecast_picture(
            store,
            service,
            f.signal,
            f.generated_at,
            catalog=catalog,
            threshold=None if catalog is not None else alert,
        )
        if picture is not None:
            pictures.append(picture)
    events = store.read(
        "anomaly_events",
        service=service,
        at_least={"end": as_of - LOOKBACK},
        at_most={"start": now},
    )
    findings = newest_findings(store, now, service=service)
    edges, window = newest_edges(store, now)
    owners = {f.service for f in newest_findings(store, now)} if edges else set()
    quarantined = store.read(
        "quarantine",
        service=service,
        at_least={"interval_end": as_of - RECENT},
        at_most={"interval_end": now},
    )
    return ServiceDetail(
        state=state,
        now=now,
        as_of=as_of,
        forecasts=forecasts,
        pictures=tuple(pictures),
        events=tuple(
            sorted(
                (recent.event(e) for e in events), key=lambda e: (e.start, e.signal), reverse=True
            )
        ),
        incidents=tuple(
            sorted(
                (i for i in recent.incidents if service in i.services),
                key=lambda i: (i.start, i.incident_id),
                reverse=True,
            )
        ),
        findings=findings,
        quarantined=tuple(
            QuarantineSummary(
                q["service"],
                q["signal"],
                q["stage"],
                q["interval_start"],
                q["interval_end"],
                q["points"],
                q["reason"],
            )
            for q in sorted(
                quarantined, key=lambda q: (q["interval_end"], q["signal"]), reverse=True
            )
        ),
        neighbourhood=neighbourhood_picture(edges, service, marked=owners) if edges else None,
        map_window=window,
    )


def newest_forecasts(
    store: Store, service: str, now: datetime, *, catalog: Catalog | None = None
) -> tuple[ForecastSummary, ...]:
    """The newest forecast made at or before ``now`` of each of ``service``'s signals that
    has one (catalog order when a catalog is given, else by name)."""
    newest = grouped_max(
        store,
        "predictions",
        ("metric",),
        "generated_at",
        at_most={"generated_at": now},
        service=service,
    )
    order = list(catalog.signals_of(service)) if catalog and service in catalog.services else []
    signals = sorted(newest, key=lambda s: (order.index(s) if s in order else len(order), s))
    out = []
    for signal in signals:
        made = newest[signal]
        summary = forecast_summary(forecast_rows(store, service, signal, made))
        if summary is not None:
            out.append(summary)
    return tuple(out)


def newest_findings(
    store: Store, now: datetime, *, service: str | None = None
) -> tuple[FindingSummary, ...]:
    """The findings of each source's newest window ending at or before ``now`` (of one
    ``service`` when given), costliest first."""
    ends = grouped_max(
        store, "findings", ("source",), "interval_end", at_most={"interval_end": now}
    )
    rows: list[dict[str, Any]] = []
    for source, end in sorted(ends.items()):
        equals = {"service": service} if service is not None else {}
        rows += store.read("findings", source=source, interval_end=end, **equals)
    return tuple(finding_summary(r) for r in costliest_first(rows))
