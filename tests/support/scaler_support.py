"""What the scaler tests share: a small catalog, forecast rows written into a real SQLite
store, a settable clock, a served scaler and clients, and readers for HTTP and /metrics."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiops.catalog import parse_catalog
from aiops.scaler import (
    RunningScaler,
    ScalerClient,
    ScalerConfig,
    start_scaler,
)
from aiops.store import Store
from support.catalogs import catalog_yaml

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


def make_fresh_store(tmp_path: Path) -> str:
    """cart/request_rate from the run at G: 100, 110, 120, ... every 5 minutes for 6 hours."""
    return make_store(
        tmp_path, forecast_rows("cart", "request_rate", G, [100.0 + 10 * k for k in range(73)])
    )
