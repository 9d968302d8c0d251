"""The hourly prediction step never presents a forecast from data that ended hours ago as
current, and one failing service never costs its shard-mates (issue 21).

Forecasters are trained once per module with seasonal naive only (the cheapest candidate);
the signals live in memory behind a SignalSource that, like Prometheus, returns no sample
where a series was silent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import parse_catalog
from aiops.cli.main import main
from aiops.errors import ServicesFailed
from aiops.forecast import ForecastConfig
from aiops.model_registry import ModelRegistry
from aiops.predictive.pipeline import (
    PredictionSettings,
    predict_service,
    predict_services,
    refresh_scaling,
    train_forecasts,
)
from aiops.predictive.plan import PlanError, plan_scaling
from aiops.scaler import ScalerConfig, start_scaler
from aiops.scaler.client import ScalerClient
from aiops.sources.signals import SignalSeries
from aiops.store import Store
from support.catalogs import catalog_yaml
from support.scaler_support import http_get

START = datetime(2026, 10, 1, tzinfo=UTC)
NIGHT = START + timedelta(days=10)  # the forecasters' training data ends here
END = NIGHT + timedelta(days=2)  # the signals' data ends here
SERVICES = ("a", "b", "c")
SETTINGS = PredictionSettings(
    forecast=ForecastConfig(log_signals=("request_rate",), candidates=("seasonal_naive",))
)
CATALOG = parse_catalog(
    catalog_yaml(
        "".join(
            f"""\
  {name}:
    owner: acme/{name}
    team: shop
    scaling: {{capacity_per_replica: 30, min_replicas: 1, max_replicas: 8, lead_time: 5m}}
