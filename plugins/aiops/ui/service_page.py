"""The page of one service (``/services/{service}``): its state, a forecast chart per signal
with its anomalies marked, its predictions and scaling values, events, incidents, findings,
quarantined frames and its neighbourhood on the dependency map.

Takes what aiops.ui.service_queries answered and returns the whole document.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.pictures.model import ForecastPicture
from aiops.ui.charts import picture_svg
from aiops.ui.layout import (
    Links,
    age,
    clock,
    empty,
    esc,
    facts,
    link,
    page,
    pill,
    section,
    table,
    when,
)
from aiops.ui.records import EventSummary, ForecastSummary, ServiceDetail
from aiops.ui.tables import (
    alert_table,
    breaches_text,
    finding_table,
    incident_table,
    open_events_text,
    replicas_text,
    state_pills,
)
from aiops.units import format_duration, format_range, format_value, signal_label


def service_page(detail: ServiceDetail, links: Links) -> str:
    """One service: its state, a forecast chart per signal with its anomalies marked, its
    predictions and scaling values, its events, incidents and findings."""
    s, now = detail.state, detail.now
    parts = [
        f'<div class="crumbs">{link(links.home(), "Services")} › {esc(s.name)}</div>',
        f"<h1>{esc(s.name)} {state_pills(s)}</h1>",
        f'<p class="lede">{esc(_service_headline(detail))}</p>',
        section("Now", _service_facts(detail)),
    ]
    if s.incidents:
        parts.append(section("Open incidents", incident_table(s.incidents, links)))
    charts = [_forecast_figure(p, f"forecast-{i}") for i, p in enumerate(detail.pictures)]
    parts.append(
        section(
            "Forecasts",
            f'<div class="grid">{"".join(charts)}</div>'
            if charts
            else empty("no forecast stored for this service yet"),
        )
    )
    parts.append(
        section(
            "Predictions",
            _forecast_table(detail.forecasts)
            if detail.forecasts
            else empty("no predictions stored for this service"),
            note="as the KEDA scaler serves them",
        )
    )
    if s.alerts:
        parts.append(section("Predicted breaches", alert_table(s.alerts, links)))
    parts.append(
        section(
            "Anomaly events",
            _event_table(detail.events) if detail.events else empty("no anomaly events"),
            note="last 7 days, newest first",
        )
    )
    if detail.incidents:
        parts.append(section("Incidents", incident_table(detail.incidents, links), note="last day"))
    parts.append(
        section(
            "Findings",
            finding_table(detail.findings, links, with_service=False)
            if detail.findings
            else empty("no findings in the newest analysis windows"),
        )
    )
    if detail.neighbourhood is not None and detail.map_window is not None:
        start, end = detail.map_window
        parts.append(
            section(
                "Neighbourhood",
                "<figure>"
                + picture_svg(detail.neighbourhood, "neighbourhood")
                + f"<figcaption>its callers and callees in the trace window {esc(when(start))}"
                f" to {esc(when(end))}; {link(links.graph(), 'the whole map')}</figcaption>"
                "</figure>",
            )
        )
    if detail.quarantined:
        rows = [
            [
                esc(signal_label(q.signal)),
                esc(q.stage),
                esc(when(q.interval_end)),
                esc(q.points),
                esc("; ".join(q.reason.splitlines())),
            ]
            for q in detail.quarantined
        ]
        parts.append(
            section(
                "Quarantined frames",
                table(["signal", "stage", "interval end", "points", "reason"], rows, numeric=[3]),
                note="refused by the data-quality gate, last day",
            )
        )
    return page(s.name, "".join(parts), links, now=now)


def _forecast_figure(picture: ForecastPicture, slot: str) -> str:
    """A forecast chart with a caption saying what is drawn."""
    p = picture
    caption = f"{signal_label(p.signal)}: the last day observed, the forecast from {when(p.now)}"
    caption += " with its 80% band"
    if p.threshold is not None:
        caption += f", the threshold {format_value(p.signal, p.threshold, p.unit)}"
    if p.marks:
        caption += f", {len(p.marks)} anomal{'y' if len(p.marks) == 1 else 'ies'} marked"
    return f"<figure>{picture_svg(p, slot)}<figcaption>{esc(caption)}</figcaption></figure>"


def _service_headline(d: ServiceDetail) -> str:
    s = d.state
    bits = []
    if s.incidents:
        bits.append(f"in {len(s.incidents)} open incident{'s' if len(s.incidents) > 1 else ''}")
    if s.open_events:
        bits.append(
            "anomalous: " + ", ".join(sorted({signal_label(e.signal) for e in s.open_events}))
        )
    if not bits:
        bits.append("no open anomaly")
    bits.append(
        f"last data {when(s.last_data_at)} ({age(s.data_age)} ago)"
        if s.last_data_at
        else "no data in the last 7 days"
    )
    return " · ".join(bits)


def _service_facts(d: ServiceDetail) -> str:
    s = d.state
    pairs = [
        (
            "last data",
            esc(f"{when(s.last_data_at)} ({age(s.data_age)} ago)")
            if s.last_data_at
            else esc("none in the last 7 days"),
        ),
        ("open anomalies", open_events_text(s.open_events) or esc("none")),
        ("predicted breach", breaches_text(s.alerts)),
    ]
    if s.scaling is not None:
        f = s.scaling
        pairs.append(
            (
                "scaling",
                esc(
                    f"{signal_label(f.signal)}: {replicas_text(f)} replicas "
                    f"(forecast made {when(f.generated_at)})"
                ),
            )
        )
    newest = max((f.generated_at for f in d.forecasts), default=None)
    pairs.append(("newest forecast", esc(when(newest))))
    return facts(pairs)


def _forecast_table(forecasts: Iterable[ForecastSummary]) -> str:
    rows = []
    for f in forecasts:
        band = (
            format_range(f.signal, f.lower, f.upper)
            if f.lower is not None and f.upper is not None
            else "-"
        )
        rows.append(
            [
                esc(signal_label(f.signal)),
                esc(clock(f.next_target, f.generated_at)),
                esc(format_value(f.signal, f.value)),
                esc(band),
                "-" if f.scaling_value is None else esc(format_value(f.signal, f.scaling_value)),
                esc(replicas_text(f)),
                esc(
                    f"{clock(f.horizon_end, f.generated_at)} (+"
                    f"{format_duration((f.horizon_end - f.generated_at).total_seconds())})"
                ),
                "-"
                if f.observed is None
                else esc(
                    f"{format_value(f.signal, f.observed)} at {clock(f.observed_at, f.generated_at)}"
                ),
                esc(when(f.generated_at)),
                esc(f"{f.model} ({f.model_version})"),
            ]
        )
    return table(
        [
            "signal",
            "next target",
            "mean",
            "80% interval",
            "load to serve",
            "replicas",
            "forecast to",
            "last observed",
            "made",
            "model (trained to)",
        ],
        rows,
        numeric=[2, 4, 5],
    )


def _event_table(events: Iterable[EventSummary]) -> str:
    rows = []
    for e in events:
        expected = (
            format_range(e.signal, e.expected_low, e.expected_high)
            if e.expected_low is not None and e.expected_high is not None
            else "-"
        )
        rows.append(
            [
                pill("open", "open") if e.is_open else pill("ended", "ended"),
                esc(signal_label(e.signal)),
                esc(e.kind.replace("_", " ")),
                pill(e.severity, e.severity),
                esc(when(e.start)),
                esc("still running" if e.is_open else clock(e.end, e.start)),
                f"{e.peak_score:.1f}σ",
                "-" if e.observed is None else esc(format_value(e.signal, e.observed)),
                esc(expected),
                f'<span class="wrap">{esc(e.explanation)}</span>',
            ]
        )
    return table(
        [
            "",
            "signal",
            "kind",
            "severity",
            "start",
            "end",
            "peak",
            "observed",
            "expected",
            "explanation",
        ],
        rows,
        numeric=[6, 7],
    )
