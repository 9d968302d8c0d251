"""Hooks: an Airflow Connection in, a ready client out. No business logic here.

Extras are read through :class:`aiops.airflow.extras.ConnectionExtras`: typed, the same rules
in every hook, and a mistyped one is an error naming the connection, the key and the value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from aiops.airflow.extras import ConnectionExtras
from aiops.logs.records import LogSource
from aiops.settings import aiops_home, resolve_store_url
from aiops.sinks.github import GitHubClient
from aiops.sinks.tracker import IssueTracker
from aiops.sinks.trackers import TrackerSettings, dry_run_requested, github_client, open_tracker
from aiops.sources.elasticsearch_logs import ElasticsearchLogConfig, ElasticsearchLogSource
from aiops.sources.frame_source import SignalsFileSource
from aiops.sources.jaeger import DEFAULT_PAGE_LIMIT, JaegerClient
from aiops.sources.jaeger_files import JaegerFileSource
from aiops.sources.prometheus import PrometheusClient
from aiops.sources.signals import PrometheusSignalSource, SignalSource

log = logging.getLogger(__name__)

METRICS_FILE_ENV = "AIOPS_METRICS_FILE"
TRACES_DIR_ENV = "AIOPS_TRACES_DIR"
LOGS_DIR_ENV = "AIOPS_LOGS_DIR"


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
        extras = ConnectionExtras(self.prometheus_conn_id, extra)
        return PrometheusClient(
            http_base_url(
                self.prometheus_conn_id, conn.conn_type, conn.host, conn.port, conn.schema, extra
            ),
            timeout=extras.seconds("timeout", 30.0, above=0),
            attempts=extras.integer("attempts", 3, at_least=1),
            backoff=extras.seconds("backoff", 0.5, at_least=0),
            max_points=extras.integer("max_points", 11_000, at_least=1),
            headers=extras.mapping("headers") or None,
            auth=(conn.login, conn.password or "") if conn.login else None,
        )


def http_base_url(
    conn_id: str,
    conn_type: str | None,
    host: str | None,
    port: int | None,
    schema: str | None,
    extra: dict[str, Any],
    *,
    default_scheme: str = "http",
) -> str:
    """An HTTP API's base URL from a Connection's fields, built the same way for every hook.

    The scheme: from a full URL typed into the host (``http://h``, or in a URI the encoded
    ``http%3A%2F%2Fh``), else conn_type http/https, else the `protocol` extra, else
    ``default_scheme`` (https for GitHub and Anthropic, http for the others). The port field
    is kept (a port written in a typed URL wins); a path in the host (``ghe.example/api/v3``)
    and then the schema field form the path prefix. Before, a typed URL or a non-http
    conn_type lost the port: ``anthropic://:k@127.0.0.1:8080`` became ``https://127.0.0.1``.
    """
    if not host or not host.strip():
        raise ValueError(f"connection {conn_id} has no host")
    typed = host.strip()
    if "://" in typed:
        parts = urlsplit(typed)
        scheme = parts.scheme.lower()
    else:
        parts = urlsplit(f"//{typed}")
        scheme = _scheme(conn_id, conn_type, extra, default_scheme)
    if scheme not in ("http", "https"):
        raise ValueError(
            f"connection {conn_id}: host {typed!r}: the scheme must be http or https, got {scheme!r}"
        )
    try:
        typed_port = parts.port
    except ValueError as exc:
        raise ValueError(f"connection {conn_id}: host {typed!r}: {exc}") from exc
    netloc = parts.netloc
    if port and typed_port is None:
        netloc = f"{netloc}:{port}"
    path = "/".join(p.strip("/") for p in (parts.path, schema or "") if p.strip("/"))
    return f"{scheme}://{netloc}" + (f"/{path}" if path else "")


def _scheme(conn_id: str, conn_type: str | None, extra: dict[str, Any], default: str) -> str:
    if conn_type in ("http", "https"):
        return conn_type
    return ConnectionExtras(conn_id, extra).text("protocol", default, choices=("http", "https"))


class JaegerHook(BaseHook):
    """`jaeger_default`: the query service (host, port 16686, schema as a path prefix),
    optional login/password (basic auth, e.g. behind a proxy).

    Extras: `timeout` (s), `attempts`, `backoff` (s), `page_limit` (traces per search request;
    full pages are split), `ui_url` (where people open traces, for the evidence links),
    `protocol`, `headers`.
    """

    conn_name_attr = "jaeger_conn_id"
    default_conn_name = "jaeger_default"
    conn_type = "http"
    hook_name = "Jaeger"

    def __init__(self, jaeger_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.jaeger_conn_id = jaeger_conn_id

    def get_conn(self) -> JaegerClient:
        conn = self.get_connection(self.jaeger_conn_id)
        extra: dict[str, Any] = conn.extra_dejson
        extras = ConnectionExtras(self.jaeger_conn_id, extra)
        return JaegerClient(
            http_base_url(
                self.jaeger_conn_id, conn.conn_type, conn.host, conn.port, conn.schema, extra
            ),
            timeout=extras.seconds("timeout", 30.0, above=0),
            attempts=extras.integer("attempts", 3, at_least=1),
            backoff=extras.seconds("backoff", 0.5, at_least=0),
            page_limit=extras.integer("page_limit", DEFAULT_PAGE_LIMIT, at_least=1),
            headers=extras.mapping("headers") or None,
            auth=(conn.login, conn.password or "") if conn.login else None,
            ui_url=extras.text("ui_url") or None,
        )


class ElasticsearchHook(BaseHook):
    """`elasticsearch_default`: the cluster (host, port 9200, schema as a path prefix; conn
    type `elasticsearch` takes the scheme from the `protocol` extra), login/password for basic
    auth or the `api_key` extra.

    Extras: `index` (pattern, default `logs-*`), `server_major` (8 or 9: the compatible-with
    headers sent), `page_size`, `keep_alive`, `timeout` (s), `attempts`, `backoff` (s),
    `verify_certs`, `ca_certs`, `fields` (a mapping of timestamp/service/level/message to
    field names), `protocol`.
    """

    conn_name_attr = "elasticsearch_conn_id"
    default_conn_name = "elasticsearch_default"
    conn_type = "elasticsearch"
    hook_name = "Elasticsearch (logs)"

    def __init__(self, elasticsearch_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.elasticsearch_conn_id = elasticsearch_conn_id

    def get_conn(self, services: list[str] | None = None) -> ElasticsearchLogSource:
        """The log source; `services` limits it to those service names (None: all)."""
        conn = self.get_connection(self.elasticsearch_conn_id)
        extra: dict[str, Any] = conn.extra_dejson
        extras = ConnectionExtras(self.elasticsearch_conn_id, extra)
        url = http_base_url(
            self.elasticsearch_conn_id, conn.conn_type, conn.host, conn.port, conn.schema, extra
        )
        config = ElasticsearchLogConfig(
            url,
            index=extras.text("index", "logs-*"),
            fields=extras.mapping("fields"),
            services=services,
            server_major=extras.integer("server_major", 9),
            page_size=extras.integer("page_size", 5000, at_least=1),
            keep_alive=extras.text("keep_alive", "2m"),
            timeout=extras.seconds("timeout", 30.0, above=0),
            attempts=extras.integer("attempts", 3, at_least=1),
            backoff=extras.seconds("backoff", 0.5, at_least=0),
            verify_certs=extras.flag("verify_certs", True),
            ca_certs=extras.text("ca_certs") or None,
        )
        return ElasticsearchLogSource(
            config,
            basic_auth=(conn.login, conn.password or "") if conn.login else None,
            api_key=extras.text("api_key", secret=True) or None,
        )


def trace_source(
    jaeger_conn_id: str = JaegerHook.default_conn_name,
) -> JaegerClient | JaegerFileSource:
    """Jaeger from its connection, unless AIOPS_TRACES_DIR points at exported JSON files."""
    path = os.environ.get(TRACES_DIR_ENV)
    if path:
        log.info("traces from the file-backed source %s (%s is set)", path, TRACES_DIR_ENV)
        return JaegerFileSource(Path(path))
    return JaegerHook(jaeger_conn_id).get_conn()


def metric_source(prometheus_conn_id: str = PrometheusHook.default_conn_name) -> SignalSource:
    """Prometheus from its connection, unless AIOPS_METRICS_FILE points at a signals file."""
    path = os.environ.get(METRICS_FILE_ENV)
    if path:
        log.info("metrics from the file-backed source %s (%s is set)", path, METRICS_FILE_ENV)
        return SignalsFileSource(Path(path))
    return PrometheusSignalSource(PrometheusHook(prometheus_conn_id).get_conn())


def log_source(log_format: str, es_conn_id: str = ElasticsearchHook.default_conn_name) -> LogSource:
    """Elasticsearch from its connection, unless AIOPS_LOGS_DIR points at log files (plain
    files in `log_format`, JSON lines by their extension)."""
    from aiops.sources.log_files import LogFileSource

    path = os.environ.get(LOGS_DIR_ENV)
    if path:
        log.info("logs from the file-backed source %s (%s is set)", path, LOGS_DIR_ENV)
        return LogFileSource(Path(path), log_format)
    return ElasticsearchHook(es_conn_id).get_conn()


class GitHubHook(BaseHook):
    """`github_default`, laid out like the GitHub provider's connection: the token in the
    password field, the API base URL in host (empty: https://api.github.com; GitHub Enterprise
    Server: https://ghe.example.com/api/v3), with its port and schema (a path prefix) read as
    every hook reads them (:func:`http_base_url`, https unless the host or `protocol` says).

    Extras: `timeout` (s), `attempts`, `max_wait` (s, the longest rate-limit wait before the
    run stops and the next run resumes), `min_write_interval` (s between writes, >= 1).
    Without the connection, GITHUB_TOKEN and GITHUB_API_URL are read from the environment.
    """

    conn_name_attr = "github_conn_id"
    default_conn_name = "github_default"
    conn_type = "github"
    hook_name = "GitHub"

    def __init__(self, github_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.github_conn_id = github_conn_id

    def tracker_settings(self, folder: Path) -> TrackerSettings:
        """Where the nightly files: the connection's token and API base (else GITHUB_TOKEN /
        GITHUB_API_URL), the dry-run ``folder``, and AIOPS_ISSUES_DRY_RUN."""
        conn = optional_connection(self.github_conn_id)
        extras = ConnectionExtras(self.github_conn_id, conn.extra_dejson if conn else {})
        token = (conn.password if conn else None) or extras.text("token", secret=True)
        base_url = (
            http_base_url(self.github_conn_id, conn.conn_type, conn.host, conn.port, conn.schema,
                          conn.extra_dejson, default_scheme="https")
            if conn is not None and conn.host
            else os.environ.get("GITHUB_API_URL") or None
        )  # fmt: skip
        return TrackerSettings(
            folder=folder,
            token=token or os.environ.get("GITHUB_TOKEN") or None,
            base_url=base_url,
            dry_run=dry_run_requested(),
            token_source=f"{self.github_conn_id} or env",
            timeout=extras.seconds("timeout", 30.0, above=0),
            attempts=extras.integer("attempts", 5, at_least=1),
            max_wait=extras.seconds("max_wait", 900.0, at_least=0),
            min_write_interval=extras.seconds("min_write_interval", 1.0, at_least=0),
        )

    def get_conn(self) -> GitHubClient | None:
        """The client, or None when neither the connection nor the environment has a token."""
        settings = self.tracker_settings(aiops_home() / "issues")
        return github_client(settings) if settings.token else None


def issue_tracker(github_conn_id: str = GitHubHook.default_conn_name) -> IssueTracker:
    """GitHub when a token is configured, else (or with AIOPS_ISSUES_DRY_RUN=1) the dry-run
    folder `<AIOPS_HOME>/issues`, where the same rendering lands as markdown files."""
    return open_tracker(GitHubHook(github_conn_id).tracker_settings(aiops_home() / "issues"))


def store_url(conn_id: str = "aiops_store") -> str:
    """The results store: Airflow connection `aiops_store`, else AIOPS_STORE_URL, else SQLite."""
    conn = optional_connection(conn_id)
    if conn is None:
        return resolve_store_url()
    return resolve_store_url(connection_url(conn.get_uri()))


def connection_url(uri: str) -> str:
    """A database URL from an Airflow connection URI, without Airflow's `__extra__` query
    parameter (which the database driver would reject as an unknown option)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "__extra__"]
    return urlunsplit(parts._replace(query=urlencode(query)))


