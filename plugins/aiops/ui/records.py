"""What the AIOps page shows, as small frozen records: a service's state, its events,
forecasts, breaches and findings, an incident as ranked, a window's dependency map.

The ``*_queries`` modules of aiops.ui fill them from the store, the ``*_page`` modules write
them as HTML; neither the store's rows nor HTML appear here, so a page can be tested from
records made by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiops.pictures.model import ChainPicture, ForecastPicture, NeighbourhoodPicture
from aiops.traces.model import Edge

#: States by how much they need a person, most first.
STATES = ("incident", "anomalous", "ok")


@dataclass(frozen=True)
class EventSummary:
    """An anomaly event (or a "no data" stretch) of one service's signal."""

    service: str
    signal: str
    kind: str  # "anomaly" | "no_data"
    start: datetime
    end: datetime  # exclusive
    severity: str
    direction: str
    peak_score: float
    observed: float | None
    expected_low: float | None
    expected_high: float | None
    explanation: str
    is_open: bool  # the newest hourly run saw it run to its end


@dataclass(frozen=True)
class AlertSummary:
    """A service's newest predicted SLO breach of one signal."""

    service: str
    signal: str
    generated_at: datetime
    severity: str
    threshold: float
    observed: float | None
    breach_at: datetime | None
    breach_earliest: datetime | None
    breach_latest: datetime | None
    message: str
    current: bool  # made by the newest hourly run


@dataclass(frozen=True)
class IncidentSummary:
    """An incident as its newest hourly row left it."""

    incident_id: str
    status: str  # as stored: "open" | "resolved"
    is_open: bool  # stored open by the newest hourly run
    severity: str
    start: datetime
    end: datetime
    title: str
    root_service: str
    root_signal: str
    services: tuple[str, ...]
    as_of: datetime  # the end of the hourly run that wrote the row


@dataclass(frozen=True)
class ForecastSummary:
    """One signal's newest forecast: its first target and how far it reaches."""

    service: str
    signal: str
    generated_at: datetime
    next_target: datetime
    value: float
    lower: float | None
    upper: float | None
    horizon_end: datetime
    scaling_value: float | None  # the first target's load to serve (scaling metric only)
    desired_replicas: int | None  # at the first target
    peak_replicas: int | None  # the most any target of the forecast asks for
    observed: float | None
    observed_at: datetime | None
    model: str
    model_version: str


@dataclass(frozen=True)
class FindingSummary:
    """A finding of the newest window of its source."""

    source: str
    kind: str
    service: str
    operation: str
    title: str
    suggestion: str
    ms_per_request: float
    requests_affected: int
    expected_saving_ms: float | None
    safety: str
    effort: str
    confidence: float
    interval_start: datetime
    interval_end: datetime


@dataclass(frozen=True)
class QuarantineSummary:
    """A frame the data-quality gate refused, with its reasons."""

    service: str
    signal: str
    stage: str
    interval_start: datetime
    interval_end: datetime
    points: int
    reason: str


@dataclass(frozen=True)
class ServiceState:
    """How one service is doing now: the headline the overview lists."""

    name: str
    state: str  # one of STATES
    stale: bool
    last_data_at: datetime | None  # newest observed point known (None: none in LOOKBACK)
    data_age: timedelta | None  # now - last_data_at
    open_events: tuple[EventSummary, ...]
    incidents: tuple[IncidentSummary, ...]  # open incidents it is part of
    alerts: tuple[AlertSummary, ...]  # newest per signal, last day, current first
    scaling: ForecastSummary | None  # its scaling metric's newest forecast


@dataclass(frozen=True)
class Overview:
    """Every service's state, the open incidents and the newest predicted breaches."""

    now: datetime  # the clock's
    as_of: datetime | None  # newest result in the store at or before now (None: empty)
    hourly_end: datetime | None  # end of the newest hourly run
    services: tuple[ServiceState, ...]  # the ones needing a person first
    incidents: tuple[IncidentSummary, ...]  # open ones, newest first
    alerts: tuple[AlertSummary, ...]  # newest per (service, signal) of the last day
    store_name: str  # masked URL

    @property
    def empty(self) -> bool:
        return self.as_of is None


@dataclass(frozen=True)
class ServiceDetail:
    """Everything the page of one service shows."""

    state: ServiceState
    now: datetime
    as_of: datetime | None
    forecasts: tuple[ForecastSummary, ...]  # every signal with one, catalog order
    pictures: tuple[ForecastPicture, ...]  # one per forecast signal
    events: tuple[EventSummary, ...]  # of the LOOKBACK, newest first
    incidents: tuple[IncidentSummary, ...]  # of the last day it is part of, newest first
    findings: tuple[FindingSummary, ...]  # newest window of each source
    quarantined: tuple[QuarantineSummary, ...]  # last day
    neighbourhood: NeighbourhoodPicture | None  # around it on the newest dependency map
    map_window: tuple[datetime, datetime] | None


@dataclass(frozen=True)
class CandidateLine:
    """A root-cause candidate of an incident's ranking, best first."""

    rank: int
    service: str
    score: float
    walk: float | None  # None unless the ranking walked the map
    onset: float
    strength: float
    peak: float | None  # None for a quiet connector
    first_onset: datetime | None
    signal: str
    role: str


@dataclass(frozen=True)
class ChainLine:
    """One service of an incident's chain, root first."""

    service: str
    signal: str
    onset: datetime | None
    lag_seconds: float | None
    via: tuple[str, ...]


@dataclass(frozen=True)
class IncidentEventLine:
    """One event of an incident."""

    source: str
    service: str
    signal: str
    kind: str
    start: datetime
    end: datetime
    strength: float
    severity: str
    onset_known: bool
    explanation: str


@dataclass(frozen=True)
class IncidentDetail:
    """An incident's newest row as people read it."""

    summary: IncidentSummary
    text: str  # the stored summary sentence(s)
    method: str
    confidence: float
    note: str
    graph_window: str
    hours: int  # hourly runs that saw it
    counts: Mapping[str, int]  # events by source, raw anomalous points
    candidates: tuple[CandidateLine, ...]
    chain: tuple[ChainLine, ...]
    picture: ChainPicture | None
    events: tuple[IncidentEventLine, ...]


@dataclass(frozen=True)
class MapWindow:
    """The newest trace window's dependency map and the findings of its services."""

    start: datetime
    end: datetime
    edges: tuple[Edge, ...]
    findings: tuple[FindingSummary, ...]  # of the window, costliest first
    traces: int | None  # traces read for the window (None: no run summary)
    spans: int | None
