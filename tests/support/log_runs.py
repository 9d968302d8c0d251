"""The log step (aiops.logs.pipeline.mine_interval) run over a folder of log files, as the
DAGs run it with AIOPS_LOGS_DIR set."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.catalog import DEFAULT_CATALOG, load_catalog
from aiops.logs.pipeline import STATE_KEEP, mine_interval
from aiops.model_registry import ModelRegistry
from aiops.sources.log_files import LogFileSource
from aiops.store import Store


def mine_files(
    logs: Path, url: str, models: Path, start: datetime, end: datetime, findings: bool = False
) -> dict[str, Any]:
    """One run of the log step over the files in ``logs``, with the shipped catalog."""
    catalog = load_catalog(DEFAULT_CATALOG)
    source = LogFileSource(logs, catalog.logs.format)
    with Store.open(url) as store:
        return mine_interval(store, source, ModelRegistry(str(models), keep=STATE_KEEP), catalog,
                             start, end, findings=findings)  # fmt: skip