class AnthropicHook(BaseHook):
    """`anthropic_default`: the API key in the password field, an optional base URL in host
    (a gateway or proxy in front of the API; port, schema and scheme read as every hook reads
    them, https by default). Without the connection, ANTHROPIC_API_KEY and
    ANTHROPIC_BASE_URL are read from the environment. Timeouts, retries and the budget are
    the catalog's `llm:` section, not the connection's."""

    conn_name_attr = "anthropic_conn_id"
    default_conn_name = "anthropic_default"
    conn_type = "anthropic"
    hook_name = "Anthropic"

    def __init__(self, anthropic_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.anthropic_conn_id = anthropic_conn_id

    def get_conn(self) -> tuple[str | None, str | None]:
        """(api key or None, base URL or None); the gateway makes the client."""
        conn = optional_connection(self.anthropic_conn_id)
        key = (conn.password if conn else None) or os.environ.get("ANTHROPIC_API_KEY") or None
        if conn is not None and conn.host:
            return key, http_base_url(
                self.anthropic_conn_id, conn.conn_type, conn.host, conn.port, conn.schema,
                conn.extra_dejson, default_scheme="https",
            )  # fmt: skip
        base = os.environ.get("ANTHROPIC_BASE_URL") or None
        if base and "://" not in base:
            base = f"https://{base}"
        return key, base


def optional_connection(conn_id: str) -> Any | None:
    """Airflow connection ``conn_id``, or None when it is not defined (anywhere Airflow
    looks: environment, secrets backend, metadata database)."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


# --- which optional integrations are configured ----------------------------------------------
#
# Only Prometheus is required. Each function below answers "why is this integration not
# configured?" with a message for the task log and the run summary, or None when it is. The
# tasks skip (traces, logs) or fall back (GitHub: dry-run files; LLM: rule-based text) on it.


def traces_not_configured(jaeger_conn_id: str = JaegerHook.default_conn_name) -> str | None:
    """Why the trace analysis cannot run (no Jaeger connection, no exported files), or None."""
    if os.environ.get(TRACES_DIR_ENV) or optional_connection(jaeger_conn_id) is not None:
        return None
    return f"traces not configured: no {jaeger_conn_id} connection and {TRACES_DIR_ENV} unset"


def logs_not_configured(es_conn_id: str = ElasticsearchHook.default_conn_name) -> str | None:
    """Why log mining cannot run (no Elasticsearch connection, no log files), or None."""
    if os.environ.get(LOGS_DIR_ENV) or optional_connection(es_conn_id) is not None:
        return None
    return f"logs not configured: no {es_conn_id} connection and {LOGS_DIR_ENV} unset"


def rightsizing_not_configured(enabled: bool) -> str | None:
    """Why right-sizing cannot run (turned off in the catalog, or metrics from a signals file,
    which holds services' signals and no containers), or None."""
    if not enabled:
        return "rightsizing not configured: rightsizing.enabled is false in the catalog"
    if os.environ.get(METRICS_FILE_ENV):
        return (
            f"rightsizing not configured: {METRICS_FILE_ENV} is set (a signals file has no "
            "container usage; right-sizing reads cAdvisor and kube-state-metrics from Prometheus)"
        )
    return None


def github_not_configured(github_conn_id: str = GitHubHook.default_conn_name) -> str | None:
    """Why issues go to dry-run files instead of GitHub (no token anywhere), or None. Filing
    still runs without it: this only says where the issues land."""
    folder = aiops_home() / "issues"
    if GitHubHook(github_conn_id).tracker_settings(folder).token:
        return None
    return (
        f"github not configured: no token in the {github_conn_id} connection and GITHUB_TOKEN "
        f"unset; issues are written as files under {folder}"
    )


def llm_not_configured(anthropic_conn_id: str = AnthropicHook.default_conn_name) -> str | None:
    """Why narratives are rule-based (no API key anywhere), or None. Narration still runs."""
    key, _ = AnthropicHook(anthropic_conn_id).get_conn()
    if key:
        return None
    return (
        f"llm not configured: no key in the {anthropic_conn_id} connection and "
        "ANTHROPIC_API_KEY unset; narratives are rule-based"
    )


#: The optional integrations by the name the run summary lists them under.
OPTIONAL_INTEGRATIONS: Mapping[str, Callable[[], str | None]] = MappingProxyType(
    {
        "traces": traces_not_configured,
        "logs": logs_not_configured,
        "github": github_not_configured,
        "llm": llm_not_configured,
    }
)


def integrations_not_configured(names: Iterable[str]) -> dict[str, str]:
    """Of the optional integrations ``names``, those not configured, each with the reason."""
    unknown = sorted(set(names) - set(OPTIONAL_INTEGRATIONS))
    if unknown:
        raise ValueError(
            f"unknown integration(s) {', '.join(unknown)}; known: {', '.join(OPTIONAL_INTEGRATIONS)}"
        )
    reasons = {name: OPTIONAL_INTEGRATIONS[name]() for name in names}
    return {name: reason for name, reason in reasons.items() if reason is not None}
