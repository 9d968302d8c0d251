"""Jaeger trace JSON on disk, and the trace merging shared with the HTTP client.

A trace file is what Jaeger's query API or UI exports: the envelope ``{"data": [trace, ...],
"total": 0, "limit": 0, "offset": 0, "errors": null}``, a bare trace object ``{"traceID": ...,
"spans": [...], "processes": {...}}``, or a JSON list of trace objects. Files are read one at
a time (:func:`decode_json`: what ``json.loads`` gives, faster), so memory is bounded by the
largest file, not by the directory.

Trace *contents* are not validated here: :mod:`aiops.traces.parse` repairs or quarantines bad
traces and counts them, so every element of ``data`` is passed on, even one that is not an
object. Only a file that is not JSON, or whose top level is none of the shapes above, is an
error (:class:`TraceFileError`, naming the file).

The same trace can arrive twice: from two hourly export files, from two services, from both
halves of a split query slice. :class:`TraceMerger` keeps one trace per ``traceID`` and merges
the copies' spans and processes; the HTTP client (:mod:`aiops.sources.jaeger`) uses it too.
"""

from __future__ import annotations

import calendar
import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder()  # untyped: dicts, lists, str, int, float, bool, None


class TraceFileError(Exception):
    """A trace file that cannot be read as Jaeger JSON; the message names the file."""


# -- reading files ----------------------------------------------------------------------------


def iter_trace_documents(paths: Iterable[Path | str]) -> Iterator[tuple[Any, str]]:
    """``(raw trace, origin)`` for every trace in ``paths``, file by file.

    A directory stands for every ``*.json`` below it (recursively, in sorted order). The
    origin says where the trace came from: ``traces/2024-10-30T13.json: data[17]``.
    """
    for path in map(Path, paths):
        for file in _json_files(path):
            yield from _documents(file)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a document is decoded (and, in
    :func:`aiops.traces.analyze.analyze_traces`, while its traces are analysed).

    Decoding allocates a tree of dicts and lists (no cycles) fast enough to trigger the
    collector again and again, and each pass walks the half-built document and everything
    else the process holds: about half of json.load's time on a trace export
    (bench/bench_traces.py). Reference counting still frees everything; the collector's
    previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _json_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.json") if p.is_file())
    if path.is_file():
        return [path]
    raise TraceFileError(f"{path}: no such trace file or directory")


def decode_json(data: bytes) -> Any:
    """``data`` decoded as ``json.loads`` would: the same values, or its ``JSONDecodeError``.

    msgspec decodes the common case, UTF-8 JSON, in 60 to 75% of json.loads' time on trace
    exports (both with the collector off; bench/bench_traces.py's shapes), to the same plain
    dicts and lists, so nothing in a document is lost. Whatever it refuses (a byte-order
    mark, UTF-16, ``NaN``, a float beyond the double range, a lone surrogate escape, or JSON
    that is really malformed) goes to ``json.loads``, which either reads it as before or
    raises the error that names the line and column. Numbers keep their Python type (big
    integers stay exact), keys their order, a repeated key its last value.
    """
    try:
        return _DECODER.decode(data)
    except msgspec.MsgspecError:
        return json.loads(data)


def _documents(file: Path) -> Iterator[tuple[Any, str]]:
    try:
        data = file.read_bytes()
        with collector_paused():
            doc = decode_json(data)
    except json.JSONDecodeError as exc:
        raise TraceFileError(f"{file}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFileError(f"{file}: cannot read: {exc}") from exc
    del data  # the document is what stays; the bytes can go before the traces are analysed

    if isinstance(doc, dict) and "data" in doc:
        errors = doc.get("errors")
        if errors:
            raise TraceFileError(f"{file}: the envelope reports errors: {error_messages(errors)}")
        data = doc["data"]
        if not isinstance(data, list):
            raise TraceFileError(
                f"{file}: 'data' must be a list of traces, found {_describe(data)}"
            )
        for i, trace in enumerate(data):
            yield trace, f"{file}: data[{i}]"
    elif isinstance(doc, dict) and ("traceID" in doc or "spans" in doc):
        yield doc, f"{file}: trace"
    elif isinstance(doc, list):
        for i, trace in enumerate(doc):
            yield trace, f"{file}: [{i}]"
    else:
        raise TraceFileError(
            f'{file}: expected a Jaeger envelope {{"data": [...]}}, a trace object '
            f'{{"traceID": ..., "spans": [...]}} or a list of traces; found {_describe(doc)}'
        )


def error_messages(errors: object) -> str:
    """The ``msg`` of each entry of a Jaeger envelope's ``errors``, joined with ``"; "``."""
    if not isinstance(errors, list):
        return repr(errors)
    return "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in errors)


def _describe(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:5])
        more = ", ..." if len(value) > 5 else ""
        return f"an object with keys {keys}{more}" if value else "an empty object"
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


