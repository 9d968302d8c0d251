"""Nezha span CSVs (``trace/HH_MM_trace.csv.gz``) to `aiops.traces.model.Trace` objects.

The Nezha RCA dataset (OnlineBoutique) ships its traces as one CSV per minute with the columns
``TraceID, SpanID, ParentID, PodName, OperationName, StartTimeUnixNano, EndTimeUnixNano,
Duration``; ``ParentID`` is ``root`` for an entry span. ``Duration`` is in microseconds (the
end minus the start, truncated) and is the span's duration; the start is cut to microseconds,
as `Span` keeps times. What the rows lack, and how it is filled in:

- Service: the pod name without its two hash suffixes (``frontend-579b9bff58-t2dbm`` ->
  ``frontend``); a name without them (a StatefulSet's ``redis-0``) is kept whole.
- Span kind: there is no ``span.kind``. A gRPC client span is recorded in the CALLER's pod
  under the callee's method: frontend's ``hipstershop.ProductCatalogService/GetProduct``, with
  productcatalogservice's span of the same method as its child (some instrumentations prefix
  ``grpc.`` or ``/``). So a span whose operation names another service's RPC method
  (``[/][grpc.]package.Service/Method``, the service one of the services read) is the
  caller's client span, with that service as its ``peer``; a span whose parent is in another
  service is ``server``; any other span is left untagged. A span naming its own service's
  method, or a class that is no service (adservice's ``AdServiceImpl/getAds``), is internal.
- Errors: the CSVs have no status column, so no span is marked an error; faults that only
  fail requests show in these traces as latency or missing calls, never as errors.

The files are minute windows that overlap by a few seconds, so the same trace, row for row,
can sit in two consecutive files: identical rows are kept once (counted). A span whose parent
is in none of the files read (a trace cut at a file boundary) is kept as a root, counted and
logged, never dropped. A malformed row stops the read with `NezhaFormatError`, naming the
file and line.
"""

from __future__ import annotations

import gc
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.traces.model import Span, Trace
from aiops.traces.parse import ORPHAN_SPAN, break_parent_loops

log = logging.getLogger(__name__)

COLUMNS = (
    "TraceID",
    "SpanID",
    "ParentID",
    "PodName",
    "OperationName",
    "StartTimeUnixNano",
    "EndTimeUnixNano",
    "Duration",
)
TEXT_COLUMNS = COLUMNS[:5]
INT_COLUMNS = COLUMNS[5:]
ROOT_PARENT = "root"

_POD_SUFFIXES = re.compile(r"^(?P<service>.+?)-[a-z0-9]{5,10}-[a-z0-9]{5}$")
_RPC_METHOD = re.compile(r"^/?(?:grpc\.)?(?:[A-Za-z_][\w]*\.)*(?P<service>[A-Za-z_]\w*)/\S+$")
_PARSER_LINE = re.compile(r"\bline (\d+)")


class NezhaFormatError(ValueError):
    """A Nezha span file that cannot be read as such; names the file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line


@dataclass(frozen=True)
class NezhaSpans:
    """The traces read (in order of first appearance) and what was repaired on the way."""

    traces: list[Trace]
    files: int
    rows: int  # data rows in the files
    spans: int  # spans kept
    duplicate_rows: int  # identical rows (a trace in two overlapping files): one kept
    conflicting_spans: int  # same trace and span ID, different content: first file's kept
    orphans: int  # spans whose parent is in no file read: kept as roots
    cycles: int  # parent loops broken at their earliest span


def service_of_pod(pod: str) -> str:
    """``frontend-579b9bff58-t2dbm`` -> ``frontend``; a pod without both suffixes, whole."""
    match = _POD_SUFFIXES.match(pod)
    return match.group("service") if match else pod


def rpc_service(operation: str) -> str | None:
    """The lower-cased service an RPC method names (``hipstershop.CartService/GetCart`` ->
    ``cartservice``), None for an operation that is no RPC method (``sql.conn.query``)."""
    match = _RPC_METHOD.match(operation)
    return match.group("service").lower() if match else None


def trace_files(day_dir: Path) -> list[Path]:
    """A Nezha day's span files in time order (their ``HH_MM`` names sort by time)."""
    return sorted(Path(day_dir).glob("trace/*_trace.csv*"))


