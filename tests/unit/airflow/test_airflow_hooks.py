"""Airflow Connections turn into the endpoints users meant."""

from __future__ import annotations

import pytest

from aiops.airflow.hooks import connection_url, http_base_url


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
def test_prometheus_base_url_from_the_connection_fields(
    conn_type, host, port, schema, extra, expected
) -> None:
    assert http_base_url("prometheus_default", conn_type, host, port, schema, extra) == expected


def test_prometheus_connection_without_host_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="prometheus_default has no host"):
        http_base_url("prometheus_default", "http", None, None, None, {})


def test_store_connection_drops_airflows_extra_parameter() -> None:
    uri = "postgres://u:p@db:5432/aiops?__extra__=%7B%7D&sslmode=require"
    assert connection_url(uri) == "postgres://u:p@db:5432/aiops?sslmode=require"


def test_github_connection_holds_the_token_and_an_enterprise_base_url(monkeypatch) -> None:
    from aiops.airflow.hooks import GitHubHook, issue_tracker
    from aiops.sinks.github import GitHubTracker

    conn = '{"conn_type": "github", "host": "ghe.example.com/api/v3", "password": "ghp_secret", '
    conn += '"extra": {"max_wait": 60}}'
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", conn)
    client = GitHubHook().get_conn()
    assert (client.base_url, client.max_wait) == ("https://ghe.example.com/api/v3", 60.0)
    assert "ghp_secret" not in repr(client)
    tracker = issue_tracker()
    assert isinstance(tracker, GitHubTracker) and tracker.sink == "https://ghe.example.com/api/v3"


def test_without_a_token_or_with_dry_run_issues_go_to_files(monkeypatch, tmp_path) -> None:
    from aiops.airflow.hooks import issue_tracker
    from aiops.sinks.dry_run import DryRunSink

    monkeypatch.delenv("AIRFLOW_CONN_GITHUB_DEFAULT", raising=False)
    monkeypatch.setenv("AIOPS_HOME", str(tmp_path))
    monkeypatch.setenv("GITHUB_TOKEN", "")
    tracker = issue_tracker()
    assert isinstance(tracker, DryRunSink) and tracker.root == tmp_path / "issues"
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_env")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    assert issue_tracker().sink == "https://ghe.example.com/api/v3"
    monkeypatch.setenv("AIOPS_ISSUES_DRY_RUN", "1")
    assert isinstance(issue_tracker(), DryRunSink)