"""
            for name in SERVICES
        )
    )
)


def _signals() -> pd.DataFrame:
    index = pd.date_range(START, END, freq="60s", inclusive="left", name="timestamp")
    hours = (index - START).total_seconds().to_numpy() / 3600
    daily = np.sin(2 * np.pi * (hours % 24) / 24)
    rng = np.random.default_rng(7)
    columns = {}
    for name in SERVICES:
        columns[f"{name}:request_rate"] = 60 + 40 * daily + rng.normal(0, 2, len(index))
        columns[f"{name}:memory"] = 2e8 + 1e6 * daily + rng.normal(0, 1e5, len(index))
    return pd.DataFrame(columns, index=index)


class MemorySource:
    """The frame's columns as a SignalSource: a NaN is no sample (a silent series returns
    nothing, as Prometheus does); a service in ``broken`` fails like an unreachable server."""

    name = "memory"

    def __init__(self, frame: pd.DataFrame, broken: tuple[str, ...] = ()) -> None:
        self.frame = frame
        self.broken = broken

    def fetch(
        self, service: str, signal: str, query: str, start: datetime, end: datetime, step
    ) -> SignalSeries:
        if service in self.broken:
            raise TimeoutError(f"http://prometheus.test: query for {service}/{signal} timed out")
        column = f"{service}:{signal}"
        if column not in self.frame:
            empty = pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype="float64")
            return SignalSeries(empty, self.name, column)
        window = self.frame.loc[(self.frame.index >= start) & (self.frame.index < end), column]
        return SignalSeries(window.dropna().rename(None), self.name, column)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, ModelRegistry]:
    frame = _signals()
    registry = ModelRegistry(tmp_path_factory.mktemp("freshness") / "models")
    for name in SERVICES:
        history = frame.loc[frame.index < NIGHT, [f"{name}:request_rate", f"{name}:memory"]]
        train_forecasts(history, name, NIGHT, registry, SETTINGS)
    return frame, registry


def _silent(frame: pd.DataFrame, column: str, since: datetime) -> pd.DataFrame:
    quiet = frame.copy()
    quiet.loc[quiet.index >= since, column] = np.nan
    return quiet


# -- freshness ------------------------------------------------------------------------------


def test_a_series_silent_for_ten_hours_gets_no_current_prediction(trained) -> None:
    frame, registry = trained
    origin = END
    source = MemorySource(_silent(frame, "a:request_rate", origin - timedelta(hours=10)))
    outcome = predict_service(
        source, CATALOG, "a", origin - timedelta(hours=1), origin, registry, SETTINGS
    )
    assert outcome.stale_inputs == ["request_rate"]
    assert {r["metric"] for r in outcome.predictions} == {"memory"}  # still fresh
    assert any(
        "a:request_rate: newest observed point 2026-10-12T13:59:00+00:00 is 10h 01m before "
        "the origin 2026-10-13T00:00:00+00:00 (limit 2h 00m)" in note
        for note in outcome.notes
    ), outcome.notes
    # what is stored says how fresh its data was
    assert {r["observed_at"] for r in outcome.predictions} == {origin - timedelta(minutes=1)}


def test_the_scaler_reports_the_true_age_and_falls_back_when_the_series_went_silent(
    trained, tmp_path: Path
) -> None:
    """The hour before the silence stores a forecast; ten hours later the series has been
    silent all along: that run stores nothing for it, and the scaler serves the observed load
    with the age of the data, not a forecast five minutes old."""
    frame, registry = trained
    fresh_origin = END - timedelta(hours=10)
    silent_origin = END
    quiet = _silent(frame, "a:request_rate", fresh_origin)
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    with Store.open(url) as store:
        for origin in (fresh_origin, silent_origin):
            totals = predict_services(
                store,
                MemorySource(quiet),
                CATALOG,
                ["a"],
                origin - timedelta(hours=1),
                origin,
                registry,
                SETTINGS,
            )
        assert totals["stale_inputs"] == 1
        rows = store.read("predictions", service="a", metric="request_rate")
    assert {r["generated_at"] for r in rows} == {fresh_origin}

    now = silent_origin + timedelta(minutes=5)
    config = ScalerConfig(store_url=url, catalog=CATALOG, now=lambda: now, http_port=0)
    scaler = start_scaler(config)
    try:
        status, body = http_get(f"{scaler.http_url}/api/v1/scaling/a")
    finally:
        scaler.stop(grace=0)
    assert status == 200
    doc = json.loads(body)
    data_end = fresh_origin - timedelta(minutes=1)
    assert (doc["source"], doc["stale"]) == ("observed", True)
    assert doc["age_seconds"] == (now - data_end).total_seconds()  # 10h 06m
    assert doc["observed_until"] == data_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["value"] == pytest.approx(float(frame.loc[data_end, "a:request_rate"]))


# -- one failing service never costs its shard-mates ----------------------------------------


def test_a_failing_service_does_not_cost_its_shard_mates(trained, tmp_path: Path) -> None:
    frame, registry = trained
    origin = END
    source = MemorySource(frame, broken=("b",))
    with Store.open(f"sqlite:///{tmp_path / 'aiops.db'}") as store:
        with pytest.raises(ServicesFailed) as info:
            predict_services(
                store,
                source,
                CATALOG,
                list(SERVICES),
                origin - timedelta(hours=1),
                origin,
                registry,
                SETTINGS,
            )
        stored = {r["service"] for r in store.read("predictions", generated_at=origin)}
    assert stored == {"a", "c"}
    assert info.value.step == "predict"
    assert set(info.value.failures) == {"b"}
    assert "b: http://prometheus.test: query for b/request_rate timed out" in str(info.value)
    assert info.value.permanent is False  # a timeout is worth a retry of the shard


# -- the refresh between hourly runs ---------------------------------------------------------


def test_the_refresh_keeps_the_scaler_within_minutes_of_the_newest_load(
    trained, tmp_path: Path
) -> None:
    """The hour's run forecasts from 23:00; at 23:10 the load triples, which no forecast
    saw. The refresh at 23:35 (the stored model, no refit) puts the load observed at 23:34
    under the value the scaler serves at 23:36, a prediction two minutes old; without it the
    scaler serves the hourly run's value, 37 minutes old and a third of the load."""
    frame, registry = trained
    hour = END - timedelta(hours=1)
    ramped = frame.copy()
    ramped.loc[ramped.index >= hour + timedelta(minutes=10), "a:request_rate"] *= 3
    source = MemorySource(ramped)
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    now = hour + timedelta(minutes=36)

    def served() -> dict:
        """What the scaler answers: its HTTP view, with the value KEDA's GetMetrics gets."""
        config = ScalerConfig(store_url=url, catalog=CATALOG, now=lambda: now, http_port=0)
        scaler = start_scaler(config)
        try:
            status, body = http_get(f"{scaler.http_url}/api/v1/scaling/a")
            with ScalerClient(scaler.grpc_target) as keda:
                metric = keda.metrics({"service": "a"})
        finally:
            scaler.stop(grace=0)
        assert status == 200
        doc = json.loads(body)
        assert metric == pytest.approx(doc["value"])
        return doc

    with Store.open(url) as store:
        predict_services(store, source, CATALOG, ["a"], hour - timedelta(hours=1), hour,
                         registry, SETTINGS)  # fmt: skip
    before = served()
    with Store.open(url) as store:
        totals = refresh_scaling(store, source, CATALOG, now - timedelta(minutes=6),
                                 now - timedelta(minutes=1), registry)  # fmt: skip
        alerts = store.read("predictive_alerts")
    after = served()

    newest = float(ramped.loc[now - timedelta(minutes=2), "a:request_rate"])
    assert before["source"] == "prediction" and before["age_seconds"] == 37 * 60
    assert before["value"] < newest / 2
    assert totals["services"] == 3 and totals["predictions"] > 0  # every scaled service
    assert after["source"] == "prediction" and after["age_seconds"] == 2 * 60
    assert after["value"] >= newest
    assert alerts == []  # the refresh raises none; the hourly run does


