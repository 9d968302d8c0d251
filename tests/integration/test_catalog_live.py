"""`aiops catalog discover` and `aiops catalog check --prometheus` against a real Prometheus on
loopback, backfilled with node_exporter hosts, OpenTelemetry HTTP histograms of two services
and `up`: discover writes a catalog that check passes, and check finds the planted mistakes
of a bad catalog on the lines that hold them.

The data ends a few minutes before now, so the window is found the way it is for users: from
the newest `up` sample the server holds, not from a flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.catalog import load_catalog
from aiops.cli.main import main
from aiops.dev.promserver import PrometheusServer, backfill
from support.prometheus_marks import NEEDS_PROMETHEUS

pytestmark = NEEDS_PROMETHEUS

STEP = 60
POINTS = 150  # two and a half hours of history
HOSTS = ("host-a:9100", "host-b:9100")
SERVICES = ("checkout", "cart")
BUCKETS = (("0.05", 0.3), ("0.1", 0.6), ("0.25", 0.85), ("0.5", 0.95), ("1", 0.99), ("+Inf", 1.0))
GIB = 2**30


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, series: dict[str, list[float]], stamps: list[int]) -> list[str]:
    lines = [f"# TYPE {name} {kind}"]
    for labels, values in series.items():
        lines += [f"{name}{labels} {v!r} {t}" for v, t in zip(values, stamps, strict=True)]
    return lines


def write_world(path: Path, end: datetime) -> Path:
    """Node hosts, two HTTP services with a 1% 5xx share, and a batch job only `up` knows."""
    last = int(end.timestamp())
    stamps = [last - STEP * (POINTS - 1 - i) for i in range(POINTS)]
    wobble = [math.sin(i / 7.0) for i in range(POINTS)]
    up = {_labels(job="node", instance=h): [1.0] * POINTS for h in HOSTS}
    up |= {_labels(job=s, instance=f"{s}:8080"): [1.0] * POINTS for s in SERVICES}
    up[_labels(job="batch", instance="batch:9000")] = [1.0] * POINTS
    lines = _family("up", "gauge", up, stamps)
    # a counter whose name does not say so: only its values give it away
    processed = {_labels(job="batch"): [5.0 * i for i in range(POINTS)]}
    lines += _family("batch_jobs_processed", "unknown", processed, stamps)

    cpu = {}
    for host in HOSTS:
        for core in ("0", "1"):
            for mode, per_step in (("idle", 50.0), ("user", 7.0), ("system", 3.0)):
                cpu[_labels(instance=host, job="node", cpu=core, mode=mode)] = [
                    1000 + per_step * i for i in range(POINTS)
                ]
    lines += _family("node_cpu_seconds_total", "unknown", cpu, stamps)
    node = {h: _labels(instance=h, job="node") for h in HOSTS}
    lines += _family("node_memory_MemTotal_bytes", "gauge",
                     {lb: [8.0 * GIB] * POINTS for lb in node.values()}, stamps)  # fmt: skip
    lines += _family("node_memory_MemAvailable_bytes", "gauge",
                     {lb: [(4 + w) * GIB for w in wobble] for lb in node.values()}, stamps)  # fmt: skip
    disk = {_labels(instance=h, job="node", fstype="ext4", mountpoint="/"): [
        100e9 - 1e6 * i + 1e5 * w for i, w in enumerate(wobble)] for h in HOSTS}  # fmt: skip
    lines += _family("node_filesystem_avail_bytes", "gauge", disk, stamps)

    buckets, counts = {}, {}
    for service in SERVICES:
        for code, per_step in (("200", 600.0), ("500", 6.0)):
            own = {"service_name": service, "job": service, "http_response_status_code": code}
            for le, share in BUCKETS:
                buckets[_labels(**own, le=le)] = [per_step * share * i for i in range(POINTS)]
            counts[_labels(**own)] = [per_step * i for i in range(POINTS)]
    metric = "http_server_request_duration_seconds"
    lines += _family(f"{metric}_bucket", "unknown", buckets, stamps)
    lines += _family(f"{metric}_count", "unknown", counts, stamps)
    path.write_text("\n".join(lines) + "\n# EOF\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    root = tmp_path_factory.mktemp("catalog_live")
    # the newest sample a few minutes ago (the only use of the clock: making the data)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    tsdb = backfill(write_world(root / "world.om", end), root / "tsdb")
    with PrometheusServer(tsdb, log_path=root / "prometheus.log") as server:
        yield server.url, end


def test_discover_writes_a_catalog_that_check_passes(prometheus, tmp_path: Path, capsys) -> None:
    url, _ = prometheus
    out = tmp_path / "catalog.yaml"

    assert main(["catalog", "discover", "--prometheus", url, "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "2 service(s): OpenTelemetry HTTP server metrics" in summary
    assert "2 service(s): node_exporter hosts" in summary
    assert "1 service(s): scrape jobs (up)" in summary

    catalog = load_catalog(out)
    assert sorted(catalog.services) == ["batch", "cart", "checkout", "host-a", "host-b"]
    assert list(catalog.signals_of("checkout")) == ["request_rate", "error_ratio", "latency_p95"]
    assert list(catalog.signals_of("host-a")) == ["cpu", "memory", "disk_free"]
    assert catalog.signal("host-a", "cpu").max == 2  # two cores
    assert catalog.signal("host-a", "memory").max == 8 * GIB
    assert catalog.services["checkout"].owner == "change-me/checkout"

    code = main(["catalog", "check", str(out), "--prometheus", url])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith("ok: 13 queries of 5 services each returned one series")


BAD = """\
version: 1
defaults:
  step: 60s
