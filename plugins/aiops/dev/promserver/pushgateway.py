"""A real Pushgateway on loopback (Debian's ``prometheus-pushgateway``), for tests and demos.

Started like :class:`aiops.dev.promserver.PrometheusServer`: a free loopback port, its own
process group, a wait on ``/-/ready``, SIGTERM then SIGKILL on stop. No ``--persistence.file``:
what was pushed lives as long as the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import requests

from aiops.dev.promserver.process import LOOPBACK, launch_on_free_port

logger = logging.getLogger(__name__)

BINARY = "prometheus-pushgateway"
APT_INSTALL = "apt-get install -y prometheus-pushgateway"


class GatewayServerError(RuntimeError):
    """The Pushgateway binary is missing, or the process did not become ready."""


def find_pushgateway() -> Path | None:
    """The Pushgateway binary on PATH (Debian names it ``prometheus-pushgateway``), or None."""
    for name in (BINARY, "pushgateway"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


class PushgatewayServer:
    """One Pushgateway process on ``127.0.0.1:<port>``; use as a context manager."""

    def __init__(
        self, *, port: int | None = None, log_path: Path | None = None, binary: Path | None = None
    ) -> None:
        self.port = port
        self.log_path = Path(log_path) if log_path is not None else None
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self._log_offset = 0

    def __repr__(self) -> str:
        return f"PushgatewayServer(port={self.port})"

    @property
    def url(self) -> str:
        if self.port is None:
            raise GatewayServerError(f"{self!r}: no port yet; call start() first")
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> PushgatewayServer:
        """Launch the Pushgateway and wait until ``/-/ready`` answers 200."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        binary = self._binary or find_pushgateway()
        if binary is None:
            raise GatewayServerError(f"{BINARY} is not installed; install it with: {APT_INSTALL}")

        def launch(port: int) -> None:
            self.port = port
            self._launch(binary, timeout)

        launch_on_free_port(launch, self.port, GatewayServerError)
        return self

    def _launch(self, binary: Path, timeout: float) -> None:
        command = [str(binary), f"--web.listen-address={LOOPBACK}:{self.port}"]
        logger.info("starting %s", " ".join(command))
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a+b")
        else:
            # read back only to explain a failed start; closed by stop()
            self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._log_offset = self._log.seek(0, os.SEEK_END)
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while True:
                code = self._proc.poll()
                if code is not None:
                    self._proc = None
                    tail = self._log_tail()
                    self._close_log()
                    raise GatewayServerError(
                        f"Pushgateway exited with code {code} while starting on port "
                        f"{self.port}{tail}"
                    )
                with contextlib.suppress(requests.RequestException):
                    if session.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                        logger.info("Pushgateway ready at %s (pid %d)", self.url, self._proc.pid)
                        return
                if time.monotonic() > deadline:
                    tail = self._log_tail()
                    self.stop()
                    raise GatewayServerError(
                        f"Pushgateway at {self.url} was not ready after {timeout:g}s{tail}"
                    )
                time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                self._terminate(proc, grace)
        finally:
            self._close_log()

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("Pushgateway pid %d ignored SIGTERM for %gs; killing", proc.pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def _log_tail(self) -> str:
        """This start's part of the log, last lines, for an error message."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(self._log_offset)
        lines = self._log.read().decode("utf-8", errors="replace").splitlines()
        where = f" (log {self.log_path})" if self.log_path is not None else ""
        return f"{where}:\n" + "\n".join(lines[-20:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PushgatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
