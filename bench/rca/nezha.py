"""The Nezha OnlineBoutique dev set as the replay reads it: faults, per-pod metrics as a long
frame, and the call graph.

Layout (one folder per day, see the data set's README):

    <day>/<day>-fault_list.json      {"HH": [{inject_time, inject_pod, inject_type, ...}]}
    <day>/metric/<pod>_metric.csv    one row a minute per pod
    <day>/metric/dependency.csv      Source,Target[,Weight]: caller -> callee

A file that cannot be read as that layout says is an error naming the file and the line:
a bench that silently skips rows measures something other than what it says.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from aiops.incidents.graph import DependencyGraph

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LONG_COLUMNS = ("timestamp", "service", "signal", "value")
METRIC_SUFFIX = "_metric.csv"
#: README: adservice's `TimeStamp` on 2022-08-22 is off (by about 200,000,000 s); its `Time`
#: column is right. Every other file's `TimeStamp` agrees with its `Time`.
TIME_COLUMN_FILES = frozenset({("2022-08-22", "adservice")})
_TIME_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? \+0000 UTC")


class NezhaError(ValueError):
    """A data set file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class MetricSignal:
    """One pod-metric column as a catalog signal: its name, kind, bad direction and unit,
    and the factor from the column's unit to the signal's."""

    column: str
    signal: str
    kind: str
    direction: str
    unit: str
    scale: float = 1.0


#: The columns scored. Left out on purpose:
#: - `PodSuccessRate(%)`: 0 in every row upstream, so there is no usable error signal;
#: - `PodClientLatency*`: the latency of the calls a pod makes, i.e. its callees' trouble;
#: - there is no per-pod p50 (the pod files have p90/p95/p99 server latency; only
#:   `front_service.csv` has a p50, for the frontend alone, which would give one service a
#:   signal the others lack);
#: - syscalls, network bytes and node-level columns (not in the issue's signal set).
SIGNALS: tuple[MetricSignal, ...] = (
    MetricSignal("CpuUsage(m)", "cpu", "saturation", "up", "cores", 1e-3),
    MetricSignal("MemoryUsage(Mi)", "memory", "saturation", "up", "bytes", float(2**20)),
    MetricSignal("PodWorkload(Ops)", "request_rate", "traffic", "both", "req/s"),
    MetricSignal("PodServerLatencyP90(s)", "latency_p90", "latency", "up", "s"),
    MetricSignal("PodServerLatencyP95(s)", "latency_p95", "latency", "up", "s"),
    MetricSignal("PodServerLatencyP99(s)", "latency_p99", "latency", "up", "s"),
)


@dataclass(frozen=True)
class Fault:
    day: str
    inject_time: datetime  # UTC, the minute the fault starts (to the second)
    pod: str
    service: str  # the root cause
    kind: str  # cpu_contention, cpu_consumed, network_delay, return, exception

    @property
    def label(self) -> str:
        return f"{self.inject_time:%Y-%m-%d %H:%M} {self.service} {self.kind}"


@dataclass(frozen=True)
class CallGraph:
    """The call graph of a day and the edges left out: endpoints that are not services of
    the system (IP addresses, the load generator)."""

    graph: DependencyGraph
    dropped: tuple[tuple[str, str], ...]


def days(root: Path) -> list[str]:
    """The day folders of the data set, in order."""
    found = sorted(p.name for p in Path(root).iterdir() if p.is_dir() and DAY.match(p.name))
    if not found:
        raise NezhaError(f"{root}: no day folder (YYYY-MM-DD) found")
    return found


def service_of_pod(pod: str, where: str = "") -> str:
    """`cartservice-579f59597d-wc2lz` -> `cartservice`: the pod name without its
    ReplicaSet and pod hash suffixes."""
    parts = pod.split("-")
    if len(parts) < 3 or not all(parts):
        raise NezhaError(f"{where or 'pod'}: {pod!r} is not a pod name (<service>-<hash>-<hash>)")
    return "-".join(parts[:-2])


# ---------------------------------------------------------------- faults


def load_faults(root: Path, day: str) -> list[Fault]:
    """The faults of one day, by injection time."""
    path = Path(root) / day / f"{day}-fault_list.json"
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NezhaError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    lines = _json_lines(text)
    if not isinstance(data, dict):
        raise NezhaError(f"{path}:1: expected an object of hours, got {type(data).__name__}")
    faults = []
    for hour, entries in data.items():
        if not isinstance(entries, list):
            raise NezhaError(f"{path}:{lines.get((hour,), 1)}: hour {hour!r}: expected a list")
        for i, entry in enumerate(entries):
            faults.append(_fault(entry, day, f"{path}:{lines.get((hour, i), 1)}"))
    return sorted(faults, key=lambda f: f.inject_time)


