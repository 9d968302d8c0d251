"""What each DAG task does, given the interval the DAG hands it: one call into the package that
owns the step, with the clients the hooks build from Airflow Connections. Wiring, not logic.

Each function is named after its task. It turns Airflow's pendulum datetimes into plain UTC
ones, opens the results store, and hands over; what is computed, stored and logged is the
owning package's business (`aiops.metrics`, `aiops.predictive`, `aiops.logs`,
`aiops.traces`, `aiops.incidents`, `aiops.llm`, `aiops.sinks`, `aiops.pipeline_runs`).
Imports are inside the functions so that parsing a DAG file stays cheap.

Two rules every task follows, in one place each:

- **Failures that retrying cannot fix fail at once.** Every task function is wrapped by
  :func:`fails_fast_when_permanent`: an error :func:`aiops.errors.is_permanent` calls permanent
  (a query Prometheus rejected, a shard whose services all failed that way) becomes
  ``AirflowFailException``, which Airflow does not retry; anything else (a server down, a
  timeout) propagates unchanged and gets the DAG's retries.
- **Only Prometheus is required.** A task whose optional integration is not configured
  (:func:`aiops.airflow.hooks.traces_not_configured`, ``logs_not_configured``) is skipped with
  the reason, never failed and retried; the DAGs' trigger rules let the tasks after it run.
  Issues without a GitHub token go to dry-run files and narratives without an API key are
  rule-based, so those tasks run either way. The run summary lists what was not configured.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from aiops.airflow.hooks import store_url
from aiops.catalog import load_catalog
from aiops.errors import is_permanent
from aiops.settings import aiops_home, models_root
from aiops.store import Store

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def fails_fast_when_permanent(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, whose permanent errors (:func:`aiops.errors.is_permanent`) are raised as
    ``AirflowFailException`` (failed, no retries: the same input fails the same way again) and
    whose other errors propagate unchanged (retried by Airflow)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if is_permanent(exc):
                raise AirflowFailException(str(exc)) from exc
            raise

    return run


def skip_unless_configured(reason: str | None) -> None:
    """Skip the running task (with ``reason`` in its log) when its integration is not
    configured (``reason`` is not None)."""
    if reason is not None:
        log.info("%s: skipped", reason)
        raise AirflowSkipException(reason)


def log_when_not_configured(reason: str | None) -> None:
    """Say in the task log that an integration the task can do without is not configured."""
    if reason is not None:
        log.info("%s", reason)


def utc(when: datetime) -> datetime:
    """A plain stdlib UTC datetime from Airflow's pendulum one (pendulum arithmetic differs)."""
    return datetime.fromtimestamp(when.timestamp(), tz=UTC)


@contextmanager
def results() -> Iterator[Store]:
    """The results store of the `aiops_store` connection (else AIOPS_STORE_URL, else SQLite)."""
    with Store.open(store_url()) as store:
        yield store


@fails_fast_when_permanent
def plan_shards(shard_size: int) -> list[list[str]]:
    return load_catalog().shards(shard_size)


@fails_fast_when_permanent
def combine_totals(parts: list[dict[str, Any]]) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            combined[key] = combined.get(key, 0) + value
    log.info("interval totals: %s", combined)
    return combined


@fails_fast_when_permanent
def summarize_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Ingest: every catalog signal of the shard's services for [start, end), summarised."""
    from aiops.airflow.hooks import metric_source
    from aiops.metrics.series_summary import store_series_summaries

    with results() as store:
        return store_series_summaries(
            store, metric_source(), load_catalog(), shard, utc(start), utc(end)
        )


@fails_fast_when_permanent
def train_shard(shard: list[str], end: datetime) -> dict[str, Any]:
    """Nightly: baselines, then forecasters, of every service of the shard, trained on the
    window ending at the interval's end."""
    from functools import partial

    from aiops.airflow.hooks import metric_source
    from aiops.metrics.pipeline import train_services
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import train_service_forecasts

    registry = ModelRegistry(models_root())
    forecasts = partial(train_service_forecasts, registry=registry)
    with results() as store:
        return train_services(store, metric_source(), load_catalog(), shard, utc(end), registry,
                              train_forecasts=forecasts)  # fmt: skip


