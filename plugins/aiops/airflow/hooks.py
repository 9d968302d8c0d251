"""Hooks: an Airflow Connection in, a ready client out. No business logic here."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from aiops.settings import resolve_store_url
from aiops.sources.prometheus import PrometheusClient
from aiops.sources.signals import PrometheusSignalSource, SignalsFileSource, SignalSource

log = logging.getLogger(__name__)

METRICS_FILE_ENV = "AIOPS_METRICS_FILE"


class PrometheusHook(BaseHook):
    """`prometheus_default`: host/port/schema (path prefix), optional login/password (basic auth).

    Extras: `timeout` (s), `attempts`, `backoff` (s), `max_points`, `protocol` (http|https,
    for conn_type `prometheus`), `headers` (a mapping, e.g. for a tenant header).
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "http"
    hook_name = "Prometheus"

    def __init__(self, prometheus_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.prometheus_conn_id = prometheus_conn_id

    def get_conn(self) -> PrometheusClient:
        conn = self.get_connection(self.prometheus_conn_id)
        extra: dict[str, Any] = conn.extra_dejson
        return PrometheusClient(
            prometheus_base_url(conn.conn_type, conn.host, conn.port, conn.schema, extra),
            timeout=float(extra.get("timeout", 30.0)),
            attempts=int(extra.get("attempts", 3)),
            backoff=float(extra.get("backoff", 0.5)),
            max_points=int(extra.get("max_points", 11_000)),
            headers=extra.get("headers") or None,
            auth=(conn.login, conn.password or "") if conn.login else None,
        )


def prometheus_base_url(
    conn_type: str | None,
    host: str | None,
    port: int | None,
    schema: str | None,
    extra: dict[str, Any],
) -> str:
    if not host:
        raise ValueError("connection prometheus_default has no host")
    scheme = conn_type if conn_type in ("http", "https") else extra.get("protocol", "http")
    if "://" in host:  # a full URL typed into the host field
        return host.rstrip("/")
    netloc = f"{host}:{port}" if port else host
    path = f"/{schema.strip('/')}" if schema else ""
    return f"{scheme}://{netloc}{path}"


def metric_source(prometheus_conn_id: str = PrometheusHook.default_conn_name) -> SignalSource:
    """Prometheus from its connection, unless AIOPS_METRICS_FILE points at a signals file."""
    path = os.environ.get(METRICS_FILE_ENV)
    if path:
        log.info("metrics from the file-backed source %s (%s is set)", path, METRICS_FILE_ENV)
        return SignalsFileSource(Path(path))
    return PrometheusSignalSource(PrometheusHook(prometheus_conn_id).get_conn())


def store_url(conn_id: str = "aiops_store") -> str:
    """The results store: Airflow connection `aiops_store`, else AIOPS_STORE_URL, else SQLite."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return resolve_store_url()
    return resolve_store_url(connection_url(conn.get_uri()))


def connection_url(uri: str) -> str:
    """A database URL from an Airflow connection URI, without Airflow's `__extra__` query
    parameter (which the database driver would reject as an unknown option)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "__extra__"]
    return urlunsplit(parts._replace(query=urlencode(query)))
