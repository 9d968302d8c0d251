"""Jaeger JSON (the query API's trace objects) to `Trace`, surviving what real exports contain.

Real traces are messier than the happy path: duplicated spans (a collector retried), parents
that never arrived (orphans), several roots, references to another trace, children outside
their parent (clock skew between hosts), children longer than the whole request, tags typed
"bool" whose value is the string "true", processes missing from the map. Each of those is
repaired where the repair is unambiguous and dropped where it is not, and every repair or drop
is named in `ParsedTrace.issues` so the run summary can count it. One bad trace never stops the
others: anything unexpected becomes a dropped trace with its reason.

This is the hot path of the analysis (a million spans a night), so it walks each span's tags
once, keeps parsed spans flat, and interns repeated strings.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiops.traces.model import Span, Trace

UNKNOWN_SERVICE = "unknown"

# Reasons a trace is dropped (its raw document is quarantined) ...
DROP_INVALID_TRACE = "invalid_trace"  # not an object, or no traceID / spans list
DROP_EMPTY_TRACE = "empty_trace"  # no usable span left
DROP_UNPARSEABLE = "unparseable_trace"  # anything unexpected; the message says what
# ... and what is repaired or dropped inside a trace that is kept.
DUPLICATE_SPAN = "duplicate_span"  # same spanID and content twice: one kept
CONFLICTING_SPAN_ID = "conflicting_span_id"  # same spanID, different content: first kept
INVALID_SPAN = "invalid_span"  # no spanID, or a start/duration not a number in [0, MAX_MICROS]
ORPHAN_SPAN = "orphan_span"  # its parent is not in the trace: kept as a root
FOREIGN_REFERENCE = "foreign_reference"  # a reference into another trace: ignored
REFERENCE_CYCLE = "reference_cycle"  # parents that loop: broken at the earliest span
MISSING_PROCESS = "missing_process"  # processID not in `processes`: service "unknown"
MULTIPLE_ROOTS = "multiple_roots"  # counted once per trace
CLOCK_SKEW = "clock_skew"  # a synchronous child outside its parent: clipped in analyses
LONGER_THAN_ROOT = "longer_than_root"  # a span longer than the trace's entry span
SPAN_WARNINGS = "span_warnings"  # the span carries Jaeger `warnings`

#: The largest start or duration a span may have: Jaeger's times are 64-bit microseconds, and
#: the analyses keep them in int64 columns (aiops.traces.edge_signals). Year 292,277.
MAX_MICROS = 2**63 - 1

_STATEMENT_KEYS = ("db.statement", "db.query.text")
_STATUS_KEYS = ("http.status_code", "http.response.status_code")
_METHOD_KEYS = ("http.method", "http.request.method")
_WANTED = frozenset(
    {
        "span.kind",
        "error",
        "otel.status_code",
        "peer.service",
        "db.system",
        *_STATEMENT_KEYS,
        *_STATUS_KEYS,
        *_METHOD_KEYS,
    }
)
_ROOT_WANTED = frozenset({"sampler.type", "sampler.param"})


@dataclass(frozen=True, slots=True)
class ParsedTrace:
    """A parsed trace (None when dropped) and every repair or drop, one entry per occurrence."""

    trace: Trace | None
    issues: tuple[str, ...]
    detail: str = ""  # why a trace was dropped, for the quarantine record


_LITERAL = re.compile(
    r"'(?:[^']|'')*'"  # string literals
    r"|\b0x[0-9a-fA-F]+\b"
    r"|(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"  # numbers not part of a name
)
_IN_LIST = re.compile(r"\b(IN)\s*\(\s*\?(?:\s*,\s*\?)+\s*\)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_normalised: dict[str, str] = {}


def normalise_statement(statement: str) -> str:
    """`SELECT * FROM t WHERE id = 42 AND s IN ('a', 'b')` -> `... id = ? AND s IN (?)`.

    Literals vary per call; the statement's shape is what repeats in an N+1 loop. Memoised
    (bounded) because a busy service sends the same handful of statements all day.
    """
    cached = _normalised.get(statement)
    if cached is not None:
        return cached
    shape = _LITERAL.sub("?", statement)
    shape = _IN_LIST.sub(r"\1 (?)", shape)
    shape = _SPACE.sub(" ", shape).strip()
    if len(_normalised) < 50_000:
        _normalised[sys.intern(statement)] = shape
    return shape


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _span_fields(span: Span, tags: Any) -> None:
    """Fill kind / error / peer / statement / method from the span's tags, in one pass."""
    if not tags:
        return
    system = ""
    for tag in tags:
        key = tag.get("key")
        if key not in _WANTED:
            continue
        value = tag.get("value")
        if key == "span.kind":
            span.kind = str(value).lower()
        elif key == "error":
            span.error = span.error or _truthy(value)
        elif key == "otel.status_code":
            span.error = span.error or str(value).upper() == "ERROR"
        elif key == "peer.service":
            span.peer = sys.intern(str(value))
        elif key == "db.system":
            system = str(value)
        elif key in _STATEMENT_KEYS:
            span.statement = normalise_statement(str(value))
        elif key in _STATUS_KEYS:
            code = _number(value)
            span.error = span.error or (code is not None and code >= 500)
        else:  # http method
            span.http_method = str(value).upper()
    if system and not span.peer and span.kind == "client":
        span.peer = sys.intern(system)


