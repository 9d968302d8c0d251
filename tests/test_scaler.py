"""The KEDA external scaler as KEDA and an operator meet it, in one process.

Real gRPC and HTTP servers on loopback over real SQLite stores under tmp_path; the project's
own client (generated from include/proto, wire-identical to KEDA's) calls them. The clock is
injected, so every expected value follows from the rows written, never from wall time.
test_scaler_upstream.py drives the same server with stubs generated from KEDA's own protos.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sqlite3
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from catalogs import catalog_yaml
from prometheus_client.parser import text_string_to_metric_families

from aiops.catalog import parse_catalog
from aiops.scaler import (
    RunningScaler,
    ScalerClient,
    ScalerConfig,
    ScalerConfigError,
    ScalerError,
    start_scaler,
)
from aiops.scaler.proto import PROTO, generate_stubs, stubs_are_fresh
from aiops.store import Store

CATALOG_YAML = catalog_yaml(
    """\
  cart:
    owner: acme/cart
    team: commerce
    scaling: {capacity_per_replica: 50, min_replicas: 1, max_replicas: 10, lead_time: 5m}
  search:
    owner: acme/search
    team: discovery
    scaling: {capacity_per_replica: 20, min_replicas: 2, max_replicas: 8, forecast: upper}
  postgres:
    owner: acme/data
    team: data
    tier: database
"""
)
CATALOG = parse_catalog(CATALOG_YAML, "test-catalog.yaml")
G = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # end of the data interval of the newest run
STEP = timedelta(minutes=5)
CART = {"service": "cart"}  # the catalog's defaults: request_rate, lead 5m, target 50


class Clock:
    """A settable clock: what the scaler believes now is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def forecast_rows(
    service: str,
    metric: str,
    generated_at: datetime,
    values: list[float],
    *,
    scaling: list[float | None] | None = None,
    observed: float | None = 95.0,
) -> list[dict[str, Any]]:
    """One hourly run's rows: ``values[k]`` is the mean forecast at generated_at + k x 5 min."""
    return [
        {
            "service": service,
            "metric": metric,
            "target_time": generated_at + k * STEP,
            "generated_at": generated_at,
            "value": value,
            "lower": value * 0.9,
            "upper": value * 1.2,
            "scaling_value": None if scaling is None else scaling[k],
            "observed": observed,
            "observed_at": None if observed is None else generated_at - timedelta(minutes=1),
            "model": "test",
            "model_version": "v1",
        }
        for k, value in enumerate(values)
    ]


def make_store(tmp_path: Path, *runs: list[dict[str, Any]]) -> str:
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    with Store.open(url) as store:
        for rows in runs:
            store.upsert("predictions", rows, newer="generated_at")
    return url


@contextmanager
def serve(url: str, clock: Clock, **overrides: Any) -> Iterator[RunningScaler]:
    settings: dict[str, Any] = {
        "store_url": url,
        "catalog": CATALOG,
        "now": clock,
        "http_port": 0,
        "stream_interval": 0.05,
    }
    scaler = start_scaler(ScalerConfig(**(settings | overrides)))
    try:
        yield scaler
    finally:
        scaler.stop(grace=0)


@contextmanager
def client(scaler: RunningScaler, **tls: Any) -> Iterator[ScalerClient]:
    with ScalerClient(scaler.grpc_target, **tls) as c:
        yield c


