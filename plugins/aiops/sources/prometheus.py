"""A client for the Prometheus HTTP API: range queries split into chunks, instant queries.

Prometheus refuses a range query that would return more than 11,000 points per series, so
:meth:`PrometheusClient.query_range` cuts long ranges into chunks of at most ``max_points``
points on the same step grid (chunk *k* starts at ``start + k * max_points * step``), so no
two chunks ever share a timestamp, then stitches each series back together by label set.

No Airflow here: an Airflow hook builds this client from a Connection.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import requests

from aiops.errors import BackendUnavailable, PermanentError
from aiops.retry import excerpt, redact_url
from aiops.sources.http import HttpCall, JsonHttpClient

logger = logging.getLogger(__name__)

#: Prometheus's own limit: "exceeded maximum resolution of 11,000 points per timeseries".
PROMETHEUS_MAX_POINTS = 11_000
_QUERY_IN_MESSAGES = 300  # characters of PromQL quoted in error messages

LabelSet = tuple[tuple[str, str], ...]


class PrometheusError(Exception):
    """Anything that went wrong talking to Prometheus."""


class PrometheusRejected(PrometheusError, PermanentError):
    """Prometheus refused the request with a 4xx other than 408 / 429 (a wrong path or
    credentials, a bad query): sending it again gets the same answer, so neither this client
    nor the Airflow task retries it."""


class PrometheusQueryError(PrometheusRejected):
    """Prometheus rejected the query (HTTP 400 bad_data / 422 execution). Never retried."""


class PrometheusUnavailable(PrometheusError, BackendUnavailable):
    """Prometheus could not be reached or stayed overloaded after the bounded retries."""


@dataclass(frozen=True)
class RangeSeries:
    """One series: its labels and float64 values on a UTC ``timestamp`` index."""

    labels: dict[str, str]
    values: pd.Series


@dataclass(frozen=True)
class RangeResult:
    """What a range query returned, over every chunk it took."""

    series: list[RangeSeries]
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    chunks: int = 1
    query: str = ""


class PrometheusClient(JsonHttpClient):
    """Talks to one Prometheus (or a compatible API such as Thanos or Mimir) over HTTP.

    Every request has ``timeout`` seconds, and connection errors, timeouts, 429, 502, 503
    and 504 are retried ``attempts`` times in all with exponential backoff from ``backoff``
    seconds. ``headers`` / ``auth`` are sent with every request and never logged (the
    plumbing is :class:`aiops.sources.http.JsonHttpClient`'s; the envelope is read here).
    """

    api_name = "Prometheus"
    error_class = PrometheusError
    unavailable_class = PrometheusUnavailable
    rejected_class = PrometheusRejected

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_points: int = PROMETHEUS_MAX_POINTS,
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
        if max_points < 1:
            raise ValueError(f"PrometheusClient.max_points: must be >= 1, got {max_points}")
        self.max_points = max_points

    def repr_fields(self) -> dict[str, object]:
        return {"max_points": self.max_points}

    # -- public API ---------------------------------------------------------------------------

    def query_range(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> RangeResult:
        """Evaluate ``query`` at ``start, start + step, ...`` up to ``end`` (both inclusive).

        ``start`` and ``end`` must be timezone-aware. Long ranges take several requests of at
        most ``max_points`` points each; the result is the same as one request would give.
        """
        start_ms = _epoch_ms(start, "start")
        end_ms = _epoch_ms(end, "end")
        step_ms = step // timedelta(milliseconds=1)
        if step_ms < 1:
            raise ValueError(f"query_range step: must be at least 1ms, got {step}")
        if end_ms < start_ms:
            raise ValueError(
                f"query_range: end ({end.isoformat()}) is before start ({start.isoformat()})"
            )

        url = self.endpoint("/api/v1/query_range")
        bounds = chunk_bounds(start_ms, end_ms, step_ms, self.max_points)
        parts: dict[LabelSet, list[tuple[np.ndarray, np.ndarray]]] = {}
        warnings: list[str] = []
        infos: list[str] = []
        for chunk_start, chunk_end in bounds:
            form = {
                "query": query,
                "start": _seconds(chunk_start),
                "end": _seconds(chunk_end),
                "step": _seconds(step_ms),
                "timeout": f"{self.timeout:g}",
            }
            body = self._post(url, form, query)
            data = body.get("data") or {}
            if data.get("resultType") != "matrix":
                raise PrometheusError(
                    f"{redact_url(url)}: expected a matrix for query {_q(query)}, got resultType "
                    f"{data.get('resultType')!r}"
                )
            for item in data.get("result") or []:
                labels = item.get("metric") or {}
                if item.get("histograms"):
                    raise PrometheusError(
                        f"{redact_url(url)}: query {_q(query)} returned native histograms for "
                        f"{_fmt_labels(labels)}, which this client does not support; select a "
                        "float series (e.g. histogram_quantile(), histogram_count(), _sum)"
                    )
                key = tuple(sorted(labels.items()))
                parts.setdefault(key, []).append(_parse_values(item.get("values") or []))
            _collect(warnings, body.get("warnings"))
            _collect(infos, body.get("infos"))

        for message in warnings:
            logger.warning("Prometheus warning for query %s: %s", _q(query), message)
        for message in infos:
            logger.info("Prometheus info for query %s: %s", _q(query), message)
        series = [RangeSeries(dict(key), _merge(chunks)) for key, chunks in sorted(parts.items())]
        return RangeResult(series, warnings, infos, chunks=len(bounds), query=query)

    def query_instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        """Evaluate ``query`` at one instant: ``(labels, value)`` per series (a scalar has no
        labels)."""
        url = self.endpoint("/api/v1/query")
        form = {
            "query": query,
            "time": _seconds(_epoch_ms(at, "at")),
            "timeout": f"{self.timeout:g}",
        }
        body = self._post(url, form, query)
        warnings: list[str] = []
        _collect(warnings, body.get("warnings"))
        for message in warnings:
            logger.warning("Prometheus warning for query %s: %s", _q(query), message)
        data = body.get("data") or {}
        kind = data.get("resultType")
        result = data.get("result")
        if kind == "scalar":
            return [({}, float(result[1]))]
        if kind != "vector":
            raise PrometheusError(
                f"{redact_url(url)}: expected a vector or scalar for query {_q(query)}, got "
                f"resultType {kind!r}"
            )
        out: list[tuple[dict[str, str], float]] = []
        for item in result or []:
            labels = item.get("metric") or {}
            if "value" not in item:
                raise PrometheusError(
                    f"{redact_url(url)}: query {_q(query)} returned a native histogram for "
                    f"{_fmt_labels(labels)}, which this client does not support"
                )
            out.append((dict(labels), float(item["value"][1])))
        return out

    def ready(self) -> bool:
        """True when ``/-/ready`` answers 200. One attempt, no retries: a probe, not a query."""
        try:
            response = self.send(HttpCall("GET", self.endpoint("/-/ready")))
        except requests.RequestException as exc:
            logger.debug("Prometheus %s not ready: %s", redact_url(self.base_url), exc)
            return False
        return response.status_code == 200

    # -- the request path ---------------------------------------------------------------------

    def _post(self, url: str, form: Mapping[str, str], query: str) -> dict[str, Any]:
        """POST a form (long PromQL fits in a body, not in a URL) and return the success
        envelope, or raise the matching :class:`PrometheusError`."""
        reply = self.request_json(HttpCall("POST", url, form=form, query=query))
        body = reply.body
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusError(
                f"{redact_url(url)}: response is not a success envelope: "
                f"{excerpt(reply.response.text)!r}"
            )
        return body

    # -- how Prometheus's failures read (hooks of JsonHttpClient) -----------------------------

    def status_error(self, call: HttpCall, response: requests.Response) -> Exception:
        """400 bad_data / 422 execution: the query was rejected, with Prometheus's reason."""
        status = response.status_code
        if status in (400, 422):
            error_type, error = _error_fields(response)
            return PrometheusQueryError(
                f"{call.where}: query {_q(call.query)} rejected (HTTP {status}, {error_type}): "
                f"{error}"
            )
        return super().status_error(call, response)

    def unavailable_error(self, call: HttpCall, attempts: int, last_error: str) -> Exception:
        return PrometheusUnavailable(
            f"{call.where}: Prometheus unavailable after {attempts} attempt(s) for query "
            f"{_q(call.query)}; last error: {last_error}"
        )

    def describe_status(self, response: requests.Response) -> str:
        return _describe_status(response)


def chunk_bounds(
    start_ms: int, end_ms: int, step_ms: int, max_points: int
) -> list[tuple[int, int]]:
    """``(first, last)`` timestamps in ms of each chunk of at most ``max_points`` grid points.

    The grid is ``start_ms + i * step_ms`` up to ``end_ms``; chunks tile it without overlap.
    """
    points = (end_ms - start_ms) // step_ms + 1
    last = start_ms + (points - 1) * step_ms
    span = max_points * step_ms
    return [
        (first, min(first + (max_points - 1) * step_ms, last))
        for first in range(start_ms, last + 1, span)
    ]


def _epoch_ms(when: datetime, name: str) -> int:
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        raise ValueError(
            f"{name}: must be timezone-aware (e.g. datetime(..., tzinfo=UTC)), got naive "
            f"{when.isoformat()}"
        )
    # integer arithmetic on the UTC time tuple: exact, and safe for datetime subclasses such as
    # pendulum's (Airflow's data intervals), whose Duration // timedelta raises
    return calendar.timegm(when.utctimetuple()) * 1000 + when.microsecond // 1000


def _seconds(ms: int) -> str:
    """Milliseconds as decimal seconds, exactly (no float rounding on the wire)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}" if frac else f"{sign}{whole}"


def _parse_values(values: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``[[unix_seconds, "value"], ...]`` as (int64 ms, float64); "NaN" / "+Inf" / "-Inf" kept."""
    if not values:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    stamps = np.array([v[0] for v in values], dtype=np.float64)
    floats = np.array([float(v[1]) for v in values], dtype=np.float64)
    return np.rint(stamps * 1000).astype(np.int64), floats


def _merge(chunks: list[tuple[np.ndarray, np.ndarray]]) -> pd.Series:
    """Concatenate a series' chunks, keep the first value for a repeated timestamp, sort."""
    stamps = np.concatenate([c[0] for c in chunks])
    values = np.concatenate([c[1] for c in chunks])
    _, first = np.unique(stamps, return_index=True)  # sorted unique stamps, first occurrences
    index = pd.to_datetime(stamps[first], unit="ms", utc=True).rename("timestamp")
    return pd.Series(values[first], index=index, dtype=np.float64)


def _collect(into: list[str], messages: object) -> None:
    for message in messages or []:
        if message not in into:
            into.append(str(message))


def _describe_status(response: requests.Response) -> str:
    """``HTTP 503 (timeout): query timed out ...``; the raw body excerpt when it is not JSON."""
    error_type, error = _error_fields(response)
    if error_type == "unknown":
        return f"HTTP {response.status_code}: {error}"
    return f"HTTP {response.status_code} ({error_type}): {error}"


def _error_fields(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "unknown", excerpt(response.text)
    if not isinstance(body, dict):
        return "unknown", excerpt(response.text)
    return str(body.get("errorType", "unknown")), str(body.get("error", excerpt(response.text)))


def _q(query: str) -> str:
    return repr(excerpt(query, _QUERY_IN_MESSAGES))


def _fmt_labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


__all__ = [
    "PROMETHEUS_MAX_POINTS",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusRejected",
    "PrometheusUnavailable",
    "RangeResult",
    "RangeSeries",
    "chunk_bounds",
]
