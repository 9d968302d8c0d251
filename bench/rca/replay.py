"""One fault through our code: the hourly scoring on the metrics in hand, the events near the
injection, and a ranking of them as one incident.

As on a new install: no registry and no nightly training, so every signal is scored by the
short tier fitted on the hours before each scored hour (`LadderConfig.short_history_hours`
at most; at least two hours, else the signal is not scored). The events kept are those
starting within [inject_time - lead, inject_time + window), all of them one incident (the
grouping is not what is measured here). The ranking is a parameter, `RankFn`: a later
ranking is measured by passing it instead of `ours`.
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
from aiops.incidents.incident_event import IncidentEvent, from_anomaly_event
from aiops.incidents.ranking import rank_root_causes
from aiops.metrics import score_frame
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


@dataclass(frozen=True)
class ReplayConfig:
    window: timedelta = timedelta(minutes=10)  # events starting this long after injection
    lead: timedelta = timedelta(minutes=2)  # ... or this long before it
    history: timedelta = DEFAULT_HISTORY  # data before the first scored hour


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


def scored_hours(fault: Fault, config: ReplayConfig) -> tuple[datetime, datetime]:
    """Whole hours covering [inject_time - lead, inject_time + window): an event may start
    in the lead before the hour of the injection."""
    first = fault.inject_time - config.lead
    last = fault.inject_time + config.window
    start = first.replace(minute=0, second=0, microsecond=0)
    end = last.replace(minute=0, second=0, microsecond=0)
    return start, end if end == last else end + HOUR


@dataclass
class Replayer:
    """The replay of faults over one frame; faults sharing their scored hours share one
    scoring (it is deterministic), which is most of the bench's time."""

    frame: pd.DataFrame
    catalog: Catalog
    config: ReplayConfig = ReplayConfig()
    _scored: dict[tuple[datetime, datetime], list[dict]] = field(default_factory=dict)

    def anomaly_events(self, start: datetime, end: datetime) -> list[dict]:
        """The rows the hourly runs of [start, end) store, from `history` before on."""
        if (start, end) not in self._scored:
            since = start - self.config.history
            part = self.frame[(self.frame.index >= since) & (self.frame.index < end)]
            self._scored[(start, end)] = score_frame(
                part, self.catalog, start, end, services=self.catalog.service_names
            )
        return self._scored[(start, end)]

    def events(self, fault: Fault) -> list[IncidentEvent]:
        """The incident events starting near the injection, earliest first."""
        start, end = scored_hours(fault, self.config)
        low = fault.inject_time - self.config.lead
        high = fault.inject_time + self.config.window
        rows = [r for r in self.anomaly_events(start, end) if low <= r["start"] < high]
        events = [from_anomaly_event(r) for r in rows]
        return sorted(events, key=lambda e: (e.start, e.service, e.signal))

    def replay(self, fault: Fault, graph: DependencyGraph, rank: RankFn = ours) -> Replay:
        events = self.events(fault)
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
    config: ReplayConfig = ReplayConfig(),
    rank: RankFn = ours,
) -> Replay:
    """One fault's events and the ranking `rank` gives them."""
    return Replayer(frame, catalog, config).replay(fault, graph, rank)
