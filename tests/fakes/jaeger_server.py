"""A loopback fake of Jaeger's query HTTP API, serving a fixed list of traces (real Jaeger JSON).

It speaks the wire format of jaegertracing/jaeger's ``cmd/query/app/http_handler.go`` and
``query_parser.go`` (v1, and the v2 ``jaegerquery`` extension's copy), as read upstream:

- every answer is the envelope ``{"data", "total", "limit", "offset", "errors"}``;
  ``/api/services`` sets ``total`` to the number of names and answers ``"data": null`` when
  there is none (a nil Go slice); searches leave total/limit/offset at 0.
- ``GET /api/traces``: ``service`` is required ("parameter 'service' is required"); ``start``
  and ``end`` are unix µs, both inclusive (the memory store's ``validSpan``), default
  ``now - 48h`` and ``now`` (``defaultTraceQueryLookbackDuration``); ``lookback`` is ignored;
  ``limit`` defaults to 100 and must be > 0; ``operation``; ``minDuration`` / ``maxDuration``
  in Go duration syntax ("250ms"); ``tags`` a JSON object of strings and ``tag=key:value``,
  matched against span tags, process tags and log fields as strings. A trace matches when one
  of its spans matches all of these; past ``limit`` the newest traces are kept (newest first
  here; Jaeger leaves the order to the UI).
- ``GET /api/traces/{id}``: the trace, or 404 "trace not found".
- errors are ``{"data": null, ..., "errors": [{"code": 400, "msg": ...}]}`` with that status,
  sent by Go's ``http.Error`` (``text/plain; charset=utf-8``, a trailing newline).

Not served: ``traceID=`` searches, operations, dependencies, metrics. Traces are returned as
stored (Jaeger's adjusters, e.g. clock skew, do not run).

For tests it records every request (path, parsed query, status, number of traces returned) and
can be told to fail, hang or answer garbage for the next requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.loopback import LoopbackHTTP

DEFAULT_LIMIT = 100
LOOKBACK_US = 48 * 3600 * 1_000_000
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_US = {"ns": 1e-3, "us": 1, "µs": 1, "μs": 1, "ms": 1e3, "s": 1e6, "m": 6e7, "h": 3.6e9}


@dataclass
class RecordedRequest:
    """One request as the server saw it; ``status`` / ``returned`` are set once answered."""

    path: str
    query: dict[str, list[str]]
    status: int | None = None
    trace_ids: list[str] | None = None  # what a search or trace lookup answered

    @property
    def returned(self) -> int | None:
        return None if self.trace_ids is None else len(self.trace_ids)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Fault:
    kind: str  # "status", "hang" or "raw"
    status: int = 503
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeJaeger:
    """``with FakeJaeger(traces) as jaeger: JaegerClient(jaeger.url)``."""

    def __init__(self, traces: Iterable[dict[str, Any]] = ()):
        self.traces: list[dict[str, Any]] = list(traces)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._release = threading.Event()
        self._http = LoopbackHTTP(_Handler, self)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeJaeger:
        self._http.start()
        return self

    def stop(self) -> None:
        self._release.set()  # wake hanging handlers
        self._http.stop()

    def __enter__(self) -> FakeJaeger:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._http.base_url("FakeJaeger")

    # -- what tests look at and steer -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def searches(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/api/traces"]

    def fail_next(
        self,
        n: int,
        status: int = 503,
        msg: str = "backend overloaded",
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and a Jaeger error envelope."""
        body = json.dumps(_envelope(None, errors=[{"code": status, "msg": msg}]))
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        self._push(n, _Fault("status", status, body + "\n", headers=headers))

    def hang_next(self, n: int, seconds: float = 5.0) -> None:
        """Hold the next ``n`` requests ``seconds`` (or until stop) before answering them."""
        self._push(n, _Fault("hang", seconds=seconds))

    def respond_next(
        self, n: int, status: int, body: str, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        """Answer the next ``n`` requests with this raw body (a proxy's page, broken JSON)."""
        self._push(n, _Fault("raw", status, body, content_type))

    def _push(self, n: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * n)

    # -- the API ----------------------------------------------------------------------------------

    def handle(
        self, path: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]] | None]:
        """``(status, body, traces answered)`` for one GET."""
        if path == "/api/services":
            names = list(dict.fromkeys(_service_names(self.traces)))  # first appearance order
            return 200, _envelope(names or None, total=len(names)), None
        if path == "/api/traces":
            try:
                found = self.search(query)
            except _BadRequest as exc:
                return 400, _envelope(None, errors=[{"code": 400, "msg": str(exc)}]), None
            return 200, _envelope(found), found
        if path.startswith("/api/traces/"):
            trace_id = unquote(path.removeprefix("/api/traces/"))
            found = [t for t in self.traces if t.get("traceID") == trace_id][:1]
            if not found:
                return 404, _envelope(None, errors=[{"code": 404, "msg": "trace not found"}]), None
            return 200, _envelope(found), found
        return 404, {}, None

    def search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        def get(name: str) -> str:  # Go's FormValue: the first value, or ""
            return query.get(name, [""])[0]

        service = get("service")
        now = int(time.time() * 1_000_000)
        end = _parse_int(get("end"), "end", now)
        start = _parse_int(get("start"), "start", now - LOOKBACK_US)
        tags = _parse_tags(query.get("tag", []), query.get("tags", []))
        limit_text = get("limit")
        if limit_text and not re.fullmatch(r"[+-]?\d+", limit_text):
            raise _BadRequest(f'strconv.ParseInt: parsing "{limit_text}": invalid syntax')
        limit = int(limit_text) if limit_text else DEFAULT_LIMIT
        min_us = _parse_duration(get("minDuration"), "minDuration")
        max_us = _parse_duration(get("maxDuration"), "maxDuration")
        if not service:
            raise _BadRequest("parameter 'service' is required")
        if limit <= 0:
            raise _BadRequest("invalid parameter: limit must be greater than 0")
        if start > end:
            raise _BadRequest("invalid parameter: start time must be before end time")
        if min_us and max_us and max_us < min_us:
            raise _BadRequest("'maxDuration' should be greater than 'minDuration'")

        def matches(trace: dict[str, Any], span: dict[str, Any]) -> bool:
            process = trace.get("processes", {}).get(span.get("processID"), {})
            return (
                process.get("serviceName") == service
                and get("operation") in ("", span.get("operationName"))
                and start <= span.get("startTime", -1) <= end
                and (not min_us or span.get("duration", 0) >= min_us)
                and (not max_us or span.get("duration", 0) <= max_us)
                and all(_has_tag(span, process, k, v) for k, v in tags.items())
            )

        found = [t for t in self.traces if any(matches(t, s) for s in t.get("spans", []))]
        found.sort(key=lambda t: (-min(s["startTime"] for s in t["spans"]), t["traceID"]))
        return found[:limit]


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeJaeger
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        parts = urlsplit(self.path)
        record = RecordedRequest(parts.path, parse_qs(parts.query, keep_blank_values=True))
        fake = self.fake
        with fake._lock:
            fake._requests.append(record)
            fault = fake._faults.popleft() if fake._faults else None
        if fault is not None and fault.kind == "hang":
            fake._release.wait(fault.seconds)
        if fault is not None and fault.kind in ("status", "raw"):
            record.status = fault.status
            self._send(fault.status, fault.body, fault.content_type, fault.headers)
            return
        status, body, answered = fake.handle(parts.path, record.query)
        record.status = status
        if answered is not None:
            record.trace_ids = [t.get("traceID") for t in answered]
        if status == 200:
            self._send(200, json.dumps(body), "application/json")
        elif body:  # Go's http.Error: JSON text served as text/plain, newline-terminated
            self._send(status, json.dumps(body) + "\n", "text/plain; charset=utf-8")
        else:
            self._send(status, "404 page not found\n", "text/plain; charset=utf-8")

    def _send(
        self, status: int, text: str, content_type: str, headers: Mapping[str, str] = {}
    ) -> None:
        payload = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _envelope(data: Any, *, total: int = 0, errors: list[dict[str, Any]] | None = None) -> dict:
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}


