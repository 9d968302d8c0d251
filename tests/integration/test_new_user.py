"""Day one on a new user's stack, end to end: a real Prometheus holding three days of
node_exporter hosts and OpenTelemetry HTTP services (nothing of the demo world), a catalog
written by `aiops catalog discover` and passed by `aiops catalog check --prometheus`, then
the nightly and an hourly run through real Airflow with only `prometheus_default` set.

What the user must see: both runs succeed (traces, logs, GitHub and the LLM are simply not
configured), every signal is scored (the daily tier where three days allow it), no signal a
service lacks raises "no data", no incident is made of nothing, and `aiops status` agrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.baselines.ladder import DAILY_TIER
from aiops.catalog import load_catalog
from aiops.cli.main import main
from aiops.dev.promserver import PrometheusServer, backfill
from aiops.store import Store
from support.airflow_runs import dags_test
from support.prometheus_marks import NEEDS_PROMETHEUS

pytestmark = NEEDS_PROMETHEUS

STEP = 60
DAYS = 3
HOSTS = ("db-1:9100",)
SERVICES = ("shop", "search")
BUCKETS = (("0.05", 0.3), ("0.1", 0.6), ("0.25", 0.85), ("0.5", 0.95), ("1", 0.99), ("+Inf", 1.0))
GIB = 2**30


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _write_world(path: Path, end: datetime) -> None:
    """Counters that grow with a daily rhythm (more traffic by day), noisy gauges, `up`.
    Written family by family, sample by sample, as OpenMetrics wants them."""
    n = DAYS * 86_400 // STEP
    last = int(end.timestamp())
    stamps = [last - STEP * (n - 1 - i) for i in range(n)]
    day = [1.0 + 0.5 * math.sin(2 * math.pi * (t % 86_400) / 86_400) for t in stamps]
    noise = [0.05 * math.sin(i * 1.7) + 0.03 * math.cos(i * 0.37) for i in range(n)]

    def cumulative(rate: float) -> list[float]:
        total, out = 0.0, []
        for d, e in zip(day, noise, strict=True):
            total += rate * d * (1 + e) * STEP
            out.append(round(total, 3))
        return out

    with path.open("w", encoding="utf-8") as fh:

        def family(name: str, kind: str, series: dict[str, list[float]]) -> None:
            fh.write(f"# TYPE {name} {kind}\n")
            for labels, values in series.items():
                fh.writelines(
                    f"{name}{labels} {v!r} {t}\n" for v, t in zip(values, stamps, strict=True)
                )

        up = {_labels(job="node", instance=h): [1.0] * n for h in HOSTS}
        up |= {_labels(job=s, instance=f"{s}:8080"): [1.0] * n for s in SERVICES}
        family("up", "gauge", up)
        cpu = {}
        for host in HOSTS:
            for mode, share in (("idle", 0.7), ("user", 0.2), ("system", 0.1)):
                cpu[_labels(instance=host, job="node", cpu="0", mode=mode)] = cumulative(share)
        family("node_cpu_seconds_total", "counter", cpu)
        family("node_memory_MemTotal_bytes", "gauge",
               {_labels(instance=h, job="node"): [8.0 * GIB] * n for h in HOSTS})  # fmt: skip
        family("node_memory_MemAvailable_bytes", "gauge",
               {_labels(instance=h, job="node"): [(4 + 0.3 * d + e) * GIB
                for d, e in zip(day, noise, strict=True)] for h in HOSTS})  # fmt: skip
        buckets, counts = {}, {}
        for s, service in enumerate(SERVICES):
            for code, rate in (("200", 20.0 * (s + 1)), ("500", 0.2 * (s + 1))):
                own = {"service_name": service, "job": service, "http_response_status_code": code}
                total = cumulative(rate)
                for le, share in BUCKETS:
                    buckets[_labels(**own, le=le)] = [round(v * share, 3) for v in total]
                counts[_labels(**own)] = total
        metric = "http_server_request_duration_seconds"
        family(f"{metric}_bucket", "counter", buckets)
        family(f"{metric}_count", "counter", counts)
        fh.write("# EOF\n")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    root = tmp_path_factory.mktemp("new_user")
    # the newest sample a few minutes ago (the only use of the clock: making the data)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    _write_world(root / "world.om", end)
    tsdb = backfill(root / "world.om", root / "tsdb")
    with PrometheusServer(tsdb, log_path=root / "prometheus.log") as server:
        yield server.url, end


def test_a_new_user_gets_every_signal_scored_with_prometheus_alone(
    prometheus, airflow_home, tmp_path: Path, capsys
) -> None:
    url, end = prometheus
    catalog_path = tmp_path / "catalog.yaml"
    assert main(["catalog", "discover", "--prometheus", url, "--out", str(catalog_path)]) == 0
    assert main(["catalog", "check", str(catalog_path), "--prometheus", url]) == 0, (
        capsys.readouterr().out
    )
    catalog = load_catalog(catalog_path)
    assert sorted(catalog.services) == ["db-1", "search", "shop"]

    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    env = {
        **airflow_home,
        "AIOPS_CATALOG": str(catalog_path),
        "AIOPS_STORE_URL": store_url,
        "AIOPS_HOME": str(tmp_path / "home"),  # models default under it, created
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT": url,
        "AIOPS_RETRY_DELAY_SECONDS": "1",
    }
    for var in ("AIOPS_METRICS_FILE", "AIOPS_TRACES_DIR", "AIOPS_LOGS_DIR", "AIOPS_MODELS"):
        env.pop(var, None)
    night = end.replace(hour=0, minute=0)
    hour = end.replace(minute=0)
    dags_test(env, "aiops_nightly", night, tmp_path / "nightly.log")
    dags_test(env, "aiops_hourly", hour, tmp_path / "hourly.log")

    store = Store.open(store_url, create=False)
    try:
        events = store.read("anomaly_events")
        assert [e for e in events if e["kind"] == "no_data"] == []
        runs = {r["dag_id"]: r for r in store.read("pipeline_runs")}
        assert set(runs) == {"aiops_nightly", "aiops_hourly"}
        assert runs["aiops_nightly"]["not_configured"] == ["github", "llm", "logs", "traces"]
        assert runs["aiops_hourly"]["not_configured"] == ["logs"]
        joined = [e["key"] for i in store.read("incidents") for e in i["events"]]
        assert not [key for key in joined if "|no_data|" in key], joined
    finally:
        store.close()

    capsys.readouterr()
    code = main(["status", "--catalog", str(catalog_path), "--prometheus", url,
                 "--models", str(tmp_path / "home" / "models"), "--store", store_url,
                 "--at", hour.isoformat()])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    total = sum(len(catalog.signals_of(s)) for s in catalog.services)
    assert f"{total} of {total} signals scored" in printed, printed
    rows = [line.split() for line in printed.splitlines()[1:-1]]
    assert {row[2] for row in rows} == {DAILY_TIER}, printed