services:
  web:
    owner: acme/web
    team: web
    signals:
      request_rate:
        query: sum(rate(http_server_request_duration_seconds_count[5m])
      memory:
        query: node_memory_MemAvailable_bytes
      cpu:
        query: sum(node_cpu_seconds_total{mode!="idle"})
      latency_p95:
        query: histogram_quantile(0.95, sum by (le) (rate(no_such_metric_bucket[5m])))
      availability:
        query: avg(up)
        unit: ratio
      processed:
        query: sum(batch_jobs_processed)
        unit: count
      disk:
        query: min(node_filesystem_avail_bytes)
        unit: bytes
        max: 1000000000
"""


def test_check_reports_each_planted_mistake_on_its_line(prometheus, tmp_path: Path, capsys) -> None:
    url, end = prometheus
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)

    code = main(["catalog", "check", str(bad), "--prometheus", url])
    lines = capsys.readouterr().out.splitlines()

    assert code == 1
    where = {line.split(": ", 2)[0] + ": " + line.split(": ", 2)[1]: line for line in lines[:-1]}
    key = f"{bad}:%d: services.web.signals.%s"
    syntax = where[key % (10, "request_rate")]
    assert "PromQL rejected by the server: (HTTP 400, bad_data)" in syntax
    assert "parse error" in syntax
    multi = where[key % (12, "memory")]
    assert "returns 2 series, expected one" in multi and 'instance="host-a:9100"' in multi
    assert "sum by ()" in multi
    counter = where[key % (14, "cpu")]
    assert "selects counter node_cpu_seconds_total without rate()" in counter
    missing = where[key % (16, "latency_p95")]
    assert "no data between" in missing and end.isoformat() in missing
    assert f"{key % (18, 'availability')}: unit ratio without a max: add max: 1" in lines
    grows = where[key % (21, "processed")]
    first, last = 5 * (POINTS - 61), 5 * (POINTS - 1)  # the last hour: 61 points
    assert f"values only grow ({first} to {last} over the window): looks like a raw" in grows
    assert "61 of 61 values above max 1e+09" in where[key % (24, "disk")]
    assert len(lines) == 8  # one problem per planted mistake, then the count
    assert lines[-1].startswith("7 problem(s) in 7 queries of 1 services")
