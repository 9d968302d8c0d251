"""Versioned model artifacts under `models/` (or any fsspec URL: s3://, gs://, memory://).

A version is named after the END of the data window it was trained on, never the wall clock:
retraining the same night rewrites the same version, and scoring a past interval (a
backfill) picks the newest good model whose data ended by then, exactly as the live run did.

Writes are atomic for readers: files go to a staging folder and `meta.json` is written last,
so a reader only ever sees versions whose metadata exists. On a local disk the staging folder
is then renamed into place.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upath import UPath

log = logging.getLogger(__name__)

META = "meta.json"
_VERSION_FMT = "%Y%m%dT%H%M%SZ"


class RegistryError(RuntimeError):
    """A model artifact that cannot be stored or found; the message names the path."""


@dataclass(frozen=True)
class ModelMeta:
    name: str
    version: str
    kind: str  # e.g. "seasonal-baseline", "service-detector"
    data_start: str  # ISO 8601 UTC
    data_end: str
    trained_at: str  # the data interval that trained it (ISO), not the wall clock
    points: int
    series: int
    quality: dict[str, Any] = field(default_factory=dict)  # e.g. skipped or quarantined series
    good: bool = True

    @property
    def data_end_dt(self) -> datetime:
        return datetime.fromisoformat(self.data_end)


def version_for(data_end: datetime) -> str:
    if data_end.tzinfo is None:
        raise ValueError(f"data_end must be timezone-aware, got {data_end!r}")
    return data_end.astimezone(UTC).strftime(_VERSION_FMT)


class ModelRegistry:
    """`root/<name>/<version>/{artifact files, meta.json}`; keeps the last `keep` versions."""

    def __init__(self, root: str | Path, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = UPath(root)
        self.keep = keep

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r}, keep={self.keep})"

    def save(self, meta: ModelMeta, write: Callable[[Path], None]) -> UPath:
        """Store one version: `write(folder)` writes the artifact files into a local folder."""
        if meta.version != version_for(meta.data_end_dt):
            raise RegistryError(
                f"{meta.name}: version {meta.version} does not match data_end {meta.data_end}"
            )
        target = self.root / meta.name / meta.version
        with tempfile.TemporaryDirectory(prefix="aiops-model-") as tmp:
            staged = Path(tmp) / "artifact"
            staged.mkdir()
            write(staged)
            (staged / META).write_text(json.dumps(asdict(meta), indent=2, sort_keys=True) + "\n")
            if target.protocol in ("", "file", "local"):
                self._install_local(staged, Path(target.path))
            else:
                self._install_remote(staged, target)
        log.info("%s: stored %s version %s (%d series)", self, meta.name, meta.version, meta.series)
        self.prune(meta.name)
        return target

    @staticmethod
    def _install_local(staged: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = target.parent / f".incoming-{target.name}"
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(staged, incoming)
        if target.exists():
            retired = target.parent / f".retired-{target.name}"
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
            incoming.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            incoming.rename(target)

    @staticmethod
    def _install_remote(staged: Path, target: UPath) -> None:
        """Object stores have no rename: meta.json goes last, and readers require it."""
        if target.exists():
            (target / META).unlink(missing_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        files = sorted(p for p in staged.rglob("*") if p.is_file())
        for path in sorted(files, key=lambda p: p.name == META):
            dest = target / path.relative_to(staged).as_posix()
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())

    def versions(self, name: str) -> list[ModelMeta]:
        """Complete versions of `name`, oldest first (incomplete ones have no meta.json)."""
        folder = self.root / name
        if not folder.exists():
            return []
        metas = []
        for child in folder.iterdir():
            if child.name.startswith(".") or not (child / META).exists():
                continue
            try:
                metas.append(ModelMeta(**json.loads((child / META).read_text())))
            except (TypeError, ValueError) as exc:
                raise RegistryError(f"{child / META}: unreadable model metadata: {exc}") from exc
        return sorted(metas, key=lambda m: m.version)

    def latest_good(
        self, name: str, as_of: datetime | None = None
    ) -> tuple[UPath, ModelMeta] | None:
        """The newest good version whose training data ended at or before `as_of`."""
        meta = newest_good(self.versions(name), as_of)
        return None if meta is None else (self.root / name / meta.version, meta)

    def local_copy(self, path: UPath, into: Path) -> Path:
        """A local folder holding the artifact (itself when already local), for `Model.load`."""
        if path.protocol in ("", "file", "local"):
            return Path(path.path)
        into.mkdir(parents=True, exist_ok=True)
        for item in path.rglob("*"):
            if item.is_file():
                dest = into / item.relative_to(path).as_posix()
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(item.read_bytes())
        return into

    def prune(self, name: str) -> list[str]:
        """Delete all but the newest `keep` versions; returns the versions removed."""
        metas = self.versions(name)
        removed = [m.version for m in metas[: max(0, len(metas) - self.keep)]]
        for version in removed:
            path = self.root / name / version
            if path.protocol in ("", "file", "local"):
                shutil.rmtree(Path(path.path))
            else:
                path.fs.rm(path.path, recursive=True)
        return removed


def newest_good(versions: list[ModelMeta], as_of: datetime | None = None) -> ModelMeta | None:
    """Of `versions` (oldest first, as `ModelRegistry.versions` lists them), the newest good
    one whose training data ended at or before `as_of`; for callers that ask many times
    and list the versions once."""
    trained = [m for m in versions if m.good and (as_of is None or m.data_end_dt <= as_of)]
    return trained[-1] if trained else None
