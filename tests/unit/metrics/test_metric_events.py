"""Scores become events people can act on: one per sustained deviation, readable, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.metrics.events import EventConfig, confidence, events_for_series, no_data_event
from aiops.units import format_value

START = datetime(2026, 10, 27, 13, tzinfo=UTC)  # a Tuesday
STEP = timedelta(minutes=1)


def _run(z_values, observed=None, **kw):
    index = pd.date_range(START, periods=len(z_values), freq="1min")
    z = pd.Series(z_values, index=index, dtype="float64")
    obs = pd.Series(
        observed if observed is not None else np.full(len(z_values), 0.412), index=index
    )
    low = pd.Series(0.180, index=index)
    high = pd.Series(0.240, index=index)
    return events_for_series(
        "catalog",
        "latency_p95",
        z,
        obs,
        low,
        high,
        step=STEP,
        detector="seasonal",
        model_version="20261026T000000Z",
        bucket_label=lambda ts: f"{ts:%a %H:00}",
        **kw,
    )


def test_one_sustained_deviation_is_one_event_not_sixty() -> None:
    z = np.zeros(120)
    z[30:90] = 5.0
    z[50] = 2.0  # a dip inside does not split it
    (event,) = _run(z)
    assert event["start"] == START + 30 * STEP and event["end"] == START + 90 * STEP
    assert event["points"] == 59 and event["direction"] == "above"


def test_explanation_reads_like_a_sentence_with_units() -> None:
    z = np.zeros(60)
    z[10:20] = 4.1
    (event,) = _run(z)
    assert event["explanation"].startswith(
        "latency p95 412 ms vs expected 180-240 ms for Tue 13:00, 4.1 robust sigma above"
    )


def test_blips_are_dropped_and_far_apart_runs_are_separate_events() -> None:
    z = np.zeros(200)
    z[10:12] = 9.0  # 2 points: a blip
    z[40:50] = -6.0
    z[100:110] = 6.0  # 50 normal steps later: a second event
    events = _run(z)
    assert [(e["start"], e["direction"]) for e in events] == [
        (START + 40 * STEP, "below"),
        (START + 100 * STEP, "above"),
    ]


def test_severity_and_confidence_grow_with_strength_and_duration() -> None:
    cfg = EventConfig()
    assert confidence(4.0, 3, cfg) < confidence(6.0, 3, cfg) < confidence(6.0, 30, cfg) <= 1.0
    assert confidence(4.0, 3, cfg) >= 0.0
    z = np.zeros(60)
    z[5:15] = 12.0
    assert _run(z)[0]["severity"] == "critical"
    z[5:15] = 5.0
    assert _run(z)[0]["severity"] == "warning"


def test_an_event_open_at_the_window_start_keeps_its_original_start() -> None:
    z = np.zeros(60)
    z[0:30] = 6.0
    earlier = START - timedelta(hours=2)
    (event,) = _run(z, continue_from=earlier)
    assert event["start"] == earlier


def test_nan_scores_are_not_anomalies() -> None:
    assert _run(np.full(60, np.nan)) == []


def test_no_data_is_an_event() -> None:
    event = no_data_event(
        "cart",
        "memory",
        START,
        START + timedelta(hours=1),
        "query returned no series",
        detector="seasonal",
        model_version="v",
    )
    assert event["kind"] == "no_data" and event["points"] == 0
    assert "no memory data for cart from 2026-10-27 13:00 to 14:00 UTC" in event["explanation"]


@pytest.mark.parametrize(
    ("signal", "value", "text"),
    [
        ("error_ratio", 0.0812, "8.12%"),
        ("memory", 1.5 * 2**30, "1.50 GiB"),
        ("cpu", 0.5, "0.50 cores"),
    ],
)
def test_values_are_shown_in_their_units(signal: str, value: float, text: str) -> None:
    assert format_value(signal, value) == text
