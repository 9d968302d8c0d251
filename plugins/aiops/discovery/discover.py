"""A starting catalog from what a Prometheus holds: each registered convention proposes
services, they are merged by name, and the result is written as commented YAML that
`parse_catalog` loads and `catalog check --prometheus` passes against the same server.

What it cannot know it says so in the file: owners default to ``<org>/<service>`` (or
``change-me/<service>``) and teams to the service name, each marked "set owner/team".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aiops.discovery.conventions import Convention, DraftSignal, FoundService, Inventory
from aiops.discovery.server_api import PrometheusApi

logger = logging.getLogger(__name__)

PLACEHOLDER_ORG = "change-me"


class ApiInventory:
    """The Inventory of a live server over ``[start, end]``; answers are kept for the run, as
    several conventions ask for the same series."""

    def __init__(self, api: PrometheusApi, start: datetime, end: datetime) -> None:
        self.api, self.start, self.end = api, start, end
        self._names: frozenset[str] | None = None
        self._series: dict[str, list[dict[str, str]]] = {}

    def metric_names(self) -> frozenset[str]:
        if self._names is None:
            self._names = frozenset(self.api.metric_names(self.start, self.end))
        return self._names

    def series(self, selector: str) -> list[dict[str, str]]:
        if selector not in self._series:
            self._series[selector] = self.api.series(selector, self.start, self.end)
        return self._series[selector]

    def value(self, query: str) -> float | None:
        values = [v for _, v in self.api.instant(query, self.end) if v == v]  # NaN != NaN
        return max(values) if values else None


@dataclass
class DiscoveredService:
    """A catalog service: the signals of every convention that found it, first one winning."""

    name: str
    conventions: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    signals: dict[str, DraftSignal] = field(default_factory=dict)


@dataclass(frozen=True)
class Discovery:
    services: list[DiscoveredService]
    per_convention: dict[str, int]  # convention title -> services it found


def discover_services(inventory: Inventory, conventions: Iterable[Convention]) -> Discovery:
    """Run every convention over ``inventory`` in order and merge what they found by name."""
    merged: dict[str, DiscoveredService] = {}
    per_convention: dict[str, int] = {}
    claimed: set[str] = set()
    for convention in conventions:
        found: list[FoundService] = convention.recognise(inventory, frozenset(claimed))
        per_convention[convention.title] = len(found)
        logger.info("convention %s: %d service(s)", convention.name, len(found))
        for svc in found:
            claimed |= svc.jobs
            into = merged.setdefault(svc.name, DiscoveredService(svc.name))
            into.conventions.append(convention.name)
            kept = [n for n in svc.signals if n not in into.signals]
            skipped = [n for n in svc.signals if n in into.signals]
            note = f"{convention.title}: {svc.evidence}"
            if skipped:
                note += f" (kept the signals above for {', '.join(skipped)})"
            into.evidence.append(note)
            for name in kept:
                into.signals[name] = svc.signals[name]
    return Discovery([s for s in merged.values() if s.signals], per_convention)


def render_catalog(
    discovery: Discovery,
    *,
    source: str,
    start: datetime,
    end: datetime,
    owner_org: str | None = None,
    step: str = "60s",
) -> str:
    """The catalog YAML, with comments saying where each service was found."""
    org = owner_org or PLACEHOLDER_ORG
    lines = [
        f"# Written by `aiops catalog discover` from {source},",
        f"# from the series seen between {start.isoformat()} and {end.isoformat()}.",
        "# A starting point: set each service's owner (the GitHub repository that receives its",
        "# issues) and team, drop what should not be watched, add slo/scaling, then run",
        f"# `aiops catalog check PATH --prometheus {source}`.",
        "version: 1",
        "defaults:",
        f"  step: {step}",
        "  signals: {}",
        "services:",
    ]
    for svc in discovery.services:
        lines += [f"  # {note}" for note in svc.evidence]
        lines += [
            f"  {svc.name}:",
            f"    owner: {org}/{svc.name}  # set owner/team",
            f"    team: {svc.name}",
            "    signals:",
        ]
        for name, sig in svc.signals.items():
            lines += [
                f"      {name}:",
                f"        query: {_quoted(sig.query)}",
                f"        unit: {sig.unit}",
                f"        kind: {sig.kind}",
                f"        direction: {sig.direction}",
            ]
            if sig.min is not None:
                lines.append(f"        min: {_number(sig.min)}")
            if sig.max is not None:
                lines.append(f"        max: {_number(sig.max)}")
    return "\n".join(lines) + "\n"


def summary_lines(discovery: Discovery) -> list[str]:
    """``<n> service(s) from <convention>`` per convention that found any, then the total."""
    lines = [f"{n:4d} service(s): {title}" for title, n in discovery.per_convention.items() if n]
    lines.append(f"{len(discovery.services):4d} service(s) in the catalog")
    return lines


def _quoted(text: str) -> str:
    """A single-quoted YAML scalar (PromQL is full of double quotes, braces and colons)."""
    return "'" + text.replace("'", "''") + "'"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


__all__ = [
    "PLACEHOLDER_ORG",
    "ApiInventory",
    "DiscoveredService",
    "Discovery",
    "discover_services",
    "render_catalog",
    "summary_lines",
]
