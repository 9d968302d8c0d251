"""docker-compose.yaml, docker/ and the compose Prometheus config, checked without Docker.

`docker compose up` must work from a fresh clone with `cp docker/.env.example .env`. No
Docker engine runs here, so each thing that command relies on is checked from the files:
the compose-spec schema (the copy check-jsonschema vendors, no network), references between
services, volumes and repository paths, host ports, variables, the Airflow settings the
components must agree on, the pools and connections the DAGs use, the Prometheus config,
and the image's Airflow and Python versions. What can be run here (promtool, the scaler's
healthcheck, the postgres init script, Docker Compose's own parser) is in
test_compose_runtime.py; the readers both share are in compose_support.py.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from compose_support import (
    COMPOSE,
    DOCKERFILE,
    DOCKERIGNORE,
    ENV_EXAMPLE,
    PG_INIT,
    ROOT,
    _airflow_services,
    _check_jsonschema,
    _command,
    _dag_pools,
    _depends_on,
    _dockerfile_instructions,
    _env_lines,
    _environment,
    _is_bind,
    _is_one_shot,
    _mounts,
    _pinned,
    _prometheus_config,
    _published,
    _resolved,
    _scrape_targets,
    _service_running,
    _strings,
    _variables,
    load_compose,
    load_env_example,
)

from aiops import settings

# --- the files as Compose reads them, once per module ----------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file with anchors and `<<` merge keys resolved, as Compose sees it."""
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    """The active KEY=value lines of docker/.env.example."""
    return load_env_example()


@pytest.fixture(scope="module")
def rendered(compose: dict[str, Any], env_example: dict[str, str]) -> dict[str, Any]:
    """The compose file after `cp docker/.env.example .env`: placeholders, then defaults."""
    return _resolved(compose, env_example)


# --- 1. the compose-spec schema -----------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    ("original", "typo", "complaint"),
    [
        # a misspelt key under a service: Compose would ignore it and start out of order
        ("    depends_on:\n", "    depend_on:\n", "'depend_on' was unexpected"),
        # a duration without its unit
        ("      interval: 10s\n", "      interval: 5\n", "5 is not of type 'string'"),
    ],
    ids=["depend_on", "interval-without-unit"],
)
def test_a_copy_with_a_typo_fails_validation(
    tmp_path: Path, original: str, typo: str, complaint: str
) -> None:
    """The validator is really on: the same file with one typo is refused, and says why."""
    text = COMPOSE.read_text()
    assert original in text
    copy = tmp_path / "docker-compose.yaml"
    copy.write_text(text.replace(original, typo, 1))
    result = _check_jsonschema(copy)
    assert result.returncode != 0, result.stdout
    assert complaint in result.stdout + result.stderr


def test_compose_file_has_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


# --- 2. references between services, volumes, networks and the repository ------------------


