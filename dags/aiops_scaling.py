"""Every five minutes, between the hourly runs: each scaled service's scaling metric forecast
again from the interval's end with the stored model (no refit) and the newest data, so the
values the KEDA scaler serves keep the load observed minutes ago as their floor and stay
fresh. The hourly run is the floor: when this DAG is paused or late, the scaler serves the
hourly run's rows (and falls back as before once they are stale).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from aiops.airflow.dagkit import POOL, START_DATE, data_interval, default_args, interval_timetable


@dag(
    dag_id="aiops_scaling",
    schedule=interval_timetable("*/5 * * * *"),
    start_date=START_DATE,
    catchup=False,
    # an older refresh never overwrites a newer one (rows keep the newest generated_at), and
    # running two at once buys nothing
    max_active_runs=1,
    default_args=default_args(),
    tags=["aiops"],
    doc_md=__doc__,
)
def aiops_scaling():
    @task(pool=POOL)  # its Prometheus queries share the cap with the other DAGs'
    def refresh_scaling() -> dict:
        from aiops.airflow import tasks

        return tasks.refresh_scaling(*data_interval())

    refresh_scaling()


aiops_scaling()