def _error_message(logs: Any) -> str:
    """`ProviderError: charge failed` from the span's error log fields, when it has them."""
    for entry in logs or ():
        fields = entry.get("fields") if isinstance(entry, Mapping) else None
        found = {f.get("key"): f.get("value") for f in fields or () if isinstance(f, Mapping)}
        kind = found.get("error.kind") or found.get("exception.type") or ""
        message = found.get("message") or found.get("exception.message") or ""
        if kind or message:
            text = f"{kind}: {message}" if kind and message else str(kind or message)
            return text[:200]
    return ""


def _sampling_rate(tags: Any) -> float | None:
    found: dict[str, Any] = {}
    for tag in tags or ():
        if tag.get("key") in _ROOT_WANTED:
            found[tag["key"]] = tag.get("value")
    if str(found.get("sampler.type", "")).lower() != "probabilistic":
        return None
    rate = _number(found.get("sampler.param"))
    return rate if rate is not None and 0.0 < rate <= 1.0 else None


def _services(processes: Any) -> dict[str, str]:
    if not isinstance(processes, Mapping):
        return {}
    out = {}
    for pid, process in processes.items():
        name = process.get("serviceName") if isinstance(process, Mapping) else None
        if name:
            out[pid] = sys.intern(str(name))
    return out


def parse_trace(raw: Any) -> ParsedTrace:
    """Parse one trace object of the query API; never raises."""
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001 - one bad trace must not stop the night's analysis
        return ParsedTrace(None, (DROP_UNPARSEABLE,), f"{type(exc).__name__}: {exc}")


def _parse(raw: Any) -> ParsedTrace:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("spans"), list):
        return ParsedTrace(None, (DROP_INVALID_TRACE,), "not a trace object with a spans list")
    trace_id = raw.get("traceID")
    if not trace_id:
        return ParsedTrace(None, (DROP_INVALID_TRACE,), "no traceID")
    trace_id = str(trace_id)
    services = _services(raw.get("processes"))
    issues: list[str] = []
    spans: list[Span] = []
    items: list[Mapping[str, Any]] = []  # the raw span of each parsed one
    index: dict[str, int] = {}
    intern = sys.intern
    for item in raw["spans"]:
        if type(item) is not dict and not isinstance(item, Mapping):
            issues.append(INVALID_SPAN)
            continue
        span_id, start, duration = item.get("spanID"), item.get("startTime"), item.get("duration")
        if (
            not span_id
            or type(start) is not int
            or type(duration) is not int
            or not 0 <= start <= MAX_MICROS
            or not 0 <= duration <= MAX_MICROS
        ):
            start, duration = _coerce_int(start), _coerce_int(duration)
            if (
                not span_id
                or start is None
                or duration is None
                or not 0 <= start <= MAX_MICROS
                or not 0 <= duration <= MAX_MICROS
            ):
                issues.append(INVALID_SPAN)
                continue
        if span_id in index:
            first = spans[index[span_id]]
            same = (
                first.start == start
                and first.duration == duration
                and first.operation == (item.get("operationName") or "")
            )
            issues.append(DUPLICATE_SPAN if same else CONFLICTING_SPAN_ID)
            continue
        pid = item.get("processID")
        service = services.get(pid) if pid is not None else None
        if service is None:
            process = item.get("process")
            name = process.get("serviceName") if isinstance(process, Mapping) else None
            if name:
                service = intern(str(name))
            else:
                service = UNKNOWN_SERVICE
                issues.append(MISSING_PROCESS)
        span = Span(span_id, service, intern(str(item.get("operationName") or "")), start, duration)
        _span_fields(span, item.get("tags"))
        if span.error:
            span.error_message = _error_message(item.get("logs"))
        if item.get("warnings"):
            issues.append(SPAN_WARNINGS)
        index[span_id] = len(spans)
        spans.append(span)
        items.append(item)
    if not spans:
        return ParsedTrace(None, (*issues, DROP_EMPTY_TRACE), "no usable span")
    if _link(trace_id, spans, items, index, issues):
        roots = _sorted_roots(spans, [i for i, s in enumerate(spans) if s.parent < 0])
    else:
        roots = break_parent_loops(spans, issues)
    if len(roots) > 1:
        issues.append(MULTIPLE_ROOTS)
    trace = Trace(trace_id, spans, roots, warnings=tuple(map(str, raw.get("warnings") or ())))
    root = trace.root()
    raw_root = items[roots[0] if len(roots) == 1 else spans.index(root)]
    trace.sampling_rate = _sampling_rate(raw_root.get("tags"))
    _check_bounds(trace, root, issues)
    return ParsedTrace(trace, tuple(issues))


