"""Pid files and process checks, so a server started by one command can be stopped by another."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


LOOPBACK = "127.0.0.1"


def pidfile_for(tsdb_dir: Path) -> Path:
    """Where :class:`PrometheusServer` records the pid of the server on ``tsdb_dir``."""
    tsdb_dir = Path(tsdb_dir)
    return tsdb_dir.parent / f"{tsdb_dir.name}.prometheus.pid"


def stop_from_pidfile(pidfile: Path, grace: float = 10.0) -> bool:
    """Stop the Prometheus whose pid ``pidfile`` holds; True if one was running and stopped.

    A stale pid file (no such process, or the pid now belongs to something that is not
    Prometheus) is removed and nothing is signalled.
    """
    pidfile = Path(pidfile)
    pid = live_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid):
        if time.monotonic() > deadline:
            logger.warning("Prometheus pid %d ignored SIGTERM for %gs; killing", pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)
    pidfile.unlink(missing_ok=True)
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def launch_on_free_port(
    launch: Callable[[int], None], port: int | None, failed: type[Exception], attempts: int = 3
) -> int:
    """Call ``launch(port)`` and return the port it listens on. With ``port`` None a free one
    is picked, and picked again when another process took it between picking and binding
    (``launch`` raised ``failed`` saying "address already in use"); a given port is tried once."""
    for attempt in range(attempts):
        chosen = free_port() if port is None else port
        try:
            launch(chosen)
            return chosen
        except failed as exc:
            if port is None and attempt < attempts - 1 and "address already in use" in str(exc):
                logger.warning("port %d was taken, picking another", chosen)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def read_pid(pidfile: Path) -> int | None:
    """The pid written in ``pidfile``; None when it is missing or unreadable."""
    try:
        return int(pidfile.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def live_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process is alive and (where /proc says) Prometheus."""
    pid = read_pid(pidfile)
    if pid is None or pid <= 0 or not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            if b"prometheus" not in cmdline.read_bytes():
                return None
        except OSError:
            return None
    return pid


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it if it is our own exited child (no zombies)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            # it exited between the waitpid above and now: reap it if it is ours
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True
