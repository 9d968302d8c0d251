"""`aiops rca --traces` on a fault only the callers see: a network delay between cart and redis.

The fixture is built here. Metrics: front -> cart -> redis, minute-step latency p95 and
request rate with seeded noise; from 03:55 cart's and front's latency rise (they wait for
redis), redis's own latency stays flat (its handler takes the usual time: the delay is on the
wire). Traces: a Jaeger export taken around the incident, as real ones are: ten requests a
minute from 03:20 to 03:39 and from 03:52 to 03:59, nothing in between. From 03:55 cart's
client span to redis is 8 ms longer; redis's server span is unchanged.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from aiops.cli.main import main
from support.trace_builder import TraceBuilder, envelope, tag

START = datetime(2022, 8, 22, 1, 0, tzinfo=UTC)
AT = datetime(2022, 8, 22, 3, 55, tzinfo=UTC)
MINUTES = 210
#: service -> (usual latency p95 in s, rise from AT on, in multiples of the usual)
LATENCY = {"redis": (0.002, 0.0), "cart": (0.030, 0.4), "front": (0.120, 0.12)}
TRACED = [*range(20, 40), *range(52, 60)]  # minutes after 03:00 with traces
DELAY_MS = 8.0


def _write_metrics(path: Path) -> None:
    rng = np.random.default_rng(7)
    lines = ["timestamp,service,signal,value"]
    for m in range(MINUTES):
        t = START + timedelta(minutes=m)
        stamp = f"{t:%Y-%m-%dT%H:%M:%SZ}"
        for service, (usual, rise) in LATENCY.items():
            value = usual * (1 + 0.05 * rng.standard_normal() + (rise if t >= AT else 0.0))
            rate = 40 * (1 + 0.05 * rng.standard_normal())
            lines += [f"{stamp},{service},latency_p95,{value:.6f}",
                      f"{stamp},{service},request_rate,{rate:.3f}"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_traces(path: Path) -> None:
    rng = np.random.default_rng(11)
    traces = []
    for minute in TRACED:
        t = datetime(2022, 8, 22, 3, minute, tzinfo=UTC)
        for i in range(10):
            start_us = round(t.timestamp() * 1e6) + i * 5_000_000
            trace = TraceBuilder(f"{minute:04d}{i:028x}", start_us=start_us)
            root = trace.span("front", "GET /cart", 0, 80, kind="server")
            cart = trace.call(root, "front", "cart", "GET /cart", 5, 50)
            server_ms = 1.5 * rng.lognormal(0.0, 0.1)
            wire_ms = 0.5 * rng.lognormal(0.0, 0.1) + (DELAY_MS if t >= AT else 0.0)
            client = trace.span("cart", "HGETALL", 10, server_ms + wire_ms, cart, kind="client",
                                tags=[tag("peer.service", "redis")])  # fmt: skip
            trace.span("redis", "HGETALL", 10 + wire_ms / 2, server_ms, client, kind="server")
            traces.append(trace.to_json())
    path.write_text(json.dumps(envelope(traces)), encoding="utf-8")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rca-traces")
    paths = {"metrics": root / "metrics.csv", "traces": root / "traces.json"}
    _write_metrics(paths["metrics"])
    _write_traces(paths["traces"])
    return paths


def _rca_json(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rca", *args, "--at", "2022-08-22T03:55Z", "--json"]) == 0
    return json.loads(out.getvalue())


def test_a_network_delay_only_callers_see_names_the_callee(exports) -> None:
    doc = _rca_json("--metrics", str(exports["metrics"]), "--traces", str(exports["traces"]))
    ranked = [c["service"] for c in doc["ranking"]["candidates"]]
    assert ranked[0] == "redis", ranked
    redis = [e for e in doc["events"] if e["service"] == "redis"]
    assert redis and {e["signal"] for e in redis} <= {"callers_latency_p50", "callers_latency_p95"}
    assert all(e["signal_kind"] == "latency" for e in redis)
    assert any("as cart sees its calls to redis" in e["explanation"] for e in redis)
    assert doc["unscored_edges"] == {}


def test_without_the_traces_the_callee_has_no_event_and_cannot_be_named(exports) -> None:
    doc = _rca_json("--metrics", str(exports["metrics"]))
    assert "redis" not in {e["service"] for e in doc["events"]}
    assert doc["ranking"]["candidates"][0]["service"] != "redis"


def test_edges_with_too_few_traced_minutes_outside_the_window_are_listed(
    exports, tmp_path: Path
) -> None:
    short = tmp_path / "short.json"
    doc = json.loads(exports["traces"].read_text(encoding="utf-8"))
    keep = {f"{m:04d}" for m in range(35, 60)}  # 5 minutes before the window, then the window
    doc["data"] = [t for t in doc["data"] if t["traceID"][:4] in keep]
    short.write_text(json.dumps(doc), encoding="utf-8")
    result = _rca_json("--metrics", str(exports["metrics"]), "--traces", str(short))
    assert "cart->redis:latency_p95" in result["unscored_edges"]
    assert "redis" not in {e["service"] for e in result["events"]}
