"""Nightly forecaster training and hourly predictions of one service, end to end through the
real forecasters: a leak with a known linear trend is predicted to breach when it does."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import parse_catalog
from aiops.forecast import ForecastError
from aiops.metrics.pipeline import train_service
from aiops.model_registry import ModelRegistry
from aiops.pictures.model import ForecastPicture, picture_from_json
from aiops.predictive.band_picture import MAX_FORECAST_POINTS
from aiops.predictive.breach import first_crossing
from aiops.predictive.findings import alert_findings
from aiops.predictive.pipeline import predict_service, train_forecasts
from aiops.sources.frame_source import SignalsFileSource
from support.catalogs import catalog_yaml

MIB = 2**20
START = datetime(2026, 10, 1, tzinfo=UTC)
NIGHT = START + timedelta(days=21)  # the nightly training window ends here
SLOPE = 4 * MIB  # bytes per hour
BASE = 100 * MIB
CROSSING = NIGHT + timedelta(hours=13)  # when the (noise-free) line reaches the threshold
THRESHOLD = BASE + SLOPE * (CROSSING - START).total_seconds() / 3600

CATALOG = catalog_yaml(
    f"""\
  api:
    owner: acme/api
    team: api
    slo: {{memory: {int(THRESHOLD)}}}
    scaling: {{capacity_per_replica: 30, min_replicas: 2, max_replicas: 8, lead_time: 10m}}
"""
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """22 days of a service whose memory grows 4 MiB/h and whose traffic cycles daily."""
    tmp = tmp_path_factory.mktemp("predictive")
    index = pd.date_range(START, START + timedelta(days=22), freq="60s", inclusive="left")
    hours = (index - START).total_seconds().to_numpy() / 3600
    rng = np.random.default_rng(3)
    daily = np.sin(2 * np.pi * (hours % 24) / 24)
    frame = pd.DataFrame(
        {
            "api:request_rate": 60 + 40 * daily + rng.normal(0, 2, len(index)),
            "api:memory": BASE + SLOPE * hours + MIB * daily + rng.normal(0, 0.5 * MIB, len(index)),
        },
        index=index.rename("timestamp"),
    )
    path = tmp / "signals.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        frame.to_csv(fh)
    catalog = parse_catalog(CATALOG)
    source = SignalsFileSource(path)
    registry = ModelRegistry(tmp / "models")
    outcome = train_service(source, catalog, "api", NIGHT, registry)
    meta = train_forecasts(outcome.frame, "api", NIGHT, registry)
    return source, catalog, registry, meta


def _predict(trained, origin: datetime):
    source, catalog, registry, _ = trained
    return predict_service(source, catalog, "api", origin - timedelta(hours=1), origin, registry)


def _true_crossing() -> datetime:
    """When the noise-free signal's 5-minute means (what is forecast) reach the threshold."""
    minutes = pd.date_range(
        CROSSING - timedelta(hours=6), CROSSING + timedelta(hours=6), freq="60s"
    )
    hours = (minutes - START).total_seconds().to_numpy() / 3600
    clean = pd.Series(BASE + SLOPE * hours + MIB * np.sin(2 * np.pi * (hours % 24) / 24), minutes)
    means = clean.resample("5min", label="right", closed="left").mean()
    return first_crossing(means.index, means.to_numpy(), THRESHOLD)


def test_a_linear_leak_is_predicted_to_breach_when_the_line_crosses(trained) -> None:
    origin = CROSSING - timedelta(hours=3)
    outcome = _predict(trained, origin)
    (alert,) = outcome.alerts
    truth = _true_crossing()
    assert abs(truth - CROSSING) <= timedelta(minutes=10)  # the daily wiggle is small
    assert alert["severity"] == "warning" and alert["signal"] == "memory"
    assert abs(alert["breach_at"] - truth) <= timedelta(minutes=10)
    assert alert["breach_earliest"] <= truth <= alert["breach_latest"]
    assert alert["generated_at"] == origin
    assert "api memory will reach its limit" in alert["message"]


def test_no_alert_while_the_crossing_is_beyond_the_horizon(trained) -> None:
    outcome = _predict(trained, CROSSING - timedelta(hours=9))
    assert [a for a in outcome.alerts if a["severity"] != "info"] == []
    assert outcome.predictions  # it still forecast


def test_predictions_cover_the_horizon_with_replicas_for_the_scaling_metric(trained) -> None:
    origin = NIGHT + timedelta(hours=6)
    outcome = _predict(trained, origin)
    rate = [r for r in outcome.predictions if r["metric"] == "request_rate"]
    assert [r["target_time"] for r in rate] == [
        origin + timedelta(minutes=5 * i) for i in range(1, 73)
    ]
    assert all(r["generated_at"] == origin for r in rate)
    # t + 10m lead inside the horizon: a replica count; the last two steps have none
    assert [r["desired_replicas"] is None for r in rate[-3:]] == [False, True, True]
    assert all(2 <= r["desired_replicas"] <= 8 for r in rate[:-2])
    assert all(r["lower"] <= r["value"] <= r["upper"] for r in outcome.predictions)
    assert all(
        r["desired_replicas"] is None for r in outcome.predictions if r["metric"] == "memory"
    )
    assert rate[0]["observed_at"] == origin - timedelta(minutes=1)


