"""The root cause of one moment, from exports: a post-mortem without Prometheus or Airflow.

What the hourly path does over a day, done once around a time a person names (`at`): the
hourly scoring (`aiops.metrics.score_frame`, the DAG's scoring task) over the whole hours
covering [at - lead, at + window), each reading `history` of data before; the events active
in that span become one incident's `IncidentEvent`s and are ranked by the hourly ranking
(`rank_root_causes`), on a dependency map read from trace exports when there is one.

A post-mortem has what it has: no registry, no nightly training, often little data before
the fault. So every signal is scored by the short tier, fitted on as little as
`short_history` (20 minutes) instead of the hourly path's two hours, and a fault soon after
the export begins is still rankable. An event already going on at the span's start keeps no
onset: it began before, likely with another cause, and must not win "who moved first".
All events in the span are one incident: the person chose the moment; grouping is not
asked to second-guess it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from aiops.baselines.ladder import LadderConfig, short_tier_config
from aiops.catalog import KNOWN_SIGNALS, Catalog, parse_catalog
from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident import Incident, new_id
from aiops.incidents.incident_event import IncidentEvent, from_anomaly_event
from aiops.incidents.ranking import Ranking, rank_root_causes
from aiops.incidents.trace_events import EdgeScoringConfig, edge_anomalies
from aiops.metrics.offline import score_frame
from aiops.metrics.pipeline import DetectionSettings
from aiops.sources.jaeger_files import iter_trace_documents
from aiops.traces.analyze import analyze_traces
from aiops.traces.edge_signals import edges_from_calls

HOUR = timedelta(hours=1)
#: The unit of a signal a default catalog knows nothing about (the catalog requires one).
UNKNOWN_UNIT = "unit"


class PostmortemError(ValueError):
    """A post-mortem that cannot be made from what was given; the message says why."""


@dataclass(frozen=True)
class PostmortemConfig:
    """Which events belong to the moment, and how much data the scoring reads."""

    window: timedelta = timedelta(minutes=10)  # events active this long after `at`
    lead: timedelta = timedelta(minutes=2)  # ... or this long before it
    history: timedelta = timedelta(hours=2)  # data before the first scored hour
    short_history: timedelta = timedelta(minutes=20)  # the least the short tier fits on
    #: strength kept by an event already going on when the span starts: it began before,
    #: most likely with another cause (chosen across days by bench/bench_rca_real.py --cv)
    lingering_weight: float = 0.1
    edges: EdgeScoringConfig = field(default_factory=EdgeScoringConfig)  # trace-edge events

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.short_history <= timedelta(0):
            raise PostmortemError(
                f"window and short_history must be > 0, got {self.window} and {self.short_history}"
            )
        if not 0 <= self.lingering_weight <= 1:
            raise PostmortemError(
                f"lingering_weight must be in [0, 1], got {self.lingering_weight}"
            )
        if self.lead < timedelta(0) or self.history < timedelta(0):
            raise PostmortemError(
                f"lead and history must be >= 0, got {self.lead} and {self.history}"
            )

    def settings(self) -> DetectionSettings:
        """The hourly scoring's settings with the short tier fitted on `short_history`."""
        short = replace(short_tier_config(), min_days=self.short_history / timedelta(days=1))
        return DetectionSettings(ladder=LadderConfig(short=short))

    def span(self, at: datetime) -> tuple[datetime, datetime]:
        """[at - lead, at + window): an event active in it belongs to the moment."""
        return at - self.lead, at + self.window

    def hours(self, at: datetime) -> tuple[datetime, datetime]:
        """The whole hours covering `span(at)`, as the hourly runs score them: an event may
        start in the lead, before the hour of `at`."""
        first, last = self.span(at)
        start = first.replace(minute=0, second=0, microsecond=0)
        end = last.replace(minute=0, second=0, microsecond=0)
        return start, end if end == last else end + HOUR


