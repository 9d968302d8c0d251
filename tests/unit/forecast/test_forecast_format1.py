"""A forecast set saved before the forecaster registry (format 1: config keys naive,
baseline, prophet; intervals.npz; baseline/; prophet_models.json.gz) still loads and
predicts what it predicted when it was saved, to the last bits a CPU's BLAS kernels may
round differently (relative 1e-12: the fixture was written on another machine, and
Prophet's matrix products sum in an order OpenBLAS picks per CPU): the registry saved the
nightly models of every service, and the hourly run must not need a retrain to read them.

The fixture (data/format1) was written by data/make_format1_fixture.py at commit d9a8e30.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.forecast import ForecastSet

FIXTURE = Path(__file__).resolve().parent / "data" / "format1"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    with np.load(FIXTURE / "history.npz", allow_pickle=False) as saved:
        index = pd.DatetimeIndex(saved["t_ns"].astype("datetime64[ns]")).tz_localize("UTC")
        return pd.DataFrame(saved["values"], index=index, columns=list(saved["keys"]))


def _predictions(fs: ForecastSet, history: pd.DataFrame, expected: dict) -> dict:
    origin = pd.Timestamp(expected["origin"])
    bounds = {k: tuple(v) for k, v in expected["bounds"].items()}
    return {
        label: fs.predict(
            history, origin, bounds=bounds, model=None if label == "choice" else label
        )
        for label in expected["predictions"]
    }


def _assert_identical(predicted: dict, expected: dict) -> None:
    index = pd.DatetimeIndex(expected["index"])
    for label, paths in expected["predictions"].items():
        assert predicted[label].keys() == paths.keys(), label
        for key, columns in paths.items():
            path = predicted[label][key]
            assert path.index.equals(index), (label, key)
            assert list(path.columns) == ["mean", "lower", "upper"], (label, key)
            assert set(columns) == {"mean", "lower", "upper"}, (label, key)
            for column, values in columns.items():
                np.testing.assert_allclose(
                    path[column].to_numpy(), np.array(values), rtol=1e-12, atol=1e-12,
                    err_msg=f"{label} {key} {column}",
                )  # fmt: skip


def test_a_set_saved_before_the_registry_predicts_the_same(expected, history):
    fs = ForecastSet.load(FIXTURE / "forecast_set")
    assert {k: c["model"] for k, c in fs.choices_.items()} == expected["choices"]
    assert set(expected["predictions"]) == {"choice", "seasonal_naive", "baseline", "prophet"}
    _assert_identical(_predictions(fs, history, expected), expected)


def test_a_format1_set_saved_again_by_this_code_still_predicts_the_same(
    expected, history, tmp_path
):
    ForecastSet.load(FIXTURE / "forecast_set").save(tmp_path / "again")
    again = ForecastSet.load(tmp_path / "again")
    _assert_identical(_predictions(again, history, expected), expected)
