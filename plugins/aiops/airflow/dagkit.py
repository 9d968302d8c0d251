"""What every aiops DAG shares: its interval timetable, retries, the shard planner, the
totals reporter and the run recorder. DAG files import this and declare only what is theirs.

Trigger rules. Tasks of optional integrations (traces, logs) skip when not configured
(:mod:`aiops.airflow.tasks`), and Airflow's default rule (``all_success``) would skip every
task after them down to ``record_run``. So a task after an optional one runs on
:data:`AFTER_OPTIONAL` (``none_failed``: its upstreams succeeded or were skipped, none
failed), or on ``all_done`` where the DAG wants it to run after a failure too.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from aiops.settings import JAEGER_POOL, PROMETHEUS_POOL

SHARD_SIZE = int(os.environ.get("AIOPS_SHARD_SIZE", "4"))
POOL = PROMETHEUS_POOL  # caps how many shards query Prometheus at once
__all__ = ["AFTER_OPTIONAL", "JAEGER_POOL", "POOL", "START_DATE"]
START_DATE = pendulum.datetime(2026, 10, 1, tz="UTC")
#: The trigger rule of a task after an optional integration's task (see the module docstring).
AFTER_OPTIONAL = "none_failed"


def interval_timetable(cron: str) -> CronDataIntervalTimetable:
    """Runs that each cover [start, end) of one period. Airflow 3's default cron timetable
    gives runs no interval (start == end), which would make every query empty."""
    return CronDataIntervalTimetable(cron, timezone="UTC")


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff (a backend's bad minute is retried, not a lost run)
    and an execution timeout (a hung query or fit frees its worker slot and is retried
    instead of blocking the next interval: the DAGs run one interval at a time)."""
    return {
        "retries": int(os.environ.get("AIOPS_TASK_RETRIES", "2")),
        "retry_delay": timedelta(seconds=int(os.environ.get("AIOPS_RETRY_DELAY_SECONDS", "60"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(
            minutes=float(os.environ.get("AIOPS_TASK_TIMEOUT_MINUTES", "120"))
        ),
    }


@task
def plan_shards() -> list[list[str]]:
    """Services grouped for mapping: one task per shard, never one per series."""
    from aiops.airflow import tasks

    return tasks.plan_shards(SHARD_SIZE)


@task
def report(parts: list[dict]) -> dict:
    """The run summary: the shards' totals added up (and logged)."""
    from aiops.airflow import tasks

    return tasks.combine_totals(list(parts))


def data_interval() -> tuple[datetime, datetime]:
    """The running task's data interval [start, end): the only time a task may act on."""
    ctx = get_current_context()
    return ctx["data_interval_start"], ctx["data_interval_end"]


@task(trigger_rule=AFTER_OPTIONAL)
def record_run(integrations: list[str] | None = None) -> dict:
    """The run summary of a run none of whose tasks failed (a task skipped for an integration
    that is not configured does not count as failed): a `pipeline_runs` row and, when
    configured, a Pushgateway push (aiops.pipeline_runs). Its push is what the "no successful
    hourly run in 3 hours" alert watches. ``integrations``: the optional ones the DAG uses
    (traces, logs, github, llm); the row lists those not configured."""
    from aiops.airflow import tasks

    ctx = get_current_context()
    run = ctx["dag_run"]
    run_type = getattr(run.run_type, "value", run.run_type)
    start, end = data_interval()
    return tasks.record_run(ctx["dag"].dag_id, start, end, run.start_date, str(run_type),
                            integrations or ())  # fmt: skip
