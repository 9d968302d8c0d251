"""Nightly training and hourly scoring on the demo world: planted incidents become events."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from aiops.baselines.ladder import SHORT_TIER
from aiops.catalog import load_catalog
from aiops.metrics.pipeline import score_service, train_service
from aiops.model_registry import ModelRegistry
from aiops.sources.frame_source import SignalsFileSource


@pytest.fixture(scope="module")
def setup(demo_world, tmp_path_factory):
    world_dir, manifest = demo_world
    source = SignalsFileSource(Path(world_dir) / "signals.csv.gz")
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    incidents = {i["kind"]: i for i in manifest["incidents"]}
    return source, load_catalog(), registry, incidents


def _hour_of(ts: datetime) -> tuple[datetime, datetime]:
    start = ts.replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


@pytest.mark.parametrize(
    ("kind", "service", "signal"),
    [
        ("latency_regression", "catalog", "latency_p95"),
        ("error_spike", "payment", "error_ratio"),
        ("cascading_failure", "redis", "latency_p95"),
    ],
)
def test_planted_incident_is_one_event_starting_within_ten_minutes(setup, kind, service, signal):
    source, catalog, registry, incidents = setup
    began = datetime.fromisoformat(incidents[kind]["start"])
    night = began.replace(hour=0, minute=0)
    trained = train_service(source, catalog, service, night, registry)
    assert trained.model is not None, trained.notes
    start, end = _hour_of(began)
    outcome = score_service(source, catalog, service, start, end, registry, open_events={})
    events = [e for e in outcome.events if e["signal"] == signal and e["kind"] == "anomaly"]
    assert len(events) == 1, [e["explanation"] for e in outcome.events]
    assert abs(events[0]["start"] - began) <= timedelta(minutes=10)
    assert events[0]["direction"] == "above"
    assert outcome.anomalous_points >= events[0]["points"] > 0


def test_rerun_of_an_interval_gives_the_same_events(setup):
    source, catalog, registry, incidents = setup
    began = datetime.fromisoformat(incidents["error_spike"]["start"])
    train_service(source, catalog, "payment", began.replace(hour=0, minute=0), registry)
    start, end = _hour_of(began)
    first = score_service(source, catalog, "payment", start, end, registry, open_events={})
    second = score_service(source, catalog, "payment", start, end, registry, open_events={})
    assert first.events == second.events and first.events


def test_a_quiet_hour_raises_nothing(setup):
    source, catalog, registry, incidents = setup
    began = datetime.fromisoformat(incidents["error_spike"]["start"])
    train_service(source, catalog, "inventory", began.replace(hour=0, minute=0), registry)
    start = began.replace(hour=4, minute=0)
    outcome = score_service(
        source, catalog, "inventory", start, start + timedelta(hours=1), registry, {}
    )
    assert outcome.events == [] and not outcome.quarantined


def test_before_any_nightly_a_service_is_scored_on_its_recent_hours(setup):
    """A new user's first hours: no nightly has run, yet every signal is scored (by the short
    tier fitted on the hours before the interval), and the events say so."""
    source, catalog, registry, _ = setup
    early = datetime.fromisoformat("2026-10-05T10:00:00+00:00")
    outcome = score_service(
        source, catalog, "auth", early, early + timedelta(hours=1), registry, {}
    )
    assert outcome.model is None
    assert outcome.tiers == dict.fromkeys(catalog.signals_of("auth"), SHORT_TIER)
    assert all(e["detector"] == SHORT_TIER for e in outcome.events)
    assert not [e for e in outcome.events if e["kind"] == "no_data"]


def test_backfill_after_newer_models_exist_gives_the_live_runs_events(setup, tmp_path):
    """Live: the night's model scores the hour. Later nights train newer models; a backfill of
    the same hour must still use the model that existed then, and so give the same events."""
    source, catalog, _, incidents = setup
    registry = ModelRegistry(tmp_path / "models")
    began = datetime.fromisoformat(incidents["cascading_failure"]["start"])
    night = began.replace(hour=0, minute=0)
    start, end = _hour_of(began)
    train_service(source, catalog, "redis", night, registry)
    live = score_service(source, catalog, "redis", start, end, registry, open_events={})
    train_service(source, catalog, "redis", night + timedelta(days=1), registry)
    backfill = score_service(source, catalog, "redis", start, end, registry, open_events={})
    assert backfill.model.version == live.model.version == night.strftime("%Y%m%dT%H%M%SZ")
    assert backfill.events == live.events and live.events


def test_the_multivariate_detector_names_what_moved_together(setup):
    source, catalog, registry, incidents = setup
    began = datetime.fromisoformat(incidents["cascading_failure"]["start"])
    train_service(source, catalog, "redis", began.replace(hour=0, minute=0), registry)
    start, end = _hour_of(began)
    outcome = score_service(source, catalog, "redis", start, end, registry, open_events={})
    combined = [e for e in outcome.events if e["signal"] == "*"]
    assert len(combined) == 1 and abs(combined[0]["start"] - began) <= timedelta(minutes=10)
    assert "unusual combination of signals for redis" in combined[0]["explanation"]
    assert (
        "error ratio" in combined[0]["explanation"] or "latency p95" in combined[0]["explanation"]
    )


class _MissingSignal(SignalsFileSource):
    """The real file source with one series gone, as when an exporter stops reporting."""

    def __init__(self, path, service: str, signal: str) -> None:
        super().__init__(path)
        self.missing = (service, signal)

    def fetch(self, service, signal, query, start, end, step):
        if (service, signal) == self.missing:
            return super().fetch("no-such-service", signal, query, start, end, step)
        return super().fetch(service, signal, query, start, end, step)


def test_a_missing_series_is_a_no_data_event_and_the_rest_is_still_scored(setup, demo_world):
    source, catalog, registry, incidents = setup
    began = datetime.fromisoformat(incidents["error_spike"]["start"])
    train_service(source, catalog, "payment", began.replace(hour=0, minute=0), registry)
    gone = _MissingSignal(Path(demo_world[0]) / "signals.csv.gz", "payment", "memory")
    start, end = _hour_of(began)
    outcome = score_service(gone, catalog, "payment", start, end, registry, open_events={})
    no_data = [e for e in outcome.events if e["kind"] == "no_data"]
    assert [(e["signal"], e["start"], e["end"]) for e in no_data] == [("memory", start, end)]
    assert any(e["signal"] == "error_ratio" and e["kind"] == "anomaly" for e in outcome.events)
