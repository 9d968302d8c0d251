"""The issue ledger: what the sink filed, where, and for which intervals (table issue_ledger).

It is what makes filing exactly-once across reruns and backfills without asking GitHub: an
interval that ends at or before an entry's `last_interval_end` was already handled.

An entry also keeps the finding last written to the issue (`last_told`, its
`Finding.to_json()`), so a kind that tells only a change (`FindingKind.worth_telling`) is
compared with what the issue says, not with yesterday's run. None: nothing recorded (entries
from before the column, stored as {}).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from aiops.store import Store

TABLE = "issue_ledger"


@dataclass(frozen=True)
class LedgerEntry:
    sink: str
    repository: str
    fingerprint: str
    number: int | None
    url: str
    state: str
    state_reason: str | None
    kind: str
    service: str
    title: str
    first_interval_end: datetime
    last_interval_end: datetime
    last_write_day: str  # "YYYY-MM-DD", UTC
    comments: int = 0
    last_told: dict[str, Any] | None = None  # Finding.to_json() last written to the issue

    @property
    def key(self) -> tuple[str, str]:
        return self.repository, self.fingerprint

    def seen(self, end: datetime, **changes: object) -> LedgerEntry:
        """This entry after a run whose interval ends at ``end`` dealt with it."""
        return replace(self, last_interval_end=max(self.last_interval_end, end), **changes)


def read_ledger(store: Store, sink: str) -> dict[tuple[str, str], LedgerEntry]:
    """Every entry of ``sink`` by (repository, fingerprint)."""
    entries = (
        LedgerEntry(**{**row, "last_told": row.get("last_told") or None})
        for row in store.read(TABLE, sink=sink)
    )
    return {entry.key: entry for entry in entries}


def write_ledger(store: Store, entries: Iterable[LedgerEntry]) -> int:
    return store.upsert(TABLE, [asdict(entry) for entry in entries])