def read_span_file(path: Path | str) -> pd.DataFrame:
    """One span CSV, checked: the eight columns, no empty field, whole non-negative times,
    an end not before the start. Raises `NezhaFormatError` naming the file and line."""
    path = Path(path)
    _check_header(path)
    dtypes = {c: "str" for c in TEXT_COLUMNS} | {c: "int64" for c in INT_COLUMNS}
    try:
        # no usecols: with it the parser would let a row with an extra field pass
        frame = pd.read_csv(path, dtype=dtypes, na_filter=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        found = _PARSER_LINE.search(str(exc))
        raise NezhaFormatError(path, int(found.group(1)) if found else None, str(exc)) from exc
    except (ValueError, OverflowError, TypeError):
        _raise_first_bad_row(path)
        raise  # unreachable: the scan above raises
    frame = frame[list(COLUMNS)]
    _check_rows(path, frame)
    return frame


def _check_header(path: Path) -> None:
    try:
        header = pd.read_csv(path, nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise NezhaFormatError(path, 1, f"no readable header ({exc})") from exc
    missing = [c for c in COLUMNS if c not in header.columns]
    if missing:
        raise NezhaFormatError(path, 1, f"missing column(s) {missing}; has {list(header)}")


def _raise_first_bad_row(path: Path) -> None:
    """The typed read failed: find the first row with an empty field or a time that is not a
    whole number >= 0."""
    text = pd.read_csv(path, dtype="str", na_filter=False, skip_blank_lines=False)
    text = text[list(COLUMNS)].fillna("")
    _check_text(path, text)
    for column in INT_COLUMNS:
        bad = ~text[column].str.fullmatch(r"\d+").to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = text[column].iloc[row]
            _raise_at(path, row, f"{column} is not a whole number >= 0: {value!r}")
    raise NezhaFormatError(path, None, "the time columns could not be read as integers")


def _check_text(path: Path, frame: pd.DataFrame) -> None:
    for column in TEXT_COLUMNS:
        empty = frame[column].to_numpy(dtype=object) == ""
        if empty.any():
            _raise_at(path, int(np.flatnonzero(empty)[0]), f"empty {column}")


def _check_rows(path: Path, frame: pd.DataFrame) -> None:
    _check_text(path, frame)
    for column in INT_COLUMNS:
        negative = frame[column].to_numpy() < 0
        if negative.any():
            row = int(np.flatnonzero(negative)[0])
            _raise_at(path, row, f"{column} is negative: {frame[column].iloc[row]}")
    backwards = frame["EndTimeUnixNano"].to_numpy() < frame["StartTimeUnixNano"].to_numpy()
    if backwards.any():
        _raise_at(path, int(np.flatnonzero(backwards)[0]), "EndTimeUnixNano before the start")


def _raise_at(path: Path, row: int, problem: str) -> None:
    raise NezhaFormatError(path, row + 2, problem)  # line 1 is the header


def read_nezha_spans(paths: Iterable[Path | str], services: Iterable[str] = ()) -> NezhaSpans:
    """Every span of the files as traces (in order of first appearance); the spans of one
    trace in several files are joined.

    ``services`` adds service names a client span may name besides the pods' (a callee that
    recorded no span in these files)."""
    frames = [read_span_file(p) for p in paths]
    if not frames:
        return NezhaSpans([], 0, 0, 0, 0, 0, 0, 0)
    raw = pd.concat(frames, ignore_index=True)
    rows = _Rows.of(raw)
    keep, duplicates, conflicts = rows.unique()
    with _collector_paused():
        traces, orphans, cycles = _build_traces(rows.take(keep), services)
    if orphans:
        log.warning(
            "%d span(s) have a parent in none of the %d file(s) read (traces cut at a file "
            "boundary); kept as roots",
            orphans,
            len(frames),
        )
    return NezhaSpans(
        traces, len(frames), len(raw), int(keep.size), duplicates, conflicts, orphans, cycles
    )


@dataclass(frozen=True)
class _Rows:
    """Span rows as integer codes (string columns factorised once), so that deduplicating,
    sorting and finding parents are array operations instead of string comparisons."""

    trace: np.ndarray  # code into trace_ids
    span: np.ndarray  # code into ids (span and parent IDs share the codes)
    parent: np.ndarray  # code into ids; -1 for "root"
    pod: np.ndarray  # code into pods
    operation: np.ndarray  # code into operations
    start_ns: np.ndarray
    end_ns: np.ndarray
    duration_us: np.ndarray
    trace_ids: np.ndarray
    ids: np.ndarray
    pods: np.ndarray
    operations: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Rows:
        n = len(frame)
        trace, trace_ids = pd.factorize(frame["TraceID"])
        both, ids = pd.factorize(pd.concat([frame["SpanID"], frame["ParentID"]]))
        parent = both[n:].copy()
        parent[frame["ParentID"].to_numpy() == ROOT_PARENT] = -1
        pod, pods = pd.factorize(frame["PodName"])
        operation, operations = pd.factorize(frame["OperationName"])
        return cls(
            trace.astype(np.int64),
            both[:n].astype(np.int64),
            parent.astype(np.int64),
            pod,
            operation,
            frame["StartTimeUnixNano"].to_numpy(dtype=np.int64),
            frame["EndTimeUnixNano"].to_numpy(dtype=np.int64),
            frame["Duration"].to_numpy(dtype=np.int64),
            np.asarray(trace_ids, dtype=object),
            np.asarray(ids, dtype=object),
            np.asarray(pods, dtype=object),
            np.asarray(operations, dtype=object),
        )

    def __len__(self) -> int:
        return int(self.trace.size)

    def span_key(self) -> np.ndarray:
        return self.trace * np.int64(self.ids.size + 1) + self.span

    def parent_key(self) -> np.ndarray:
        return np.where(self.parent < 0, -1, self.trace * np.int64(self.ids.size + 1) + self.parent)

    def unique(self) -> tuple[np.ndarray, int, int]:
        """Rows to keep (the first of identical rows, then the first of a span ID), the
        identical rows dropped and the conflicting ones dropped. Only rows whose span ID
        repeats are compared field by field: few are."""
        key = self.span_key()
        repeated = np.flatnonzero(pd.Series(key).duplicated(keep=False).to_numpy())
        fields = (key, self.parent, self.pod, self.operation, *self._times())
        content = pd.DataFrame({i: f[repeated] for i, f in enumerate(fields)})
        exact = np.zeros(key.size, dtype=bool)
        exact[repeated] = content.duplicated().to_numpy()
        distinct = np.flatnonzero(~exact)
        keep = distinct[~pd.Series(key[distinct]).duplicated().to_numpy()]
        return keep, int(exact.sum()), int(distinct.size - keep.size)

    def _times(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.start_ns, self.end_ns, self.duration_us

    def take(self, rows: np.ndarray) -> _Rows:
        """These rows, sorted by trace (first appearance), start and span."""
        order = rows[np.lexsort((self.span[rows], self.start_ns[rows], self.trace[rows]))]
        per_row = ("trace", "span", "parent", "pod", "operation")
        picked = {name: getattr(self, name)[order] for name in per_row}
        times = {n: getattr(self, n)[order] for n in ("start_ns", "end_ns", "duration_us")}
        tables = {n: getattr(self, n) for n in ("trace_ids", "ids", "pods", "operations")}
        return _Rows(**picked, **times, **tables)


def _build_traces(rows: _Rows, services: Iterable[str]) -> tuple[list[Trace], int, int]:
    """(traces, orphan spans, cycles broken) from rows sorted by trace, unique per span."""
    if not len(rows):
        return [], 0, 0
    parent = pd.Index(rows.span_key()).get_indexer(rows.parent_key()).astype(np.int64)
    parent[parent == np.arange(len(rows))] = -1
    orphan = (parent < 0) & (rows.parent >= 0)
    bounds = np.flatnonzero(np.diff(rows.trace, prepend=-1, append=-1))
    trace_of_row = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
    first_row = bounds[:-1][trace_of_row]
    service = np.array([service_of_pod(p) for p in rows.pods], dtype=object)[rows.pod]
    kind, peer = _kinds(rows, service, parent, set(service) | {s.lower() for s in services})
    local_parent = np.where(parent >= 0, parent - first_row, -1)
    spans = _spans(rows, service, kind, peer, local_parent)
    _link_children(spans, parent, np.arange(len(rows)) - first_row)
    roots = np.flatnonzero(parent < 0)
    groups = _TraceGroups(
        ids=rows.trace_ids[rows.trace[bounds[:-1]]].tolist(),
        bounds=bounds.tolist(),
        roots=(roots - first_row[roots]).tolist(),
        root_cuts=np.searchsorted(roots, bounds).tolist(),
        orphans=np.bincount(trace_of_row[orphan], minlength=bounds.size - 1).tolist(),
        looped=frozenset(trace_of_row[_rows_off_root(parent)].tolist()),
    )
    traces, cycles = groups.assemble(spans)
    return traces, int(orphan.sum()), cycles


@dataclass(frozen=True)
class _TraceGroups:
    """Where each trace's spans and roots sit in the flat lists, and what it needs repaired."""

    ids: list[str]
    bounds: list[int]  # trace t is spans[bounds[t]:bounds[t + 1]]
    roots: list[int]  # each trace's roots (indices in the trace), trace after trace
    root_cuts: list[int]  # trace t's roots are roots[root_cuts[t]:root_cuts[t + 1]]
    orphans: list[int]  # orphan spans per trace
    looped: frozenset[int]  # traces with a parent loop

    def assemble(self, spans: list[Span]) -> tuple[list[Trace], int]:
        traces: list[Trace] = []
        cycles = 0
        for t, trace_id in enumerate(self.ids):
            roots = self.roots[self.root_cuts[t] : self.root_cuts[t + 1]]
            trace_spans = spans[self.bounds[t] : self.bounds[t + 1]]
            issues: list[str] = []
            if t in self.looped:
                roots = break_parent_loops(trace_spans, issues)
            cycles += len(issues)
            warnings = (ORPHAN_SPAN,) * self.orphans[t] + tuple(issues)
            traces.append(Trace(str(trace_id), trace_spans, roots, warnings=warnings))
        return traces, cycles


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a million small objects are made: it would
    walk them all, again and again, as they pile up, and none of them can be garbage yet."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _kinds(
    rows: _Rows, service: np.ndarray, parent: np.ndarray, known: set[str]
) -> tuple[np.ndarray, np.ndarray]:
    """span.kind and peer per row: client for a span naming another service's RPC method,
    server for a span whose parent is in another service, else untagged."""
    named_by_op = np.array([rpc_service(str(op)) or "" for op in rows.operations], dtype=object)
    named = named_by_op[rows.operation]
    client = (named != service) & pd.Series(named).isin(known).to_numpy()
    has_parent = parent >= 0
    parent_service = service[np.where(has_parent, parent, 0)]
    server = has_parent & (parent_service != service) & ~client
    kind = np.where(client, "client", np.where(server, "server", "")).astype(object)
    peer = np.where(client, named, "").astype(object)
    return kind, peer


def _spans(
    rows: _Rows, service: np.ndarray, kind: np.ndarray, peer: np.ndarray, parent: np.ndarray
) -> list[Span]:
    """One Span per row; strings shared through the (small) tables of distinct values."""
    intern = sys.intern
    services = {s: intern(str(s)) for s in set(service)}
    operations = [intern(str(op)) for op in rows.operations]
    words = {w: intern(str(w)) for w in set(kind) | set(peer)}
    n = len(rows)
    return list(
        map(
            Span,  # positional: span_id, service, operation, start, duration, parent,
            # follows, kind, error, peer
            rows.ids[rows.span].tolist(),
            [services[s] for s in service],
            [operations[o] for o in rows.operation.tolist()],
            (rows.start_ns // 1000).tolist(),
            rows.duration_us.tolist(),
            parent.tolist(),
            [False] * n,
            [words[k] for k in kind],
            [False] * n,
            [words[p] for p in peer],
        )
    )


def _link_children(spans: list[Span], parent: np.ndarray, local_index: np.ndarray) -> None:
    """Append each span (by its index in its trace) to its parent's children, in start order."""
    child_rows = np.flatnonzero(parent >= 0)
    for p, child in zip(parent[child_rows].tolist(), local_index[child_rows].tolist(), strict=True):
        spans[p].children.append(child)


def _rows_off_root(parent: np.ndarray) -> np.ndarray:
    """True for rows whose ancestors never reach a root: they sit on, or under, a parent loop.
    Pointer jumping: each pass doubles how far up every row has looked."""
    up = np.where(parent >= 0, parent, np.arange(parent.size))
    for _ in range(64):
        further = up[up]
        if np.array_equal(further, up):
            break
        up = further
    return parent[up] >= 0
