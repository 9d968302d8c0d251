"""What each DAG task does, given the interval the DAG hands it. Thin: wiring, not logic."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.airflow.hooks import issue_tracker, metric_source, store_url, trace_source
from aiops.catalog import load_catalog
from aiops.metrics.series_summary import summarize_services
from aiops.settings import aiops_home, models_root
from aiops.store import Store

log = logging.getLogger(__name__)


def plan_shards(shard_size: int) -> list[list[str]]:
    return load_catalog().shards(shard_size)


def utc(when: datetime) -> datetime:
    """A plain stdlib UTC datetime from Airflow's pendulum one (pendulum arithmetic differs)."""
    return datetime.fromtimestamp(when.timestamp(), tz=UTC)


def summarize_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Pull every catalog signal of the shard's services for [start, end) and upsert summaries."""
    start, end = utc(start), utc(end)
    summary = summarize_services(metric_source(), load_catalog(), shard, start, end)
    with Store.open(store_url()) as store:
        store.upsert("series_summary", summary.rows)
    totals = summary.totals
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), shard, totals)
    return totals


def combine_totals(parts: list[dict[str, Any]]) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            combined[key] = combined.get(key, 0) + value
    log.info("interval totals: %s", combined)
    return combined


def train_shard(shard: list[str], end: datetime) -> dict[str, Any]:
    """Nightly: train every service of the shard on the window ending at the interval's end."""
    from aiops.forecast import ForecastError
    from aiops.metrics.pipeline import DetectionSettings, train_service
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import train_forecasts
    from aiops.quality import quarantine

    end = utc(end)
    settings = DetectionSettings()
    source, catalog = metric_source(), load_catalog()
    registry = ModelRegistry(models_root())
    totals = {"services": 0, "trained": 0, "quarantined": 0, "not_trained": 0, "forecasters": 0}
    with Store.open(store_url()) as store:
        for service in shard:
            outcome = train_service(source, catalog, service, end, registry, settings)
            window_start = end - timedelta(days=settings.training_days)
            totals["quarantined"] += quarantine(store, outcome.quarantined, window_start, end)
            totals["services"] += 1
            totals["trained" if outcome.model else "not_trained"] += 1
            if outcome.model is not None and outcome.frame is not None:
                # the forecasters learn from the same validated frame as the baselines; a
                # service none of whose series can be forecast keeps its previous forecaster
                try:
                    train_forecasts(outcome.frame, service, end, registry)
                    totals["forecasters"] += 1
                except ForecastError as exc:
                    log.warning("%s: forecasters not trained: %s", service, exc)
            for note in outcome.notes:
                log.warning("%s: %s", service, note)
    log.info("training window ending %s, shard %s: %s", end.isoformat(), shard, totals)
    return totals


def score_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: score the interval with the newest good models and upsert the events."""
    from aiops.logs.context import with_log_context
    from aiops.metrics.event_store import store_events
    from aiops.metrics.pipeline import DetectionSettings, score_service
    from aiops.model_registry import ModelRegistry
    from aiops.quality import quarantine

    start, end = utc(start), utc(end)
    settings = DetectionSettings()
    source, catalog = metric_source(), load_catalog()
    registry = ModelRegistry(models_root())
    totals = {
        "services": 0,
        "events": 0,
        "anomalous_points": 0,
        "quarantined": 0,
        "no_data": 0,
        "unscored": 0,
    }
    with Store.open(store_url()) as store:
        for service in shard:
            open_events = _open_events(store, service, start, settings)
            outcome = score_service(
                source, catalog, service, start, end, registry, open_events, settings
            )
            store_events(store, service, with_log_context(store, outcome.events, until=end), end)
            totals["quarantined"] += quarantine(store, outcome.quarantined, start, end)
            totals["services"] += 1
            totals["events"] += sum(1 for e in outcome.events if e["kind"] == "anomaly")
            totals["no_data"] += sum(1 for e in outcome.events if e["kind"] == "no_data")
            totals["anomalous_points"] += outcome.anomalous_points
            totals["unscored"] += 0 if outcome.model else 1
            for note in outcome.notes:
                log.warning("%s: %s", service, note)
    log.info("interval [%s, %s) shard %s: %s", start.isoformat(), end.isoformat(), shard, totals)
    return totals


def predict_shard(shard: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly: forecast from the interval's end; upsert predictions and predictive alerts."""
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import predict_service
    from aiops.quality import quarantine

    start, end = utc(start), utc(end)
    source, catalog = metric_source(), load_catalog()
    registry = ModelRegistry(models_root())
    totals = {"services": 0, "predictions": 0, "alerts": 0, "quarantined": 0, "unpredicted": 0}
    with Store.open(store_url()) as store:
        for service in shard:
            outcome = predict_service(source, catalog, service, start, end, registry)
            # a backfilled hour never replaces what a newer hour predicted for the same time
            store.upsert("predictions", outcome.predictions, newer="generated_at")
            store.upsert("predictive_alerts", outcome.alerts)
            totals["quarantined"] += quarantine(store, outcome.quarantined, start, end)
            totals["services"] += 1
            totals["predictions"] += len(outcome.predictions)
            totals["alerts"] += len(outcome.alerts)
            totals["unpredicted"] += 0 if outcome.predictions else 1
            for note in outcome.notes:
                log.warning("%s: %s", service, note)
    log.info("forecast from %s, shard %s: %s", end.isoformat(), shard, totals)
    return totals


