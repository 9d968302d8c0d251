"""Every catalog query run against a real Prometheus for a recent window, so the mistakes the
loader cannot see show up before the hourly run does: a query the server rejects, one that
returns several series where the pipeline wants one, one with no data, a raw counter where a
rate was meant, values outside the signal's physical bounds, and a ratio or percent without
the bound its unit implies.

Each problem names the line of the signal's query in the catalog (the service's own, or the
defaults template it inherits), so the output reads like a compiler's.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import yaml

from aiops.catalog import Catalog, SignalSpec
from aiops.discovery.promql_scan import has_rate, selections, unrated_counters
from aiops.sources.prometheus import PrometheusClient, PrometheusQueryError, RangeSeries
from aiops.yaml_lines import line_of

logger = logging.getLogger(__name__)

#: Bounds a unit implies: a ratio lies in [0, 1], a percent in [0, 100].
UNIT_MAX = {"ratio": 1.0, "percent": 100.0}
#: Fewest points before a series that only grows is taken for a counter.
COUNTER_MIN_POINTS = 5
#: Share of steps that must rise (none falling) for a series to look like a counter.
COUNTER_RISING_SHARE = 0.9
SHOWN_SERIES = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one (service, signal); ``line`` is that of its query."""

    service: str
    signal: str
    line: int | None
    message: str

    @property
    def key(self) -> str:
        return f"services.{self.service}.signals.{self.signal}"

    def render(self, path: str) -> str:
        """``path:line: services.web.signals.cpu: <problem>``."""
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: {self.key}: {self.message}"


@dataclass(frozen=True)
class CheckWindow:
    start: datetime
    end: datetime
    step: timedelta


@dataclass(frozen=True)
class CheckReport:
    problems: list[Problem]
    queries: int
    services: int


def query_line(root: yaml.Node | None, catalog: Catalog, service: str, signal: str) -> int | None:
    """Line of the query a (service, signal) runs: its own, else its defaults template's."""
    own = catalog.services[service].signals.get(signal)
    if own is not None:
        return line_of(root, ("services", service, "signals", signal, "query"))
    return line_of(root, ("defaults", "signals", signal, "query"))


def check_catalog(
    catalog: Catalog,
    root: yaml.Node | None,
    client: PrometheusClient,
    window: CheckWindow,
    counters: frozenset[str] = frozenset(),
    gauges: frozenset[str] = frozenset(),
) -> CheckReport:
    """Run every (service, signal) of ``catalog`` over ``window``; ``counters``/``gauges`` are
    metric types from the server's metadata, when it has any. A server that cannot be reached
    raises PrometheusUnavailable (nothing can be said about the catalog then)."""
    problems: list[Problem] = []
    queries = 0
    for service in catalog.service_names:
        for name, spec in catalog.signals_of(service).items():
            queries += 1
            line = query_line(root, catalog, service, name)
            query = catalog.query(service, name)
            for message in signal_problems(client, spec, query, window, counters, gauges):
                problems.append(Problem(service, name, line, message))
    return CheckReport(problems, queries, len(catalog.services))


def signal_problems(
    client: PrometheusClient,
    spec: SignalSpec,
    query: str,
    window: CheckWindow,
    counters: frozenset[str] = frozenset(),
    gauges: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """What is wrong with one signal: its bounds (no server needed), then its query, whose
    text is judged only once the server accepted it."""
    yield from bound_problems(spec)
    try:
        result = client.query_range(query, window.start, window.end, window.step)
    except PrometheusQueryError as exc:
        yield f"PromQL rejected by the server: {server_reason(str(exc))}"
        return
    raw = unrated_counters(query, counters)
    if raw:
        yield (
            f"selects counter {', '.join(raw)} without rate()/increase() around it: the signal "
            f"would only grow; use e.g. rate({raw[0]}[5m])"
        )
    series = [s for s in result.series if s.values.notna().any()]
    if not series:
        yield f"no data between {window.start.isoformat()} and {window.end.isoformat()}"
        return
    if len(series) > 1:
        shown = ", ".join(_labels(s) for s in series[:SHOWN_SERIES])
        more = f" and {len(series) - SHOWN_SERIES} more" if len(series) > SHOWN_SERIES else ""
        yield (
            f"returns {len(series)} series, expected one: {shown}{more}; aggregate them, e.g. "
            "sum(...) or max(...), or sum by () (...)"
        )
    values = [float(v) for s in series for v in s.values if not math.isnan(v)]
    if not raw and not has_rate(query) and not _all_gauges(query, gauges):
        growing = next((s for s in series if looks_like_counter(list(s.values))), None)
        if growing is not None:
            v = growing.values.dropna()
            yield (
                f"values only grow ({v.iloc[0]:g} to {v.iloc[-1]:g} over the window): looks like "
                "a raw counter; wrap it in rate(...[5m])"
            )
    yield from value_problems(spec, values)


def bound_problems(spec: SignalSpec) -> Iterator[str]:
    """A ratio without ``max: 1``, a percent without ``max: 100`` (or beyond it)."""
    implied = UNIT_MAX.get(spec.unit or "")
    if implied is None:
        return
    if spec.max is None:
        yield f"unit {spec.unit} without a max: add max: {implied:g}"
    elif spec.max > implied:
        yield f"unit {spec.unit} with max {spec.max:g}: a {spec.unit} is at most {implied:g}"


def value_problems(spec: SignalSpec, values: Sequence[float]) -> Iterator[str]:
    """Values outside the signal's physical bounds (what the pipeline would quarantine)."""
    if spec.min is not None:
        low = [v for v in values if v < spec.min]
        if low:
            yield (
                f"{len(low)} of {len(values)} values below min {spec.min:g} (lowest {min(low):g})"
            )
    if spec.max is not None:
        high = [v for v in values if v > spec.max]
        if high:
            yield (
                f"{len(high)} of {len(values)} values above max {spec.max:g} "
                f"(highest {max(high):g})"
            )


def looks_like_counter(values: Sequence[float]) -> bool:
    """True for a series that never falls and rises in nearly every step: a raw counter (a
    gauge wobbles; a constant is not a counter)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < COUNTER_MIN_POINTS:
        return False
    steps = [b - a for a, b in zip(finite, finite[1:], strict=False)]
    if any(d < 0 for d in steps):
        return False
    rising = sum(1 for d in steps if d > 0)
    return rising >= COUNTER_RISING_SHARE * len(steps) and finite[-1] > finite[0]


def server_reason(message: str) -> str:
    """The server's own words out of a PrometheusQueryError (``(HTTP 400, bad_data): ...``)."""
    found = re.search(r"rejected (\(HTTP \d+[^)]*\): .*)$", message, re.DOTALL)
    return found.group(1) if found else message


def _all_gauges(query: str, gauges: frozenset[str]) -> bool:
    metrics = {s.metric for s in selections(query)}
    return bool(metrics) and metrics <= gauges


def _labels(series: RangeSeries) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(series.labels.items())) + "}"


__all__ = [
    "COUNTER_MIN_POINTS",
    "COUNTER_RISING_SHARE",
    "UNIT_MAX",
    "CheckReport",
    "CheckWindow",
    "Problem",
    "bound_problems",
    "check_catalog",
    "looks_like_counter",
    "query_line",
    "server_reason",
    "signal_problems",
    "value_problems",
]
