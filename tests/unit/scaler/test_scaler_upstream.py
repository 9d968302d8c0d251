"""KEDA's own protos against `aiops scaler serve` running as a real process.

KEDA is the client that matters, so a client generated from KEDA's reference protos (main,
with StreamMetricSpec, and the v2.20.2 release, without it) calls every RPC of the server
the CLI starts. The project's stubs and KEDA's define the same protobuf symbols and cannot
share a process, so that client runs in a subprocess: this file, run as a script.

The server runs with ``--now`` on forecasts written for that time; every target time holds
the same value, so answers do not depend on how long the process has been up.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.catalogs import catalog_yaml
from support.paths import REPO_ROOT, SHARED_DATA

KEDA_PROTOS = SHARED_DATA / "keda"
AIOPS = Path(sys.executable).with_name("aiops")
G = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LOAD = 123.0
CATALOG_YAML = catalog_yaml(
    """\
  cart:
    owner: acme/cart
    team: commerce
    scaling: {capacity_per_replica: 50, min_replicas: 1, max_replicas: 10, lead_time: 5m}
"""
)
# What KEDA sends: the trigger's whole metadata, its own keys included.
METADATA = {"scalerAddress": "aiops-scaler.aiops:9090", "service": "cart", "activationValue": "5"}


@dataclass(frozen=True)
class CliServer:
    process: subprocess.Popen[str]
    target: str
    http_url: str
    log: list[str]


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[CliServer]:
    """`aiops scaler serve` on free loopback ports, its clock at G + 5 minutes."""
    from aiops.store import Store

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG_YAML)
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    rows = [
        {
            "service": "cart",
            "metric": "request_rate",
            "target_time": G + k * timedelta(minutes=5),
            "generated_at": G,
            "value": LOAD,
            "scaling_value": LOAD,
            "observed": 100.0,
            "observed_at": G - timedelta(minutes=1),
            "model": "test",
            "model_version": "v1",
        }
        for k in range(73)
    ]
    with Store.open(url) as store:
        store.upsert("predictions", rows, newer="generated_at")
    command = [
        str(AIOPS),
        "scaler",
        "serve",
        "--store-url",
        url,
        "--catalog",
        str(catalog),
        "--port",
        "0",
        "--http-port",
        "0",
        "--now",
        (G + timedelta(minutes=5)).isoformat(),
        "--stream-interval",
        "0.1",
    ]
    env = os.environ | {"AIOPS_HOME": str(tmp_path)}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    listening = re.compile(r"gRPC listening on (\S+) \(plaintext\), HTTP (\S+);")
    match = None
    try:
        while match is None:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("aiops scaler serve did not report its address:\n" + "".join(log))
            match = listening.search(line)
        yield CliServer(process, match.group(1), match.group(2), log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def upstream_stubs(proto: Path, out: Path) -> Path:
    """Python stubs generated from one of KEDA's protos, in a folder of their own."""
    from grpc_tools import protoc

    if not proto.is_file():
        pytest.skip(f"KEDA reference protos not found at {proto.parent}")
    out.mkdir(parents=True)
    shutil.copyfile(proto, out / "externalscaler.proto")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={out}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(out / "externalscaler.proto"),
        ]
    )
    assert code == 0, f"protoc failed on {proto}"
    return out


def run_upstream_client(stubs: Path, target: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, str(stubs), target, json.dumps(METADATA)],
        # run as a script, it imports the test helpers as the test run does
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
            ),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("proto_file", "has_stream_metric_spec"),
    [("externalscaler.proto", True), ("externalscaler.v2.20.2.proto", False)],
    ids=["keda-main", "keda-v2.20.2"],
)
def test_a_client_from_kedas_protos_calls_every_rpc_of_the_cli_server(
    cli_server: CliServer, tmp_path: Path, proto_file: str, has_stream_metric_spec: bool
) -> None:
    stubs = upstream_stubs(KEDA_PROTOS / proto_file, tmp_path / "keda_stubs")
    result = run_upstream_client(stubs, cli_server.target)
    assert result["rpcs"] == sorted(
        ["GetMetricSpec", "GetMetrics", "IsActive", "StreamIsActive"]
        + (["StreamMetricSpec"] if has_stream_metric_spec else [])
    )
    spec = [["aiops-cart-request-rate", 50, 50.0]]
    assert result["GetMetricSpec"] == spec
    # KEDA sends the metric name without its sN- prefix; the answer carries it back
    assert result["GetMetrics"] == [["aiops-cart-request-rate", 123, LOAD]]
    assert result["IsActive"] is True
    assert result["StreamIsActive"] is True
    if has_stream_metric_spec:
        assert result["StreamMetricSpec"] == spec
    assert result["error"] == [
        "INVALID_ARGUMENT",
        "scalerMetadata.service: unknown service 'serach' (known: cart)",
    ]
    assert result["health"] == {"": "SERVING", "externalscaler.ExternalScaler": "SERVING"}


