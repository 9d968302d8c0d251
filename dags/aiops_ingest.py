"""Hourly ingest: every catalog signal of every service, summarised per series.

For its data interval [start, end) the DAG pulls each signal from Prometheus (connection
`prometheus_default`) and stores what arrived (points, gaps, range) in the results store.
Services are mapped in shards, never one task per series, so the task count stays flat as
the catalog grows.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

SHARD_SIZE = int(os.environ.get("AIOPS_SHARD_SIZE", "4"))
RETRIES = int(os.environ.get("AIOPS_TASK_RETRIES", "2"))
RETRY_DELAY = timedelta(seconds=int(os.environ.get("AIOPS_RETRY_DELAY_SECONDS", "60")))


@dag(
    dag_id="aiops_ingest",
    # a data-interval timetable: each run covers [start, end) of one hour. Airflow 3's default
    # cron timetable has no interval (start == end), which would make every query empty.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 10, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args={
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
    },
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_ingest():
    @task
    def plan_shards() -> list[list[str]]:
        from aiops.airflow import tasks

        return tasks.plan_shards(SHARD_SIZE)

    @task
    def summarize_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        ctx = get_current_context()
        return tasks.summarize_shard(shard, ctx["data_interval_start"], ctx["data_interval_end"])

    @task
    def report(parts: list[dict]) -> dict:
        from aiops.airflow import tasks

        return tasks.combine_totals(list(parts))

    report(summarize_shard.expand(shard=plan_shards()))


aiops_ingest()
