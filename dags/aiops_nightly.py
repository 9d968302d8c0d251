"""Nightly: retrain every service's baselines on the weeks before the interval's end.

Mapped over shards of services (never one task per series). The `aiops_prometheus` pool caps
how many shards query Prometheus at once; each version is stored in the model registry under
the window's end, so retraining a night rewrites that night's version and nothing else.
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
    dag_id="aiops_nightly",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 10, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
    },
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_nightly():
    @task
    def plan_shards() -> list[list[str]]:
        from aiops.airflow import tasks

        return tasks.plan_shards(SHARD_SIZE)

    @task(pool=POOL)
    def train_shard(shard: list[str]) -> dict:
        from aiops.airflow import tasks

        return tasks.train_shard(shard, get_current_context()["data_interval_end"])

    @task
    def report(parts: list[dict]) -> dict:
        from aiops.airflow import tasks

        return tasks.combine_totals(list(parts))

    report(train_shard.expand(shard=plan_shards()))


aiops_nightly()
