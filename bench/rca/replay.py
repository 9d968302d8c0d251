"""One fault through `aiops rca`'s code: `aiops.incidents.postmortem`, the hourly scoring on
the metrics in hand, the events active around the injection, and their ranking as one
incident.

As on a new install: no registry and no nightly training, so every signal is scored by the
short tier, fitted on as little as `short_history` (20 minutes) of what precedes each scored
hour. The events kept are those active within [inject_time - lead, inject_time + window),
the window cut at the next fault's injection (faults come every 7 to 9 minutes: a longer
window credits the next fault's events to this one); an event already going on at the
window's start keeps no onset (it began before, with another cause). All of them are one
incident (the grouping is not what is measured here). The ranking is a parameter,
`RankFn`: a later ranking is measured by passing it instead of `ours`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import yaml

from aiops.baselines.ladder import LadderConfig
from aiops.catalog import Catalog, parse_catalog
from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent
from aiops.incidents.postmortem import PostmortemConfig, active_events, score_hours
from aiops.incidents.ranking import rank_root_causes
from aiops.incidents.trace_events import edge_anomalies
from bench.rca.nezha import SIGNALS, Fault, MetricSignal

HOUR = timedelta(hours=1)
STEP = timedelta(minutes=1)
#: What the short tier reads before a scored hour, plus two hours of margin.
DEFAULT_HISTORY = timedelta(hours=2 + LadderConfig().short_history_hours)

#: Services of one incident's events and the call graph -> services, likeliest root first.
RankFn = Callable[[Sequence[IncidentEvent], DependencyGraph], list[str]]


def ours(events: Sequence[IncidentEvent], graph: DependencyGraph) -> list[str]:
    """The current ranking (aiops.incidents.ranking), as a service list."""
    if not events:
        return []
    return [c.service for c in rank_root_causes(events, graph).candidates]


#: The post-mortem's configuration; the bench reads two days of history before each hour.
ReplayConfig = PostmortemConfig
DEFAULT_CONFIG = PostmortemConfig(history=DEFAULT_HISTORY)


@dataclass(frozen=True)
class Replay:
    fault: Fault
    ranking: tuple[str, ...]  # likeliest root first; empty without events
    events: tuple[IncidentEvent, ...]
    root_has_event: bool
    hours: tuple[datetime, datetime]  # the scored [start, end)

    @property
    def services(self) -> tuple[str, ...]:
        """Services with an event, in name order."""
        return tuple(sorted({e.service for e in self.events}))


def build_catalog(services: Iterable[str], signals: Sequence[MetricSignal] = SIGNALS) -> Catalog:
    """Every service with every signal, a minute apart; the queries are never run (the
    frame source reads columns by name) but must be valid templates."""
    templates = {
        s.signal: {
            "query": f'nezha_{s.signal}{{service="${{service}}"}}',
            "unit": s.unit,
            "kind": s.kind,
            "direction": s.direction,
        }
        for s in signals
    }
    doc = {
        "version": 1,
        "defaults": {"step": "60s", "signals": templates},
        "services": {
            name: {"owner": "nezha/onlineboutique", "team": "boutique"} for name in sorted(services)
        },
    }
    return parse_catalog(yaml.safe_dump(doc, sort_keys=False), "<nezha catalog>")


def wide_frame(long: pd.DataFrame) -> pd.DataFrame:
    """The long frame as the frame source reads it: a UTC minute index, a column per
    `service:signal` (the loader refuses two rows in one minute, so nothing is merged)."""
    column = long["service"].astype(str) + ":" + long["signal"].astype(str)
    wide = long.assign(column=column).pivot(index="timestamp", columns="column", values="value")
    wide.index = pd.DatetimeIndex(wide.index).tz_convert("UTC")
    wide.index.name, wide.columns.name = "timestamp", None
    return wide.sort_index().astype("float64")


def scored_hours(fault: Fault, config: ReplayConfig = DEFAULT_CONFIG) -> tuple[datetime, datetime]:
    """Whole hours covering [inject_time - lead, inject_time + window)."""
    return config.hours(fault.inject_time)


@dataclass
class Replayer:
    """The replay of faults over one frame; faults sharing their scored hours share one
    scoring (it is deterministic), which is most of the bench's time."""

    frame: pd.DataFrame
    catalog: Catalog
    config: ReplayConfig = DEFAULT_CONFIG
    #: the callers' signals from the day's spans (`edge_signals`' long frame); None: none
    edges: pd.DataFrame | None = None
    _scored: dict[tuple[datetime, datetime], list[dict]] = field(default_factory=dict)

    def anomaly_events(self, start: datetime, end: datetime) -> list[dict]:
        """The rows the hourly runs of [start, end) store, from `history` before on."""
        if (start, end) not in self._scored:
            self._scored[(start, end)] = score_hours(
                self.frame, self.catalog, (start, end), self.config
            )
        return self._scored[(start, end)]

    def events(self, fault: Fault, until: datetime | None = None) -> list[IncidentEvent]:
        """The incident events active near the injection (before `until`, the next fault's
        injection), earliest first; one going on before the window keeps no onset."""
        rows = self.anomaly_events(*scored_hours(fault, self.config))
        if self.edges is not None:
            low, high = self.config.span(fault.inject_time)
            span = (low, min(high, until) if until is not None else high)
            rows = [*rows, *edge_anomalies(self.edges, span, self.config.edges).rows]
        return active_events(rows, fault.inject_time, self.config, until)

    def replay(
        self,
        fault: Fault,
        graph: DependencyGraph,
        rank: RankFn = ours,
        until: datetime | None = None,
    ) -> Replay:
        events = self.events(fault, until)
        ranking = tuple(rank(events, graph)) if events else ()
        return Replay(
            fault=fault,
            ranking=ranking,
            events=tuple(events),
            root_has_event=any(e.service == fault.service for e in events),
            hours=scored_hours(fault, self.config),
        )


def replay_fault(
    fault: Fault,
    frame: pd.DataFrame,
    catalog: Catalog,
    graph: DependencyGraph,
    *,
    config: ReplayConfig = DEFAULT_CONFIG,
    rank: RankFn = ours,
) -> Replay:
    """One fault's events and the ranking `rank` gives them."""
    return Replayer(frame, catalog, config).replay(fault, graph, rank)
