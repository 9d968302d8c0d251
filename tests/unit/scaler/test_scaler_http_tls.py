"""The scaler's HTTP endpoint, its Prometheus metrics, TLS and mTLS, the example
ScaledObjects and the stub generation: real servers on loopback, certificates made at test
time."""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from aiops.scaler import (
    ScalerClient,
)
from aiops.scaler.proto import PROTO, generate_stubs, stubs_are_fresh
from support.paths import REPO_ROOT
from support.scaler_support import (
    CART,
    Clock,
    G,
    client,
    http_get,
    make_fresh_store,
    rpc_error,
    scrape,
    serve,
)


@pytest.fixture
def fresh_store(tmp_path: Path) -> str:
    """cart/request_rate from the run at G: 100, 110, 120, ... every 5 minutes for 6 hours."""
    return make_fresh_store(tmp_path)


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
            "age_seconds": 360.0,  # since the newest observed point, G - 1m
            "observed_until": "2026-11-01T11:59:00Z",
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
        assert metrics[("aiops_scaler_prediction_age_seconds", cart)] == 1860
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
    folder = REPO_ROOT / "include" / "keda"
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
