"""Which services are unwell now: every service's state for the overview, read from the
last day of the results store.

* an anomaly event or an incident is open when the newest hourly run that wrote it saw it run
  to its interval's end, and that run is the newest hourly run (`newest_hourly_end`). The
  rows themselves cannot say so: a run that sees an event stop writes nothing about it, so
  its last row still "runs to the end" of an hour that has passed.
* a service is stale when its newest observed point (what the forecasts were made from, what
  the ingest pulled) is older than ``stale_after`` before the clock's now: then what the page
  says about it is old news.

`RecentRows` reads the rows these states are made of once per page; the service page
(aiops.ui.service_queries) uses it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiops.store import Store
from aiops.ui.records import (
    STATES,
    AlertSummary,
    EventSummary,
    ForecastSummary,
    IncidentSummary,
    Overview,
    ServiceState,
)
from aiops.ui.row_summaries import (
    alert_summary,
    event_summary,
    forecast_summary,
    incident_summary,
)
from aiops.ui.store_reads import (
    forecast_rows,
    grouped_max,
    newest_result,
    newest_time,
    require_aware,
)

if TYPE_CHECKING:
    from aiops.catalog import Catalog

#: What "now" covers: the events, alerts and incidents of the last day.
RECENT = timedelta(days=1)
#: How far back a service's newest data and its event history are looked for.
LOOKBACK = timedelta(days=7)
#: Newest observed point older than this: stale. Two hourly runs, the scaler's default age.
STALE_AFTER = timedelta(hours=2)


def overview(
    store: Store,
    now: datetime,
    *,
    catalog: Catalog | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> Overview:
    """Every service's state as of ``now`` (the catalog's services, and any the store has
    results for in the last `LOOKBACK`), the open incidents and the newest predicted breaches."""
    require_aware(now)
    as_of = newest_result(store, now)
    if as_of is None:
        states = tuple(
            _state(name, now, stale_after, None, (), (), (), None)
            for name in (catalog.service_names if catalog is not None else ())
        )
        return Overview(now, None, None, states, (), (), store_label(store.name))
    recent = RecentRows.read(store, now, as_of)
    names = set(recent.last_data) | {e.service for e in recent.events}
    names |= {a.service for a in recent.alerts}
    if catalog is not None:
        names |= set(catalog.service_names)
    states = [recent.state(name, stale_after) for name in names]
    states.sort(key=_attention)
    incidents = tuple(
        sorted(
            (i for i in recent.incidents if i.is_open),
            key=lambda i: (i.start, i.incident_id),
            reverse=True,
        )
    )
    alerts = tuple(sorted(recent.alerts, key=lambda a: (not a.current, a.service, a.signal)))
    return Overview(now, as_of, recent.hourly_end, tuple(states), incidents, alerts,
                    store_label(store.name))  # fmt: skip


def newest_hourly_end(store: Store, since: datetime, now: datetime) -> datetime | None:
    """The end of the newest hourly run in ``(since, now]``: the newest of its run summary
    (a row counting events), its events' ``as_of`` and its incident rows."""
    runs = store.read(
        "pipeline_runs", at_least={"interval_end": since}, at_most={"interval_end": now}
    )
    candidates = [r["interval_end"] for r in runs if "events" in (r["parts"] or ())]
    candidates += [
        t
        for t in (
            newest_time(store, "anomaly_events", "as_of", now),
            newest_time(store, "incidents", "interval_end", now),
        )
        if t is not None
    ]
    return max(candidates, default=None)