def rpc_error(call: Any, *args: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    return info.value


def http_get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(scaler: RunningScaler) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The scaler's /metrics as {(sample name, sorted labels): value}."""
    status, text = http_get(f"{scaler.http_url}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def fresh_store(tmp_path: Path) -> str:
    """cart/request_rate from the run at G: 100, 110, 120, ... every 5 minutes for 6 hours."""
    return make_store(
        tmp_path, forecast_rows("cart", "request_rate", G, [100.0 + 10 * k for k in range(73)])
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
        assert metrics[("aiops_scaler_prediction_age_seconds", cart)] == 3 * 3600
        assert metrics[("aiops_scaler_prediction_stale", cart)] == 1
        fallbacks = (("metric", "request_rate"), ("service", "cart"), ("source", "observed"))
        assert metrics[("aiops_scaler_fallbacks_total", fallbacks)] == 3
        _, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart")
        doc = json.loads(body)
        assert (doc["source"], doc["stale"], doc["age_seconds"]) == ("observed", True, 10800)

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


def test_http_scaling_endpoint_answers_like_get_metrics(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G + timedelta(minutes=5))) as scaler:
        status, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart?leadTime=15m")
        assert status == 200
        doc = json.loads(body)
        assert doc == doc | {
            "service": "cart",
            "metric": "request_rate",
            "metric_name": "aiops-cart-request-rate",
            "value": 140.0,
            "target": 50.0,
            "desired_replicas": 3,
            "source": "prediction",
            "stale": False,
            "age_seconds": 300.0,
            "target_time": "2026-11-01T12:20:00Z",
            "generated_at": "2026-11-01T12:00:00Z",
        }


def test_http_errors_name_the_key_and_value(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G)) as scaler:
        status, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart?leadTime=soon")
        assert status == 400
        doc = json.loads(body)
        assert (doc["key"], doc["value"]) == ("leadTime", "soon")
        assert doc["error"].startswith("query.leadTime: expected a duration")
        status, body = http_get(f"{scaler.http_url}/api/v1/scaling/serach")
        assert status == 404
        assert "unknown service 'serach'" in json.loads(body)["error"]


def test_prometheus_metrics_count_requests_by_rpc_and_code(fresh_store: str) -> None:
    with serve(fresh_store, Clock(G + timedelta(minutes=30))) as scaler, client(scaler) as c:
        c.metrics(CART)
        c.metrics(CART)
        rpc_error(c.metrics, {"service": "serach"})
        metrics = scrape(scaler)
        ok = (("code", "OK"), ("rpc", "GetMetrics"))
        bad = (("code", "INVALID_ARGUMENT"), ("rpc", "GetMetrics"))
        assert metrics[("aiops_scaler_requests_total", ok)] == 2
        assert metrics[("aiops_scaler_requests_total", bad)] == 1
        count = ("aiops_scaler_request_duration_seconds_count", (("rpc", "GetMetrics"),))
        assert metrics[count] == 3
        cart = (("metric", "request_rate"), ("service", "cart"))
        assert metrics[("aiops_scaler_prediction_age_seconds", cart)] == 1800
        assert metrics[("aiops_scaler_prediction_stale", cart)] == 0
        # a scalable service with no predictions at all is reported stale
        search = (("metric", "request_rate"), ("service", "search"))
        assert metrics[("aiops_scaler_prediction_stale", search)] == 1
        assert metrics[("aiops_scaler_snapshot_rows", ())] == 73
        status, body = http_get(f"{scaler.http_url}/healthz")
        assert status == 200 and json.loads(body)["snapshot_rows"] == 73


# -- TLS and mTLS --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from a CA the server does not trust
    rogue_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and client certificates."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("pki")
    start = datetime.now(UTC) - timedelta(days=1)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
        *,
        ca: bool = False,
        server: bool = False,
    ) -> x509.Certificate:
        issuer_name, issuer_key = issuer if issuer else (name(subject), key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        elif not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def write_cert(cert: x509.Certificate, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("aiops test CA", ca_key, None, ca=True)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = issue("rogue CA", rogue_ca_key, None, ca=True)
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("server", "client", "rogue")}
    server = issue("aiops-scaler", keys["server"], (ca.subject, ca_key), server=True)
    keda = issue("keda-operator", keys["client"], (ca.subject, ca_key))
    rogue = issue("keda-operator", keys["rogue"], (rogue_ca.subject, rogue_ca_key))
    return Pki(
        ca=write_cert(ca, folder / "ca.pem"),
        server_cert=write_cert(server, folder / "server.pem"),
        server_key=write_key(keys["server"], folder / "server-key.pem"),
        client_cert=write_cert(keda, folder / "client.pem"),
        client_key=write_key(keys["client"], folder / "client-key.pem"),
        rogue_cert=write_cert(rogue, folder / "rogue.pem"),
        rogue_key=write_key(keys["rogue"], folder / "rogue-key.pem"),
    )


def test_tls_serves_clients_that_trust_the_ca(fresh_store: str, pki: Pki) -> None:
    tls = {"tls_cert": pki.server_cert, "tls_key": pki.server_key}
    with serve(fresh_store, Clock(G + timedelta(minutes=5)), **tls) as scaler:
        with client(scaler, ca_cert=pki.ca) as c:
            assert c.metrics(CART) == 120.0
        with ScalerClient(scaler.grpc_target, timeout=5) as plaintext:
            assert rpc_error(plaintext.metrics, CART).code() == grpc.StatusCode.UNAVAILABLE
        assert scaler.http_url is not None and scaler.http_url.startswith("https://")
        context = ssl.create_default_context(cafile=pki.ca)
        status, body = http_get(f"{scaler.http_url}/api/v1/scaling/cart", context)
        assert status == 200 and json.loads(body)["value"] == 120.0


def test_mtls_refuses_clients_without_a_trusted_certificate(fresh_store: str, pki: Pki) -> None:
    tls = {"tls_cert": pki.server_cert, "tls_key": pki.server_key, "tls_client_ca": pki.ca}
    with serve(fresh_store, Clock(G + timedelta(minutes=5)), **tls) as scaler:
        keda = {"ca_cert": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key}
        with client(scaler, **keda) as c:
            assert c.metrics(CART) == 120.0
            assert c.health() == "SERVING"
        with client(scaler, ca_cert=pki.ca) as no_cert:
            assert rpc_error(no_cert.metrics, CART).code() == grpc.StatusCode.UNAVAILABLE
        rogue = {"ca_cert": pki.ca, "client_cert": pki.rogue_cert, "client_key": pki.rogue_key}
        with client(scaler, **rogue) as c:
            assert rpc_error(c.metrics, CART).code() == grpc.StatusCode.UNAVAILABLE

        context = ssl.create_default_context(cafile=pki.ca)
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            http_get(f"{scaler.http_url}/healthz", context)
        context.load_cert_chain(pki.client_cert, pki.client_key)
        assert http_get(f"{scaler.http_url}/healthz", context)[0] == 200


# -- example manifests --------------------------------------------------------------------


def test_example_scaled_objects_agree_with_the_shipped_catalog() -> None:
    import yaml

    from aiops.catalog import load_catalog

    catalog = load_catalog()
    folder = Path(__file__).resolve().parents[1] / "include" / "keda"
    kinds: set[str] = set()
    authenticated = False
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] != "ScaledObject":
                continue
            spec = doc["spec"]
            for trigger in spec["triggers"]:
                kinds.add(trigger["type"])
                authenticated |= "authenticationRef" in trigger
                metadata = trigger["metadata"]
                if trigger["type"] == "metrics-api":
                    service = metadata["url"].split("/api/v1/scaling/")[1].split("?")[0]
                else:
                    service = metadata["service"]
                scaling = catalog.services[service].scaling
                assert scaling is not None, path.name
                where = f"{path.name}: {service}"
                assert spec["minReplicaCount"] == scaling.min_replicas, where
                assert spec["maxReplicaCount"] == scaling.max_replicas, where
                if trigger["type"] == "metrics-api":
                    assert float(metadata["targetValue"]) == scaling.capacity_per_replica, where
            fallback = spec["fallback"]
            assert fallback["failureThreshold"] >= 1, path.name
            assert spec["minReplicaCount"] <= fallback["replicas"] <= spec["maxReplicaCount"]
            assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"], path.name
    assert kinds == {"external", "external-push", "metrics-api"}
    assert authenticated  # the mTLS example


# -- generated stubs -----------------------------------------------------------------------


def test_stubs_are_generated_with_a_package_relative_import(tmp_path: Path) -> None:
    proto = tmp_path / "externalscaler.proto"
    proto.write_bytes(PROTO.read_bytes())
    out = tmp_path / "generated"
    assert not stubs_are_fresh(proto, out)
    generate_stubs(proto, out)
    assert stubs_are_fresh(proto, out)
    grpc_module = (out / "externalscaler_pb2_grpc.py").read_text()
    assert "from . import externalscaler_pb2 as externalscaler__pb2" in grpc_module
    assert "\nimport externalscaler_pb2" not in grpc_module
    newer = (out / "externalscaler_pb2.py").stat().st_mtime + 10
    os.utime(proto, (newer, newer))  # the .proto was edited after generation
    assert not stubs_are_fresh(proto, out)
