"""What a metric convention recogniser is: it looks at what a server holds (an
:class:`Inventory`) and proposes services with signals whose queries return one series each.

A recogniser knows one convention (OpenTelemetry HTTP metrics, the spanmetrics connector,
cAdvisor, node_exporter, ...): the metric names it needs, the label that names a service, and
the PromQL that turns its series into the catalog's signals. Adding a convention is a class
with ``name``, ``title`` and ``recognise`` plus one line in ``registry.BUILT_IN`` (or
``CONVENTIONS.register`` from anywhere); nothing else changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

#: The catalog's service-name rule (a service name is substituted into label matchers).
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: The rate window of every generated query.
RATE_WINDOW = "5m"


class Inventory(Protocol):
    """What the server holds in the discovery window."""

    def metric_names(self) -> frozenset[str]:
        """Names of the metrics with samples in the window."""
        ...

    def series(self, selector: str) -> list[dict[str, str]]:
        """Label sets of the series ``selector`` matches in the window."""
        ...

    def value(self, query: str) -> float | None:
        """The largest value of an instant query at the window's end; None when empty."""
        ...


@dataclass(frozen=True)
class DraftSignal:
    """A signal as it will be written: the catalog's SignalSpec fields."""

    query: str
    unit: str
    kind: str
    direction: str
    min: float | None = 0.0
    max: float | None = None


@dataclass(frozen=True)
class FoundService:
    """A service one convention found: its catalog name, its signals, and where it was seen
    (written as a comment above it). ``jobs`` are the scrape jobs its series came from, so
    the `up` fallback leaves them alone."""

    name: str
    convention: str
    evidence: str
    signals: Mapping[str, DraftSignal]
    jobs: frozenset[str] = field(default_factory=frozenset)


class Convention(Protocol):
    """One metric convention: ``recognise`` returns the services it finds, [] when the server
    does not follow it. ``claimed_jobs`` are the jobs conventions before it covered."""

    name: str
    title: str

    def recognise(
        self, inventory: Inventory, claimed_jobs: frozenset[str]
    ) -> list[FoundService]: ...


def service_name(raw: str) -> str | None:
    """``raw`` (a label value) made a catalog service name: lowercase, anything but letters and
    digits turned to '-', runs collapsed, at most 63 characters; None when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:63].rstrip("-")
    return name if name and SERVICE_NAME.match(name) else None


def promql_string(value: str) -> str:
    """``value`` as a PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_matcher(label: str, raw: str, name: str, op: str = "=") -> str:
    """``label="${service}"`` when the label value is the service name itself, so the query
    stays a template; otherwise the literal value (``$`` escaped for the template)."""
    if raw == name:
        return f'{label}{op}"${{service}}"'
    return f"{label}{op}{promql_string(raw).replace('$', '$$')}"


def label_values(series: Iterable[Mapping[str, str]], label: str) -> list[str]:
    """Distinct non-empty values of ``label`` in ``series``, sorted."""
    return sorted({s[label] for s in series if s.get(label)})


def jobs_of(series: Iterable[Mapping[str, str]]) -> frozenset[str]:
    return frozenset(label_values(series, "job"))


def first_present(names: Iterable[str], inventory: Inventory) -> str | None:
    """The first of ``names`` the server has, or None."""
    have = inventory.metric_names()
    return next((n for n in names if n in have), None)


__all__ = [
    "RATE_WINDOW",
    "SERVICE_NAME",
    "Convention",
    "DraftSignal",
    "FoundService",
    "Inventory",
    "first_present",
    "jobs_of",
    "label_values",
    "promql_string",
    "service_matcher",
    "service_name",
]
