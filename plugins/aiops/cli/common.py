"""What several command groups share: reading times and dates from flags, opening the
results store (read-only commands refuse one that does not exist), aligned text tables, and
the error a command reports as "error: ..." with exit code 2."""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime

from aiops.store import Store


class InputError(Exception):
    """A file, flag or state the command cannot use; the message names it."""


def parse_utc(text: str, where: str) -> datetime:
    """An aware datetime from ISO 8601 text; errors name ``where`` (a flag, a file's field)."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected an ISO 8601 time such as 2026-11-01T00:00Z, "
                         f"got {text!r}") from None  # fmt: skip
    if value.tzinfo is None:
        raise ValueError(f"{where}: give a timezone (Z or +00:00), got {text!r}")
    return value


def parse_day_or_utc(text: str, where: str) -> datetime:
    """ISO 8601 with a timezone, or a bare date meaning its midnight UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return parse_utc(text, where)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def open_store(args: argparse.Namespace, *, read_only: bool = True) -> Store:
    """The results store of ``--store`` (default $AIOPS_STORE_URL or out/aiops.db).

    A command that only reads (``read_only``, the default) refuses a store that does not
    exist, with a :class:`~aiops.store.StoreError` naming the URL: a mistyped
    ``--store sqlite:///typo.db`` would otherwise be created empty and read as "nothing
    stored". Commands that write (filing issues, the demo) pass ``read_only=False``.
    """
    from aiops.settings import resolve_store_url

    return Store.open(resolve_store_url(args.store), create=not read_only)


def columns(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    indent: str = "",
    numeric: Collection[str] = (),
) -> list[str]:
    """Aligned text columns; the ``numeric`` ones to the right, the last column left ragged."""
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows, strict=True)]
    lines = []
    for cells in (header, *rows):
        parts = [
            str(v).rjust(w) if h in numeric else str(v).ljust(w)
            for h, v, w in zip(header, cells, widths, strict=True)
        ]
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def signal_source(prometheus: str | None):
    """Where a command reads signals: `--prometheus URL`, else the signals file named by
    AIOPS_METRICS_FILE."""
    import os
    from pathlib import Path

    from aiops.sources.frame_source import SignalsFileSource
    from aiops.sources.prometheus import PrometheusClient
    from aiops.sources.signals import PrometheusSignalSource

    if prometheus:
        return PrometheusSignalSource(PrometheusClient(prometheus))
    path = os.environ.get("AIOPS_METRICS_FILE")
    if path:
        return SignalsFileSource(Path(path))
    raise ValueError("give --prometheus URL (or set AIOPS_METRICS_FILE to a signals file)")