def _coerce_int(value: Any) -> int | None:
    """Some exporters send numbers as strings or floats; a whole number is accepted."""
    number = _number(value)
    if number is None or number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number) if number == int(number) else None


def _link(
    trace_id: str,
    spans: list[Span],
    items: list[Mapping[str, Any]],
    index: dict[str, int],
    issues: list[str],
) -> bool:
    """Set each span's parent: the first CHILD_OF reference inside the trace, else the first
    FOLLOWS_FROM one. A parent that is missing leaves the span a root (an orphan).

    Returns whether every parent comes before its child in ``spans``, as exporters write
    them: then no parent loop is possible, and the search for one can be skipped."""
    ordered = True
    for i, item in enumerate(items):
        span_refs = item.get("references")
        if not span_refs:
            continue
        parent, follows, dangling = -1, False, False
        for ref in span_refs:
            if type(ref) is not dict and not isinstance(ref, Mapping):
                continue
            ref_trace = ref.get("traceID")
            if ref_trace and ref_trace != trace_id:
                issues.append(FOREIGN_REFERENCE)
                continue
            target = index.get(ref.get("spanID"))
            if target is None or target == i:
                dangling = True
                continue
            is_follows = ref.get("refType") == "FOLLOWS_FROM"
            if parent < 0 or (follows and not is_follows):
                parent, follows = target, is_follows
        if parent >= 0:
            spans[i].parent, spans[i].follows = parent, follows
            spans[parent].children.append(i)
            ordered = ordered and parent < i
        elif dangling:
            issues.append(ORPHAN_SPAN)
    return ordered


def break_parent_loops(spans: list[Span], issues: list[str]) -> list[int]:
    """Roots by start time; spans no root reaches sit on a parent loop, which is cut at its
    earliest span so every span belongs to exactly one tree (a REFERENCE_CYCLE in `issues`
    per cut). Public for other span readers (the Nezha CSV reader of bench/rca)."""
    roots = [i for i, s in enumerate(spans) if s.parent < 0]
    reached = _reach(spans, roots)
    while reached < len(spans):
        seen = _reachable(spans, roots)
        loop = min((i for i in range(len(spans)) if i not in seen), key=lambda i: spans[i].start)
        parent = spans[loop].parent
        spans[parent].children.remove(loop)
        spans[loop].parent, spans[loop].follows = -1, False
        roots.append(loop)
        issues.append(REFERENCE_CYCLE)
        reached = _reach(spans, roots)
    return _sorted_roots(spans, roots)


def _sorted_roots(spans: list[Span], roots: list[int]) -> list[int]:
    """``roots`` by start time (then span ID), sorted in place and returned."""
    if len(roots) > 1:
        roots.sort(key=lambda i: (spans[i].start, spans[i].span_id))
    return roots


def _reach(spans: list[Span], roots: list[int]) -> int:
    return len(_reachable(spans, roots))


def _reachable(spans: list[Span], roots: list[int]) -> set[int]:
    seen: set[int] = set(roots)
    stack = list(roots)
    while stack:
        for child in spans[stack.pop()].children:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _check_bounds(trace: Trace, root: Span, issues: list[str]) -> None:
    """Count synchronous children outside their parent and spans longer than the entry span.
    The spans stay as recorded: the analyses clip children to their parent's window."""
    spans = trace.spans
    for span in spans:
        if span.parent < 0:
            continue
        parent = spans[span.parent]
        if span.start < parent.start or (not span.follows and span.end > parent.end):
            issues.append(CLOCK_SKEW)
        if span.duration > root.duration:
            issues.append(LONGER_THAN_ROOT)
