"""Connections given as Airflow URIs (``AIRFLOW_CONN_<ID>``) reach the endpoint the user wrote:
every hook keeps the port, takes the scheme the same way (a URL typed into the host, the
conn type, the `protocol` extra, the hook's default) and uses the schema as a path prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.airflow.hooks import (
    AnthropicHook,
    ElasticsearchHook,
    GitHubHook,
    JaegerHook,
    PrometheusHook,
)


def base_url(hook: str) -> str | None:
    """The base URL the hook builds from its default connection."""
    if hook == "prometheus":
        return PrometheusHook().get_conn().base_url
    if hook == "jaeger":
        return JaegerHook().get_conn().base_url
    if hook == "elasticsearch":
        return ElasticsearchHook().get_conn().config.url
    if hook == "github":
        return GitHubHook().tracker_settings(Path("issues")).base_url
    _, url = AnthropicHook().get_conn()
    return url


CASES = [
    # Prometheus: http by default
    ("prometheus", "http://127.0.0.1:9091/prom", "http://127.0.0.1:9091/prom"),
    ("prometheus", "prometheus://127.0.0.1:9091", "http://127.0.0.1:9091"),
    (
        "prometheus",
        "prometheus://127.0.0.1:9091/prom?protocol=https",
        "https://127.0.0.1:9091/prom",
    ),
    ("prometheus", "https://thanos.internal:10902", "https://thanos.internal:10902"),
    (
        "prometheus",
        "prometheus://http%3A%2F%2Fprom.internal:9091/prom",
        "http://prom.internal:9091/prom",
    ),
    # a URL typed into the host wins over the protocol extra
    (
        "prometheus",
        "prometheus://https%3A%2F%2Fprom.internal:9443?protocol=http",
        "https://prom.internal:9443",
    ),
    # Jaeger
    ("jaeger", "jaeger://127.0.0.1:16686", "http://127.0.0.1:16686"),
    ("jaeger", "http://127.0.0.1:16686/jaeger", "http://127.0.0.1:16686/jaeger"),
    ("jaeger", "jaeger://127.0.0.1:16686?protocol=https", "https://127.0.0.1:16686"),
    ("jaeger", "jaeger://http%3A%2F%2Fjaeger.internal:16686", "http://jaeger.internal:16686"),
    # Elasticsearch
    ("elasticsearch", "elasticsearch://u:p@127.0.0.1:9200", "http://127.0.0.1:9200"),
    (
        "elasticsearch",
        "elasticsearch://u:p@127.0.0.1:9200?protocol=https",
        "https://127.0.0.1:9200",
    ),
    (
        "elasticsearch",
        "elasticsearch://https%3A%2F%2Fes.internal:9243/logs",
        "https://es.internal:9243/logs",
    ),
    # GitHub: https by default
    ("github", "github://:tok@127.0.0.1:9000", "https://127.0.0.1:9000"),
    ("github", "github://:tok@http%3A%2F%2F127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("github", "github://:tok@127.0.0.1:9000?protocol=http", "http://127.0.0.1:9000"),
    ("github", "github://:tok@ghe.example.com:8443/api/v3", "https://ghe.example.com:8443/api/v3"),
    # Anthropic: https by default
    ("anthropic", "anthropic://:k@127.0.0.1:8080", "https://127.0.0.1:8080"),
    ("anthropic", "anthropic://:k@http%3A%2F%2F127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("anthropic", "anthropic://:k@127.0.0.1:8080?protocol=http", "http://127.0.0.1:8080"),
    (
        "anthropic",
        "anthropic://:k@gateway.internal/anthropic",
        "https://gateway.internal/anthropic",
    ),
]


@pytest.mark.parametrize(("hook", "uri", "expected"), CASES)
def test_a_uri_connection_gives_the_base_url_it_names(monkeypatch, hook, uri, expected) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{hook.upper()}_DEFAULT", uri)
    assert base_url(hook) == expected


def test_github_and_anthropic_without_a_host_keep_their_defaults(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", "github://:tok@")
    monkeypatch.setenv("AIRFLOW_CONN_ANTHROPIC_DEFAULT", "anthropic://:k@")
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    assert base_url("github") is None  # the client's public default, api.github.com
    assert base_url("anthropic") is None
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "gateway.internal:8443")
    assert base_url("anthropic") == "https://gateway.internal:8443"


def test_a_scheme_other_than_http_in_the_host_is_an_error_naming_the_connection(
    monkeypatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", "prometheus://ftp%3A%2F%2Fh:21")
    with pytest.raises(ValueError, match="connection prometheus_default: host 'ftp://h'.*'ftp'"):
        base_url("prometheus")
