"""The parts of docker-compose.yaml and docker/ that can run here, without a Docker engine.

test_compose.py checks the files as they are; these tests run what `docker compose up`
would run, where the tool is installed: promtool on the compose Prometheus config, the
scaler's healthcheck against a real in-process scaler, the postgres init script against the
local PostgreSQL, and Docker Compose v2's own parser. Each skips, with the reason, when its
tool or server is missing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from support.compose_support import (
    COMPOSE,
    ENV_EXAMPLE,
    PG_INIT,
    ROOT,
    _command,
    _prometheus_config,
)

# --- the compose Prometheus -----------------------------------------------------------------


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """promtool also loads rule_files; the container paths are mapped to the repository's
    folder, and while the rules file is not there yet a stand-in rules file takes its place."""
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed (make setup or .ci/run installs Debian's prometheus)")
    config = _prometheus_config()
    rules_dir = ROOT / "include" / "prometheus"
    mapped = []
    for pattern in config.get("rule_files", []):
        relative = PurePosixPath(pattern).relative_to("/etc/prometheus/rules")
        local = rules_dir / relative
        if not local.exists():
            local = tmp_path / relative.name
            local.write_text("groups: []\n")
        mapped.append(str(local))
    config["rule_files"] = mapped
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


# --- healthchecks and the init script, run for real where possible ------------------------


def _scaler_healthcheck(services: dict[str, dict[str, Any]], target: str) -> list[str]:
    test = services["aiops-scaler"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3]
    assert "'127.0.0.1:9090'" in code  # the port its command line gives gRPC
    assert "--port 9090" in _command(services["aiops-scaler"])
    return [sys.executable, "-c", code.replace("127.0.0.1:9090", target)]


def test_scaler_healthcheck_is_healthy_against_a_serving_scaler(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    from support.scaler_support import Clock, G, make_store, serve

    with serve(make_store(tmp_path), Clock(G), port=0, http_port=None) as scaler:
        command = _scaler_healthcheck(services, scaler.grpc_target)
        healthy = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert healthy.returncode == 0, healthy.stderr
        target = scaler.grpc_target
    down = subprocess.run(
        _scaler_healthcheck(services, target), capture_output=True, text=True, timeout=60
    )
    assert down.returncode != 0


@pytest.mark.postgres
def test_postgres_init_script_creates_a_store_its_role_can_use() -> None:
    """The init script, run as the postgres image runs it, against a real server; the store
    then opens with the role it created. A quote in the password cannot break the SQL."""
    from sqlalchemy import create_engine

    from aiops.dev.cluster import drop_pg_database
    from aiops.store import Store

    psql = shutil.which("psql")
    if not psql:
        pytest.skip("psql not installed")
    admin = create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    try:
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    suffix = secrets.token_hex(4)
    user, name, password = f"aiops_ct_{suffix}", f"aiops_ct_{suffix}", "pa'ss\"wo;rd"
    env = os.environ | {
        "PGHOST": "127.0.0.1",
        "PGPORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "AIOPS_DB_USER": user,
        "AIOPS_DB_PASSWORD": password,
        "AIOPS_DB_NAME": name,
    }
    try:
        result = subprocess.run(
            ["bash", str(PG_INIT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        url = f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:5432/{name}"
        with Store.open(url) as store:
            assert store.count("predictions") == 0
    finally:
        drop_pg_database(admin, name)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{user}"')
        admin.dispose()


def _compose_v2() -> list[str] | None:
    """The Docker Compose v2 command line, if one is installed (plugin or standalone)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(command[0]):
            continue
        version = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        if version.returncode == 0 and re.search(r"Docker Compose version v?2\.", version.stdout):
            return command
    return None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """Where Docker Compose v2 is installed, its own parser agrees (`config` needs no engine)."""
    compose_cli = _compose_v2()
    if compose_cli is None:
        pytest.skip("Docker Compose v2 (docker compose or docker-compose v2) is not installed")
    env_file = tmp_path / ".env"
    shutil.copy(ENV_EXAMPLE, env_file)
    result = subprocess.run(
        [*compose_cli, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
