"""What each DAG task does, given the interval the DAG hands it: one call into the package that
owns the step, with the clients the hooks build from Airflow Connections. Wiring, not logic.

Each function is named after its task. It turns Airflow's pendulum datetimes into plain UTC
ones, opens the results store, and hands over; what is computed, stored and logged is the
owning package's business (`aiops.metrics`, `aiops.predictive`, `aiops.logs`,
`aiops.traces`, `aiops.incidents`, `aiops.llm`, `aiops.sinks`, `aiops.pipeline_runs`).
Imports are inside the functions so that parsing a DAG file stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from aiops.airflow.hooks import store_url
from aiops.catalog import load_catalog
from aiops.settings import aiops_home, models_root
from aiops.store import Store

log = logging.getLogger(__name__)


def utc(when: datetime) -> datetime:
    """A plain stdlib UTC datetime from Airflow's pendulum one (pendulum arithmetic differs)."""
    return datetime.fromtimestamp(when.timestamp(), tz=UTC)


@contextmanager
def results() -> Iterator[Store]:
    """The results store of the `aiops_store` connection (else AIOPS_STORE_URL, else SQLite)."""
    with Store.open(store_url()) as store:
        yield store


def plan_shards(shard_size: int) -> list[list[str]]:
    return load_catalog().shards(shard_size)


def combine_totals(parts: list[dict[str, Any]]) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            combined[key] = combined.get(key, 0) + value
    log.info("interval totals: %s", combined)
    return combined


def summarize_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Ingest: every catalog signal of the shard's services for [start, end), summarised."""
    from aiops.airflow.hooks import metric_source
    from aiops.metrics.series_summary import store_series_summaries

    with results() as store:
        return store_series_summaries(
            store, metric_source(), load_catalog(), shard, utc(start), utc(end)
        )


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


def score_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: the interval scored with the newest good models, events stored."""
    from aiops.airflow.hooks import metric_source
    from aiops.metrics.pipeline import score_services
    from aiops.model_registry import ModelRegistry

    with results() as store:
        return score_services(store, metric_source(), load_catalog(), shard, utc(start),
                              utc(end), ModelRegistry(models_root()))  # fmt: skip


def predict_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: forecasts from the interval's end; predictions and predictive alerts stored."""
    from aiops.airflow.hooks import metric_source
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import predict_services

    with results() as store:
        return predict_services(store, metric_source(), load_catalog(), shard, utc(start),
                                utc(end), ModelRegistry(models_root()))  # fmt: skip


def mine_logs(start: datetime, end: datetime, findings: bool = False) -> dict[str, Any]:
    """Hourly and nightly: the interval's logs (Elasticsearch `elasticsearch_default`, or files
    under AIOPS_LOGS_DIR) mined and scored; nightly (`findings=True`) also lasting errors."""
    from aiops.airflow.hooks import log_source
    from aiops.logs.pipeline import STATE_KEEP, mine_interval
    from aiops.model_registry import ModelRegistry

    catalog = load_catalog()
    source = log_source(catalog.logs.format)
    registry = ModelRegistry(models_root(), keep=STATE_KEEP)
    with results() as store:
        return mine_interval(store, source, registry, catalog, utc(start), utc(end),
                             findings=findings)  # fmt: skip


def correlate(start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly, after scoring, logs and forecasts: the interval's events grouped into incidents
    with ranked root causes, continuing the previous hour's incident IDs."""
    from aiops.incidents.pipeline import record_incidents

    with results() as store:
        return record_incidents(store, load_catalog().incidents, utc(start), utc(end)).totals()


def analyze_traces(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's traces from Jaeger (or exported files), mapped and analysed; the
    edges, findings, quarantined traces and run summary stored under the window."""
    from aiops.airflow.hooks import trace_source
    from aiops.traces.pipeline import analyze_window, draw_window_graph, store_analysis

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


def summarize_incidents(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the day's incidents stored as findings for the issue sink, and the day's
    alert-volume figure."""
    from aiops.incidents.pipeline import record_day

    with results() as store:
        return record_day(store, load_catalog().incidents, utc(start), utc(end))


def narrate_findings(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly, before filing: the interval's findings explained or narrated by the language
    model where a key, the budget and the cache allow. Never fails for the model's sake."""
    from aiops.airflow.hooks import AnthropicHook
    from aiops.llm.pipeline import narrate_interval

    api_key, base_url = AnthropicHook().get_conn()
    with results() as store:
        return narrate_interval(store, load_catalog(), utc(start), utc(end), api_key=api_key,
                                base_url=base_url)  # fmt: skip


def file_issues(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's stored findings filed as issues, on GitHub (`github_default`) or,
    without a token, as files under out/issues. Fails after filing what it could when any
    repository failed, so Airflow's retry picks up the rest (the ledger skips what is done)."""
    from aiops.airflow.hooks import issue_tracker
    from aiops.sinks.pipeline import file_interval

    with results() as store:
        report = file_interval(store, load_catalog(), issue_tracker(), utc(start), utc(end),
                               aiops_home())  # fmt: skip
    if report.errors:
        raise RuntimeError(
            f"filing failed for {len(report.errors)} reason(s), the rest was filed: "
            + "; ".join(report.errors)
        )
    return {"sink": report.sink, "writes": report.writes, **report.counts()}


def record_run(
    dag_id: str, start: datetime, end: datetime, started_at: datetime | None, run_type: str
) -> dict[str, Any]:
    """Every DAG's last task, once the run succeeded: its `pipeline_runs` row, pushed to the
    Pushgateway at AIOPS_PUSHGATEWAY_URL when one is set."""
    from aiops.pipeline_runs import pushgateway_url, record_and_push

    with results() as store:
        outcome = record_and_push(
            store, dag_id, utc(start), utc(end), pushgateway=pushgateway_url(),
            started_at=started_at, backfill=run_type == "backfill",
            llm_budget_usd=load_catalog().llm.daily_budget_usd,
        )  # fmt: skip
    return {"push": outcome.status}