@fails_fast_when_permanent
def score_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: the interval scored with the newest good models, events stored."""
    from aiops.airflow.hooks import metric_source
    from aiops.metrics.pipeline import score_services
    from aiops.model_registry import ModelRegistry

    with results() as store:
        return score_services(store, metric_source(), load_catalog(), shard, utc(start),
                              utc(end), ModelRegistry(models_root()))  # fmt: skip


@fails_fast_when_permanent
def predict_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: forecasts from the interval's end; predictions and predictive alerts stored."""
    from aiops.airflow.hooks import metric_source
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import predict_services

    with results() as store:
        return predict_services(store, metric_source(), load_catalog(), shard, utc(start),
                                utc(end), ModelRegistry(models_root()))  # fmt: skip


@fails_fast_when_permanent
def refresh_scaling(start: datetime, end: datetime) -> dict[str, Any]:
    """Every few minutes: the scaled services' scaling values refreshed from the newest data."""
    from aiops.airflow.hooks import metric_source
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import refresh_scaling as refresh

    with results() as store:
        return refresh(store, metric_source(), load_catalog(), utc(start), utc(end),
                       ModelRegistry(models_root()))  # fmt: skip


@fails_fast_when_permanent
def mine_logs(start: datetime, end: datetime, findings: bool = False) -> dict[str, Any]:
    """Hourly and nightly: the interval's logs (Elasticsearch `elasticsearch_default`, or files
    under AIOPS_LOGS_DIR) mined and scored; nightly (`findings=True`) also lasting errors.
    Skipped when neither is configured."""
    from aiops.airflow.hooks import log_source, logs_not_configured
    from aiops.logs.pipeline import STATE_KEEP, mine_interval
    from aiops.model_registry import ModelRegistry

    skip_unless_configured(logs_not_configured())
    catalog = load_catalog()
    source = log_source(catalog.logs.format)
    registry = ModelRegistry(models_root(), keep=STATE_KEEP)
    with results() as store:
        return mine_interval(store, source, registry, catalog, utc(start), utc(end),
                             findings=findings)  # fmt: skip


