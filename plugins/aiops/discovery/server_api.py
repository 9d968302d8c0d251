"""The parts of the Prometheus HTTP API that say what a server holds, which the query client
(`aiops.sources.prometheus`) does not read: metric names, series label sets, metric types,
and the server's own idea of "now".

`catalog check` and `catalog discover` anchor their window on the newest `up` sample the
server holds, never on this machine's clock: a laptop with a wrong clock, or a Prometheus
serving backfilled history, still gets a window that has data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from aiops.retry import excerpt
from aiops.sources.http import HttpCall, JsonHttpClient
from aiops.sources.prometheus import PrometheusError, PrometheusQueryError, PrometheusUnavailable

#: How far back the newest `up` sample is looked for when none is within the lookback of now.
NEWEST_SAMPLE_SEARCH = "1d"


class PrometheusApi(JsonHttpClient):
    """GET requests to a Prometheus's listing endpoints; errors are the query client's classes
    (a rejected selector is a PrometheusQueryError with the server's message)."""

    api_name = "Prometheus"
    error_class = PrometheusError
    unavailable_class = PrometheusUnavailable

    def metric_names(self, start: datetime, end: datetime) -> list[str]:
        """Names of the metrics with samples between ``start`` and ``end``
        (``/api/v1/label/__name__/values``)."""
        data = self._get("/api/v1/label/__name__/values", _window(start, end))
        return sorted(str(name) for name in data or [])

    def series(self, match: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        """Label sets (``__name__`` included) of the series ``match`` selects between ``start``
        and ``end`` (``/api/v1/series``)."""
        data = self._get("/api/v1/series", {"match[]": match, **_window(start, end)}, match)
        return [{str(k): str(v) for k, v in item.items()} for item in data or []]

    def metric_types(self) -> dict[str, str]:
        """``{metric: "counter" | "gauge" | "histogram" | ...}`` from ``/api/v1/metadata``; empty
        for data that was never scraped (backfilled blocks carry no metadata)."""
        data = self._get("/api/v1/metadata", {})
        return {
            str(name): str(entries[0].get("type", "unknown"))
            for name, entries in (data or {}).items()
            if entries
        }

    def instant(self, query: str, at: datetime | None = None) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` of an instant query at ``at``, or at the server's now when None."""
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data = self._get("/api/v1/query", params, query) or {}
        result = data.get("result")
        if data.get("resultType") == "scalar":
            return [({}, float(result[1]))]
        return [
            (
                {str(k): str(v) for k, v in (item.get("metric") or {}).items()},
                float(item["value"][1]),
            )
            for item in result or []
            if "value" in item
        ]

    def newest_sample_time(self) -> datetime:
        """When the newest ``up`` sample was taken: within the lookback of the server's now, else
        within :data:`NEWEST_SAMPLE_SEARCH` before it (minute resolution). Raises
        PrometheusError naming the URL when the server holds no recent ``up``."""
        for query in (
            "max(timestamp(up))",
            f"max(max_over_time(timestamp(up)[{NEWEST_SAMPLE_SEARCH}:1m]))",
        ):
            values = [v for _, v in self.instant(query) if v == v]  # NaN != NaN
            if values:
                return datetime.fromtimestamp(max(values), UTC)
        now = self.instant("time()")[0][1]
        raise PrometheusError(
            f"{self.base_url}: no `up` sample within {NEWEST_SAMPLE_SEARCH} before the server's "
            f"time {datetime.fromtimestamp(now, UTC).isoformat()}; pass --at to choose the window"
        )

    # -- request path ---------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str], query: str = "") -> Any:
        call = HttpCall("GET", self.endpoint(path), params=params, query=query or path)
        reply = self.request_json(call)
        body = reply.body
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PrometheusError(
                f"{call.where}: response is not a success envelope: {excerpt(reply.response.text)!r}"
            )
        return body.get("data")

    def status_error(self, call: HttpCall, response: requests.Response) -> Exception:
        """400 bad_data / 422 execution: the selector or query was rejected, with the reason."""
        if response.status_code in (400, 422):
            return PrometheusQueryError(
                f"{call.where}: {call.query!r} rejected (HTTP {response.status_code}): "
                f"{self.error_text(response)}"
            )
        return super().status_error(call, response)

    def error_text(self, response: requests.Response) -> str:
        """Prometheus's ``error`` field when the body is its JSON envelope."""
        try:
            body = response.json()
        except ValueError:
            return excerpt(response.text)
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])
        return excerpt(response.text)


def window_before(at: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """``(at - window, at)``: the window a check or a discovery looks at."""
    return at - window, at


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}"}


__all__ = ["NEWEST_SAMPLE_SEARCH", "PrometheusApi", "window_before"]
