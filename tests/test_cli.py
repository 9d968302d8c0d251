"""The `aiops` console script as users meet it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AIOPS = Path(sys.executable).with_name("aiops")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AIOPS), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_help_lists_the_subcommands() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    for command in ("demo", "world", "catalog", "prometheus", "summary", "airflow-env"):
        assert f"    {command} " in proc.stdout, command


def test_catalog_check_accepts_the_shipped_catalog() -> None:
    proc = _run("catalog", "check")
    assert proc.returncode == 0 and proc.stdout.startswith("ok: 12 services")


def test_catalog_check_reports_problems_with_lines_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("version: 1\ndefaults:\n  signals: {}\nservices:\n  Cart:\n    team: x\n")
    proc = _run("catalog", "check", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:3: defaults.signals: missing default template(s)" in proc.stderr
    assert f"{bad}:5: services.Cart.owner: required key is missing" in proc.stderr


def test_airflow_env_points_airflow_at_this_project() -> None:
    proc = _run("airflow-env")
    root = Path(__file__).resolve().parents[1]
    assert f"export AIRFLOW__CORE__DAGS_FOLDER={root / 'dags'}" in proc.stdout
    assert "AIRFLOW__CORE__LOAD_EXAMPLES=False" in proc.stdout
