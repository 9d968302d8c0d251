"""Which events are one incident: close in onset and close in the dependency map.

Two events are linked when they began within `window` of each other and their services are
the same or within `max_hops` calls of each other in the trace-derived map. An incident is
a connected group of linked events, so a cascade that walks up four hops in four minutes is
one incident even though its first and last events share no edge.

Onsets, not overlapping spans: a regression that has been going on since yesterday overlaps
everything that happens today, and would glue every later incident next to it into one.
An event whose onset is known only to the hour (an hourly log row, a forecast) joins the
events of its own service that began during its span, and that service's other such events
whose spans overlap: an hour-long span overlaps everything in the hour, and across services
it would glue a forecast of cart's memory to payment's error spike through checkout, which
calls both. (A new template's first line is a known onset, so it links like a metric.)

Without a map (no traces analysed yet, or none recent enough) services cannot be told
related from unrelated. `without_map="time"` then groups by time alone and says so in the
ranking; `"service"` keeps each service apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent


@dataclass(frozen=True)
class GroupingConfig:
    window: timedelta = timedelta(minutes=15)  # gap two related events may leave between them
    max_hops: int = 1  # calls between two services whose events may be one incident
    without_map: Literal["time", "service"] = "time"


def group_events(
    events: Sequence[IncidentEvent],
    graph: DependencyGraph | None,
    config: GroupingConfig = GroupingConfig(),
) -> list[list[IncidentEvent]]:
    """The events partitioned into incidents; each group and the list sorted by onset."""
    order = sorted(range(len(events)), key=lambda i: (events[i].start, events[i].key))
    parent = list(range(len(events)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # a sweep over start times: only events that began within this one's reach can be
    # linked to it, so the pair checks stay near-linear for an hour of events
    for pos, i in enumerate(order):
        a = events[i]
        reach = (a.start if a.onset_known else a.end) + config.window
        for j in order[pos + 1 :]:
            b = events[j]
            if b.start > reach:
                break
            if _close(a, b, config.window) and _related(a, b, graph, config):
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[IncidentEvent]] = {}
    for i in order:
        groups.setdefault(find(i), []).append(events[i])
    return sorted(groups.values(), key=lambda g: (g[0].start, g[0].key))


def _close(a: IncidentEvent, b: IncidentEvent, window: timedelta) -> bool:
    """`b` began no earlier than `a` (the sweep's order)."""
    if a.onset_known and b.onset_known:
        return b.start - a.start <= window
    if a.onset_known:  # b known only to its span, which starts after a began
        return b.start - window <= a.start
    if b.onset_known:  # b began during a's span
        return b.start <= a.end + window
    return b.start <= a.end + window  # both spans: they overlap


def _related(
    a: IncidentEvent, b: IncidentEvent, graph: DependencyGraph | None, config: GroupingConfig
) -> bool:
    if a.service == b.service:
        return True
    if not (a.onset_known and b.onset_known):
        return False  # an hour-long span says nothing about another service
    if not graph:
        return config.without_map == "time"
    distance = graph.distance(a.service, b.service)
    return distance is not None and distance <= config.max_hops
