"""What the DAG tests share: one night of the demo world run through a real Airflow.

Training every service's baselines and forecasters (Prophet included) is the most expensive
step of the suite, and several modules need exactly the same models: the night before the
planted latency regression. It runs once per test run; each module works on a copy of its
models and store, so no test sees another's writes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from support.airflow_runs import dags_test


@dataclass(frozen=True)
class TrainedNight:
    env: dict[str, str]  # the Airflow environment the night ran with (files as sources)
    folder: Path  # holds models/, results.db and nightly.log
    regression_start: datetime  # when the planted latency regression began
    night: datetime  # the nightly's logical date: its interval ends here

    def copy_to(self, folder: Path) -> dict[str, str]:
        """The environment pointed at a copy of the night's models and store in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.folder / "models", folder / "models")
        shutil.copy(self.folder / "results.db", folder / "results.db")
        return {**self.env, "AIOPS_MODELS": str(folder / "models"),
                "AIOPS_STORE_URL": f"sqlite:///{folder / 'results.db'}"}  # fmt: skip


@pytest.fixture(scope="session")
def trained_night(airflow_home, demo_world, tmp_path_factory) -> TrainedNight:
    """The whole nightly (training, traces, logs, incidents, narratives, filing into the
    dry-run folder) for the night whose interval ends at the regression's midnight."""
    world_dir, manifest = demo_world
    folder = tmp_path_factory.mktemp("night")
    env = {
        **airflow_home,
        "AIOPS_METRICS_FILE": str(world_dir / "signals.csv.gz"),
        "AIOPS_TRACES_DIR": str(world_dir / "traces"),
        "AIOPS_LOGS_DIR": str(world_dir / "logs"),
        "AIOPS_STORE_URL": f"sqlite:///{folder / 'results.db'}",
        "AIOPS_MODELS": str(folder / "models"),
        "AIOPS_RETRY_DELAY_SECONDS": "1",
    }
    regression = next(i for i in manifest["incidents"] if i["kind"] == "latency_regression")
    began = datetime.fromisoformat(regression["start"])
    night = began.replace(hour=0, minute=0)
    dags_test(env, "aiops_nightly", night, folder / "nightly.log")
    return TrainedNight(env, folder, began, night)
