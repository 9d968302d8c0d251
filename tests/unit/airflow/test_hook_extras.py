"""Connection extras as users type them: a mistyped one names the connection, the key and the
value; numbers and booleans typed as text work; a connection without extras gets the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops.airflow.extras import ConnectionExtraError, ConnectionExtras
from aiops.airflow.hooks import ElasticsearchHook, GitHubHook, JaegerHook, PrometheusHook
from aiops.sinks.trackers import TrackerSettings
from aiops.sources.elasticsearch_logs import ElasticsearchLogConfig


def connect(monkeypatch, conn_id: str, extra: dict, **fields: object) -> None:
    """Define Airflow connection ``conn_id`` through its environment variable."""
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": 9, **fields, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def build(hook: str, conn_id: str | None = None):
    """What the hook builds from its connection (GitHub: its tracker settings)."""
    if hook == "prometheus":
        return PrometheusHook(conn_id or "prometheus_default").get_conn()
    if hook == "jaeger":
        return JaegerHook(conn_id or "jaeger_default").get_conn()
    if hook == "elasticsearch":
        return ElasticsearchHook(conn_id or "elasticsearch_default").get_conn()
    return GitHubHook(conn_id or "github_default").tracker_settings(Path("issues"))


# -- a mistyped extra names the connection, the key and the value -------------------------------


@pytest.mark.parametrize(
    ("hook", "extra", "message"),
    [
        ("prometheus", {"timeout": "thirty"},
         """connection prometheus_default: extra "timeout": expected a number of seconds > 0, """
         "got 'thirty'"),
        ("prometheus", {"timeout": 0},
         'connection prometheus_default: extra "timeout": expected a number of seconds > 0, got 0'),
        ("prometheus", {"max_points": "11k"},
         """connection prometheus_default: extra "max_points": expected a whole number >= 1, """
         "got '11k'"),
        ("prometheus", {"headers": ["X-Scope-OrgID: team-a"]},
         """connection prometheus_default: extra "headers": expected an object of text values, """
         """e.g. {"name": "value"}, got ['X-Scope-OrgID: team-a']"""),
        ("jaeger", {"attempts": 2.5},
         'connection jaeger_default: extra "attempts": expected a whole number >= 1, got 2.5'),
        ("jaeger", {"page_limit": 0},
         'connection jaeger_default: extra "page_limit": expected a whole number >= 1, got 0'),
        ("jaeger", {"backoff": -1},
         """connection jaeger_default: extra "backoff": expected a number of seconds >= 0, """
         "got -1"),
        ("elasticsearch", {"verify_certs": "maybe"},
         """connection elasticsearch_default: extra "verify_certs": expected true or false (or """
         "yes/no, on/off, 1/0), got 'maybe'"),
        ("elasticsearch", {"page_size": "all"},
         """connection elasticsearch_default: extra "page_size": expected a whole number >= 1, """
         "got 'all'"),
        ("elasticsearch", {"index": 7},
         'connection elasticsearch_default: extra "index": expected text, got 7'),
        ("github", {"max_wait": "15m"},
         """connection github_default: extra "max_wait": expected a number of seconds >= 0, """
         "got '15m'"),
        ("github", {"attempts": True},
         'connection github_default: extra "attempts": expected a whole number >= 1, got True'),
    ],
)  # fmt: skip
def test_a_mistyped_extra_is_named(monkeypatch, hook: str, extra: dict, message: str) -> None:
    connect(monkeypatch, f"{hook}_default", extra)
    with pytest.raises(ConnectionExtraError) as caught:
        build(hook)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)  # what the bare float()/int() raised before


def test_the_error_names_the_connection_actually_used(monkeypatch) -> None:
    connect(monkeypatch, "thanos_eu", {"timeout": "5 s"})
    with pytest.raises(ValueError, match=r'^connection thanos_eu: extra "timeout"'):
        build("prometheus", "thanos_eu")

    connect(monkeypatch, "thanos_eu", {"protocol": "HTTPS"}, conn_type="prometheus")
    with pytest.raises(ValueError) as caught:
        build("prometheus", "thanos_eu")
    assert str(caught.value) == (
        """connection thanos_eu: extra "protocol": expected 'http' or 'https', got 'HTTPS'"""
    )


def test_a_secret_extra_of_the_wrong_type_is_not_shown(monkeypatch) -> None:
    connect(monkeypatch, "elasticsearch_default", {"api_key": 8675309})
    with pytest.raises(ConnectionExtraError) as caught:
        build("elasticsearch")
    assert str(caught.value) == (
        'connection elasticsearch_default: extra "api_key": expected text, got a number (not shown)'
    )

    connect(monkeypatch, "github_default", {"token": ["ghp_in_a_list"]}, conn_type="github")
    with pytest.raises(ConnectionExtraError) as caught:
        build("github")
    assert "ghp_in_a_list" not in str(caught.value) and '"token"' in str(caught.value)


# -- values typed as text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("false", False), ("FALSE", False), ("0", False), ("no", False), ("off", False),
     ("", False), (False, False), (0, False),
     ("true", True), (" Yes ", True), ("1", True), ("on", True), (True, True), (1, True),
     (None, True)],
)  # fmt: skip
def test_verify_certs_reads_text_booleans(monkeypatch, typed: object, expected: bool) -> None:
    connect(monkeypatch, "elasticsearch_default", {"verify_certs": typed})
    assert build("elasticsearch").config.verify_certs is expected


def test_numbers_typed_as_text(monkeypatch) -> None:
    connect(monkeypatch, "jaeger_default", {"timeout": "5", "attempts": "2", "backoff": "0.25",
                                            "page_limit": "300"})  # fmt: skip
    client = build("jaeger")
    assert (client.timeout, client.retry.attempts, client.retry.backoff) == (5.0, 2, 0.25)
    assert client.page_limit == 300

    connect(monkeypatch, "github_default", {"timeout": "12.5", "attempts": "7", "max_wait": 60,
                                            "min_write_interval": "2"}, conn_type="github")  # fmt: skip
    settings = build("github")
    assert (settings.timeout, settings.attempts) == (12.5, 7)
    assert (settings.max_wait, settings.min_write_interval) == (60.0, 2.0)


def test_texts_and_mappings_reach_the_client(monkeypatch) -> None:
    connect(monkeypatch, "jaeger_default", {"ui_url": "https://tracing.example/jaeger"})
    assert build("jaeger").ui_trace_url("abc") == "https://tracing.example/jaeger/trace/abc"
    connect(monkeypatch, "jaeger_default", {"ui_url": ""})  # a cleared field: no UI URL
    assert build("jaeger").ui_trace_url("abc") == "http://127.0.0.1:9/trace/abc"

    fields = {"timestamp": "ts", "service": "svc", "message": "msg", "level": "lvl"}
    connect(monkeypatch, "elasticsearch_default", {"fields": fields, "server_major": "8",
                                                   "keep_alive": "5m", "index": "app-*"})  # fmt: skip
    config = build("elasticsearch").config
    assert (config.fields.timestamp, config.fields.service, config.fields.level) == (
        "ts", "svc", "lvl",
    )  # fmt: skip
    assert (config.server_major, config.keep_alive, config.index) == (8, "5m", "app-*")


# -- defaults --------------------------------------------------------------------------------------


def test_without_extras_every_hook_keeps_its_defaults(monkeypatch) -> None:
    for hook in ("prometheus", "jaeger", "elasticsearch"):
        connect(monkeypatch, f"{hook}_default", {})

    prometheus = build("prometheus")
    assert (prometheus.timeout, prometheus.max_points) == (30.0, 11_000)
    assert (prometheus.retry.attempts, prometheus.retry.backoff) == (3, 0.5)
    assert repr(prometheus) == "PrometheusClient('http://127.0.0.1:9', max_points=11000)"

    jaeger = build("jaeger")
    assert (jaeger.timeout, jaeger.page_limit, jaeger.ui_url) == (30.0, 1500, None)
    assert (jaeger.retry.attempts, jaeger.retry.backoff) == (3, 0.5)

    source = build("elasticsearch")
    assert source.config == ElasticsearchLogConfig("http://127.0.0.1:9")


def test_github_settings_are_the_same_with_or_without_the_connection(monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_env")
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("AIOPS_ISSUES_DRY_RUN", raising=False)
    expected = TrackerSettings(folder=Path("issues"), token="ghp_env",
                               token_source="github_default or env")  # fmt: skip

    monkeypatch.delenv("AIRFLOW_CONN_GITHUB_DEFAULT", raising=False)
    assert build("github") == expected  # no connection at all

    connect(monkeypatch, "github_default", {}, conn_type="github", host=None, port=None)
    assert build("github") == expected  # a connection without extras or token


def test_a_null_extra_takes_the_default() -> None:
    extras = ConnectionExtras("c", {"timeout": None, "headers": None, "ui_url": None})
    assert extras.seconds("timeout", 30.0, above=0) == 30.0
    assert extras.mapping("headers") == {}
    assert extras.text("ui_url") is None
