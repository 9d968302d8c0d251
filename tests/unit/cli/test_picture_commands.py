"""`aiops forecast show SERVICE SIGNAL --png` and `aiops incidents show ID --png`: the stored
forecast and an incident's chain in words and as a picture, from the store alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.cli.main import main
from aiops.store import Store
from support.page_store import INCIDENT, LAST_RUN, fill

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'aiops.db'}"
    with Store.open(url) as store:
        fill(store)
    return url


def test_forecast_show_says_where_the_band_meets_the_threshold_and_draws_it(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "payment.png"
    args = ["forecast", "show", "payment", "latency_p95", "--store", store_url, "--png", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"payment latency_p95: forecast made at {LAST_RUN:%Y-%m-%d %H:%M} UTC" in text
    assert "last observed" in text and "forecast to" in text and "threshold" in text
    assert out.read_bytes()[:8] == PNG
    svg = tmp_path / "payment.svg"
    assert main([*args[:-1], str(svg)]) == 0 and svg.read_text().lstrip().startswith("<?xml")


def test_forecast_show_at_an_earlier_time_reads_that_runs_forecast(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    at = "2026-10-30T06:00:00+00:00"
    assert main(["forecast", "show", "cart", "request_rate", "--store", store_url, "--at", at]) == 0
    assert "forecast made at 2026-10-30 06:00 UTC" in capsys.readouterr().out


def test_forecast_show_names_what_it_could_not_find(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["forecast", "show", "payment", "memory", "--store", store_url]) == 2
    assert "no forecast of payment memory" in capsys.readouterr().err
    assert main(["forecast", "show", "nope", "latency_p95", "--store", store_url]) == 2
    assert "nope" in capsys.readouterr().err


def test_incidents_show_draws_the_chain(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "chain.png"
    assert main(["incidents", "show", INCIDENT, "--store", store_url, "--png", str(out)]) == 0
    assert f"chain drawn to {out}" in capsys.readouterr().out
    assert out.read_bytes()[:8] == PNG
    bad = tmp_path / "chain.gif"
    assert main(["incidents", "show", INCIDENT, "--store", store_url, "--png", str(bad)]) == 2
    assert "chain.gif" in capsys.readouterr().err and not bad.exists()