@dataclass(frozen=True)
class Postmortem:
    """One moment's events, their ranking (None without events) and what it was made of."""

    at: datetime
    span: tuple[datetime, datetime]  # events active in [start, end) were kept
    hours: tuple[datetime, datetime]  # the scored [start, end)
    events: tuple[IncidentEvent, ...]  # earliest first
    ranking: Ranking | None
    map_window: str  # the dependency map's label; "" without one
    #: trace edges ("caller->callee:measure") not scored, with why (too few traced minutes)
    unscored_edges: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> tuple[str, ...]:
        """Services with an event, in name order."""
        return tuple(sorted({e.service for e in self.events}))

    def incident(self) -> Incident | None:
        """The events as the hourly path's incident (for its renderers); None without any.
        Open when an event runs to the end of the scored hours."""
        if self.ranking is None:
            return None
        known = [e.start for e in self.events if e.onset_known]
        first = min(known) if known else min(e.start for e in self.events)
        seed = min(self.events, key=lambda e: (e.start, e.key))
        return Incident(
            incident_id=new_id(f"{seed.key}|{seed.start.isoformat()}"),
            start=first,
            end=max(e.end for e in self.events),
            status="open" if any(e.end >= self.hours[1] for e in self.events) else "resolved",
            events=self.events,
            ranking=self.ranking,
            graph_window=self.map_window,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "span": [t.isoformat() for t in self.span],
            "scored_hours": [t.isoformat() for t in self.hours],
            "map": self.map_window or None,
            "unscored_edges": self.unscored_edges,
            "services": list(self.services),
            "ranking": self.ranking.to_json() if self.ranking else None,
            "events": [e.to_json() for e in self.events],
        }


