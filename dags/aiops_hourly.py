"""Hourly: validate the interval's metrics, score them against the newest good baselines,
and upsert debounced anomaly events ("no data" included). Time comes from the data interval
only, so a backfilled hour gives the events the live run gave.
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
POOL = "aiops_prometheus"


@dag(
    dag_id="aiops_hourly",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 10, 1, tz="UTC"),
    catchup=False,
    # one run at a time: an hour continues the events the previous hour left open
    max_active_runs=1,
    default_args={
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
    },
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_hourly():
    @task
    def plan_shards() -> list[list[str]]:
        from aiops.airflow import tasks

        return tasks.plan_shards(SHARD_SIZE)

    @task(pool=POOL)
    def score_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        ctx = get_current_context()
        return tasks.score_shard(shard, ctx["data_interval_start"], ctx["data_interval_end"])

    @task
    def report(parts: list[dict]) -> dict:
        from aiops.airflow import tasks

        return tasks.combine_totals(list(parts))

    report(score_shard.expand(shard=plan_shards()))


aiops_hourly()
