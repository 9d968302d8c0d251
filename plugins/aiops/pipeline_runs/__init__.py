"""The pipeline's own health: a run summary per DAG run (``pipeline_runs``) and its push to a
Prometheus Pushgateway, for the alert rules in ``include/prometheus/aiops-alerts.yml``.

A DAG's last task, once the run's results are stored::

    from aiops.pipeline_runs import pushgateway_url, record_and_push

    outcome = record_and_push(
        store, dag_id, data_interval_start, data_interval_end,
        pushgateway=pushgateway_url(),
        started_at=dag_run.start_date,
        backfill=dag_run.run_type == "backfill",
        llm_budget_usd=catalog.llm.daily_budget_usd,
    )  # a failed push is logged, never raised

Domain code: no Airflow import; the DAG passes the interval and the run's facts in.
"""

from aiops.pipeline_runs.pipeline import record_and_push
from aiops.pipeline_runs.pushgateway import (
    PUSHGATEWAY_URL_ENV,
    PushOutcome,
    grouping_key,
    push_run,
    pushgateway_url,
    run_registry,
)
from aiops.pipeline_runs.summary import (
    DAG_PARTS,
    PARTS,
    run_summary,
    store_run_summary,
    summary_line,
)

__all__ = [
    "DAG_PARTS",
    "PARTS",
    "PUSHGATEWAY_URL_ENV",
    "PushOutcome",
    "grouping_key",
    "push_run",
    "pushgateway_url",
    "record_and_push",
    "run_registry",
    "run_summary",
    "store_run_summary",
    "summary_line",
]