# -- aiops scaler plan ------------------------------------------------------------------------


def test_the_plan_replays_the_last_day_with_the_stored_forecaster(trained) -> None:
    """A day of a daily-cycle load, replayed with the forecaster the nightly stored: what
    scaling asked for is short of the load less often than reactive scaling, and the
    replica-hours are counted against perfect foresight's."""
    frame, registry = trained
    plan = plan_scaling(MemorySource(frame), CATALOG, registry, "a", END, 1.0)

    assert plan.models == (NIGHT.strftime("%Y%m%dT%H%M%SZ"),)  # the one stored version
    # every minute after the day's first, up to the last sample before END
    assert len(plan.replay.times) == 24 * 60 - 1
    assert min(plan.replay.times) > END - timedelta(days=1)
    totals = plan.totals()
    ours, reactive, perfect = totals["ours"], totals["reactive"], totals["perfect"]
    assert ours["short"] < reactive["short"] / 2
    assert perfect["short"] == 0 and perfect["cost_vs_perfect"] == 1
    assert 1 <= ours["cost_vs_perfect"] < 1.5
    (day,) = plan.days()
    assert day["bins"] == 24 * 60 - 1 and day["ours_short"] == pytest.approx(ours["short"])
    with pytest.raises(PlanError, match="zzz"):
        plan_scaling(MemorySource(frame), CATALOG, registry, "zzz", END, 1.0)


def test_aiops_scaler_plan_prints_the_days_against_reactive(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, registry = trained
    signals = tmp_path / "signals.csv.gz"
    frame.loc[frame.index >= END - timedelta(days=3)].to_csv(signals, index_label="timestamp")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_yaml(
        "  a:\n    owner: acme/a\n    team: shop\n"
        "    scaling: {capacity_per_replica: 30, min_replicas: 1, max_replicas: 8, lead_time: 5m}\n"
    ))  # fmt: skip
    monkeypatch.setenv("AIOPS_METRICS_FILE", str(signals))
    args = ["scaler", "plan", "a", "--days", "1", "--at", END.isoformat(), "--catalog",
            str(catalog), "--models", str(registry.root)]  # fmt: skip

    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("a: request_rate, 30 per replica, 1-8 replicas, lead 300 s")
    assert "2026-10-12" in out and "short ours" in out
    assert "of the time against" in out and "reactive" in out

    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["ours"]["short"] < doc["totals"]["reactive"]["short"]
    assert main(["scaler", "plan", "nope", "--catalog", str(catalog), "--models",
                 str(registry.root)]) == 2  # fmt: skip
    assert "unknown service 'nope'" in capsys.readouterr().err
