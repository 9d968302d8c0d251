"""A real Airflow API server for the demo and the tests: the one that serves Airflow's UI and,
through the project's plugin (plugins/aiops_page.py), the AIOps page at ``/aiops/``.

Started on a free loopback port with the project's Airflow environment, waited for until its
health endpoint answers, stopped (its whole process group) on exit. The simple auth manager
runs in its all-admins mode by default, the local development setting, where Airflow lets
every request in as an admin (the demo, `aiops page`); with ``users`` it runs with named
users and passwords, as a deployment would, and a request needs their token (the tests of the
page's authentication).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import requests

from aiops.dev.local_airflow import airflow_bin
from aiops.dev.promserver.process import LOOPBACK, free_port

log = logging.getLogger(__name__)

HEALTH = "/api/v2/monitor/health"
ALL_ADMINS = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}


class ApiServerError(RuntimeError):
    """The API server did not come up; the message holds the end of its log."""


class ApiServer:
    """``with ApiServer(env, log_path) as server:`` an `airflow api-server` on ``server.url``."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> None:
        """``users`` (name: password, each a viewer) turns the all-admins mode off: then a
        request needs a token from ``POST /auth/token`` (`login`), as in production."""
        self.env = {**os.environ, **env, **(ALL_ADMINS if users is None else {})}
        if users is not None:
            passwords = Path(log_path).with_suffix(".passwords.json")
            passwords.parent.mkdir(parents=True, exist_ok=True)
            passwords.write_text(json.dumps(dict(users)))
            self.env.update({
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:viewer" for u in users),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            })  # fmt: skip
        self.log_path = Path(log_path)
        self.timeout = timeout
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def login_url(self, next_path: str) -> str:
        """The URL that logs a browser in (all-admins mode) and lands it on ``next_path``."""
        return f"{self.url}/auth/token/login?next={quote(next_path)}"

    def token(self) -> str:
        """A JWT for API clients in all-admins mode, as the UI's login would set in its cookie."""
        response = requests.get(f"{self.url}/auth/token", timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]

    def login(self, user: str, password: str) -> str:
        """A JWT for ``user`` (with ``users``), from the login endpoint the UI's form posts to."""
        response = requests.post(f"{self.url}/auth/token", timeout=30,
                                 json={"username": user, "password": password})  # fmt: skip
        response.raise_for_status()
        return response.json()["access_token"]

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_path.open("wb")
        args = [airflow_bin(), "api-server", "--host", LOOPBACK, "--port", str(self.port),
                "--workers", "1"]  # fmt: skip
        self._proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)  # fmt: skip
        out.close()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ApiServerError(f"airflow api-server exited ({self._proc.returncode}): "
                                     f"{self._log_tail()}")  # fmt: skip
            try:
                if requests.get(self.url + HEALTH, timeout=2).ok:
                    log.info("Airflow API server ready at %s (pid %d)", self.url, self._proc.pid)
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise ApiServerError(f"airflow api-server not healthy at {self.url + HEALTH} after "
                             f"{self.timeout:.0f}s: {self._log_tail()}")  # fmt: skip

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