@fails_fast_when_permanent
def correlate(start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly, after scoring, logs and forecasts: the interval's events grouped into incidents
    with ranked root causes, continuing the previous hour's incident IDs."""
    from aiops.incidents.pipeline import record_incidents

    with results() as store:
        return record_incidents(store, load_catalog().incidents, utc(start), utc(end)).totals()


@fails_fast_when_permanent
def analyze_traces(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's traces from Jaeger (or exported files), mapped and analysed; the
    edges, findings, quarantined traces and run summary stored under the window. Skipped when
    neither Jaeger (`jaeger_default`) nor AIOPS_TRACES_DIR is configured."""
    from aiops.airflow.hooks import trace_source, traces_not_configured
    from aiops.traces.pipeline import analyze_window, draw_window_graph, store_analysis

    skip_unless_configured(traces_not_configured())
    start, end = utc(start), utc(end)
    source = trace_source()
    link = getattr(source, "ui_trace_url", None)
    analysis = analyze_window(source.iter_window(start, end), start, end, link=link)
    with results() as store:
        stored = store_analysis(store, analysis, start, end, repr(source))
        graph = draw_window_graph(store, start, end, aiops_home())
    totals = stored.totals()
    if graph is not None:
        log.info("dependency graph: %s (and .png)", graph)
    log.info("traces [%s, %s): %s", start.isoformat(), end.isoformat(), totals)
    if analysis.issues:
        log.info("repaired or skipped: %s", dict(sorted(analysis.issues.items())))
    for finding in analysis.findings[:10]:
        log.info("finding %s [%s] %s", finding.fingerprint, finding.kind, finding.title)
    if stored.diff:
        log.info("dependency map vs the previous window: %s", stored.diff)
    return totals


@fails_fast_when_permanent
def rightsize(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: containers' CPU and memory requests recommended from the `window_days` of
    cAdvisor and kube-state-metrics history ending at the interval's end; the changes worth
    making stored as `rightsizing` findings, unusable containers quarantined. Skipped when the
    catalog turns it off or the metrics come from a signals file (no containers there)."""
    from aiops.airflow.hooks import PrometheusHook, rightsizing_not_configured
    from aiops.rightsizing.pipeline import rightsize_interval

    settings = load_catalog().rightsizing
    skip_unless_configured(rightsizing_not_configured(settings.enabled))
    client = PrometheusHook().get_conn()
    with results() as store:
        run = rightsize_interval(store, client, settings, utc(start), utc(end))
    return run.totals()


@fails_fast_when_permanent
def summarize_incidents(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the day's incidents stored as findings for the issue sink, and the day's
    alert-volume figure."""
    from aiops.incidents.pipeline import record_day

    with results() as store:
        return record_day(store, load_catalog().incidents, utc(start), utc(end))


@fails_fast_when_permanent
def summarize_alerts(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the day's predictive alerts stored as findings for the issue sink, one per
    signal forecast to cross its limit, each with the chart it was raised on."""
    from aiops.predictive.findings import record_day

    with results() as store:
        return record_day(store, load_catalog(), utc(start), utc(end))


@fails_fast_when_permanent
def narrate_findings(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly, before filing: the interval's findings explained or narrated by the language
    model where a key, the budget and the cache allow. Never fails for the model's sake."""
    from aiops.airflow.hooks import AnthropicHook, llm_not_configured
    from aiops.llm.pipeline import narrate_interval

    log_when_not_configured(llm_not_configured())
    api_key, base_url = AnthropicHook().get_conn()
    with results() as store:
        return narrate_interval(store, load_catalog(), utc(start), utc(end), api_key=api_key,
                                base_url=base_url)  # fmt: skip


@fails_fast_when_permanent
def file_issues(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's stored findings filed as issues, on GitHub (`github_default`) or,
    without a token, as files under out/issues. Fails after filing what it could when any
    repository failed, so Airflow's retry picks up the rest (the ledger skips what is done)."""
    from aiops.airflow.hooks import github_not_configured, issue_tracker
    from aiops.sinks.pipeline import file_interval

    log_when_not_configured(github_not_configured())
    with results() as store:
        report = file_interval(store, load_catalog(), issue_tracker(), utc(start), utc(end),
                               aiops_home())  # fmt: skip
    if report.errors:
        raise RuntimeError(
            f"filing failed for {len(report.errors)} reason(s), the rest was filed: "
            + "; ".join(report.errors)
        )
    return {"sink": report.sink, "writes": report.writes, **report.counts()}


@fails_fast_when_permanent
def record_run(
    dag_id: str,
    start: datetime,
    end: datetime,
    started_at: datetime | None,
    run_type: str,
    integrations: Iterable[str] = (),
) -> dict[str, Any]:
    """Every DAG's last task, once no task failed: its `pipeline_runs` row, pushed to the
    Pushgateway at AIOPS_PUSHGATEWAY_URL when one is set. ``integrations`` are the optional
    ones the DAG uses; those not configured are listed in the row (``not_configured``)."""
    from aiops.airflow.hooks import integrations_not_configured
    from aiops.pipeline_runs import pushgateway_url, record_and_push

    missing = integrations_not_configured(integrations)
    for reason in missing.values():
        log_when_not_configured(reason)
    with results() as store:
        outcome = record_and_push(
            store, dag_id, utc(start), utc(end), pushgateway=pushgateway_url(),
            started_at=started_at, backfill=run_type == "backfill",
            llm_budget_usd=load_catalog().llm.daily_budget_usd,
            not_configured=sorted(missing),
        )  # fmt: skip
    return {"push": outcome.status, "not_configured": sorted(missing)}
