"""The overview page (``/``): every service's state, the ones needing a person first, the open
incidents and the newest predicted breaches.

Like every page, it takes what the queries answered (aiops.ui.state_queries.overview) and
returns the whole document; it reads neither the store nor the clock.
"""

from __future__ import annotations

from aiops.ui.layout import Links, age, empty, esc, link, page, section, table, when
from aiops.ui.records import ForecastSummary, Overview, ServiceState
from aiops.ui.tables import (
    alert_table,
    breaches_text,
    incident_table,
    open_events_text,
    replicas_text,
    state_pills,
)


def overview_page(overview: Overview, links: Links) -> str:
    """Every service's state (the ones needing a person first), the open incidents and the
    newest predicted breaches."""
    now, services = overview.now, overview.services
    parts = [
        "<h1>Services</h1>",
        f'<p class="lede">{esc(_headline(overview))}</p>',
    ]
    if overview.empty:
        parts.append(
            '<div class="banner note">The results store '
            f"<code>{esc(overview.store_name)}</code> holds no results yet: the hourly DAG "
            "writes them after its first run.</div>"
        )
    else:
        parts.append(_old_store_note(overview))
    rows = [
        [
            link(links.service(s.name), s.name),
            state_pills(s),
            _data_age(s),
            open_events_text(s.open_events) or '<span class="muted">none</span>',
            breaches_text(s.alerts),
            _replicas(s.scaling),
        ]
        for s in services
    ]
    parts.append(
        section(
            "Services",
            table(
                [
                    "service",
                    "state",
                    "last data",
                    "open anomalies",
                    "predicted breach",
                    "replicas (next → peak)",
                ],
                rows,
            )
            if rows
            else empty("no services: the catalog lists none and the store has no results"),
        )
    )
    parts.append(
        section(
            "Open incidents",
            incident_table(overview.incidents, links)
            if overview.incidents
            else empty("no open incident"),
        )
    )
    parts.append(
        section(
            "Predicted breaches",
            alert_table(overview.alerts, links, with_service=True)
            if overview.alerts
            else empty("no SLO breach predicted in the last day"),
            note="newest per service and signal, last day",
        )
    )
    return page("Services", "".join(parts), links, now=now, store=overview.store_name)


def _headline(o: Overview) -> str:
    n = len(o.services)
    counts = [f"{n} service{'s' if n != 1 else ''}"]
    for state in ("incident", "anomalous"):
        k = sum(1 for s in o.services if s.state == state)
        if k:
            counts.append(f"{k} {'in an incident' if state == 'incident' else 'anomalous'}")
    stale = sum(1 for s in o.services if s.stale)
    if stale:
        counts.append(f"{stale} stale")
    if o.hourly_end is not None:
        counts.append(f"newest hourly run ended {when(o.hourly_end)}")
    return " · ".join(counts)


def _old_store_note(o: Overview) -> str:
    """A note when every service is stale: the store itself is behind (a stopped pipeline,
    a backfill being browsed), so everything shown is as of its newest result."""
    if o.as_of is None or not o.services or not all(s.stale for s in o.services):
        return ""
    return (
        '<div class="banner note">No service has fresh data: the newest result in the store '
        f"is from {esc(when(o.as_of))}, {esc(age(o.now - o.as_of))} ago, and what is shown is "
        "as of then.</div>"
    )


def _data_age(s: ServiceState) -> str:
    if s.last_data_at is None:
        return '<span class="muted">none in 7 days</span>'
    text = f"{age(s.data_age)} ago"
    return f'<span title="{esc(when(s.last_data_at))}">{esc(text)}</span>'


def _replicas(f: ForecastSummary | None) -> str:
    return '<span class="muted">-</span>' if f is None else esc(replicas_text(f))
