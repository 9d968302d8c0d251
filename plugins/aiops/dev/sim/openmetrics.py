"""OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.

Families are written whole (OpenMetrics forbids interleaving them), each series in time order,
and the file ends with `# EOF`. Values are formatted explicitly so the same world always
produces the same bytes. The fleet's own families come first; families built elsewhere (the
containers' cAdvisor and kube-state-metrics series) follow, in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from aiops.dev.sim.metrics import FleetMetrics

FAMILIES = (
    ("http_requests", "counter", "HTTP requests served, by status code."),
    ("http_request_duration_seconds", "summary", "Request latency quantiles."),
    ("process_cpu_seconds", "counter", "CPU time consumed by the service."),
    ("process_resident_memory_bytes", "gauge", "Resident memory of the service."),
)


@dataclass(frozen=True)
class SeriesBlock:
    """One series' samples: `values` from position `start` of the fleet's index on."""

    metric: str  # the sample name, e.g. container_cpu_usage_seconds_total
    labels: dict[str, str]
    start: int
    values: np.ndarray
    fmt: str  # "int" | "milli" (3 decimals) | "g" (6 significant digits)


@dataclass(frozen=True)
class Family:
    """A metric family written whole: its TYPE and HELP, then each series in turn."""

    name: str
    kind: str  # counter | gauge | summary
    help: str
    series: tuple[SeriesBlock, ...] = ()


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}"


def _fmt(values: np.ndarray, kind: str) -> list[str]:
    if kind == "int":
        return [str(int(v)) for v in values]
    if kind == "milli":
        return [f"{v:.3f}" for v in values]
    return [f"{v:.6g}" for v in values]


def _write_series(
    out: TextIO, name: str, labels: str, values: np.ndarray, ts: list[str], kind: str
) -> int:
    prefix = f"{name}{labels} "
    out.write("".join(f"{prefix}{v} {t}\n" for v, t in zip(_fmt(values, kind), ts, strict=True)))
    return len(ts)


def write_openmetrics(fleet: FleetMetrics, path: Path, families: Iterable[Family] = ()) -> int:
    """Write every series of the fleet, then `families` (on the fleet's index); returns the
    number of samples written."""
    # pandas may hold the index in ns, us or s: convert explicitly, never divide asi8 by a guess
    seconds = fleet.index.as_unit("s").asi8
    ts = [str(int(s)) for s in seconds]
    samples = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for family, kind, help_text in FAMILIES:
            out.write(f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n")
            for service, m in fleet.services.items():
                for name, labels, values, fmt in _family_series(family, service, m):
                    samples += _write_series(out, name, labels, values, ts, fmt)
        for family in (f for f in families if f.series):
            out.write(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n")
            for s in family.series:
                stamps = ts[s.start : s.start + len(s.values)]
                samples += _write_series(
                    out, s.metric, _labels(**s.labels), s.values, stamps, s.fmt
                )
        out.write("# EOF\n")
    return samples


def _family_series(family: str, service: str, m) -> Iterable[tuple[str, str, np.ndarray, str]]:
    if family == "http_requests":
        yield (
            "http_requests_total",
            _labels(service=service, code="200"),
            m.requests_ok_total,
            "int",
        )
        yield (
            "http_requests_total",
            _labels(service=service, code="500"),
            m.requests_err_total,
            "int",
        )
    elif family == "http_request_duration_seconds":
        for q, values in (("0.5", m.latency_p50), ("0.95", m.latency_p95), ("0.99", m.latency_p99)):
            yield family, _labels(service=service, quantile=q), values, "g"
    elif family == "process_cpu_seconds":
        yield "process_cpu_seconds_total", _labels(service=service), m.cpu_seconds_total, "milli"
    elif family == "process_resident_memory_bytes":
        yield family, _labels(service=service), m.memory_bytes, "int"


def read_openmetrics_series(path: Path, metric: str, **labels: str) -> pd.Series:
    """Read one series back from an OpenMetrics file (tests and the file-backed twin use it)."""
    want = f"{metric}{_labels(**labels)} "
    times: list[int] = []
    values: list[float] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith(want):
                _, value, ts = line.rsplit(" ", 2)
                values.append(float(value))
                times.append(int(ts))
    index = pd.to_datetime(np.array(times, dtype=np.int64), unit="s", utc=True)
    return pd.Series(values, index=index, name=metric, dtype="float64")
