"""What the DAG tests share: one night of the demo world run through a real Airflow, and the
order the modules run in.

Training every service's baselines and forecasters (Prophet included) is the most expensive
step of the suite, and several modules need exactly the same models: the night before the
planted latency regression. It runs once per test run (whichever xdist worker needs it
first builds it, the other waits); each module works on a copy of its models and store,
with its worker's own Airflow, so no test sees another's writes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from support.airflow_runs import dags_test
from support.shared import built_once

#: Modules in the order the two xdist workers take them (`--dist loadfile`, no reordering):
#: the longest module that needs the trained night first, then those that need nothing
#: costly, and the other night module last, by which time the night is built.
ORDER = (
    "test_dag_celery.py",
    "test_dag_issues.py",
    "test_dag_traces.py",
    "test_dag_ingest.py",
    "test_log_pipeline_world.py",
    "test_metric_pipeline_world.py",
    "test_world_prometheus.py",
    "test_promserver.py",
    "test_catalog_live.py",
    "test_airflow_page.py",
    "test_compose.py",
    "test_compose_airflow.py",
    "test_compose_runtime.py",
    "test_dag_detection.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return ORDER.index(name) if name in ORDER else len(ORDER)

    items.sort(key=rank)  # stable: the tests of a module keep their order


@dataclass(frozen=True)
class TrainedNight:
    env: dict[str, str]  # this worker's Airflow and the world's files as sources
    folder: Path  # holds models/, results.db and nightly.log: read-only, copy to change
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
    env = {
        **airflow_home,
        "AIOPS_METRICS_FILE": str(world_dir / "signals.csv.gz"),
        "AIOPS_TRACES_DIR": str(world_dir / "traces"),
        "AIOPS_LOGS_DIR": str(world_dir / "logs"),
        "AIOPS_RETRY_DELAY_SECONDS": "1",
    }
    regression = next(i for i in manifest["incidents"] if i["kind"] == "latency_regression")
    began = datetime.fromisoformat(regression["start"])
    night = began.replace(hour=0, minute=0)

    def run_the_night(folder: Path) -> None:
        night_env = {**env, "AIOPS_STORE_URL": f"sqlite:///{folder / 'results.db'}",
                     "AIOPS_MODELS": str(folder / "models")}  # fmt: skip
        (folder / "models").mkdir(parents=True, exist_ok=True)
        dags_test(night_env, "aiops_nightly", night, folder / "nightly.log")

    return TrainedNight(env, built_once(tmp_path_factory, "night", run_the_night), began, night)