def _service_names(traces: Iterable[dict[str, Any]]) -> Iterable[str]:
    for trace in traces:
        for process in trace.get("processes", {}).values():
            yield process["serviceName"]


def _parse_int(text: str, name: str, default: int) -> int:
    if not text:
        return default
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _BadRequest(
            f"unable to parse param '{name}': strconv.ParseInt: parsing \"{text}\": invalid syntax"
        )
    return int(text)


def _parse_duration(text: str, name: str) -> float:
    """Go's ``time.ParseDuration``, in microseconds (0 when absent)."""
    if not text:
        return 0.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise _BadRequest(f"unable to parse param '{name}': time: invalid duration \"{text}\"")
    return sum(float(n) * _UNIT_US[u] for n, u in parts) * (-1 if text.startswith("-") else 1)


def _parse_tags(simple: list[str], encoded: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in simple:
        key, sep, value = tag.partition(":")
        if not sep:
            raise _BadRequest(f"malformed 'tag' parameter, expecting key:value, received: {tag}")
        tags[key] = value
    for text in encoded:
        try:
            mapping = json.loads(text)
        except ValueError as exc:
            raise _BadRequest(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from exc
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise _BadRequest(
                "malformed 'tags' parameter, cannot unmarshal JSON: json: cannot unmarshal "
                "into Go value of type map[string]string"
            )
        tags.update(mapping)
    return tags


def _has_tag(span: dict[str, Any], process: dict[str, Any], key: str, value: str) -> bool:
    fields = [*span.get("tags", []), *process.get("tags", [])]
    fields += [f for log in span.get("logs", []) for f in log.get("fields", [])]
    return any(f.get("key") == key and _as_string(f.get("value")) == value for f in fields)


def _as_string(value: Any) -> str:
    """A tag value as Jaeger's ``KeyValue.AsString`` writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def make_trace(trace_id: str, spans: Iterable[tuple[Any, ...]]) -> dict[str, Any]:
    """A trace in Jaeger's JSON shape from ``(service, operation, start_us, duration_us[,
    tags])`` tuples: the first span is the root, the others its children."""
    processes: dict[str, dict[str, Any]] = {}
    pid_of: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for i, (service, operation, start, duration, *rest) in enumerate(spans):
        if service not in pid_of:
            pid_of[service] = f"p{len(pid_of) + 1}"
            processes[pid_of[service]] = {"serviceName": service, "tags": []}
        tags = [
            {"key": k, "type": _tag_type(v), "value": v}
            for k, v in (rest[0] if rest else {}).items()
        ]
        refs = (
            []
            if i == 0
            else [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": out[0]["spanID"]}]
        )
        out.append(
            {
                "traceID": trace_id,
                "spanID": f"{i + 1:016x}",
                "operationName": operation,
                "references": refs,
                "startTime": start,
                "duration": duration,
                "tags": tags,
                "logs": [],
                "processID": pid_of[service],
                "warnings": None,
            }
        )
    return {"traceID": trace_id, "spans": out, "processes": processes, "warnings": None}


def _tag_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int64", float: "float64"}.get(type(value), "string")
