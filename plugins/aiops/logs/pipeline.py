"""The hourly and nightly log step: an interval's logs mined, scored and stored.

One call for the DAGs' `mine_logs` / `analyze_logs` tasks. The template state saved before
the interval is loaded (aiops.logs.window explains why runs chain), the interval's lines are
mined into per-template counts, each service's log anomalies are scored from the stored
counts (aiops.logs.anomalies), and the state after the interval is saved under its end. The
nightly run also stores a finding for each new error template that lasted
(aiops.logs.findings). Every table is keyed by the interval, so a rerun writes the same rows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiops.catalog import Catalog
from aiops.findings.model import finding_row
from aiops.logs.anomalies import service_log_anomalies
from aiops.logs.findings import lasting_error_findings
from aiops.logs.records import LogSource
from aiops.logs.window import load_state, mine_window, quarantine_rows, save_state
from aiops.model_registry import ModelRegistry
from aiops.store import Store

log = logging.getLogger(__name__)

#: Hourly state versions kept: a rerun or backfill up to 8 days back finds the state it
#: started from (a pruned one would make it mine from scratch, with other IDs).
STATE_KEEP = 24 * 8


def mine_interval(
    store: Store,
    source: LogSource,
    registry: ModelRegistry,
    catalog: Catalog,
    start: datetime,
    end: datetime,
    *,
    findings: bool = False,
) -> dict[str, Any]:
    """Mine [start, end) from the template state before it, store the counts and the log
    anomalies, save the state after it; with ``findings`` (nightly) also store a finding for
    each new error template that lasted (source "logs"). Returns the run's totals."""
    settings = catalog.logs
    miner, since, version = load_state(registry, start, settings)
    mined = mine_window(source, miner, since, start, end, catalog.service_names, settings, version)
    window = {"interval_start": start, "interval_end": end}
    services = sorted(set(catalog.service_names) | set(miner.services))
    store.upsert("log_volume", mined.volume)
    store.upsert("log_template_counts", mined.counts)
    store.replace("log_quarantine", quarantine_rows(mined.quarantined, start, end), **window)
    rows = []
    for service in services:
        new = [c for s, c in mined.new if s == service]
        templates = miner.services.get(service)
        rows += service_log_anomalies(store, service, start, end, new, templates, settings)
    store.replace("log_anomalies", rows, **window)
    found = lasting_error_findings(store, miner, end, settings) if findings else []
    if findings:
        store.replace("findings", [{**window, **finding_row(f.to_json())} for f in found],
                      **window, source="logs")  # fmt: skip
    saved = save_state(registry, mined, end, end)
    totals = {**mined.totals(), "anomalies": len(rows), "findings": len(found), "state": saved}
    log.info("logs [%s, %s) from %s: %s", start.isoformat(), end.isoformat(), source.describe(),
             totals)  # fmt: skip
    for row in rows:
        log.info("  %s %s %s %s", row["service"], row["kind"], row["template_id"] or "-",
                 row["template"][:120])  # fmt: skip
    return totals