def _fault(entry: object, day: str, where: str) -> Fault:
    if not isinstance(entry, dict):
        raise NezhaError(f"{where}: expected a fault object, got {type(entry).__name__}")
    missing = [k for k in ("inject_time", "inject_pod", "inject_type") if k not in entry]
    if missing:
        raise NezhaError(f"{where}: fault without {missing}")
    try:
        when = datetime.strptime(str(entry["inject_time"]), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise NezhaError(
            f"{where}: inject_time {entry['inject_time']!r} is not 'YYYY-MM-DD HH:MM:SS'"
        ) from None
    pod, kind = str(entry["inject_pod"]), str(entry["inject_type"])
    if not kind:
        raise NezhaError(f"{where}: empty inject_type")
    return Fault(day, when.replace(tzinfo=UTC), pod, service_of_pod(pod, where), kind)


def _json_lines(text: str) -> dict[tuple, int]:
    """1-based line of each hour's list, (hour,), and of each fault, (hour, index): JSON is
    YAML, and YAML's composer keeps positions, which the json module does not."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[tuple, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        out[(key.value,)] = value.start_mark.line + 1
        if isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                out[(key.value, i)] = item.start_mark.line + 1
    return out


# ---------------------------------------------------------------- metrics


def metric_files(root: Path, day: str) -> dict[str, Path]:
    """pod -> its metric file."""
    folder = Path(root) / day / "metric"
    files = {p.name[: -len(METRIC_SUFFIX)]: p for p in sorted(folder.glob(f"*{METRIC_SUFFIX}"))}
    if not files:
        raise NezhaError(f"{folder}: no *{METRIC_SUFFIX} file")
    return files


def load_metrics(root: Path, day: str, signals: tuple[MetricSignal, ...] = SIGNALS) -> pd.DataFrame:
    """Every pod's metrics of one day as a long frame `timestamp,service,signal,value`
    (UTC minutes; an empty cell is a missing value, NaN); `signals`: the columns read."""
    frames = []
    seen: dict[str, Path] = {}
    for pod, path in metric_files(root, day).items():
        service = service_of_pod(pod, str(path))
        if service in seen:
            raise NezhaError(f"{path}: a second pod of {service} (first {seen[service].name})")
        seen[service] = path
        frames.append(load_pod_metrics(path, day, pod, service, signals))
    return pd.concat(frames, ignore_index=True)


def load_pod_metrics(
    path: Path, day: str, pod: str, service: str, signals: tuple[MetricSignal, ...] = SIGNALS
) -> pd.DataFrame:
    """One pod's file as long rows; the file's line is named on any unreadable cell."""
    header, body = _csv_rows(path)
    needed = ["Time", "TimeStamp", "PodName"] + [s.column for s in signals]
    missing = [c for c in needed if c not in header]
    if missing:
        raise NezhaError(f"{path}:1: missing column(s) {missing}")
    col = {name: header.index(name) for name in needed}
    use_time = (day, service) in TIME_COLUMN_FILES
    out: list[tuple[pd.Timestamp, str, str, float]] = []
    minutes: dict[pd.Timestamp, int] = {}
    for line, row in body:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise NezhaError(f"{where}: {len(row)} cells, the header has {len(header)}")
        if row[col["PodName"]] != pod:
            raise NezhaError(f"{where}: PodName {row[col['PodName']]!r}, the file is {pod}'s")
        ts = _minute(row[col["Time"]] if use_time else row[col["TimeStamp"]], use_time, where)
        if ts in minutes:
            raise NezhaError(f"{where}: a second row in minute {ts} (first on line {minutes[ts]})")
        minutes[ts] = line
        for s in signals:
            out.append((ts, service, s.signal, _value(row[col[s.column]], s, where)))
    if not out:
        raise NezhaError(f"{path}:2: no data rows after the header")
    return pd.DataFrame(out, columns=list(LONG_COLUMNS))


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's cells and (line, cells) of each non-blank row after it."""
    text = _read(path)
    rows = []
    reader = csv.reader(text.splitlines())
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, [cell.strip() for cell in row]))
    except csv.Error as exc:
        raise NezhaError(f"{path}:{reader.line_num}: unreadable CSV: {exc}") from None
    if not rows:
        raise NezhaError(f"{path}:1: empty file")
    return rows[0][1], rows[1:]


def _minute(text: str, use_time: bool, where: str) -> pd.Timestamp:
    if use_time:
        m = _TIME_TEXT.match(text)
        if not m:
            raise NezhaError(f"{where}: Time {text!r} is not 'YYYY-MM-DD HH:MM:SS... +0000 UTC'")
        return pd.Timestamp(m.group(1), tz="UTC").floor("min")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise NezhaError(f"{where}: TimeStamp {text!r} is not epoch seconds")
    return pd.Timestamp(seconds, unit="s", tz="UTC").floor("min")


def _value(text: str, signal: MetricSignal, where: str) -> float:
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise NezhaError(f"{where}: {signal.column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NezhaError(f"{where}: {signal.column} {text!r} is not a finite number")
    return value * signal.scale


# ---------------------------------------------------------------- call graph


def load_graph(root: Path, day: str, services: set[str] | frozenset[str]) -> CallGraph:
    """The day's call graph over `services`: pod names map to their service, self-loops and
    edges to anything else (IP addresses, the load generator) are left out."""
    path = Path(root) / day / "metric" / "dependency.csv"
    header, body = _csv_rows(path)
    missing = [c for c in ("Source", "Target") if c not in header]
    if missing:
        raise NezhaError(f"{path}:1: missing column(s) {missing}")
    src, dst = header.index("Source"), header.index("Target")
    pairs, dropped = [], []
    for line, row in body:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise NezhaError(f"{where}: {len(row)} cells, the header has {len(header)}")
        if not row[src] or not row[dst]:
            raise NezhaError(f"{where}: empty Source or Target")
        a, b = _endpoint(row[src], services), _endpoint(row[dst], services)
        if a is None or b is None:
            dropped.append((row[src], row[dst]))
        elif a != b:
            pairs.append((a, b))
    if not pairs:
        raise NezhaError(f"{path}: no edge between services of the system")
    graph = DependencyGraph.from_pairs(pairs, window=f"{day} dependency.csv")
    return CallGraph(graph, tuple(dropped))


def _endpoint(name: str, services: set[str] | frozenset[str]) -> str | None:
    if name in services:
        return name
    parts = name.split("-")
    if len(parts) >= 3 and "-".join(parts[:-2]) in services:
        return "-".join(parts[:-2])
    return None


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise NezhaError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise NezhaError(f"{path}: not UTF-8 text: {exc.reason}") from None
