"""`aiops predictions`, `aiops alerts` and `aiops runs` as users run them, on a store the real
pipeline filled: forecasters trained on ten days of a service, one hourly prediction run
(its predictions, a predicted memory breach, and the frames it quarantined for signals the
file lacks), and the run's summary. Every read-only command refuses a store that does not
exist instead of creating it empty."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import parse_catalog
from aiops.cli.main import main
from aiops.model_registry import ModelRegistry
from aiops.pipeline_runs.summary import store_run_summary, summary_line
from aiops.predictive.pipeline import predict_services, train_forecasts
from aiops.sources.frame_source import SignalsFileSource
from aiops.store import Store
from aiops.units import format_duration, format_value
from support.catalogs import catalog_yaml

MIB = 2**20
START = datetime(2026, 10, 1, tzinfo=UTC)
NIGHT = START + timedelta(days=9)  # forecasters trained on the nine days to 10-10
ORIGIN = NIGHT + timedelta(days=1)  # the hourly run [23:00, 00:00) forecasts from 10-11
# memory follows a daily wave (trough at 18:00, peak at 06:00): from midnight, yesterday's
# shape says it rises through 560 MiB around 02:28
THRESHOLD = 560 * MIB
CATALOG = catalog_yaml(
    f"""\
  api:
    owner: acme/api
    team: api
    slo: {{memory: {THRESHOLD}}}
    scaling: {{capacity_per_replica: 30, min_replicas: 2, max_replicas: 8, lead_time: 10m}}
"""
)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("readouts")
    index = pd.date_range(START, ORIGIN, freq="60s", inclusive="left")
    hours = (index - START).total_seconds().to_numpy() / 3600
    wave = np.sin(2 * np.pi * (hours % 24) / 24)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "api:request_rate": 60 + 40 * wave + rng.normal(0, 2, len(index)),
            "api:memory": 500 * MIB + 100 * MIB * wave + rng.normal(0, MIB, len(index)),
        },
        index=index.rename("timestamp"),
    )
    path = tmp / "signals.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        frame.to_csv(fh)
    registry = ModelRegistry(tmp / "models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIOPS_FORECAST_CANDIDATES", "seasonal_naive")  # milliseconds to fit
        train_forecasts(frame[frame.index < NIGHT], "api", NIGHT, registry)
    url = f"sqlite:///{tmp / 'aiops.db'}"
    catalog = parse_catalog(CATALOG)
    hour = (ORIGIN - timedelta(hours=1), ORIGIN)
    with Store.open(url) as store:
        predict_services(store, SignalsFileSource(path), catalog, ["api"], *hour, registry)
        store_run_summary(store, "aiops_hourly", *hour)
    return url


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _line(out: str, *words: str) -> str:
    (line,) = [line for line in out.splitlines() if all(w in line for w in words)]
    return line


def test_predictions_show_each_series_next_forecast_as_the_scaler_serves_it(
    store_url: str, capsys
) -> None:
    with Store.open(store_url) as store:
        memory = store.read("predictions", service="api", metric="memory")
        rate = store.read("predictions", service="api", metric="request_rate")
    code, out, err = _run(capsys, "predictions", "--store", store_url)
    assert code == 0, err
    first = memory[0]
    line = _line(out, "api", "memory")
    assert " 00:05 " in line  # the first target after the run's end
    assert format_value("memory", first["value"]) in line
    assert "06:00 (+6h 00m)" in line  # how far the forecast reaches
    assert "2026-10-11 00:00" in line and "seasonal_naive (20261010T000000Z)" in line
    replicas = _line(out, "api", "request rate").split()
    assert str(rate[0]["desired_replicas"]) in replicas
    assert "2 forecasts as the scaler serves them at 2026-10-11 00:00 UTC" in out


def test_predictions_at_a_later_time_start_from_its_first_target(store_url: str, capsys) -> None:
    code, out, _ = _run(capsys, "predictions", "--store", store_url, "--service", "api",
                        "--at", "2026-10-11T01:02Z")  # fmt: skip
    assert code == 0
    assert " 01:05 " in _line(out, "api", "memory")
    code, out, _ = _run(capsys, "predictions", "--store", store_url, "--service", "web")
    assert code == 0 and out.startswith("no forecasts for web")


def test_alerts_show_the_predicted_breach_and_its_time_to_breach(store_url: str, capsys) -> None:
    with Store.open(store_url) as store:
        (alert,) = store.read("predictive_alerts")
    assert alert["severity"] == "warning"  # the mean forecast crosses: a real time to breach
    code, out, err = _run(capsys, "alerts", "--store", store_url, "--service", "api")
    assert code == 0, err
    line = _line(out, "api", "memory", "warning")
    assert format_duration((alert["breach_at"] - ORIGIN).total_seconds()) in line
    assert f"{alert['breach_at']:%H:%M}" in line
    assert format_value("memory", THRESHOLD) in line
    code, out, _ = _run(capsys, "alerts", "--store", store_url, "--at", "2026-10-12")
    assert code == 0 and "no predicted breaches between 2026-10-11 00:00" in out


def test_runs_print_the_summary_line_and_the_quarantined_frames_with_reasons(
    store_url: str, capsys
) -> None:
    with Store.open(store_url) as store:
        (row,) = store.read("pipeline_runs")
    code, out, err = _run(capsys, "runs", "--store", store_url, "--dag", "aiops_hourly")
    assert code == 0, err
    assert out.splitlines()[0] == summary_line(row)
    for signal in ("cpu", "error_ratio", "latency_p95"):  # not in the file: refused
        line = _line(out, f"api/{signal}")
        assert "predict" in line and "fewer than the 30 needed to predict" in line
    code, out, _ = _run(capsys, "runs", "--store", store_url, "--dag", "aiops_nightly")
    assert code == 0 and out.startswith("no run summaries of aiops_nightly")


READ_ONLY = [
    ["predictions"],
    ["alerts"],
    ["runs"],
    ["summary"],
    ["incidents", "list"],
    ["incidents", "show", "inc-1"],
    ["incidents", "volume"],
    ["llm", "usage"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_refuse_a_store_that_does_not_exist(
    command: list[str], tmp_path: Path, capsys
) -> None:
    typo = tmp_path / "typo" / "aiops.db"
    code, out, err = _run(capsys, *command, "--store", f"sqlite:///{typo}")
    assert code == 2 and out == ""
    assert f"error: store sqlite:///{typo}: no such file" in err
    assert not typo.parent.exists()  # nothing was created


def test_an_existing_empty_store_reads_as_empty(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    Store.open(url).close()
    for command, empty in (("predictions", "no forecasts"), ("alerts", "no predicted breaches"),
                           ("runs", "no run summaries")):  # fmt: skip
        code, out, _ = _run(capsys, command, "--store", url)
        assert code == 0 and out.startswith(empty), command
