"""Hourly: mine the interval's logs into templates and score them (template spikes, drops,
silence, new templates, error ratio); validate the interval's metrics, score them against the
newest good baselines, and upsert debounced anomaly events ("no data" included) carrying the
same service's log anomalies as context; forecast every signal from the
interval's end and upsert the predictions the KEDA scaler serves and the predicted SLO
breaches; then group the hour's metric, log and predictive events into incidents (close in
time, connected in the trace-derived dependency map) and rank each one's likely root cause.
Time comes from the data interval only, so a backfilled hour gives the events
and forecasts the live run gave. Without Elasticsearch (or AIOPS_LOGS_DIR) the log mining is
skipped and the rest runs; the run summary says logs were not configured.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from aiops.airflow.dagkit import (
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
    dag_id="aiops_hourly",
    schedule=interval_timetable("0 * * * *"),
    start_date=START_DATE,
    catchup=False,
    # one run at a time: an hour continues the events the previous hour left open
    max_active_runs=1,
    default_args=default_args(),
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_hourly():
    @task
    def mine_logs() -> dict:
        from aiops.airflow import tasks

        return tasks.mine_logs(*data_interval())

    # scoring runs when the logs fail or are skipped too (its events then carry no log context)
    @task(pool=POOL, trigger_rule="all_done")
    def score_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        return tasks.score_shard(shard, *data_interval())

    @task(pool=POOL)
    def predict_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        return tasks.predict_shard(shard, *data_interval())

    # correlation reads whatever the hour's other tasks stored, even when one of them failed
    # or was skipped
    @task(trigger_rule="all_done")
    def correlate() -> dict:
        from aiops.airflow import tasks

        return tasks.correlate(*data_interval())

    shards = plan_shards()
    logs = mine_logs()
    scored = score_shard.expand(shard=shards)
    predicted = predict_shard.expand(shard=shards)
    logs >> scored
    summaries = [report(scored), report.override(task_id="report_predictions")(predicted)]
    correlated = correlate()
    [logs, scored, predicted] >> correlated
    [*summaries, correlated] >> record_run(integrations=["logs"])


aiops_hourly()
