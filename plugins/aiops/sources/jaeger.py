"""A client for Jaeger's query HTTP API (``:16686/api``): services, and complete trace searches.

Jaeger's trace search has no cursor: ``GET /api/traces`` answers with at most ``limit``
traces (the newest), so a response holding ``limit`` traces may have left some out.
:meth:`JaegerClient.find_traces` therefore cuts such a time slice in two halves and asks again
for each, until every slice comes back with fewer than ``limit`` traces. A slice 1 µs wide that
is still full cannot be cut further: what it returned is kept and a warning is logged and
recorded in :attr:`JaegerClient.last_warnings`.

Jaeger returns whole traces: a trace matches when one of its spans (of the service, with the
operation / tags / duration asked for) starts in ``[start, end]`` (both inclusive, in unix
microseconds). So a trace comes back once per service it touches and once per slice its spans
fall in; copies are merged by ``traceID`` (:class:`aiops.sources.jaeger_files.TraceMerger`).
Windows are half-open here: ``[start, end)`` is sent as ``start .. end - 1 µs``.

Wire format as read in jaegertracing/jaeger (``cmd/query/app/query_parser.go``,
``http_handler.go``; v1 and the v2 ``jaegerquery`` copy): ``start`` / ``end`` in unix µs
(``lookback`` is ignored by the server), ``limit`` (default 100), ``minDuration`` in Go
duration syntax, ``tags`` a JSON object of strings; errors ``{"data": null, ..., "errors":
[{"code", "msg"}]}`` with that status (400 bad query, 500 storage failure); ``/api/services``
answers ``"data": null`` when it knows no service. tests/jaeger_server.py fakes all of it.

No Airflow here: an Airflow hook builds this client from a Connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from aiops.retry import excerpt, redact_url
from aiops.sources.http import HttpCall, JsonHttpClient
from aiops.sources.jaeger_files import TraceMerger, error_messages, service_names
from aiops.sources.jaeger_params import search_bounds, search_filters

logger = logging.getLogger(__name__)

#: The largest search limit the Jaeger UI offers.
DEFAULT_PAGE_LIMIT = 1500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class JaegerError(Exception):
    """Anything that went wrong talking to Jaeger."""


class JaegerQueryError(JaegerError):
    """Jaeger rejected the query (HTTP 400, with its own message). Never retried."""


class JaegerUnavailable(JaegerError):
    """Jaeger could not be reached, failed (5xx) or stayed overloaded after the retries."""


class JaegerClient(JsonHttpClient):
    """Talks to one Jaeger query service over HTTP.

    Every request has ``timeout`` seconds, and connection errors, timeouts, 429, 502, 503 and
    504 are retried ``attempts`` times in all with exponential backoff from ``backoff``
    seconds. ``headers`` / ``auth`` are sent with every request and never logged; a
    ``user:password@`` in ``base_url`` is redacted from every message (the plumbing is
    :class:`aiops.sources.http.JsonHttpClient`'s; the envelope is read here). ``page_limit``
    is the ``limit`` of each search request. ``ui_url`` is where people open traces, when the
    UI is not served at ``base_url`` (see :meth:`ui_trace_url`).
    """

    api_name = "Jaeger"
    error_class = JaegerError
    unavailable_class = JaegerUnavailable

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.5,
        page_limit: int = DEFAULT_PAGE_LIMIT,
        ui_url: str | None = None,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(
            base_url,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            session=session,
            headers=headers,
            auth=auth,
            sleep=sleep,
        )
        if ui_url is not None and not ui_url.startswith(("http://", "https://")):
            raise ValueError(f"JaegerClient.ui_url: must start with http(s)://, got {ui_url!r}")
        if page_limit < 1:
            raise ValueError(f"JaegerClient.page_limit: must be >= 1, got {page_limit}")
        self.ui_url = ui_url.rstrip("/") if ui_url is not None else None
        self.page_limit = page_limit
        #: Warnings of the last public call (saturated 1 µs slices, errors Jaeger reported
        #: next to its data), for the run summary.
        self.last_warnings: list[str] = []

    def repr_fields(self) -> dict[str, object]:
        return {"page_limit": self.page_limit}

    # -- public API ---------------------------------------------------------------------------

    def services(self) -> list[str]:
        """Every service Jaeger knows, sorted. Jaeger's own (``jaeger-query``,
        ``jaeger-all-in-one``) are included: which services to analyse is the catalog's call."""
        self.last_warnings = []
        body = self._get(self.endpoint("/api/services"), {}, "", null_data_ok=True)
        names = body["data"] or []
        if not all(isinstance(name, str) for name in names):
            raise JaegerError(
                f"{redact_url(self.endpoint('/api/services'))}: expected a list of service names, "
                f"got {excerpt(json.dumps(names), 200)}"
            )
        return sorted(set(names))

    def find_traces(
        self,
        service: str,
        start: datetime,
        end: datetime,
        *,
        operation: str | None = None,
        tags: Mapping[str, str | bool | int | float] | None = None,
        min_duration: timedelta | str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Every trace with a span of ``service`` starting in ``[start, end)`` (and matching
        ``operation``, ``tags``, ``min_duration``), each ``traceID`` once, ordered by traceID.

        ``start`` / ``end`` must be timezone-aware. ``limit`` (default ``page_limit``) is the
        size of each request, not of the result: full slices are split until none is full.
        ``min_duration`` is a timedelta or a Go duration string such as ``"250ms"``.
        """
        if not isinstance(service, str) or not service:
            raise ValueError(f"service: must be a non-empty string, got {service!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit: must be >= 1, got {limit}")
        bounds = search_bounds(start, end)
        filters = search_filters(operation, tags, min_duration)
        self.last_warnings = []
        merger = TraceMerger()
        self._search(merger, service, bounds, filters, limit or self.page_limit)
        return merger.traces()

    def fetch_window(
        self, start: datetime, end: datetime, services: Iterable[str] | None = None
    ) -> list[Any]:
        """Every trace touching ``[start, end)`` for each of ``services`` (default: all of
        :meth:`services`), each ``traceID`` once, ordered by traceID.

        A trace is returned when any of its spans starts in the window, so it may begin before
        or end after it: the analyzer assigns each trace to one window by its root span.
        """
        bounds = search_bounds(start, end)
        self.last_warnings = []
        names = self.services() if services is None else service_names(services)
        merger = TraceMerger()
        for service in names:
            self._search(merger, service, bounds, {}, self.page_limit)
        return merger.traces()

    def iter_window(
        self, start: datetime, end: datetime, services: Iterable[str] | None = None
    ) -> Iterator[tuple[Any, str]]:
        """:meth:`fetch_window` streamed, for a night of traces: ``(trace, origin)`` pairs,
        each ``traceID`` once, holding one page (``page_limit`` traces) and the IDs seen.

        Jaeger returns whole traces, so a trace's later copies (from another service's search
        or the other side of a split) are the same trace and are skipped rather than merged;
        :meth:`fetch_window` merges copies but holds the whole window. The origin is the URL
        that fetches the trace again (``.../api/traces/<traceID>``).
        """
        bounds = search_bounds(start, end)
        self.last_warnings = []
        names = self.services() if services is None else service_names(services)
        base = redact_url(self.endpoint("/api/traces"))
        seen: set[str] = set()
        for service in names:
            for traces in self._pages(service, bounds, {}, self.page_limit):
                for trace in traces:
                    trace_id = trace.get("traceID") if isinstance(trace, dict) else None
                    if isinstance(trace_id, str):
                        if trace_id in seen:
                            continue
                        seen.add(trace_id)
                        yield trace, f"{base}/{quote(trace_id, safe='')}"
                    else:
                        yield trace, base  # the parser quarantines it

    def ui_trace_url(self, trace_id: str) -> str:
        """Where a person opens the trace in the Jaeger UI (credentials never included)."""
        base = self.ui_url if self.ui_url is not None else self.base_url
        return f"{redact_url(base)}/trace/{quote(str(trace_id), safe='')}"

    # -- slicing ------------------------------------------------------------------------------

    def _search(
        self,
        merger: TraceMerger,
        service: str,
        bounds: tuple[int, int],
        filters: dict[str, str],
        limit: int,
    ) -> None:
        """Add every trace of ``service`` in ``[lo, hi)`` µs to ``merger``."""
        for traces in self._pages(service, bounds, filters, limit):
            for trace in traces:
                merger.add(trace)

    def _pages(
        self, service: str, bounds: tuple[int, int], filters: dict[str, str], limit: int
    ) -> Iterator[list[Any]]:
        """Each complete slice's traces for ``service`` in ``[lo, hi)`` µs, halving full slices
        until none is full; earlier slices first."""
        url = self.endpoint("/api/traces")
        lo, hi = bounds
        pending = [(lo, hi - 1)] if hi > lo else []  # inclusive µs bounds, as Jaeger reads them
        while pending:
            first, last = pending.pop()
            context = f"service {service!r} {_slice(first, last)}"
            params = {
                "service": service,
                "start": str(first),
                "end": str(last),
                "limit": str(limit),
                **filters,
            }
            traces = self._get(url, params, context)["data"]
            if len(traces) >= limit and first < last:
                middle = (first + last) // 2
                pending += [(middle + 1, last), (first, middle)]  # earlier half first
                continue
            if len(traces) >= limit:
                self._warn(
                    f"{redact_url(url)}: {context}: {len(traces)} traces in a 1 µs slice, the "
                    f"request limit ({limit}); Jaeger may have left some out, raise page_limit"
                )
            yield traces

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        self.last_warnings.append(message)

    # -- the request path ---------------------------------------------------------------------

    def _get(
        self, url: str, params: Mapping[str, str], context: str, *, null_data_ok: bool = False
    ) -> dict[str, Any]:
        """GET ``url`` and return the envelope (``data`` a list, or None if allowed), or raise
        the matching :class:`JaegerError`; ``context`` (service and slice) is in every message."""
        call = HttpCall("GET", url, params=params, context=context)
        reply = self.request_json(call)
        body = reply.body
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) and not (null_data_ok and data is None):
            raise JaegerError(
                f"{call.where}: response is not a Jaeger envelope with a list 'data': "
                f"{excerpt(reply.response.text)!r}"
            )
        if body.get("errors"):
            self._warn(f"{call.where}: Jaeger reported: {error_messages(body['errors'])}")
        return body

    # -- how Jaeger's failures read (hooks of JsonHttpClient) ---------------------------------

    def status_error(self, call: HttpCall, response: requests.Response) -> Exception:
        """400: Jaeger rejected the query, with its own message."""
        if response.status_code == 400:
            return JaegerQueryError(
                f"{call.where}: query rejected (HTTP 400): {_error_text(response)}"
            )
        return super().status_error(call, response)

    def error_text(self, response: requests.Response) -> str:
        return _error_text(response)


def _error_text(response: requests.Response) -> str:
    """The ``errors[].msg`` of a Jaeger error envelope; the body excerpt when there is none."""
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, dict) and body.get("errors"):
        return excerpt(error_messages(body["errors"]), 300)
    return excerpt(response.text)


def _slice(first: int, last: int) -> str:
    """Inclusive µs bounds as the half-open ISO interval they cover."""
    lo, hi = (_EPOCH + timedelta(microseconds=us) for us in (first, last + 1))
    return f"[{lo.isoformat()}, {hi.isoformat()})"


__all__ = [
    "DEFAULT_PAGE_LIMIT",
    "JaegerClient",
    "JaegerError",
    "JaegerQueryError",
    "JaegerUnavailable",
]