@dataclass(frozen=True)
class RecentRows:
    """The rows of the last day the states are made of, read once per page."""

    now: datetime
    hourly_end: datetime | None
    events: tuple[EventSummary, ...]
    incidents: tuple[IncidentSummary, ...]
    alerts: tuple[AlertSummary, ...]
    raw_alerts: Mapping[tuple[str, str], Mapping[str, Any]]
    last_data: Mapping[str, datetime]
    scaling: Mapping[str, ForecastSummary]

    @classmethod
    def read(
        cls, store: Store, now: datetime, as_of: datetime, service: str | None = None
    ) -> RecentRows:
        """The rows of the day before ``as_of`` (the store's newest result), up to ``now``,
        of one ``service`` when given, else of every service."""
        from aiops.incidents.pipeline import latest_incidents

        since = as_of - RECENT
        equals = {"service": service} if service is not None else {}
        hourly_end = newest_hourly_end(store, since, now)
        events = store.read(
            "anomaly_events", at_least={"end": since}, at_most={"start": now}, **equals
        )
        incidents = [
            incident_summary(row, hourly_end)
            for row in latest_incidents(store, since, now)
            if service is None or service in (row["services"] or ())
        ]
        newest_alerts: dict[tuple[str, str], dict[str, Any]] = {}
        for row in store.read(
            "predictive_alerts",
            at_least={"generated_at": since},
            at_most={"generated_at": now},
            **equals,
        ):
            key = (row["service"], row["signal"])
            if key not in newest_alerts or row["generated_at"] > newest_alerts[key]["generated_at"]:
                newest_alerts[key] = row
        alerts = tuple(alert_summary(row, hourly_end) for _, row in sorted(newest_alerts.items()))
        return cls(
            now=now,
            hourly_end=hourly_end,
            events=tuple(event_summary(e, hourly_end) for e in events),
            incidents=tuple(incidents),
            alerts=alerts,
            raw_alerts=newest_alerts,
            last_data=_last_data(store, as_of - LOOKBACK, now, equals),
            scaling=_scaling(store, as_of - LOOKBACK, now, equals),
        )

    def event(self, row: Mapping[str, Any]) -> EventSummary:
        """An `anomaly_events` row as a summary, open as judged by this page's hourly run."""
        return event_summary(row, self.hourly_end)

    def alert_threshold(self, signal: str) -> float | None:
        """The threshold of the newest predicted breach of ``signal``; None without one."""
        for (_, alert_signal), row in self.raw_alerts.items():
            if alert_signal == signal:
                return float(row["threshold"])
        return None

    def state(self, name: str, stale_after: timedelta) -> ServiceState:
        """How the service ``name`` is doing by these rows, stale after ``stale_after``."""
        return _state(
            name,
            self.now,
            stale_after,
            self.last_data.get(name),
            tuple(e for e in self.events if e.service == name and e.is_open),
            tuple(i for i in self.incidents if i.is_open and name in i.services),
            tuple(
                sorted(
                    (a for a in self.alerts if a.service == name),
                    key=lambda a: (not a.current, a.signal),
                )
            ),
            self.scaling.get(name),
        )


def _state(
    name: str,
    now: datetime,
    stale_after: timedelta,
    last_data_at: datetime | None,
    open_events: tuple[EventSummary, ...],
    incidents: tuple[IncidentSummary, ...],
    alerts: tuple[AlertSummary, ...],
    scaling: ForecastSummary | None,
) -> ServiceState:
    state = "incident" if incidents else "anomalous" if open_events else "ok"
    age = None if last_data_at is None else now - last_data_at
    return ServiceState(
        name=name,
        state=state,
        stale=age is None or age > stale_after,
        last_data_at=last_data_at,
        data_age=age,
        open_events=tuple(sorted(open_events, key=lambda e: (e.start, e.signal))),
        incidents=incidents,
        alerts=alerts,
        scaling=scaling,
    )


def _attention(state: ServiceState) -> tuple[int, int, str]:
    """Incidents first, then anomalous, then stale, then the quiet ones; by name within."""
    return (STATES.index(state.state), 0 if state.stale else 1, state.name)


def _last_data(
    store: Store, since: datetime, now: datetime, equals: Mapping[str, Any]
) -> dict[str, datetime]:
    """Per service, its newest observed point: what its forecasts were made from and what the
    ingest pulled, in ``[since, now]``."""
    out: dict[str, datetime] = {}
    observed = grouped_max(
        store,
        "predictions",
        ("service",),
        "observed_at",
        at_least={"generated_at": since, "target_time": since},
        at_most={"generated_at": now},
        **equals,
    )
    pulled = grouped_max(
        store,
        "series_summary",
        ("service",),
        "last_ts",
        at_least={"interval_start": since},
        at_most={"interval_end": now, "last_ts": now},
        **equals,
    )
    for found in (observed, pulled):
        for service, when in found.items():
            if when is not None and (service not in out or when > out[service]):
                out[service] = when
    return out


def _scaling(
    store: Store, since: datetime, now: datetime, equals: Mapping[str, Any]
) -> dict[str, ForecastSummary]:
    """Per service, the newest forecast of its scaling metric (the one with replicas)."""
    newest = grouped_max(
        store,
        "predictions",
        ("service", "metric"),
        "generated_at",
        at_least={"generated_at": since, "target_time": since},
        at_most={"generated_at": now},
        not_null=("desired_replicas",),
        **equals,
    )
    out: dict[str, ForecastSummary] = {}
    for (service, metric), made in sorted(newest.items()):
        summary = forecast_summary(forecast_rows(store, service, metric, made))
        if summary is not None and (service not in out or made > out[service].generated_at):
            out[service] = summary
    return out


def store_label(name: str) -> str:
    """How the page names its store: a SQLite file by its file name (the folder it sits in
    says nothing to a reader and tells a server's layout to anyone with a screenshot), any
    other database by its masked URL (`Store.name`)."""
    if name.startswith("sqlite:"):
        return f"sqlite: {name.rsplit('/', 1)[-1]}"
    return name
