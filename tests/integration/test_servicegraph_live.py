"""A network delay only the callers see, found by the hourly path on a real Prometheus.

A real Prometheus on loopback is backfilled with four hours of what the OpenTelemetry
Collector's servicegraph connector exports for frontend -> cart, frontend -> checkout and
checkout -> payment (minute data, Poisson traffic, lognormal latencies, a few failures), with
each callee's own OpenTelemetry HTTP server histogram beside it. In the last hour a network
delay is planted on checkout -> payment: the client-side latency of the calls to payment goes
up several-fold while payment's handlers (its server-side seconds, its own HTTP histogram)
take the usual time.

`aiops catalog discover` writes the catalog, the hourly scoring step scores the last hour from
the server with no trace in sight, and the events must put the delay on PAYMENT, as a latency
anomaly of its callers' view starting when it was planted, and rank payment first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiops.catalog import Catalog, load_catalog
from aiops.cli.main import main
from aiops.dev.promserver import PrometheusServer, backfill
from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import from_anomaly_event
from aiops.incidents.ranking import rank_root_causes
from aiops.metrics.pipeline import score_services
from aiops.model_registry import ModelRegistry
from aiops.sources.prometheus import PrometheusClient
from aiops.sources.signals import PrometheusSignalSource
from aiops.store import Store
from aiops.traces.edge_signals import EDGE_SIGNAL_KINDS
from support.prometheus_marks import NEEDS_PROMETHEUS

pytestmark = NEEDS_PROMETHEUS

STEP = 60
POINTS = 240  # four hours: three of history before the scored hour
EDGES = (("frontend", "cart"), ("frontend", "checkout"), ("checkout", "payment"))
PER_MINUTE = {"cart": 600, "checkout": 240, "payment": 240}  # calls into each callee
OWN_MEDIAN = {"cart": 0.015, "checkout": 0.020, "payment": 0.040}  # seconds in its handlers
FAILURE = 0.005
DELAY = 0.2  # seconds added to every packet between checkout and payment
PLANTED_AT = 20  # minutes into the scored hour
# the connector's default latency buckets, and OpenTelemetry's HTTP server ones
GRAPH_LE = (0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15)
HTTP_LE = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Families:
    """Cumulative series by metric name and label set, written as OpenMetrics."""

    def __init__(self, stamps: list[int]) -> None:
        self.stamps = stamps
        self.values: dict[str, dict[str, np.ndarray]] = {}

    def add(self, name: str, labels: str, i: int, amount: float) -> None:
        series = self.values.setdefault(name, {})
        series.setdefault(labels, np.zeros(len(self.stamps)))[i:] += amount

    def histogram(self, name: str, labels: dict[str, str], i: int, seconds: np.ndarray,
                  bounds: tuple[float, ...]) -> None:  # fmt: skip
        for le in bounds:
            self.add(f"{name}_bucket", _labels(**labels, le=f"{le:g}"), i, (seconds <= le).sum())
        self.add(f"{name}_bucket", _labels(**labels, le="+Inf"), i, len(seconds))
        self.add(f"{name}_sum", _labels(**labels), i, float(seconds.sum()))
        self.add(f"{name}_count", _labels(**labels), i, len(seconds))

    def lines(self) -> list[str]:
        out = []
        for name, series in self.values.items():
            out.append(f"# TYPE {name} unknown")  # untyped, as test_catalog_live writes them
            for labels, values in series.items():
                out += [f"{name}{labels} {float(v)!r} {t}"
                        for v, t in zip(values, self.stamps, strict=True)]  # fmt: skip
        return out


def write_world(path: Path, last: datetime, planted: datetime, seed: int = 7) -> Path:
    """The servicegraph and HTTP series of the three edges; the delay from ``planted`` on."""
    rng = np.random.default_rng(seed)
    stamps = [int(last.timestamp()) - STEP * (POINTS - 1 - i) for i in range(POINTS)]
    fam = Families(stamps)
    for i, stamp in enumerate(stamps):
        delayed = stamp > planted.timestamp()  # the minute ending at `stamp` began after it
        client_seconds: dict[str, np.ndarray] = {}
        for callee in ("payment", "cart", "checkout"):  # callees before their callers' edges
            n = int(rng.poisson(PER_MINUTE[callee]))
            server = OWN_MEDIAN[callee] * rng.lognormal(0.0, 0.35, n)
            if callee == "checkout":  # its handler waits for its own call to payment
                server += rng.choice(client_seconds["payment"], n)
            network = rng.uniform(0.0005, 0.003, n) + (DELAY if delayed and callee == "payment"
                                                       else 0.0)  # fmt: skip
            client_seconds[callee] = server + network
            failed = rng.random(n) < FAILURE
            caller = next(c for c, s in EDGES if s == callee)
            edge = {"client": caller, "server": callee, "connection_type": "", "job": "otel"}
            fam.add("traces_service_graph_request_total", _labels(**edge), i, n)
            fam.add("traces_service_graph_request_failed_total", _labels(**edge), i, failed.sum())
            fam.histogram("traces_service_graph_request_client_seconds", edge, i,
                          client_seconds[callee], GRAPH_LE)  # fmt: skip
            fam.histogram("traces_service_graph_request_server_seconds", edge, i, server, GRAPH_LE)
            for code, chosen in (("200", ~failed), ("500", failed)):
                own = {"service_name": callee, "job": callee, "http_response_status_code": code}
                fam.histogram("http_server_request_duration_seconds", own, i, server[chosen],
                              HTTP_LE)  # fmt: skip
    for job in ("otel", "cart", "checkout", "payment"):
        fam.add("up", _labels(job=job, instance=f"{job}:8080"), 0, 1.0)
    path.write_text("\n".join(fam.lines()) + "\n# EOF\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class World:
    url: str
    catalog: Catalog
    catalog_path: Path
    start: datetime  # the scored hour
    end: datetime
    planted: datetime
    events: list[dict[str, Any]]  # the scored hour's anomaly events, all services
    totals: dict[str, int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("servicegraph_live")
    # the newest sample a few minutes ago (the only use of the clock: making the data)
    last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    end = last + timedelta(seconds=STEP)  # the scored hour holds the newest sample
    start = end - timedelta(hours=1)
    planted = start + timedelta(minutes=PLANTED_AT)
    tsdb = backfill(write_world(root / "world.om", last, planted), root / "tsdb")
    with PrometheusServer(tsdb, log_path=root / "prometheus.log") as server:
        catalog_path = root / "catalog.yaml"
        assert main(["catalog", "discover", "--prometheus", server.url,
                     "--out", str(catalog_path)]) == 0  # fmt: skip
        catalog = load_catalog(catalog_path)
        source = PrometheusSignalSource(PrometheusClient(server.url))
        with Store.open(f"sqlite:///{root}/results.db") as store:
            totals = score_services(store, source, catalog, catalog.service_names, start, end,
                                    ModelRegistry(root / "models"))  # fmt: skip
            events = store.read("anomaly_events", kind="anomaly")
        yield World(server.url, catalog, catalog_path, start, end, planted, events, totals)


def test_discover_gives_each_callee_its_callers_view_beside_its_own_metrics(world, capsys):
    catalog = world.catalog
    assert sorted(catalog.service_names) == ["cart", "checkout", "otel", "payment"]
    assert list(catalog.signals_of("payment")) == [
        "request_rate", "error_ratio", "latency_p95", *EDGE_SIGNAL_KINDS
    ]  # fmt: skip
    for name, kind in EDGE_SIGNAL_KINDS.items():
        assert catalog.signal("payment", name).kind == kind
    assert "frontend" not in catalog.service_names  # it only calls: no callers' view of it
    code = main(["catalog", "check", str(world.catalog_path), "--prometheus", world.url])
    printed = capsys.readouterr().out
    assert code == 0, printed  # every query returns one series on the real server


def test_the_delay_is_a_latency_event_on_the_callee_from_when_it_was_planted(world):
    assert world.totals["failed"] == 0 and world.totals["quarantined"] == 0
    [event] = [e for e in world.events if e["end"] > world.planted
               and (e["service"], e["signal"]) == ("payment", "callers_latency_p95")]  # fmt: skip
    assert event["signal_kind"] == "latency" and event["direction"] == "above"
    assert abs(event["start"] - world.planted) <= timedelta(minutes=3)
    assert event["observed"] > 3 * event["expected_high"]  # several-fold, not a wobble


def test_the_callees_own_server_side_latency_does_not_see_the_delay(world):
    """Its handlers take the usual time: its own histogram has no event while the delay
    lasts (a blip of its noise earlier in the hour would not be the delay's doing)."""
    own = [e for e in world.events if e["end"] > world.planted
           and (e["service"], e["signal"]) == ("payment", "latency_p95")]  # fmt: skip
    assert own == [], [e["explanation"] for e in own]


def test_ranking_the_events_names_payment_as_the_root_cause(world):
    events = [from_anomaly_event(e) for e in world.events]
    assert {"checkout", "payment"} <= {e.service for e in events}  # the caller slows too
    ranking = rank_root_causes(events, DependencyGraph.from_pairs(EDGES))
    assert ranking.method == "random_walk"
    assert ranking.root.service == "payment", ranking.to_json()
