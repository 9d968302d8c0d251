"""A folder built once per test run, however many pytest-xdist workers share the run.

The integration tests run on two workers; the demo world and the trained night are costly
and read-only once built, so the first worker that needs one builds it under an exclusive
lock while the others wait, then everyone reuses it. Without xdist it is an ordinary
session folder.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

COMPLETE = ".complete"  # written last: a folder without it was interrupted mid-build


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary root, the same for every worker."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``root/name``, made by ``build(folder)`` by the first caller of the run; the others
    block on the lock until it is complete. A build that raised leaves no COMPLETE mark, so
    the next caller tries again (and fails the same way, naming the cause)."""
    root = run_root(tmp_path_factory)
    folder = root / name
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / COMPLETE).exists():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            (folder / COMPLETE).write_text("")
    return folder
