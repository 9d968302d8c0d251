"""Where a local install keeps its Airflow and its models: `aiops airflow-env --home DIR`
sets up a second Airflow on the same DAGs, the models default under $AIOPS_HOME, and a
mistyped $AIOPS_MODELS is an error naming it instead of a night of training into nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.cli.main import main
from aiops.settings import ModelsRootError, models_root
from support.paths import REPO_ROOT


def _exports(capsys, *args: str) -> dict[str, str]:
    assert main(["airflow-env", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


def test_a_second_airflow_home_gets_its_own_database_on_the_same_dags(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    second = _exports(capsys, "--home", "airflow2")  # relative: made absolute
    first = _exports(capsys)
    assert second["AIRFLOW_HOME"] == str(tmp_path / "airflow2")
    assert second["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"sqlite:///{tmp_path / 'airflow2' / 'airflow.db'}"
    )
    assert first["AIRFLOW_HOME"] == str(REPO_ROOT / ".airflow")
    assert (
        second["AIRFLOW__CORE__DAGS_FOLDER"]
        == first["AIRFLOW__CORE__DAGS_FOLDER"]
        == str(REPO_ROOT / "dags")
    )


def test_models_default_to_a_folder_under_aiops_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIOPS_MODELS", raising=False)
    assert models_root() == str(tmp_path / "home" / "models")
    # it exists, so a process that hands the path on (the demo) hands on a real folder
    assert (tmp_path / "home" / "models").is_dir()


def test_an_explicit_models_folder_is_used_as_it_is(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AIOPS_MODELS", str(tmp_path))
    assert models_root() == str(tmp_path)
    monkeypatch.setenv("AIOPS_MODELS", "s3://bucket/models")
    assert models_root() == "s3://bucket/models"  # not checked: written to, it exists


def test_a_mistyped_models_folder_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch
) -> None:
    typo = tmp_path / "modles"
    monkeypatch.setenv("AIOPS_MODELS", str(typo))
    with pytest.raises(ModelsRootError, match=f"AIOPS_MODELS={typo}: {typo} does not exist"):
        models_root()
    assert not typo.exists()  # never created: the next run fails the same way
    typo.write_text("not a folder")
    with pytest.raises(ModelsRootError, match="is not a folder"):
        models_root()
