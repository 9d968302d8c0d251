"""docker-compose.yaml, docker/ and the compose Prometheus config, checked without Docker.

`docker compose up` must work from a fresh clone with `cp docker/.env.example .env`. No
Docker engine runs here, so each thing that command relies on is checked from the files:
the compose-spec schema (the copy check-jsonschema vendors, no network), references between
services, volumes and repository paths, host ports and variables here; the Airflow settings
the components must agree on, the pools and connections the DAGs use, the Prometheus config
and the image's Airflow and Python versions in test_compose_airflow.py. What can be run here (promtool, the scaler's
healthcheck, the postgres init script, Docker Compose's own parser) is in
test_compose_runtime.py; the readers both share are in compose_support.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.compose_support import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    ROOT,
    _airflow_services,
    _check_jsonschema,
    _depends_on,
    _env_lines,
    _is_bind,
    _is_one_shot,
    _mounts,
    _published,
    _resolved,
    _strings,
    _variables,
)

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