def _open_events(store: Store, service: str, start: datetime, settings) -> dict[str, datetime]:
    """Events still running when this interval starts, as the run before it left them (not
    as later runs extended them): their start per signal."""
    from aiops.metrics.event_store import events_as_of

    reach = timedelta(seconds=60) * (settings.events.merge_gap + 1)
    out: dict[str, datetime] = {}
    for row in events_as_of(store, start - reach, start, service=service, kind="anomaly"):
        out[row["signal"]] = max(out.get(row["signal"], row["start"]), row["start"])
    return out


def analyze_trace_window(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's traces from Jaeger (or exported files), mapped and analysed; the
    edges, findings, quarantined traces and run summary stored under the window."""
    from aiops.traces.pipeline import analyze_window, draw_window_graph, store_analysis

    start, end = utc(start), utc(end)
    source = trace_source()
    link = getattr(source, "ui_trace_url", None)
    analysis = analyze_window(source.iter_window(start, end), start, end, link=link)
    with Store.open(store_url()) as store:
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


def file_issue_window(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the window's stored findings filed as issues, on GitHub (`github_default`) or,
    without a token, as files under out/issues. Fails after filing what it could when any
    repository failed, so Airflow's retry picks up the rest (the ledger skips what is done)."""
    from aiops.findings.model import Finding
    from aiops.llm.pipeline import read_narratives
    from aiops.sinks.filing import file_findings, file_summary, graph_link
    from aiops.traces.pipeline import graph_path

    start, end = utc(start), utc(end)
    catalog = load_catalog()
    tracker = issue_tracker()
    with Store.open(store_url()) as store:
        rows = store.read("findings", interval_start=start, interval_end=end)
        findings = [Finding.from_json(row["finding"]) for row in rows]
        report = file_findings(
            findings, (start, end), tracker, store, catalog,
            graph=graph_link(tracker, graph_path(aiops_home(), start), catalog.issues.graph_url,
                             start.date()),
            narratives=read_narratives(store, start, end),
        )  # fmt: skip
    log.info("issues [%s, %s): %s", start.isoformat(), end.isoformat(), file_summary(report))
    for outcome in report.outcomes:
        log.info("  %s %s %s %s", outcome.action, outcome.repository or "-", outcome.fingerprint,
                 outcome.url or outcome.detail)  # fmt: skip
    if report.errors:
        raise RuntimeError(
            f"filing failed for {len(report.errors)} reason(s), the rest was filed: "
            + "; ".join(report.errors)
        )
    return {"sink": report.sink, "writes": report.writes, **report.counts()}


def narrate_window(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly, before filing: the interval's trace findings explained and its incidents
    narrated by the language model where a key, the budget and the cache allow; rule-based
    rows, with the reason, everywhere else. Never fails for the model's sake."""
    from aiops.airflow.hooks import AnthropicHook
    from aiops.findings.model import Finding
    from aiops.llm.pipeline import narrate_window as narrate
    from aiops.llm.session import open_gateway
    from aiops.sinks.render import interval_text

    start, end = utc(start), utc(end)
    catalog = load_catalog()
    api_key, base_url = AnthropicHook().get_conn()
    window = {"interval_start": start, "interval_end": end}
    with Store.open(store_url()) as store:
        gateway, cache = open_gateway(
            store, catalog.llm, run=f"narrate {interval_text((start, end))}", day=start.date(),
            now=end, api_key=api_key, base_url=base_url,
        )  # fmt: skip
        findings = [Finding.from_json(r["finding"]) for r in store.read("findings", **window)]
        rows = narrate(store, findings, gateway, cache, catalog, start, end)
        store.replace("narratives", rows, **window)
    log.info("narratives [%s, %s): %s", start.isoformat(), end.isoformat(), gateway.totals.line())
    return {"narratives": len(rows), **gateway.totals.to_json()}


#: Hourly state versions kept: a rerun or backfill up to 8 days back finds the state it
#: started from (a pruned one would make it mine from scratch, with other IDs).
LOG_STATE_KEEP = 24 * 8


def mine_log_window(start: datetime, end: datetime, findings: bool = False) -> dict[str, Any]:
    """Hourly and nightly: mine the interval's logs (Elasticsearch `elasticsearch_default`,
    or files under AIOPS_LOGS_DIR) from the template state before it, store the counts and
    the interval's log anomalies, and save the state after it. Nightly (`findings=True`) also
    stores a finding for each new error template that lasted (source "logs")."""
    from aiops.airflow.hooks import log_source
    from aiops.findings.model import finding_row
    from aiops.logs.anomalies import score_service
    from aiops.logs.findings import lasting_error_findings
    from aiops.logs.window import load_state, mine_window, quarantine_rows, save_state
    from aiops.model_registry import ModelRegistry

    start, end = utc(start), utc(end)
    catalog = load_catalog()
    settings = catalog.logs
    source = log_source(settings.format)
    registry = ModelRegistry(models_root(), keep=LOG_STATE_KEEP)
    miner, since, version = load_state(registry, start, settings)
    mined = mine_window(source, miner, since, start, end, catalog.service_names, settings, version)
    window = {"interval_start": start, "interval_end": end}
    services = sorted(set(catalog.service_names) | set(miner.drains))
    with Store.open(store_url()) as store:
        store.upsert("log_volume", mined.volume)
        store.upsert("log_template_counts", mined.counts)
        store.replace("log_quarantine", quarantine_rows(mined.quarantined, start, end), **window)
        rows = []
        for service in services:
            drain = miner.drains.get(service)
            new = [c for s, c in mined.new if s == service]
            templates = dict(drain.clusters) if drain else {}
            rows += score_service(store, service, start, end, new, templates, settings)
        store.replace("log_anomalies", rows, **window)
        found = lasting_error_findings(store, miner, end, settings) if findings else []
        if findings:
            store.replace(
                "findings", [{**window, **finding_row(f.to_json())} for f in found], **window,
                source="logs",
            )  # fmt: skip
    saved = save_state(registry, mined, end, end)
    totals = {**mined.totals(), "anomalies": len(rows), "findings": len(found), "state": saved}
    log.info("logs [%s, %s) from %s: %s", start.isoformat(), end.isoformat(), source.describe(),
             totals)  # fmt: skip
    for row in rows:
        log.info("  %s %s %s %s", row["service"], row["kind"], row["template_id"] or "-",
                 row["template"][:120])  # fmt: skip
    return totals


def correlate_window(start: datetime, end: datetime) -> dict[str, Any]:
    """Hourly, after scoring, logs and forecasts: group the interval's events into incidents
    with ranked root causes, continuing the previous hour's incident IDs."""
    from aiops.incidents.pipeline import correlate_window as correlate
    from aiops.incidents.pipeline import store_incidents

    start, end = utc(start), utc(end)
    settings = load_catalog().incidents
    with Store.open(store_url()) as store:
        correlation = correlate(store, start, end, settings)
        store_incidents(store, correlation, start, end)
    totals = correlation.totals()
    log.info("incidents [%s, %s) with the map of %s: %s", start.isoformat(), end.isoformat(),
             correlation.graph_window or "(no map)", totals)  # fmt: skip
    for incident in correlation.incidents:
        log.info("  %s %s %s", incident.incident_id, incident.status, incident.title)
        log.info("    %s", incident.summary)
    return totals


def summarize_incident_window(start: datetime, end: datetime) -> dict[str, Any]:
    """Nightly: the day's incidents (each as its newest hour saw it) stored as findings for
    the issue sink, and the day's alert-volume figure."""
    from aiops.findings.model import finding_row
    from aiops.incidents.pipeline import latest_incidents
    from aiops.incidents.report import alert_volume, incident_finding

    start, end = utc(start), utc(end)
    settings = load_catalog().incidents
    window = {"interval_start": start, "interval_end": end}
    with Store.open(store_url()) as store:
        rows = latest_incidents(store, start, end)
        volume = alert_volume(rows, start, end)
        store.upsert("alert_volume", [volume])
        filed = [
            incident_finding(r) for r in rows if len(r["events"]) >= settings.min_events_for_issue
        ]
        store.replace("findings", [{**window, **finding_row(f.to_json())} for f in filed],
                      **window, source="incidents")  # fmt: skip
    log.info("incidents of [%s, %s): %s", start.isoformat(), end.isoformat(), volume)
    return {"incidents": len(rows), "findings": len(filed), "events": volume["events"]}


def record_pipeline_run(
    dag_id: str, start: datetime, end: datetime, started_at: datetime | None, run_type: str
) -> dict[str, Any]:
    """Every DAG's last task, once the run succeeded: the run's counts as a `pipeline_runs`
    row, pushed to the Pushgateway at AIOPS_PUSHGATEWAY_URL when one is set (a failed push
    is logged, never raised: monitoring must not fail the results it monitors)."""
    from aiops.pipeline_runs import push_run, pushgateway_url, record_run

    start, end = utc(start), utc(end)
    with Store.open(store_url()) as store:
        summary = record_run(store, dag_id, start, end)
    outcome = push_run(
        pushgateway_url(), summary, started_at=started_at, backfill=run_type == "backfill",
        llm_budget_usd=load_catalog().llm.daily_budget_usd,
    )  # fmt: skip
    (log.info if outcome.ok or outcome.status == "skipped" else log.warning)(outcome.line())
    return {"push": outcome.status}
