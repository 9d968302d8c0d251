"""Running the DAGs through the real `airflow` command, as the tests do."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

from aiops.dev.local_airflow import run_airflow


def dags_test(
    env: dict[str, str],
    dag_id: str,
    logical_date: datetime,
    log: Path,
    *,
    expect_ok: bool = True,
    skip: str = "",
) -> subprocess.CompletedProcess[str]:
    """`airflow dags test`; `skip` marks the matching tasks successful without running them.
    With ``expect_ok`` a failure fails the test with the log's tail."""
    extra = ["--mark-success-pattern", skip] if skip else []
    proc = run_airflow(["dags", "test", dag_id, logical_date.isoformat(), *extra], env, log)
    if expect_ok:
        assert proc.returncode == 0, log.read_text()[-4000:]
    return proc
