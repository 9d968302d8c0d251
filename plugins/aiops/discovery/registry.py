"""The metric conventions `aiops catalog discover` recognises, in the order they run.

Order matters twice: a service found by two conventions keeps the first one's signal when
both give the same signal name (OpenTelemetry's own HTTP metrics before spanmetrics), and
the `up` fallback runs last, over the jobs nobody else covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiops.discovery.conventions import Convention
from aiops.discovery.recognise_containers import CONTAINERS
from aiops.discovery.recognise_http import OTEL_HTTP, OTEL_HTTP_LEGACY, SPANMETRICS
from aiops.discovery.recognise_node import NODES
from aiops.discovery.recognise_servicegraph import SERVICEGRAPH
from aiops.discovery.recognise_up import UP

#: The built-in conventions in the order they run.
BUILT_IN: tuple[Convention, ...] = (
    OTEL_HTTP,
    OTEL_HTTP_LEGACY,
    SPANMETRICS,
    SERVICEGRAPH,
    CONTAINERS,
    NODES,
    UP,
)


class ConventionRegistry:
    """Conventions by name, in registration order; the `up` fallback stays last."""

    def __init__(self, conventions: Iterable[Convention] = ()) -> None:
        self._by_name: dict[str, Convention] = {}
        for convention in conventions:
            self.register(convention)

    def register(self, convention: Convention) -> Convention:
        """Add ``convention`` (before the `up` fallback); refused when its name is taken."""
        if convention.name in self._by_name:
            raise ValueError(f"convention {convention.name!r} is already registered")
        self._by_name[convention.name] = convention
        if "up" in self._by_name and convention.name != "up":
            self._by_name["up"] = self._by_name.pop("up")
        return convention

    def __iter__(self) -> Iterator[Convention]:
        return iter(list(self._by_name.values()))

    def __getitem__(self, name: str) -> Convention:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return list(self._by_name)


CONVENTIONS = ConventionRegistry(BUILT_IN)

__all__ = ["BUILT_IN", "CONVENTIONS", "ConventionRegistry"]