def score_hours(
    frame: pd.DataFrame,
    catalog: Catalog,
    hours: tuple[datetime, datetime],
    config: PostmortemConfig = PostmortemConfig(),
    services: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """The anomaly rows the hourly runs of `hours` store, reading `history` before them.
    Public so a caller ranking many moments of one frame can score shared hours once."""
    start, end = hours
    part = frame[(frame.index >= start - config.history) & (frame.index < end)]
    names = list(services) if services is not None else catalog.service_names
    return score_frame(part, catalog, start, end, services=names, settings=config.settings())


def active_events(
    rows: Iterable[dict[str, Any]],
    at: datetime,
    config: PostmortemConfig = PostmortemConfig(),
    until: datetime | None = None,
) -> list[IncidentEvent]:
    """The events of `rows` active in `config.span(at)` (cut at `until`, say the next
    fault's time), earliest first; one going on before the span keeps no onset and
    `lingering_weight` of its strength (a fault's latency that outlasts it must not draw
    the next fault's ranking)."""
    low, high = config.span(at)
    if until is not None:
        high = min(high, until)
    kept = [r for r in rows if r["end"] > low and r["start"] < high]
    events = []
    for row in kept:
        event = from_anomaly_event(row)
        if row["start"] < low:
            event = replace(event, start=low, onset_known=False,
                            strength=event.strength * config.lingering_weight)  # fmt: skip
        events.append(event)
    return sorted(events, key=lambda e: (e.start, e.service, e.signal))


def root_cause(
    frame: pd.DataFrame,
    catalog: Catalog,
    at: datetime,
    graph: DependencyGraph | None,
    config: PostmortemConfig = PostmortemConfig(),
    *,
    until: datetime | None = None,
    rows: Sequence[dict[str, Any]] | None = None,
    services: Iterable[str] | None = None,
    edges: pd.DataFrame | None = None,
) -> Postmortem:
    """The ranked root cause of the moment `at` in `frame` (a UTC-indexed column per
    `service:signal`). `rows` are the anomaly rows of `config.hours(at)` when the caller
    scored them already (`score_hours`); `services` limits the scoring (default: the
    catalog's). `edges` (`edge_frame`'s, from trace exports) add the callers' view as
    events (`aiops.incidents.trace_events`). Without a map (`graph` None or empty) the
    ranking falls back to onset order and its note says so."""
    if at.tzinfo is None:
        raise PostmortemError(f"root_cause: `at` needs a timezone, got {at.isoformat()}")
    hours = config.hours(at)
    if rows is None:
        rows = score_hours(frame, catalog, hours, config, services)
    unscored: dict[str, str] = {}
    if edges is not None:
        low, high = config.span(at)
        cut = (low, min(high, until) if until is not None else high)
        scores = edge_anomalies(edges, cut, config.edges)
        rows, unscored = [*rows, *scores.rows], scores.unscored
    events = active_events(rows, at, config, until)
    ranking = None
    if events:
        names = {e.service for e in events}
        hops = catalog.incidents.max_hops
        connectors = sorted(graph.connectors(names, hops)) if graph else []
        ranking = rank_root_causes(events, graph, connectors=connectors)
    return Postmortem(
        at=at,
        span=config.span(at),
        hours=hours,
        events=tuple(events),
        ranking=ranking,
        map_window=graph.window if graph else "",
        unscored_edges=unscored,
    )


def require_data(frame: pd.DataFrame, at: datetime, config: PostmortemConfig, source: str) -> None:
    """Refuse a moment the metrics do not cover: nothing could be scored, and "no events"
    would read as "nothing happened"."""
    low, high = config.span(at)
    values = frame[(frame.index >= low) & (frame.index < high)]
    if values.notna().to_numpy().any():
        return
    held = (
        f"it holds {frame.index.min():%Y-%m-%d %H:%M} to {frame.index.max():%Y-%m-%d %H:%M} UTC"
        if len(frame.index)
        else "it holds no values"
    )
    raise PostmortemError(
        f"{source}: no values in [{low:%Y-%m-%d %H:%M}, {high:%Y-%m-%d %H:%M}) UTC, the "
        f"window around {at:%Y-%m-%d %H:%M} UTC; {held}"
    )


def history_before(frame: pd.DataFrame, at: datetime, config: PostmortemConfig) -> timedelta:
    """How much data precedes the first scored hour (at most `config.history`): less than
    `short_history` and the short tier cannot score the first hour."""
    start = config.hours(at)[0]
    before = frame.index[(frame.index < start) & frame.notna().any(axis=1).to_numpy()]
    if not len(before):
        return timedelta(0)
    return min(config.history, start - before.min().to_pydatetime())


@dataclass(frozen=True)
class TraceMap:
    """The dependency map of trace exports, and what reading them found."""

    graph: DependencyGraph
    traces: int
    dropped: int
    #: calls per caller -> callee edge and minute (`edge_frame`'s), for the callers' view
    edges: pd.DataFrame


def trace_map(paths: Iterable[Path | str], step: timedelta = timedelta(minutes=1)) -> TraceMap:
    """The map of every trace in `paths` (Jaeger JSON files or directories of them), read
    by the nightly trace analysis: the edges the hourly correlation would find stored, and
    the calls of each edge per `step`."""
    paths = [Path(p) for p in paths]
    analysis = analyze_traces(iter_trace_documents(paths))
    label = "traces in " + ", ".join(p.name or str(p) for p in paths)
    graph = DependencyGraph.from_edges(analysis.edges, window=label)
    edges = edges_from_calls(analysis.calls, int(step.total_seconds()))
    return TraceMap(graph, analysis.traces, len(analysis.dropped), edges)


@dataclass(frozen=True)
class DefaultCatalog:
    """A catalog made from the metrics when none is given, and the signals it could only
    guess at (kind `other`, unit `unit`, either direction bad, no physical bounds)."""

    catalog: Catalog
    unknown_signals: tuple[str, ...]


def default_catalog(
    columns: Iterable[str], step: timedelta = timedelta(minutes=1)
) -> DefaultCatalog:
    """Every service of the `service:signal` columns with every signal it has. The five
    known names take their defaults (`KNOWN_SIGNALS`); any other name is scored as "other"
    with either direction bad and no bounds, since nothing says what it measures. The
    queries are never run (the frame is read by column) but must be valid templates."""
    by_service: dict[str, set[str]] = {}
    for column in columns:
        service, _, signal = str(column).partition(":")
        by_service.setdefault(service, set()).add(signal)
    unknown = sorted({s for signals in by_service.values() for s in signals} - set(KNOWN_SIGNALS))
    services = {}
    for name, signals in sorted(by_service.items()):
        specs: dict[str, dict[str, Any]] = {}
        for signal in sorted(signals):
            specs[signal] = {"query": f'{signal}{{service="${{service}}"}}'}
            if signal not in KNOWN_SIGNALS:
                specs[signal].update(unit=UNKNOWN_UNIT, kind="other", direction="both", min=None)
        services[name] = {"owner": "unknown/unknown", "team": "unknown", "signals": specs}
    doc = {
        "version": 1,
        "defaults": {"step": f"{step.total_seconds():g}s"},
        "services": services,
    }
    source = "<default catalog from the metrics: give --catalog to name them otherwise>"
    catalog = parse_catalog(yaml.safe_dump(doc, sort_keys=False), source)
    return DefaultCatalog(catalog, tuple(unknown))
