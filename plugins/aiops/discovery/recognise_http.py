"""Request metrics with a duration histogram: OpenTelemetry HTTP server metrics (stable and
legacy semantic conventions) and the OpenTelemetry Collector's spanmetrics connector.

Each gives request_rate (calls per second), error_ratio (the failed share; a service with no
failures reads 0, not "no data") and latency_p95 (from the histogram's buckets, in seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.discovery.conventions import (
    RATE_WINDOW,
    DraftSignal,
    FoundService,
    Inventory,
    first_present,
    jobs_of,
    label_values,
    service_matcher,
    service_name,
)


@dataclass(frozen=True)
class HistogramHttpConvention:
    """One request-histogram convention.

    ``calls`` and ``buckets`` list the metric names it may use, the first the server has
    winning; each bucket metric comes with the factor that turns its unit into seconds.
    ``service_labels`` are tried in order (the first the series carry names services).
    ``error`` is the matcher of a failed request; ``server_kinds`` (spanmetrics) the
    span_kind values of server spans, the only ones counted.
    """

    name: str
    title: str
    calls: tuple[str, ...]
    buckets: tuple[tuple[str, float], ...]
    error: str
    service_labels: tuple[str, ...] = ("service_name", "job")
    server_kinds: tuple[str, ...] = ()

    def recognise(self, inventory: Inventory, claimed_jobs: frozenset[str]) -> list[FoundService]:
        calls = first_present(self.calls, inventory)
        if calls is None:
            return []
        series = inventory.series(calls)
        label = next((lb for lb in self.service_labels if label_values(series, lb)), None)
        if label is None:
            return []
        kind_matcher = self._server_matcher(series)
        if kind_matcher:
            series = inventory.series(f"{calls}{{{kind_matcher}}}")
        bucket = first_present((b for b, _ in self.buckets), inventory)
        to_seconds = dict(self.buckets).get(bucket or "", 1.0)
        found = []
        for raw in label_values(series, label):
            name = service_name(raw)
            if name is None:
                continue
            own = [s for s in series if s.get(label) == raw]
            sel = ",".join(m for m in (service_matcher(label, raw, name), kind_matcher) if m)
            signals = {
                "request_rate": DraftSignal(
                    f"sum(rate({calls}{{{sel}}}[{RATE_WINDOW}]))", "req/s", "traffic", "both"
                ),
                "error_ratio": DraftSignal(
                    f"(sum(rate({calls}{{{sel},{self.error}}}[{RATE_WINDOW}])) or vector(0))"
                    f" / sum(rate({calls}{{{sel}}}[{RATE_WINDOW}]))",
                    "ratio",
                    "errors",
                    "up",
                    0.0,
                    1.0,
                ),
            }
            if bucket is not None:
                scale = "" if to_seconds == 1.0 else f" * {to_seconds:g}"
                signals["latency_p95"] = DraftSignal(
                    f"histogram_quantile(0.95, sum by (le) (rate({bucket}{{{sel}}}"
                    f"[{RATE_WINDOW}]))){scale}",
                    "s",
                    "latency",
                    "up",
                )
            seen = ", ".join(m for m in (calls, bucket) if m)
            found.append(
                FoundService(name, self.name, f'{seen} with {label}="{raw}"', signals, jobs_of(own))
            )
        return found

    def _server_matcher(self, series: list[dict[str, str]]) -> str:
        """``span_kind="SPAN_KIND_SERVER"`` when the series carry server spans, else ""."""
        kinds = set(label_values(series, "span_kind"))
        server = next((k for k in self.server_kinds if k in kinds), None)
        return f'span_kind="{server}"' if server else ""


OTEL_HTTP = HistogramHttpConvention(
    name="otel-http",
    title="OpenTelemetry HTTP server metrics",
    calls=("http_server_request_duration_seconds_count",),
    buckets=(("http_server_request_duration_seconds_bucket", 1.0),),
    error='http_response_status_code=~"5.."',
)

OTEL_HTTP_LEGACY = HistogramHttpConvention(
    name="otel-http-legacy",
    title="OpenTelemetry HTTP server metrics (pre-1.20 semantic conventions)",
    calls=("http_server_duration_milliseconds_count",),
    buckets=(("http_server_duration_milliseconds_bucket", 0.001),),
    error='http_status_code=~"5.."',
)

SPANMETRICS = HistogramHttpConvention(
    name="spanmetrics",
    title="OpenTelemetry spanmetrics connector",
    calls=("traces_spanmetrics_calls_total", "traces_span_metrics_calls_total", "calls_total"),
    buckets=(
        ("traces_spanmetrics_duration_milliseconds_bucket", 0.001),
        ("traces_spanmetrics_duration_seconds_bucket", 1.0),
        ("traces_span_metrics_duration_milliseconds_bucket", 0.001),
        ("traces_span_metrics_duration_seconds_bucket", 1.0),
        ("traces_spanmetrics_latency_bucket", 0.001),
        ("duration_milliseconds_bucket", 0.001),
        ("duration_seconds_bucket", 1.0),
    ),
    error='status_code="STATUS_CODE_ERROR"',
    service_labels=("service_name",),
    server_kinds=("SPAN_KIND_SERVER", "server"),
)

__all__ = ["OTEL_HTTP", "OTEL_HTTP_LEGACY", "SPANMETRICS", "HistogramHttpConvention"]
