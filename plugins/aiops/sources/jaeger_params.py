"""The search parameters of Jaeger's query API, encoded as its query parser reads them
(jaegertracing/jaeger ``cmd/query/app/query_parser.go``): unix-µs bounds, ``operation``,
``tags`` as a JSON object of strings, ``minDuration`` in Go duration syntax."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from aiops.sources.jaeger_files import epoch_micros


def search_bounds(start: datetime, end: datetime) -> tuple[int, int]:
    lo, hi = epoch_micros(start, "start"), epoch_micros(end, "end")
    if hi < lo:
        raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
    return lo, hi


def search_filters(
    operation: str | None,
    tags: Mapping[str, str | bool | int | float] | None,
    min_duration: timedelta | str | None,
) -> dict[str, str]:
    """The optional search parameters, encoded the way Jaeger's query parser reads them."""
    out: dict[str, str] = {}
    if operation is not None:
        if not isinstance(operation, str) or not operation:
            raise ValueError(f"operation: must be a non-empty string, got {operation!r}")
        out["operation"] = operation
    if tags:
        out["tags"] = json.dumps(
            {str(k): _tag_value(k, v) for k, v in tags.items()},
            sort_keys=True,
            separators=(",", ":"),
        )
    if isinstance(min_duration, timedelta):
        td = min_duration  # integer arithmetic: exact, and fine for pendulum's Duration
        micros = (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds
        if micros <= 0:
            raise ValueError(f"min_duration: must be > 0, got {min_duration}")
        out["minDuration"] = f"{micros}us"
    elif isinstance(min_duration, str):
        out["minDuration"] = min_duration.strip()  # Jaeger parses it, and says if it is wrong
    elif min_duration is not None:
        raise TypeError(
            f"min_duration: expected a timedelta or a string like '250ms', got {min_duration!r}"
        )
    return out


def _tag_value(key: object, value: object) -> str:
    """Jaeger's ``tags`` is a map of strings, compared with each tag's value as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"tags[{key!r}]: expected a string, bool or number, got {value!r}")
