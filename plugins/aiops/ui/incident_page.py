"""The page of one incident (``/incidents/{incident_id}``): what it is, its ranked root-cause
candidates, how it spread (the chain, drawn and as a list) and its events.

Takes what aiops.ui.incident_queries answered and returns the whole document.
"""

from __future__ import annotations

from datetime import datetime

from aiops.ui.charts import picture_svg
from aiops.ui.layout import Links, clock, empty, esc, facts, link, page, pill, section, table, when
from aiops.ui.records import ChainLine, IncidentDetail
from aiops.units import format_duration, signal_label


def incident_page(detail: IncidentDetail, links: Links, now: datetime) -> str:
    """One incident: what it is, its ranked root-cause candidates, how it spread (the chain
    picture) and its events."""
    i = detail.summary
    status = (
        pill("open", "open")
        if i.is_open
        else pill("resolved" if i.status == "resolved" else "no longer reported", "resolved")
    )
    lasted = "still open" if i.is_open else format_duration((i.end - i.start).total_seconds())
    counts = detail.counts
    pairs = [
        ("from", f"{esc(when(i.start))} to {esc(clock(i.end, i.start))} ({esc(lasted)})"),
        ("services", ", ".join(link(links.service(s), s) for s in i.services) or "-"),
        (
            "root cause",
            f"{link(links.service(i.root_service), i.root_service)} "
            f"{esc(signal_label(i.root_signal))}",
        ),
        (
            "events",
            esc(
                f"{counts.get('metric', 0)} metric, {counts.get('log', 0)} log, "
                f"{counts.get('predictive', 0)} predictive; "
                f"{counts.get('points', 0):,} raw anomalous points"
            ),
        ),
        (
            "ranking",
            esc(f"{detail.method}, confidence {detail.confidence:.2f}")
            + (f'<br><span class="muted">{esc(detail.note)}</span>' if detail.note else ""),
        ),
        ("map", esc(detail.graph_window or "none (no trace window was recent enough)")),
        (
            "as of",
            esc(
                f"the hourly run ending {when(i.as_of)}"
                + (f" (seen by {detail.hours} hourly runs)" if detail.hours > 1 else "")
            ),
        ),
    ]
    walked = any(c.walk is not None for c in detail.candidates)
    candidates = [
        [
            esc(c.rank),
            link(links.service(c.service), c.service),
            f'<meter min="0" max="1" value="{c.score:.4f}"></meter> {c.score:.2f}',
            "-" if c.walk is None else f"{c.walk:.2f}",
            f"{c.onset:.2f}",
            f"{c.strength:.2f}",
            "-" if c.peak is None else f"{c.peak:.1f}σ",
            esc(clock(c.first_onset, i.start)),
            esc(signal_label(c.signal) or "-"),
            esc(c.role),
        ]
        for c in detail.candidates
    ]
    header = [
        "#",
        "service",
        "score",
        "walk" if walked else "walk (not used)",
        "onset",
        "strength",
        "peak",
        "first onset",
        "signal",
        "role",
    ]
    chain_items = "".join(
        f"<li>{_chain_text(link_, i.start, links)}</li>" for link_ in detail.chain
    )
    # a chain of one service is one box: the list below says as much
    drawn = detail.picture is not None and len(detail.picture.steps) > 1
    chain = ("<figure>" + picture_svg(detail.picture, "chain") + "</figure>" if drawn else "") + (
        f"<ol>{chain_items}</ol>" if chain_items else empty("no chain: one service")
    )
    events = [
        [
            esc(e.source),
            link(links.service(e.service), e.service),
            esc(signal_label(e.signal)),
            esc(e.kind),
            esc(("" if e.onset_known else "~") + clock(e.start, i.start)),
            esc(clock(e.end, i.start)),
            f"{e.strength:.1f}",
            pill(e.severity, e.severity),
            f'<span class="wrap">{esc(e.explanation)}</span>',
        ]
        for e in detail.events
    ]
    body = [
        f'<div class="crumbs">{link(links.home(), "Services")} › incident '
        f"{esc(i.incident_id)}</div>",
        f"<h1>Incident {esc(i.incident_id)} {status} {pill(i.severity, i.severity)}</h1>",
        f'<p class="lede">{esc(i.title)}</p>',
        section("Summary", f"<p>{esc(detail.text)}</p>" + facts(pairs)),
        section(
            "Root-cause candidates",
            table(header, candidates, numeric=[0, 3, 4, 5, 6])
            if candidates
            else empty("no candidates stored"),
            note="best first",
        ),
        section("How it spread", chain),
        section(
            "Events",
            table(
                [
                    "source",
                    "service",
                    "signal",
                    "kind",
                    "start",
                    "end",
                    "strength",
                    "severity",
                    "explanation",
                ],
                events,
                numeric=[6],
            )
            + (
                '<p class="muted">~ onset not known to the minute (an hourly log row or a '
                "forecast)</p>"
                if any(not e.onset_known for e in detail.events)
                else ""
            ),
        ),
    ]
    return page(f"Incident {i.incident_id}", "".join(body), links, now=now)


def _chain_text(link_: ChainLine, start: datetime, links: Links) -> str:
    text = f"{link(links.service(link_.service), link_.service)} {esc(signal_label(link_.signal))}"
    text += f" at {esc(clock(link_.onset, start))}" if link_.onset else " (onset unknown)"
    lag = link_.lag_seconds
    if lag:
        text += esc(
            f" (+{format_duration(lag)})" if lag > 0 else f" ({format_duration(-lag)} before)"
        )
    if len(link_.via) > 1:
        text += ", through " + " → ".join(esc(v) for v in link_.via)
    return text
