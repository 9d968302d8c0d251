"""Nightly: retrain every service's baselines and forecasters on the weeks before the
interval's end (each series' forecaster chosen by backtest; Prophet fits in a bounded pool),
and analyse the day's traces (dependency map, bottleneck findings).

Training is mapped over shards of services; the `aiops_prometheus` pool caps how many shards
query Prometheus at once. Each version is stored in the model registry under the window's end,
so retraining a night rewrites that night's version and nothing else. The trace analysis is
one task (the map needs every trace of the day; traces stream through it), in the
`aiops_jaeger` pool; its results are replaced per day. The day's logs are mined (from the
template state the hourly runs left) and every new error template that lasted becomes a
finding, and each of the day's incidents (as the hourly runs left it) becomes one, with the
day's alert volume (raw anomalous points -> events -> incidents); each signal the hourly
forecasts saw crossing its limit becomes one, with the chart its alert was raised on.
Containers' CPU and memory
requests are right-sized from the two weeks of cAdvisor and kube-state-metrics history
ending at the interval's end, and each change worth making becomes a finding with its patch. Where an Anthropic key and
the day's LLM budget allow, trace findings get a generated explanation and incidents a
narrative citing their evidence (else rule-based text saying why). The day's findings are
then filed as GitHub issues (`github_default`; without a token, as files under out/issues):
one run at a time (max_active_runs=1) keeps the writes serial, and the issue ledger makes a
rerun or a backfill of a filed night write nothing.

Only Prometheus is required: without Jaeger (or AIOPS_TRACES_DIR) the trace analysis is
skipped, without Elasticsearch (or AIOPS_LOGS_DIR) the log analysis is; what follows them runs
on what the others found (trigger rule `none_failed`), and the run summary says which
integrations were not configured.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from aiops.airflow.dagkit import (
    AFTER_OPTIONAL,
    JAEGER_POOL,
    POOL,
    START_DATE,
    data_interval,
    default_args,
    interval_timetable,
    plan_shards,
    record_run,
    report,
)


@dag(
    dag_id="aiops_nightly",
    schedule=interval_timetable("0 0 * * *"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_nightly():
    @task(pool=POOL)
    def train_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        _, end = data_interval()
        return tasks.train_shard(shard, end)

    @task(pool=JAEGER_POOL)
    def analyze_traces() -> dict:
        from aiops.airflow import tasks

        return tasks.analyze_traces(*data_interval())

    @task(trigger_rule=AFTER_OPTIONAL)
    def file_issues() -> dict:
        from aiops.airflow import tasks

        return tasks.file_issues(*data_interval())

    @task
    def analyze_logs() -> dict:
        from aiops.airflow import tasks

        return tasks.mine_logs(*data_interval(), findings=True)

    @task(pool=POOL)
    def rightsize() -> dict:
        from aiops.airflow import tasks

        return tasks.rightsize(*data_interval())

    @task
    def summarize_incidents() -> dict:
        from aiops.airflow import tasks

        return tasks.summarize_incidents(*data_interval())

    @task
    def summarize_alerts() -> dict:
        from aiops.airflow import tasks

        return tasks.summarize_alerts(*data_interval())

    @task(trigger_rule=AFTER_OPTIONAL)
    def narrate_findings() -> dict:
        from aiops.airflow import tasks

        return tasks.narrate_findings(*data_interval())

    trained = report(train_shard.expand(shard=plan_shards()))
    found = [analyze_traces(), analyze_logs(), summarize_incidents(), summarize_alerts(),
             rightsize()]  # fmt: skip
    filed = file_issues()
    found >> narrate_findings() >> filed
    [trained, filed] >> record_run(integrations=["traces", "logs", "github", "llm"])


aiops_nightly()
