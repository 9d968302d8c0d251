"""The KEDA external scaler as KEDA and an operator meet it, in one process.

Real gRPC and HTTP servers on loopback over real SQLite stores under tmp_path; the project's
own client (generated from include/proto, wire-identical to KEDA's) calls them. The clock is
injected, so every expected value follows from the rows written, never from wall time.
test_scaler_upstream.py drives the same server with stubs generated from KEDA's own protos.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from aiops.scaler import (
    ScalerConfig,
    ScalerConfigError,
    ScalerError,
    start_scaler,
)
from support.scaler_support import (
    CART,
    CATALOG,
    Clock,
    G,
    client,
    forecast_rows,
    http_get,
    make_fresh_store,
    make_store,
    rpc_error,
    scrape,
    serve,
)

# -- answers from fresh predictions ------------------------------------------------------


def test_get_metrics_serves_the_forecast_at_now_plus_lead_time(fresh_store: str) -> None:
    clock = Clock(G + timedelta(minutes=5))
    with serve(fresh_store, clock) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 120.0  # target G+10m: the catalog's 5m lead
        assert c.metrics(CART | {"leadTime": "15m"}) == 140.0
        assert c.metrics(CART | {"leadTime": "90s"}) == pytest.approx(113.0)  # interpolated
        clock.now = G + timedelta(minutes=7)
        assert c.metrics(CART) == pytest.approx(124.0)  # between 120 (G+10m) and 130 (G+15m)
        assert c.is_active(CART) is True
        assert c.is_active(CART | {"activationValue": "500"}) is False


def test_get_metric_spec_names_the_metric_and_the_catalog_target(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler, client(scaler) as c:
        assert c.metric_spec(CART) == {"aiops-cart-request-rate": 50.0}
        assert c.metric_spec(CART | {"targetValue": "12.5", "metricName": "cart-load"}) == {
            "cart-load": 12.5
        }
        assert c.metric_spec({"service": "cart", "metric": "cpu", "targetValue": "0.7"}) == {
            "aiops-cart-cpu": 0.7
        }


def test_scaling_value_is_served_when_the_run_wrote_one(tmp_path: Path) -> None:
    values = [100.0] * 73
    url = make_store(
        tmp_path,
        forecast_rows("search", "request_rate", G, values, scaling=[130.0] * 73),
        forecast_rows("cart", "request_rate", G, values, scaling=[None] * 73),
    )
    with serve(url, Clock(G)) as scaler, client(scaler) as c:
        assert c.metrics({"service": "search"}) == 130.0  # forecast: upper
        assert c.metrics(CART) == 100.0  # no scaling_value: the mean


def test_newest_run_wins_and_a_past_clock_never_sees_a_later_run(tmp_path: Path) -> None:
    older = forecast_rows("cart", "request_rate", G - timedelta(hours=1), [500.0] * 73)
    newer = forecast_rows("cart", "request_rate", G, [200.0] * 73)
    url = make_store(tmp_path, older, newer)
    clock = Clock(G + timedelta(minutes=5))
    with serve(url, clock) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 200.0
    clock.now = G - timedelta(minutes=30)  # the demo serving a past interval
    with serve(url, clock) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 500.0  # what the run at G-1h said; the run at G is future


@pytest.fixture
def fresh_store(tmp_path: Path) -> str:
    """cart/request_rate from the run at G: 100, 110, 120, ... every 5 minutes for 6 hours."""
    return make_fresh_store(tmp_path)


# -- fallbacks: never 0 because the pipeline is late -------------------------------------


def test_empty_store_serves_the_safe_value_not_zero(tmp_path: Path) -> None:
    url = make_store(tmp_path)
    with serve(url, Clock(G)) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 10 * 50.0  # catalog max_replicas x target
        assert c.is_active(CART) is True
        _, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart")
        doc = json.loads(body)
        assert (doc["source"], doc["stale"], doc["desired_replicas"]) == ("safe_value", True, 10)
        assert doc["age_seconds"] is None
    with serve(url, Clock(G), safe_replicas={"cart": 3}) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 3 * 50.0


def test_stale_predictions_serve_the_observed_load_and_expose_their_age(
    fresh_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiops.scaler")
    clock = Clock(G + timedelta(hours=3))  # max_age is 2h
    with serve(fresh_store, clock) as scaler, client(scaler) as c:
        for _ in range(3):
            assert c.metrics(CART) == 95.0  # the observed load the run stored
        metrics = scrape(scaler)
        cart = (("metric", "request_rate"), ("service", "cart"))
        # the age of the data: the run at G forecast from a point observed at G - 1m
        assert metrics[("aiops_scaler_prediction_age_seconds", cart)] == 3 * 3600 + 60
        assert metrics[("aiops_scaler_prediction_stale", cart)] == 1
        fallbacks = (("metric", "request_rate"), ("service", "cart"), ("source", "observed"))
        assert metrics[("aiops_scaler_fallbacks_total", fallbacks)] == 3
        _, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart")
        doc = json.loads(body)
        assert (doc["source"], doc["stale"], doc["age_seconds"]) == ("observed", True, 10860)

        clock.now = G + timedelta(minutes=5)  # fresh again, then stale again
        assert c.metrics(CART) == 120.0
        clock.now = G + timedelta(hours=4)
        assert c.metrics(CART) == 95.0
    warnings = [r for r in caplog.records if "no fresh forecast" in r.getMessage()]
    assert len(warnings) == 2  # once per staleness episode, not once per request
    assert "serving observed 95" in warnings[0].getMessage()
    assert any("fresh forecast again" in r.getMessage() for r in caplog.records)


def test_stale_without_an_observed_load_serves_the_safe_value(tmp_path: Path) -> None:
    rows = forecast_rows("cart", "request_rate", G, [100.0] * 73, observed=None)
    url = make_store(tmp_path, rows)
    with serve(url, Clock(G + timedelta(hours=3))) as scaler, client(scaler) as c:
        assert c.metrics(CART) == 500.0


def test_get_metric_spec_answers_while_the_store_is_unreachable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    url = f"sqlite:///{blocker / 'aiops.db'}"
    with serve(url, Clock(G)) as scaler, client(scaler) as c:
        assert c.metric_spec(CART) == {"aiops-cart-request-rate": 50.0}
        assert c.metrics(CART) == 500.0  # no data at all: the safe value
        assert c.health() == "SERVING"
        assert scrape(scaler)[("aiops_scaler_snapshot_refresh_failures_total", ())] >= 1


def test_a_failed_refresh_keeps_the_previous_snapshot(fresh_store: str, tmp_path: Path) -> None:
    clock = Clock(G + timedelta(minutes=5))
    with serve(fresh_store, clock, refresh="1h") as scaler, client(scaler) as c:
        assert c.metrics(CART) == 120.0
        with sqlite3.connect(tmp_path / "aiops.db") as db:
            db.execute("DROP TABLE predictions")
        assert scaler.refresh() is False
        assert c.metrics(CART) == 120.0
        assert scrape(scaler)[("aiops_scaler_snapshot_refresh_failures_total", ())] == 1


# -- bad metadata: INVALID_ARGUMENT naming the key and the value ---------------------------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "scalerMetadata.service: required"),
        (
            {"service": "serach"},
            "scalerMetadata.service: unknown service 'serach' (known: cart, postgres, search)",
        ),
        ({"service": "postgres"}, "scalerMetadata.service: service 'postgres' has no scaling"),
        ({"service": "cart", "metric": "qps"}, "scalerMetadata.metric: unknown metric 'qps'"),
        (
            {"service": "cart", "leadTime": "soon"},
            "scalerMetadata.leadTime: expected a duration such as 90s, 10m or 1h, got 'soon'",
        ),
        ({"service": "cart", "leadTime": "12h"}, "scalerMetadata.leadTime: 12h 00m is beyond"),
        (
            {"service": "cart", "targetValue": "lots"},
            "scalerMetadata.targetValue: expected a number, got 'lots'",
        ),
        ({"service": "cart", "targetValue": "0"}, "scalerMetadata.targetValue: must be > 0"),
        (
            {"service": "cart", "metric": "cpu"},
            "scalerMetadata.targetValue: required for metric 'cpu'",
        ),
        (
            {"service": "cart", "activationValue": "x"},
            "scalerMetadata.activationValue: expected a number, got 'x'",
        ),
    ],
)
def test_bad_metadata_is_invalid_argument_naming_key_and_value(
    fresh_store: str, metadata: dict[str, str], message: str
) -> None:
    with serve(fresh_store, Clock(G), http_port=None) as scaler, client(scaler) as c:
        for call in (c.metrics, c.metric_spec, c.is_active):
            error = rpc_error(call, metadata)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error.details().startswith(message), error.details()


# -- streams, health, shutdown -------------------------------------------------------------


def test_stream_is_active_sends_at_once_then_pushes_on_change(tmp_path: Path) -> None:
    values = [50.0] * 4 + [5.0] * 69  # the load drops below activation from G+20m
    url = make_store(tmp_path, forecast_rows("cart", "request_rate", G, values))
    clock = Clock(G + timedelta(minutes=5))
    metadata = CART | {"activationValue": "10"}
    with serve(url, clock) as scaler, client(scaler) as c:
        stream = c.stream_is_active(metadata, timeout=30)
        assert next(stream) is True
        clock.now = G + timedelta(minutes=20)
        assert next(stream) is False
        stream.close()  # the client cancels; the server frees the stream
        assert c.is_active(metadata) is False


def test_streams_beyond_max_streams_are_refused_and_a_cancelled_one_frees_its_slot(
    fresh_store: str,
) -> None:
    with serve(fresh_store, Clock(G), max_streams=1) as scaler, client(scaler) as c:
        first = c.stream_is_active(CART, timeout=30)
        assert next(first) is True
        error = rpc_error(next, c.stream_is_active(CART, timeout=30))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_streams" in error.details()
        assert c.metrics(CART) == 110.0  # unary calls are not blocked by open streams
        first.close()
        for _ in range(200):  # the server notices the cancellation asynchronously
            try:
                second = c.stream_is_active(CART, timeout=30)
                assert next(second) is True
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                threading.Event().wait(0.05)
        else:
            pytest.fail("the cancelled stream never released its slot")
        second.close()


def test_stream_metric_spec_sends_the_get_metric_spec_answer_at_once(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler, client(scaler) as c:
        stream = c.stream_metric_spec(CART, timeout=30)
        assert next(stream) == c.metric_spec(CART) == {"aiops-cart-request-rate": 50.0}
        stream.close()


def test_stopping_the_server_ends_open_streams_cleanly(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler, client(scaler) as c:
        stream = c.stream_is_active(CART, timeout=30)
        assert next(stream) is True
        scaler.stop()
        assert list(stream) == []  # the stream ended with OK, not an error


def test_health_reports_serving_for_the_server_and_the_scaler_service(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler, client(scaler) as c:
        assert c.health("") == "SERVING"
        assert c.health("externalscaler.ExternalScaler") == "SERVING"


def test_a_taken_port_is_refused_with_the_address(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler:
        taken = ScalerConfig(
            store_url=fresh_store, catalog=CATALOG, port=scaler.grpc_port, http_port=None
        )
        with pytest.raises(ScalerError, match=f"cannot listen for gRPC on {scaler.grpc_target}"):
            start_scaler(taken)


def test_config_errors_name_the_setting() -> None:
    with pytest.raises(ScalerConfigError, match="max_age: expected a duration"):
        ScalerConfig(max_age="soon")
    with pytest.raises(ScalerConfigError, match="safe_replicas.cart: must be an integer >= 1"):
        ScalerConfig(safe_replicas={"cart": 0})
    with pytest.raises(ScalerConfigError, match="tls_cert and tls_key"):
        ScalerConfig(tls_cert=Path("server.pem"))


# -- HTTP: metrics-api JSON, /metrics, /healthz --------------------------------------------