def test_the_choice_and_scores_are_stored_with_the_model(trained) -> None:
    _, _, registry, meta = trained
    assert set(meta.quality["choices"]) == {"api:request_rate", "api:memory"}
    assert set(meta.quality["choices"].values()) <= {"seasonal_naive", "baseline", "prophet"}
    (stored,) = registry.versions("forecast/api")
    assert stored == meta


def test_rerunning_an_hour_gives_identical_rows(trained) -> None:
    origin = CROSSING - timedelta(hours=3)
    first, second = _predict(trained, origin), _predict(trained, origin)
    assert first.predictions == second.predictions and first.alerts == second.alerts


def test_an_hour_before_any_forecaster_was_trained_says_so(trained) -> None:
    outcome = _predict(trained, NIGHT - timedelta(hours=2))
    assert outcome.predictions == [] and outcome.model is None
    assert "no forecaster trained on data ending by" in outcome.notes[0]


def test_a_fleet_can_leave_prophet_out_of_the_backtest(trained, tmp_path, monkeypatch) -> None:
    """AIOPS_FORECAST_CANDIDATES narrows what each series' backtest chooses from (Prophet
    costs seconds per series); a name that is not a forecaster fails naming the known ones."""
    source, catalog, _, _ = trained
    frame = train_service(source, catalog, "api", NIGHT, ModelRegistry(tmp_path / "b")).frame
    monkeypatch.setenv("AIOPS_FORECAST_CANDIDATES", " seasonal_naive ")
    meta = train_forecasts(frame, "api", NIGHT, ModelRegistry(tmp_path / "models"))
    # baseline wins this frame's backtest when it may compete; here it may not
    assert set(meta.quality["choices"].values()) == {"seasonal_naive"}
    monkeypatch.setenv("AIOPS_FORECAST_CANDIDATES", "profet")
    with pytest.raises(ForecastError, match="profet"):
        train_forecasts(frame, "api", NIGHT, ModelRegistry(tmp_path / "models"))


def test_the_alert_carries_the_last_day_and_the_forecast_it_was_raised_on(trained) -> None:
    origin = CROSSING - timedelta(hours=3)
    outcome = _predict(trained, origin)
    (alert,) = outcome.alerts
    picture = picture_from_json(alert["picture"])
    assert isinstance(picture, ForecastPicture)
    assert (picture.service, picture.signal, picture.now) == ("api", "memory", origin)
    assert picture.threshold == pytest.approx(THRESHOLD)
    times = [t for t, _ in picture.observed]
    assert origin - timedelta(days=1) < times[0] and times[-1] == origin
    assert len(times) == 144  # a day of 10-minute means
    hours = (origin - START).total_seconds() / 3600
    assert picture.observed[-1][1] == pytest.approx(BASE + SLOPE * hours, abs=2 * MIB)
    targets = sorted(r["target_time"] for r in outcome.predictions if r["metric"] == "memory")
    assert picture.forecast[0].time > origin and picture.forecast[-1].time == targets[-1]
    assert len(picture.forecast) <= MAX_FORECAST_POINTS
    assert any(p.mean >= THRESHOLD for p in picture.forecast)  # the crossing is in the picture
    assert all(p.lower <= p.mean <= p.upper for p in picture.forecast)


def test_a_days_alerts_become_one_finding_per_signal_with_the_newest_picture(trained) -> None:
    _, catalog, _, _ = trained
    hours = [CROSSING - timedelta(hours=h) for h in (4, 3)]
    alerts = [a for h in hours for a in _predict(trained, h).alerts]
    assert len(alerts) == 2
    (finding,) = alert_findings(alerts, catalog)
    assert (finding.source, finding.kind, finding.service) == ("predictive", "predicted_breach",
                                                                "api")  # fmt: skip
    assert finding.evidence.picture == picture_from_json(alerts[-1]["picture"])
    assert finding.evidence.numbers["hourly_runs_alerting"] == 2
    assert finding.action == "config_change"  # memory is not the scaling metric
    alone = alert_findings(alerts[:1], catalog)[0]
    assert alone.fingerprint == finding.fingerprint  # tomorrow's alert updates the same issue
    assert alert_findings([{**a, "severity": "info"} for a in alerts], catalog) == []


def test_the_night_files_the_days_alerts_and_a_rerun_replaces_them(trained, tmp_path) -> None:
    from aiops.predictive.findings import record_day
    from aiops.store import Store

    _, catalog, _, _ = trained
    night = CROSSING.replace(hour=0, minute=0)
    alerts = [a for h in (4, 3) for a in _predict(trained, CROSSING - timedelta(hours=h)).alerts]
    with Store.open(f"sqlite:///{tmp_path / 'results.db'}") as store:
        store.upsert("predictive_alerts", alerts)
        day = (night, night + timedelta(days=1))
        assert record_day(store, catalog, *day) == {"alerts": 2, "findings": 1}
        assert record_day(store, catalog, *day) == {"alerts": 2, "findings": 1}
        (row,) = store.read("findings", source="predictive")
        assert row["interval_end"] == day[1] and row["kind"] == "predicted_breach"
        assert row["finding"]["evidence"]["picture"]["type"] == "forecast"
        before = (night - timedelta(days=1), night)  # another day: none of these alerts
        assert record_day(store, catalog, *before) == {"alerts": 0, "findings": 0}
