"""The `aiops` console script as users meet it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.paths import REPO_ROOT

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
    assert f"{bad}:5: services.Cart.owner: required key is missing" in proc.stderr


def test_catalog_check_names_the_line_of_a_signal_without_a_unit(tmp_path: Path) -> None:
    """Any signal name is welcome; one the project does not know needs its unit."""
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        "version: 1\ndefaults:\n  signals: {}\nservices:\n  cart:\n    owner: acme/cart\n"
        "    team: x\n    signals:\n      queue_depth:\n        query: max(q)\n"
    )
    proc = _run("catalog", "check", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:9: services.cart.signals.queue_depth: unit is required" in proc.stderr


def test_airflow_env_points_airflow_at_this_project() -> None:
    proc = _run("airflow-env")
    root = REPO_ROOT
    assert f"export AIRFLOW__CORE__DAGS_FOLDER={root / 'dags'}" in proc.stdout
    assert "AIRFLOW__CORE__LOAD_EXAMPLES=False" in proc.stdout


def test_detect_scores_a_csv_and_flags_a_level_shift(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 1, 2000)
    values[1500:] += 25  # a level shift
    src = tmp_path / "series.csv"
    src.write_text(
        "timestamp,value\n"
        + "".join(
            f"2026-01-01 {i // 60 % 24:02d}:{i % 60:02d}:00,{v:.3f}\n".replace(
                "2026-01-01", f"2026-01-{1 + i // 1440:02d}"
            )
            for i, v in enumerate(values)
        )
    )
    out = tmp_path / "scores.csv"
    proc = _run("detect", "--input", str(src), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,is_anomaly" and len(lines) == 2001
    flagged = [
        i for i, line in enumerate(lines[1:]) if line.endswith(",1") or line.endswith(",True")
    ]
    assert any(1500 <= i <= 1510 for i in flagged)  # the shift, within 10 points
    assert len([i for i in flagged if i < 1500]) <= 3  # few false alarms on the noise before it
    assert all(0.0 <= float(line.split(",")[2]) <= 1.0 for line in lines[1:])


def test_detect_names_the_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:01:00,oops\n")
    proc = _run("detect", "--input", str(src), "--output", str(tmp_path / "o.csv"))
    assert proc.returncode == 2
    assert str(src) in proc.stderr and "3" in proc.stderr