class JaegerFileSource:
    """Traces from Jaeger JSON files, with the same ``fetch_window`` / ``iter_window`` as the
    HTTP client. Files are read one at a time; ``fetch_window`` merges a trace's copies across
    files and so holds the window, ``iter_window`` streams."""

    def __init__(self, paths: Path | str | Iterable[Path | str]):
        self.paths = [Path(paths)] if isinstance(paths, Path | str) else [Path(p) for p in paths]
        #: Always empty: files have no truncated slices. Kept for parity with the client.
        self.last_warnings: list[str] = []

    def __repr__(self) -> str:
        return f"JaegerFileSource({[str(p) for p in self.paths]!r})"

    def fetch_window(
        self, start: datetime, end: datetime, services: Iterable[str] | None = None
    ) -> list[Any]:
        """Every trace with a span starting in ``[start, end)`` (of one of ``services``, when
        given), each ``traceID`` once with its copies merged, ordered by ``traceID``.

        Like the client, this returns whole traces touching the window; the analyzer assigns
        each trace to one window by its root span. A trace that cannot be placed in time (not
        an object, no spans list, no numeric ``startTime``) is returned too, for the parser to
        count.
        """
        merger = TraceMerger()
        for trace, origin in self.iter_window(start, end, services):
            merger.add(trace, origin)
        return merger.traces()

    def iter_window(
        self, start: datetime, end: datetime, services: Iterable[str] | None = None
    ) -> Iterator[tuple[Any, str]]:
        """The traces touching the window, streamed file by file as ``(trace, origin)`` pairs
        (``traces/h13.json: data[17]``), so memory stays bounded by the largest file.

        Unlike :meth:`fetch_window`, copies of a trace in several files are not merged: the
        analyzer keeps the first and counts the others (``duplicate_trace``, or
        ``duplicate_trace_differs`` when a copy has other spans)."""
        lo, hi = epoch_micros(start, "start"), epoch_micros(end, "end")
        wanted = None if services is None else set(service_names(services))
        for trace, origin in iter_trace_documents(self.paths):
            if _touches(trace, lo, hi, wanted) is not False:
                yield trace, origin


def service_names(services: Iterable[str]) -> list[str]:
    """``services`` sorted and unique; a lone string is refused (it would iterate letters)."""
    if isinstance(services, str):
        raise TypeError(f"services: expected a list of service names, got the string {services!r}")
    return sorted(set(services))


def _touches(trace: Any, lo: int, hi: int, services: set[str] | None) -> bool | None:
    """Whether a span (of ``services``) starts in ``[lo, hi)``; None when no span has a time."""
    if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
        return None
    processes = trace.get("processes")
    processes = processes if isinstance(processes, dict) else {}
    timed = False
    for span in trace["spans"]:
        start = span.get("startTime") if isinstance(span, dict) else None
        if not isinstance(start, int | float) or isinstance(start, bool):
            continue
        timed = True
        if lo <= start < hi and (services is None or _service(processes, span) in services):
            return True
    return False if timed else None


# -- merging copies of one trace --------------------------------------------------------------


