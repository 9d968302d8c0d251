"""docker-compose.yaml's Airflow configuration, the compose Prometheus and the image, checked
without Docker: the settings every Airflow component must share (executor, execution API,
JWT secret, folders, results store, pools, connections, metrics), what the compose
Prometheus loads and scrapes, and the image's Airflow and Python versions. The schema,
references and variables are in test_compose.py."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aiops import settings
from support.compose_support import (
    DOCKERIGNORE,
    PG_INIT,
    ROOT,
    _airflow_services,
    _command,
    _dag_pools,
    _dockerfile_instructions,
    _environment,
    _mounts,
    _pinned,
    _prometheus_config,
    _scrape_targets,
    _service_running,
)

# --- 4. Airflow's configuration, as the components must share it ----------------------------


@pytest.fixture(scope="module")
def airflow_env(rendered: dict[str, Any]) -> dict[str, str]:
    """The Airflow services' environment, after checking that they all share it."""
    airflow = _airflow_services(rendered["services"])
    assert set(airflow) >= {
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    }
    envs = {name: _environment(svc) for name, svc in airflow.items()}
    reference = envs["airflow-scheduler"]
    for name, env in envs.items():
        shared = {k: v for k, v in env.items() if k != "DUMB_INIT_SETSID"}
        assert shared == reference, f"{name} is configured differently from the scheduler"
    return reference


