"""Airflow Connections turn into the endpoints users meant."""

from __future__ import annotations

import pytest

from aiops.airflow.hooks import connection_url, prometheus_base_url


@pytest.mark.parametrize(
    ("conn_type", "host", "port", "schema", "extra", "expected"),
    [
        ("http", "127.0.0.1", 9090, "", {}, "http://127.0.0.1:9090"),
        ("https", "prom.example", None, "", {}, "https://prom.example"),
        ("http", "gw", 8080, "/prometheus/", {}, "http://gw:8080/prometheus"),
        ("prometheus", "thanos", 10902, None, {"protocol": "https"}, "https://thanos:10902"),
        ("generic", "http://typed.in:9090/", None, None, {}, "http://typed.in:9090"),
    ],
)
def test_prometheus_base_url(conn_type, host, port, schema, extra, expected) -> None:
    assert prometheus_base_url(conn_type, host, port, schema, extra) == expected


def test_prometheus_connection_without_host_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="prometheus_default has no host"):
        prometheus_base_url("http", None, None, None, {})


def test_store_connection_drops_airflows_extra_parameter() -> None:
    uri = "postgres://u:p@db:5432/aiops?__extra__=%7B%7D&sslmode=require"
    assert connection_url(uri) == "postgres://u:p@db:5432/aiops?sslmode=require"
