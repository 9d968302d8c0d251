"""Reading a model's saved metadata: one place that checks the format and the config keys."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from aiops.baselines.errors import BaselineError


def read_meta(meta_path: Path, format_version: int, config_type: type, what: str) -> dict[str, Any]:
    """The JSON metadata of a saved model; errors name the file and what is wrong with it."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{meta_path}: cannot read {what} metadata: {exc}") from exc
    if meta.get("format") != format_version:
        raise BaselineError(
            f"{meta_path}: format {meta.get('format')!r}, expected {format_version}"
        )
    unknown = sorted(set(meta["config"]) - {f.name for f in fields(config_type)})
    if unknown:
        raise BaselineError(f"{meta_path}: config: unknown key(s) {unknown}")
    return meta
