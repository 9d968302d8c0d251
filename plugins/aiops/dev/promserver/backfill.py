"""promtool backfill of an OpenMetrics file into TSDB blocks, skipped when the input is unchanged."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from aiops.dev.digest import file_sha256
from aiops.dev.promserver.errors import BackfillFailed, output_tail
from aiops.dev.promserver.install import ensure_installed
from aiops.dev.promserver.process import live_pid, pidfile_for

logger = logging.getLogger(__name__)


STAMP_NAME = ".aiops-backfill.json"


_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


# What a Prometheus data directory may hold besides blocks; anything else makes backfill
# refuse to wipe the directory (a mistyped path must not cost someone their files).
_TSDB_ENTRIES = {"wal", "chunks_head", "lock", "queries.active", STAMP_NAME, STAMP_NAME + ".tmp"}


def backfill(
    openmetrics_file: Path,
    tsdb_dir: Path,
    *,
    max_block_duration: str = "744h",
    promtool: Path | None = None,
    timeout: float = 1800.0,
) -> Path:
    """Turn an OpenMetrics file into TSDB blocks in ``tsdb_dir``; returns ``tsdb_dir``.

    Cheap to repeat: a stamp file records the sha256 of the input, and a matching stamp skips
    the work. A different input wipes the directory (only if it looks like a Prometheus data
    directory) and rebuilds it. Do not rebuild under a running server.
    """
    openmetrics_file = Path(openmetrics_file).absolute()
    tsdb_dir = Path(tsdb_dir).absolute()
    if not openmetrics_file.is_file():
        raise FileNotFoundError(f"backfill: OpenMetrics file not found: {openmetrics_file}")
    digest = file_sha256(openmetrics_file)
    stamp = tsdb_dir / STAMP_NAME
    if _stamp_digest(stamp) == digest and _block_dirs(tsdb_dir):
        logger.info("backfill: %s already holds %s (sha256 matches)", tsdb_dir, openmetrics_file)
        return tsdb_dir

    pid = live_pid(pidfile_for(tsdb_dir))
    if pid is not None:
        raise BackfillFailed(
            f"backfill: a Prometheus (pid {pid}) is serving {tsdb_dir}; stop it before rebuilding"
        )
    _wipe(tsdb_dir)
    tool = promtool or ensure_installed().promtool
    command = [
        str(tool),
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={max_block_duration}",
        str(openmetrics_file),
        str(tsdb_dir),
    ]
    logger.info("backfill: %s", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BackfillFailed(
            f"backfill: promtool did not finish within {timeout:g}s on {openmetrics_file}"
        ) from exc
    if done.returncode != 0:
        raise BackfillFailed(
            f"backfill: promtool failed (exit {done.returncode}) on {openmetrics_file}:\n"
            f"{output_tail(done.stderr or done.stdout)}"
        )
    logger.debug("promtool output:\n%s", done.stdout)
    tmp = stamp.with_name(STAMP_NAME + ".tmp")
    tmp.write_text(
        json.dumps(
            {
                "sha256": digest,
                "source": str(openmetrics_file),
                "max_block_duration": max_block_duration,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    os.replace(tmp, stamp)
    return tsdb_dir


def _stamp_digest(stamp: Path) -> str | None:
    try:
        return json.loads(stamp.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def _block_dirs(tsdb_dir: Path) -> list[Path]:
    if not tsdb_dir.is_dir():
        return []
    return [p for p in tsdb_dir.iterdir() if _ULID.match(p.name) and (p / "meta.json").is_file()]


def _wipe(tsdb_dir: Path) -> None:
    """Empty ``tsdb_dir`` (creating it if needed), refusing anything that is not TSDB data."""
    if not tsdb_dir.exists():
        tsdb_dir.mkdir(parents=True)
        return
    entries = list(tsdb_dir.iterdir())
    foreign = [
        p.name
        for p in entries
        if p.name not in _TSDB_ENTRIES
        and not _ULID.match(
            p.name.removesuffix(".tmp-for-creation").removesuffix(".tmp-for-deletion")
        )
    ]
    if foreign:
        raise BackfillFailed(
            f"backfill: {tsdb_dir} does not look like a Prometheus data directory (it holds "
            f"{', '.join(sorted(foreign)[:5])}); refusing to wipe it"
        )
    logger.info("backfill: wiping %d entries in %s", len(entries), tsdb_dir)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