def test_every_referenced_service_is_declared(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        referenced = set(_depends_on(service))
        referenced |= {link.split(":")[0] for link in service.get("links") or []}
        referenced |= {ref.split(":")[0] for ref in service.get("volumes_from") or []}
        mode = service.get("network_mode") or ""
        if mode.startswith("service:"):
            referenced.add(mode.removeprefix("service:"))
        assert referenced <= set(services), f"{name}: unknown {sorted(referenced - set(services))}"


def test_every_named_volume_and_network_is_declared(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_networks = set(compose.get("networks") or {}) | {"default"}
    used_volumes = set()
    for name, service in compose["services"].items():
        for source, _ in _mounts(service):
            if source and not _is_bind(source):
                used_volumes.add(source)
                assert source in declared_volumes, f"{name}: volume {source!r} not declared"
        networks = service.get("networks") or []
        for network in networks if isinstance(networks, list) else networks.keys():
            assert network in declared_networks, f"{name}: network {network!r} not declared"
    assert declared_volumes == used_volumes, "declared volumes that no service mounts"


def test_every_bind_mounted_path_exists_in_the_repository(
    services: dict[str, dict[str, Any]],
) -> None:
    """Compose would create a missing host path as an empty root-owned folder, silently."""
    for name, service in services.items():
        for source, target in _mounts(service):
            if _is_bind(source):
                assert source.startswith("./"), f"{name}: {source} is not inside the repo"
                assert (ROOT / source).exists(), f"{name}: {source} (mounted at {target})"


def test_build_context_and_dockerfile_exist(services: dict[str, dict[str, Any]]) -> None:
    built = {name: svc["build"] for name, svc in services.items() if "build" in svc}
    assert built, "no service builds the project image"
    for name, build in built.items():
        context = ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {build['context']}"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name
    # one image for Airflow and the scaler: the same tag wherever it is built
    assert len({services[name]["image"] for name in built}) == 1


def test_no_two_services_publish_the_same_host_port(rendered: dict[str, Any]) -> None:
    owners: dict[tuple[str, str], str] = {}
    for name, service in rendered["services"].items():
        for _, port, proto in _published(service):
            key = (port, proto)
            assert key not in owners, f"host port {port}/{proto}: {owners[key]} and {name}"
            owners[key] = name
    # the ones users open: Airflow's UI, Prometheus, Jaeger's UI, the scaler
    assert {("8080", "tcp"), ("9090", "tcp"), ("16686", "tcp"), ("19090", "tcp")} <= set(owners)


def test_published_ports_bind_to_loopback_by_default(rendered: dict[str, Any]) -> None:
    """Jaeger and Elasticsearch have no authentication here: not on the LAN unless asked."""
    for name, service in rendered["services"].items():
        for ip, port, _ in _published(service):
            assert ip == "127.0.0.1", f"{name} publishes {port} on {ip}"


def test_replicated_services_publish_no_fixed_host_port(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        replicas = int((service.get("deploy") or {}).get("replicas", 1))
        if replicas > 1:
            assert not _published(service), f"{name}: {replicas} replicas cannot share a port"


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    # each service says whether it is meant to stay up; "no" marks the one-shots
    assert all("restart" in svc for svc in services.values())
    long_running = {name for name, svc in services.items() if not _is_one_shot(svc)}
    assert "airflow-init" not in long_running
    assert long_running >= {"postgres", "redis", "airflow-apiserver", "aiops-scaler"}
    for name in long_running:
        check = services[name].get("healthcheck") or {}
        test = check.get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: {test}"
        assert not check.get("disable"), name


def test_dependencies_wait_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    """Nothing starts against a database that is not ready, or before airflow-init is done."""
    for name, service in services.items():
        for dependency, spec in _depends_on(service).items():
            condition = spec.get("condition")
            if _is_one_shot(services[dependency]):
                assert condition == "service_completed_successfully", f"{name} -> {dependency}"
            else:
                assert condition == "service_healthy", f"{name} -> {dependency}: {condition}"
                assert "healthcheck" in services[dependency], dependency


def test_every_airflow_component_waits_for_airflow_init(
    services: dict[str, dict[str, Any]],
) -> None:
    waiting = {
        name
        for name, svc in services.items()
        if _depends_on(svc).get("airflow-init", {}).get("condition")
        == "service_completed_successfully"
    }
    components = set(_airflow_services(services)) - {"airflow-init"}
    assert components <= waiting
    assert "aiops-scaler" in waiting  # the results store's tables exist before it reads them


# --- 3. variables and docker/.env.example --------------------------------------------------


def test_every_variable_without_a_default_is_in_env_example(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    """`cp docker/.env.example .env && docker compose up` finds a value for each."""
    required = {name for _, name, op, _ in _variables(compose) if op in (None, ":?", "?")}
    assert required, "expected the secrets to be required"
    assert required <= set(env_example), sorted(required - set(env_example))
    for name in required:
        assert env_example[name], f"{name} is empty in .env.example, so compose would refuse it"


def test_a_missing_secret_says_where_to_set_it(compose: dict[str, Any]) -> None:
    for where, name, op, arg in _variables(compose):
        if op in (":?", "?"):
            assert "docker/.env.example" in arg, f"{where}: ${{{name}{op}{arg}}}"


def test_env_example_documents_exactly_the_variables_compose_reads(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    """Each variable is listed (set, or commented with its default), and nothing else is."""
    used = {name for _, name, _, _ in _variables(compose)}
    documented = _env_lines(ENV_EXAMPLE.read_text(), commented=True)
    listed = set(env_example) | set(documented)
    assert used <= listed, f"undocumented: {sorted(used - listed)}"
    assert listed <= used, f"listed but never read: {sorted(listed - used)}"


def test_env_example_shows_the_defaults_compose_uses(compose: dict[str, Any]) -> None:
    defaults: dict[str, set[str]] = {}
    for _, name, op, arg in _variables(compose):
        if op in (":-", "-"):
            defaults.setdefault(name, set()).add(arg)
    for name, values in defaults.items():
        assert len(values) == 1, f"{name} has different defaults: {sorted(values)}"
    documented = _env_lines(ENV_EXAMPLE.read_text(), commented=True)
    for name, value in documented.items():
        assert {value} == defaults.get(name), f"{name}: .env.example says {value!r}"


_REAL_SECRET = re.compile(
    r"ghp_[A-Za-z0-9]{20,}|github_pat_|gh[osu]_[A-Za-z0-9]{20,}|sk-ant-|sk-[A-Za-z0-9]{20,}"
    r"|AKIA[0-9A-Z]{16}|xox[abprs]-|-----BEGIN|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}="
)


def test_env_example_holds_placeholders_not_secrets(env_example: dict[str, str]) -> None:
    assert not _REAL_SECRET.search(ENV_EXAMPLE.read_text())
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|FERNET|CONN_GITHUB")
    checked = [name for name in env_example if secretish.search(name)]
    assert {"POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "ANTHROPIC_API_KEY"} <= set(checked)
    for name in checked:
        value = env_example[name]
        assert value == "" or value.startswith("change-me"), f"{name}={value!r}"


def test_compose_file_holds_no_secret_of_its_own(compose: dict[str, Any]) -> None:
    """Passwords reach the services only through variables: no literal in the file."""
    markers = {name: f"VAR-{name}" for _, name, _, _ in _variables(compose)}
    urls = 0
    for where, text in _strings(_resolved(compose, markers)):
        assert not _REAL_SECRET.search(text), where
        for url in re.findall(r"[a-z0-9+]+://[^\s\"']+", text):
            password = urlsplit(url).password
            if password is not None:
                urls += 1
                assert password.startswith("VAR-"), f"{where}: literal password in {url}"
    assert urls >= 4  # metadata DB, Celery results, the results store (Airflow, scaler)


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
    """The pipeline's alert rules read what the DAG runs push (aiops.ops)."""
    from aiops.ops import PUSHGATEWAY_URL_ENV

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
