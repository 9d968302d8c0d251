"""Every DAG's last step: the run's summary recorded, then pushed.

Called once none of the run's other tasks failed (trigger rule ``none_failed``: a task
skipped because its optional integration is not configured does not stop it), so the push,
which replaces the DAG's group on the Pushgateway, only ever says "this run worked"; the
summary says which integrations were not configured. A failed push is logged, never raised:
monitoring must not fail the results it monitors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from aiops.pipeline_runs.pushgateway import PushOutcome, push_run
from aiops.pipeline_runs.summary import store_run_summary
from aiops.store import Store

log = logging.getLogger(__name__)


def record_and_push(
    store: Store,
    dag_id: str,
    start: datetime,
    end: datetime,
    *,
    pushgateway: str | None,
    started_at: datetime | None,
    backfill: bool,
    llm_budget_usd: float | None,
    not_configured: Iterable[str] = (),
) -> PushOutcome:
    """Upsert the run's `pipeline_runs` row for [start, end) and push it to the Pushgateway
    at ``pushgateway`` (None: recorded only); the push's outcome, logged.
    ``not_configured`` names the optional integrations the run went without."""
    summary = store_run_summary(store, dag_id, start, end, not_configured=not_configured)
    outcome = push_run(pushgateway, summary, started_at=started_at, backfill=backfill,
                       llm_budget_usd=llm_budget_usd)  # fmt: skip
    (log.info if outcome.ok or outcome.status == "skipped" else log.warning)(outcome.line())
    return outcome