def test_executor_is_celery_on_the_redis_service(
    airflow_env: dict[str, str], rendered: dict[str, Any]
) -> None:
    services = rendered["services"]
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(airflow_env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis"
    assert services[broker.hostname]["image"].startswith("redis:")
    backend = airflow_env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql://")
    metadata = urlsplit(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert urlsplit(backend.removeprefix("db+")).hostname == metadata.hostname == "postgres"
    assert services["postgres"]["image"].startswith("postgres:16")
    worker = services[_service_running(services, "celery worker")]
    assert int(worker["deploy"]["replicas"]) == 2  # ${AIRFLOW_WORKERS:-2}


def test_components_reach_the_execution_api_and_share_one_jwt_secret(
    airflow_env: dict[str, str], rendered: dict[str, Any], env_example: dict[str, str]
) -> None:
    services = rendered["services"]
    api = urlsplit(airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.hostname == _service_running(services, "api-server")
    assert api.port == 8080 and api.path == "/execution/"
    assert airflow_env["AIRFLOW__API_AUTH__JWT_SECRET"] == env_example["AIRFLOW_JWT_SECRET"]
    assert airflow_env["AIRFLOW__API__SECRET_KEY"] == env_example["AIRFLOW_API_SECRET_KEY"]


def test_folders_in_the_config_are_the_mounted_ones(
    airflow_env: dict[str, str], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in _airflow_services(services).items():
        targets = {source: target for source, target in _mounts(service)}
        assert targets["./dags"] == airflow_env["AIRFLOW__CORE__DAGS_FOLDER"], name
        assert targets["./plugins"] == airflow_env["AIRFLOW__CORE__PLUGINS_FOLDER"], name
        assert targets["./models"] == airflow_env["AIOPS_MODELS"], name
        # the catalog the DAGs read is the repository's, through the ./include mount
        catalog = PurePosixPath(airflow_env["AIOPS_CATALOG"])
        relative = catalog.relative_to(targets["./include"])
        assert (ROOT / "include" / relative).is_file(), name
        # outputs and logs live in named volumes the components share
        assert targets["aiops-out"] == airflow_env["AIOPS_HOME"], name
        assert "airflow-logs" in targets, name
    assert airflow_env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_results_store_is_the_database_the_postgres_init_script_creates(
    airflow_env: dict[str, str], rendered: dict[str, Any]
) -> None:
    services = rendered["services"]
    store = urlsplit(airflow_env["AIOPS_STORE_URL"])
    postgres_env = _environment(services["postgres"])
    assert store.hostname == "postgres"
    assert store.path.lstrip("/") == postgres_env["AIOPS_DB_NAME"]
    assert store.username == postgres_env["AIOPS_DB_USER"]
    assert store.password == postgres_env["AIOPS_DB_PASSWORD"]
    # the metadata DB is another database, with other credentials
    assert store.path.lstrip("/") != postgres_env["POSTGRES_DB"]
    assert settings.normalise_store_url(airflow_env["AIOPS_STORE_URL"]).startswith(
        "postgresql+psycopg2://"
    )
    # the scaler reads the same store
    scaler_env = _environment(services["aiops-scaler"])
    assert scaler_env["AIOPS_STORE_URL"] == airflow_env["AIOPS_STORE_URL"]
    mounts = dict(_mounts(services["postgres"]))
    assert mounts["./docker/postgres-init"] == "/docker-entrypoint-initdb.d"
    assert PG_INIT.parent == ROOT / "docker" / "postgres-init"


def test_airflow_init_creates_exactly_the_pools_the_dags_use(
    services: dict[str, dict[str, Any]],
) -> None:
    script = _command(services["airflow-init"])
    created = set(re.findall(r"airflow pools set (\S+) ", script))
    assert created == _dag_pools() == {settings.PROMETHEUS_POOL, settings.JAEGER_POOL}
    assert "airflow db migrate" in script


def test_connections_are_the_hooks_default_conn_ids(airflow_env: dict[str, str]) -> None:
    """Each hook finds its connection under its default id; data sources point at the stack."""
    from airflow.sdk import BaseHook

    from aiops.airflow import hooks

    conn_ids = {
        cls.default_conn_name
        for cls in vars(hooks).values()
        if isinstance(cls, type) and issubclass(cls, BaseHook) and cls is not BaseHook
    }
    assert {"prometheus_default", "jaeger_default", "elasticsearch_default"} <= conn_ids
    configured = {
        key.removeprefix("AIRFLOW_CONN_").lower()
        for key in airflow_env
        if key.startswith("AIRFLOW_CONN_")
    }
    assert configured <= conn_ids, f"not a hook's connection: {sorted(configured - conn_ids)}"
    # every hook is configured, by connection or (Claude) by the key it also reads
    assert conn_ids - configured <= {"anthropic_default"}
    assert "ANTHROPIC_API_KEY" in airflow_env
    assert airflow_env["AIRFLOW_CONN_GITHUB_DEFAULT"] == ""  # dry-run issues until set
    assert airflow_env["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] == "http://prometheus:9090"
    assert airflow_env["AIRFLOW_CONN_JAEGER_DEFAULT"] == "http://jaeger:16686"
    assert airflow_env["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"] == "http://elasticsearch:9200"


def test_statsd_metrics_reach_prometheus(
    airflow_env: dict[str, str], rendered: dict[str, Any]
) -> None:
    services = rendered["services"]
    assert airflow_env["AIRFLOW__METRICS__STATSD_ON"] == "True"
    host = airflow_env["AIRFLOW__METRICS__STATSD_HOST"]
    assert services[host]["image"].startswith("prom/statsd-exporter:")
    assert f":{airflow_env['AIRFLOW__METRICS__STATSD_PORT']}" in _command(services[host])
    assert f"{host}:9102" in _scrape_targets()


def test_run_summaries_are_pushed_where_prometheus_scrapes_them(
    airflow_env: dict[str, str], rendered: dict[str, Any]
) -> None:
    """The pipeline's alert rules read what the DAG runs push (aiops.pipeline_runs)."""
    from aiops.pipeline_runs import PUSHGATEWAY_URL_ENV

    gateway = urlsplit(airflow_env[PUSHGATEWAY_URL_ENV])
    assert rendered["services"][gateway.hostname]["image"].startswith("prom/pushgateway:")
    assert f"{gateway.hostname}:{gateway.port}" in _scrape_targets()


def test_each_airflow_component_checks_its_own_job(services: dict[str, dict[str, Any]]) -> None:
    jobs = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob"}
    jobs["triggerer"] = "TriggererJob"
    for command, job in jobs.items():
        service = services[_service_running(services, command)]
        test = " ".join(service["healthcheck"]["test"][1:])
        assert f"airflow jobs check --job-type {job} --local" in test
    api = services[_service_running(services, "api-server")]
    assert "http://localhost:8080/api/v2/monitor/health" in api["healthcheck"]["test"]


# --- 5. the compose Prometheus --------------------------------------------------------------


def test_prometheus_rule_files_come_from_the_mounted_folder(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = dict(_mounts(services["prometheus"]))
    assert mounts["./include/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./include/prometheus"] == "/etc/prometheus/rules"
    rule_files = _prometheus_config().get("rule_files", [])
    assert rule_files == ["/etc/prometheus/rules/aiops-alerts.yml"]
    local = ROOT / "include" / "prometheus" / PurePosixPath(rule_files[0]).name
    if not local.exists():
        pytest.skip(f"{local.relative_to(ROOT)} is not in the repository yet")
    assert yaml.safe_load(local.read_text())["groups"]


def test_prometheus_scrapes_the_stack(services: dict[str, dict[str, Any]]) -> None:
    jobs = {job["job_name"]: job for job in _prometheus_config()["scrape_configs"]}
    for target in _scrape_targets():
        host = target.split(":")[0]
        assert host == "localhost" or host in services, f"unknown scrape target {target}"
    assert jobs["pushgateway"]["honor_labels"] is True
    assert "pushgateway:9091" in _scrape_targets()
    # the scaler's metrics are on its HTTP port, the one its command line opens
    scaler_command = _command(services["aiops-scaler"])
    http_port = re.search(r"--http-port (\d+)", scaler_command).group(1)
    assert f"aiops-scaler:{http_port}" in _scrape_targets()


# --- 6. the image ---------------------------------------------------------------------------


def test_image_pins_the_airflow_and_python_of_the_requirements() -> None:
    froms = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"apache/airflow:(?P<airflow>[0-9.]+)-python(?P<python>[0-9.]+)", froms[0])
    assert match, froms[0]
    assert match.group("airflow") == _pinned("apache-airflow") == "3.3.2"
    assert match.group("python") == "3.11"
    requires = re.search(r'requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert requires.group(1) == ">=3.11,<3.12"


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [args for keyword, args in _dockerfile_instructions() if keyword == "COPY"]
    assert copies
    for args in copies:
        sources = [part for part in args.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            for pattern in ignored:
                assert not (source == pattern or source.startswith(f"{pattern}/")), (
                    f"COPY {source}: excluded by {pattern!r} in {DOCKERIGNORE.name}"
                )


def test_the_image_leaves_the_dev_tooling_out() -> None:
    """The demo, the simulator and the local servers stay out of the production image; the
    pipeline never imports them (tests/unit/test_layering.py), so nothing it runs misses
    them."""
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert "plugins/aiops/dev" in ignored
    assert (ROOT / "plugins" / "aiops" / "dev" / "__init__.py").exists()
