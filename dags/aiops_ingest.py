"""Hourly ingest: every catalog signal of every service, summarised per series.

For its data interval [start, end) the DAG pulls each signal from Prometheus (connection
`prometheus_default`) and stores what arrived (points, gaps, range) in the results store.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from aiops.airflow.dagkit import (
    START_DATE,
    data_interval,
    default_args,
    interval_timetable,
    plan_shards,
    record_run,
    report,
)


@dag(
    dag_id="aiops_ingest",
    schedule=interval_timetable("0 * * * *"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=4,
    default_args=default_args(),
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_ingest():
    @task
    def summarize_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        return tasks.summarize_shard(shard, *data_interval())

    report(summarize_shard.expand(shard=plan_shards())) >> record_run()


aiops_ingest()
