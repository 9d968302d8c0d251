"""A forecast is as old as the data it was made from (issue 21): the scaler measures age from
the newest observed point behind a prediction row, not from the run that stored it, and
falls back when that data is older than max_age. Real gRPC and HTTP servers on loopback over
a SQLite store, as in test_scaler.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from support.scaler_support import (
    CART,
    Clock,
    G,
    client,
    forecast_rows,
    http_get,
    make_store,
    scrape,
    serve,
)

SILENCE = timedelta(hours=19, minutes=42)  # the series had been silent this long at G


def _rows_from_old_data(generated_at, silent_for):
    """A run at ``generated_at`` that forecast from a series whose newest point is
    ``silent_for`` older: what the hourly run stored before it refused stale inputs."""
    rows = forecast_rows("cart", "request_rate", generated_at, [100.0 + 10 * k for k in range(73)])
    for row in rows:
        row["observed_at"] = generated_at - silent_for
    return rows


def test_a_forecast_from_data_hours_old_is_stale_with_its_true_age(tmp_path: Path) -> None:
    url = make_store(tmp_path, _rows_from_old_data(G, SILENCE))
    now = G + timedelta(minutes=5)
    with serve(url, Clock(now)) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 95.0  # the observed load, not the forecast's 120
        _, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart")
        doc = json.loads(body)
        assert (doc["source"], doc["stale"]) == ("observed", True)
        assert doc["age_seconds"] == (SILENCE + timedelta(minutes=5)).total_seconds()
        assert doc["observed_until"] == "2026-10-31T16:18:00Z"
        assert doc["generated_at"] == "2026-11-01T12:00:00Z"
        assert "data that ended" in doc["reason"]
        metrics = scrape(scaler)
        cart = (("metric", "request_rate"), ("service", "cart"))
        assert metrics[("aiops_scaler_prediction_stale", cart)] == 1
        assert metrics[("aiops_scaler_prediction_age_seconds", cart)] == doc["age_seconds"]


def test_a_fresh_run_after_the_silence_serves_its_forecast_again(tmp_path: Path) -> None:
    older = _rows_from_old_data(G - timedelta(hours=1), SILENCE)
    fresh = forecast_rows("cart", "request_rate", G, [200.0] * 73)  # observed at G - 1m
    url = make_store(tmp_path, older, fresh)
    with serve(url, Clock(G + timedelta(minutes=5))) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 200.0
        _, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart")
        doc = json.loads(body)
        assert (doc["source"], doc["stale"], doc["age_seconds"]) == ("prediction", False, 360.0)


def test_data_just_within_max_age_is_served_and_just_beyond_falls_back(tmp_path: Path) -> None:
    url = make_store(tmp_path, _rows_from_old_data(G, timedelta(minutes=90)))
    clock = Clock(G + timedelta(minutes=30))  # data age exactly 2h: max_age
    with serve(url, clock) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 170.0  # the forecast at G + 35m (lead 5m)
        clock.now = G + timedelta(minutes=31)  # 2h 01m
        assert c.metrics(CART) == 95.0
