"""The local Airflow the demo and the tests run: its home under the repo, SQLite, LocalExecutor.

One definition, used by `aiops demo`, the tests and anyone running `airflow` by hand
(`eval "$(.venv/bin/aiops airflow-env)"`), so they all see the same DAGs and database; a
second home (`aiops airflow-env --home DIR`) is a separate Airflow on the same DAGs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def airflow_env(root: Path = PROJECT_ROOT, home: Path | None = None) -> dict[str, str]:
    """Environment variables that configure Airflow for this project (they override airflow.cfg).

    ``home`` (default ``.airflow`` in the repository) holds the metadata database, the logs
    and airflow.cfg; another home is another Airflow (its own runs and connections) on the
    same DAGs. It is made absolute: a relative SQLite path would be a different database in
    every directory `airflow` is run from.
    """
    home = Path(home or root / ".airflow").expanduser().resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def shell_exports(env: Mapping[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def airflow_bin() -> str:
    """The `airflow` next to this interpreter, so a venv's Airflow is used even when not on PATH."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def run_airflow(
    args: list[str], env: Mapping[str, str], log_path: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run an `airflow` CLI command with the project's environment; output to log_path if given."""
    full_env = {**os.environ, **env}
    home = Path(full_env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [airflow_bin(), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(proc.stdout + proc.stderr)
    return proc
