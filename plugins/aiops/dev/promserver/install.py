"""Finding, or installing, Debian's prometheus and promtool binaries."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiops.dev.promserver.errors import PrometheusNotInstalled, output_tail

logger = logging.getLogger(__name__)


APT_INSTALL = "apt-get install -y --no-install-recommends prometheus"


@dataclass(frozen=True)
class PrometheusBinaries:
    prometheus: Path
    promtool: Path


def ensure_installed() -> PrometheusBinaries:
    """Find ``prometheus`` and ``promtool`` on PATH, installing Debian's package when root."""
    found = _which_binaries()
    missing = [name for name, path in found.items() if path is None]
    if missing and _is_root() and shutil.which("apt-get"):
        logger.info("installing the Debian prometheus package (missing: %s)", ", ".join(missing))
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run_apt(["apt-get", "update"], env)
        _run_apt(["apt-get", *APT_INSTALL.split()[1:]], env)
        found = _which_binaries()
        missing = [name for name, path in found.items() if path is None]
    if missing:
        raise PrometheusNotInstalled(
            f"{' and '.join(missing)} not found on PATH. Install them with: "
            f"sudo apt-get update && sudo {APT_INSTALL}"
        )
    return PrometheusBinaries(prometheus=found["prometheus"], promtool=found["promtool"])


def _which_binaries() -> dict[str, Path | None]:
    return {
        name: Path(found) if (found := shutil.which(name)) else None
        for name in ("prometheus", "promtool")
    }


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run_apt(command: list[str], env: dict[str, str]) -> None:
    logger.info("running %s", " ".join(command))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PrometheusNotInstalled(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{output_tail(done.stderr)}"
        )