def test_the_cli_server_answers_http_and_stops_cleanly_on_sigterm(cli_server: CliServer) -> None:
    with urllib.request.urlopen(f"{cli_server.http_url}/api/v1/scaling/cart", timeout=10) as r:
        doc = json.loads(r.read())
    assert (doc["value"], doc["source"], doc["desired_replicas"]) == (LOAD, "prediction", 3)
    with urllib.request.urlopen(f"{cli_server.http_url}/metrics", timeout=10) as r:
        assert b'aiops_scaler_http_requests_total{endpoint="scaling",status="200"} 1.0' in r.read()
    cli_server.process.send_signal(signal.SIGTERM)
    assert cli_server.process.wait(timeout=30) == 0
    assert any("scaler: stopped" in line for line in cli_server.log)


def test_the_cli_refuses_bad_settings_with_exit_code_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(AIOPS), "scaler", "serve", "--max-age", "soon", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"AIOPS_HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "max_age: expected a duration such as 300ms, 1.5s, 5m or 1h, got 'soon'" in proc.stderr


# -- the subprocess side: a KEDA-proto client ------------------------------------------------


def upstream_client_main(stubs: str, target: str, metadata_json: str) -> int:
    """Call every RPC the stubs define, print what came back as JSON."""
    sys.path.insert(0, stubs)
    import externalscaler_pb2 as pb2  # generated at test time
    import externalscaler_pb2_grpc as pb2_grpc
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    metadata = json.loads(metadata_json)
    ref = pb2.ScaledObjectRef(name="cart", namespace="shop", scalerMetadata=metadata)
    method_names = pb2.DESCRIPTOR.services_by_name["ExternalScaler"].methods_by_name
    out: dict[str, Any] = {"rpcs": sorted(method_names)}
    with grpc.insecure_channel(target) as channel:
        stub = pb2_grpc.ExternalScalerStub(channel)
        spec = stub.GetMetricSpec(ref, timeout=10)
        out["GetMetricSpec"] = [
            [s.metricName, s.targetSize, s.targetSizeFloat] for s in spec.metricSpecs
        ]
        request = pb2.GetMetricsRequest(
            scaledObjectRef=ref, metricName=spec.metricSpecs[0].metricName
        )
        values = stub.GetMetrics(request, timeout=10)
        out["GetMetrics"] = [
            [v.metricName, v.metricValue, v.metricValueFloat] for v in values.metricValues
        ]
        out["IsActive"] = stub.IsActive(ref, timeout=10).result
        stream = stub.StreamIsActive(ref, timeout=30)
        out["StreamIsActive"] = next(stream).result
        stream.cancel()
        if "StreamMetricSpec" in method_names:
            stream = stub.StreamMetricSpec(ref, timeout=30)
            out["StreamMetricSpec"] = [
                [s.metricName, s.targetSize, s.targetSizeFloat] for s in next(stream).metricSpecs
            ]
            stream.cancel()
        bad = pb2.ScaledObjectRef(name="x", scalerMetadata=metadata | {"service": "serach"})
        try:
            stub.GetMetrics(pb2.GetMetricsRequest(scaledObjectRef=bad), timeout=10)
            out["error"] = None
        except grpc.RpcError as exc:
            out["error"] = [exc.code().name, exc.details()]
        health = health_pb2_grpc.HealthStub(channel)
        out["health"] = {
            name: health_pb2.HealthCheckResponse.ServingStatus.Name(
                health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
            )
            for name in ("", "externalscaler.ExternalScaler")
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(upstream_client_main(*sys.argv[1:]))
