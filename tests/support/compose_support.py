"""Reading docker-compose.yaml, docker/ and the compose Prometheus config the way Compose does.

Shared by test_compose.py (the files checked as they are) and test_compose_runtime.py (the
parts that can run here). Plain functions, not fixtures: each test module wraps the few it
needs in module-scoped fixtures of its own, so a fixture is never imported and shadowed by a
test's parameter. The helpers keep their leading underscore, so the tests read as they did
when everything was one file.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.paths import REPO_ROOT

ROOT = REPO_ROOT
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "docker" / "Dockerfile.dockerignore"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
PROMETHEUS_YML = ROOT / "include" / "prometheus" / "prometheus.yml"
PG_INIT = ROOT / "docker" / "postgres-init" / "10-aiops-results-db.sh"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, $VAR;
# "$$" is a literal dollar sign (left for the container's shell).
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# --- reading the files the way Compose does -------------------------------------------------


def load_compose() -> dict[str, Any]:
    """The compose file with anchors and `<<` merge keys resolved, as Compose sees it."""
    return yaml.safe_load(COMPOSE.read_text())


def load_env_example() -> dict[str, str]:
    """The active KEY=value lines of docker/.env.example."""
    return _env_lines(ENV_EXAMPLE.read_text(), commented=False)


def _env_lines(text: str, *, commented: bool) -> dict[str, str]:
    """KEY=value lines (or, with ``commented``, the "# KEY=value" lines that show defaults)."""
    prefix = r"#\s*" if commented else ""
    pattern = re.compile(rf"^{prefix}([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    found = {}
    for line in text.splitlines():
        match = pattern.match(line.strip())
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            found[match.group(1)] = value
    return found


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string value (and mapping key) in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield here, key
            yield from _strings(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def _variables(compose: dict[str, Any]) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(where, name, operator, argument) for every variable Compose interpolates."""
    for where, text in _strings(compose):
        for match in _INTERPOLATION.finditer(text):
            if match.group(0) == "$$":
                continue
            if match.group("bare"):
                yield where, match.group("bare"), None, None
            else:
                yield where, match.group("name"), match.group("op"), match.group("arg")


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation of one string: ``env`` first, then the defaults."""
    env = env or {}

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"{name} is required: {arg}")
            return value
        if op in (":+", "+"):
            return arg if value else ""
        if value is None:
            raise KeyError(f"{name} has no default and no value")
        return value

    return _INTERPOLATION.sub(substitute, text)


def _resolved(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _resolved(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(command)


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax; source "" is anonymous."""
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            found.append((entry.get("source") or "", entry["target"]))
            continue
        parts = entry.split(":")
        if len(parts) == 1:
            found.append(("", parts[0]))
        else:
            found.append((parts[0], parts[1]))
    return found


def _is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def _airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run an Airflow component (they carry Airflow's configuration)."""
    return {
        name: service
        for name, service in services.items()
        if "AIRFLOW__CORE__EXECUTOR" in _environment(service)
    }


def _service_running(services: dict[str, dict[str, Any]], command: str) -> str:
    matches = [name for name, svc in services.items() if _command(svc) == command]
    assert len(matches) == 1, f"expected one service running {command!r}, found {matches}"
    return matches[0]


def _is_one_shot(service: dict[str, Any]) -> bool:
    """Runs to completion (`restart: "no"`, or an unquoted no that YAML reads as False)."""
    return str(service.get("restart", "no")) in ("no", "False", "on-failure")


# --- the compose-spec schema ------------------------------------------------------------


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored compose-spec schema. Proxies point nowhere, so a
    validator that tried to fetch anything would fail rather than pass by luck."""
    env = os.environ | {
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


# --- host ports ---------------------------------------------------------------------------


_PORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]+\]|[0-9.]+):)?(?:(?P<host>[0-9-]+):)?(?P<container>[0-9-]+)"
    r"(?:/(?P<proto>tcp|udp|sctp))?$"
)


def _published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host IP, host port, protocol) of each published port; unpublished ones are skipped."""
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                found.append(
                    (
                        str(entry.get("host_ip") or "0.0.0.0"),
                        str(entry["published"]),
                        entry.get("protocol") or "tcp",
                    )
                )
            continue
        match = _PORT.match(str(entry))
        assert match, f"unparsable port {entry!r}"
        if match.group("host"):
            found.append(
                (match.group("ip") or "0.0.0.0", match.group("host"), match.group("proto") or "tcp")
            )
    return found


# --- the DAGs, the compose Prometheus and the image ---------------------------------------


def _dag_pools() -> set[str]:
    """The pools the DAG files put tasks in, resolved through the names they import."""
    from aiops.airflow import dagkit

    pools = set()
    for path in sorted((ROOT / "dags").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "pool":
                if isinstance(node.value, ast.Constant):
                    pools.add(node.value.value)
                else:
                    assert isinstance(node.value, ast.Name), f"{path.name}: pool={node.value}"
                    pools.add(getattr(dagkit, node.value.id))
    return pools


def _prometheus_config() -> dict[str, Any]:
    return yaml.safe_load(PROMETHEUS_YML.read_text())


def _scrape_targets() -> set[str]:
    return {
        target
        for job in _prometheus_config()["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }


def _pinned(package: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"{package} is not pinned in requirements.txt")


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


# --- the files as Compose reads them, once per module (import these fixtures by name) ------


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