class TraceMerger:
    """One trace per ``traceID``: a later copy's new spans (and their processes) are added to
    the first copy; spans already present are skipped.

    A span is identified by ``spanID`` and its process's ``serviceName`` (Zipkin-style client
    and server spans share a spanID). Process IDs (``p1``, ``p2``...) are numbered per
    response by Jaeger, so a later copy's processes are matched by content and renumbered
    when their ID is taken. A copy that is not an object with a string ``traceID``, a list of
    ``spans`` and an object of ``processes`` is kept as it is, unmerged, for the parser to
    judge. Inputs are never modified.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}
        self._origins: dict[str, str] = {}
        self._copied: set[str] = set()
        self._unmergeable: list[tuple[Any, str]] = []

    def add(self, trace: Any, origin: str = "") -> None:
        """Keep ``trace`` (``origin`` says where it came from), or merge it into its copy."""
        if not _mergeable(trace):
            self._unmergeable.append((trace, origin))
            return
        trace_id = trace["traceID"]
        kept = self._by_id.get(trace_id)
        if kept is None:
            self._by_id[trace_id] = trace
            self._origins[trace_id] = origin
            return
        if trace_id not in self._copied:
            kept = {**kept, "spans": list(kept["spans"]), "processes": dict(kept["processes"])}
            self._by_id[trace_id] = kept
            self._copied.add(trace_id)
        _merge_into(kept, trace)

    def items(self) -> list[tuple[Any, str]]:
        """``(trace, first origin)``: merged traces by ``traceID``, then the unmergeable ones
        in the order they came."""
        merged = [(self._by_id[k], self._origins[k]) for k in sorted(self._by_id)]
        return merged + self._unmergeable

    def traces(self) -> list[Any]:
        return [trace for trace, _ in self.items()]


def merge_traces(traces: Iterable[Any]) -> list[Any]:
    """``traces`` with each ``traceID`` once (see :class:`TraceMerger`), ordered by traceID."""
    merger = TraceMerger()
    for trace in traces:
        merger.add(trace)
    return merger.traces()


def _mergeable(trace: Any) -> bool:
    return (
        isinstance(trace, dict)
        and isinstance(trace.get("traceID"), str)
        and isinstance(trace.get("spans"), list)
        and isinstance(trace.get("processes"), dict)
    )


def _merge_into(kept: dict[str, Any], other: dict[str, Any]) -> None:
    processes: dict[str, Any] = kept["processes"]
    seen = {_span_key(processes, span) for span in kept["spans"]}
    renamed: dict[Any, Any] = {}
    for span in other["spans"]:
        if _span_key(other["processes"], span) in seen:
            continue
        pid = span.get("processID") if isinstance(span, dict) else None
        if isinstance(pid, str) and pid in other["processes"]:
            if pid not in renamed:
                renamed[pid] = _adopt_process(processes, pid, other["processes"][pid])
            if renamed[pid] != pid:
                span = {**span, "processID": renamed[pid]}
        kept["spans"].append(span)
    extra = other.get("warnings")
    if isinstance(extra, list) and extra:
        known = kept.get("warnings") if isinstance(kept.get("warnings"), list) else []
        kept["warnings"] = known + [w for w in extra if w not in known]


def _adopt_process(processes: dict[str, Any], pid: str, process: Any) -> str:
    """The ID under which ``process`` is (or is now) in ``processes``."""
    for existing_id, existing in processes.items():
        if existing == process:
            return existing_id
    new_id = pid
    n = len(processes) + 1
    while new_id in processes:
        new_id, n = f"p{n}", n + 1
    processes[new_id] = process
    return new_id


def _span_key(processes: dict[str, Any], span: Any) -> tuple[Any, ...]:
    if isinstance(span, dict) and isinstance(span.get("spanID"), str):
        return ("span", span["spanID"], _service(processes, span))
    return ("raw", json.dumps(span, sort_keys=True, default=str))


def _service(processes: dict[str, Any], span: dict[str, Any]) -> Any:
    pid = span.get("processID")
    process = processes.get(pid) if isinstance(pid, str) else None
    return process.get("serviceName") if isinstance(process, dict) else None


# -- time -------------------------------------------------------------------------------------


def epoch_micros(when: datetime, name: str) -> int:
    """``when`` as integer unix microseconds (Jaeger's unit); naive datetimes are refused."""
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise ValueError(
            f"{name}: must be timezone-aware (e.g. datetime(..., tzinfo=UTC)), got naive "
            f"{when.isoformat()}"
        )
    # integer arithmetic on the UTC time tuple: exact, and safe for pendulum's datetimes
    return calendar.timegm(when.utctimetuple()) * 1_000_000 + when.microsecond


__all__ = [
    "JaegerFileSource",
    "TraceFileError",
    "TraceMerger",
    "decode_json",
    "epoch_micros",
    "error_messages",
    "iter_trace_documents",
    "merge_traces",
    "service_names",
]
