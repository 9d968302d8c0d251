"""The one shape every log source yields, whatever it read (Elasticsearch hits, plain files
in a Loghub format, JSON lines), so mining and scoring never care where a line came from.

`origin` says where the line lives (`payment.log:1234`, `logs-2026.10.31/<_id>`) so an error
or a sample line can be traced back to its source. Lines a source could not read are not
dropped: they come back as `Quarantined` with the reason, and are counted in the run summary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

#: Level spellings seen in the wild, normalised to five names.
LEVELS: dict[str, str] = {
    "TRACE": "DEBUG", "DEBUG": "DEBUG", "FINE": "DEBUG", "FINER": "DEBUG", "FINEST": "DEBUG",
    "INFO": "INFO", "INFORMATION": "INFO", "NOTICE": "INFO", "I": "INFO",
    "WARN": "WARN", "WARNING": "WARN", "W": "WARN",
    "ERROR": "ERROR", "ERR": "ERROR", "E": "ERROR", "SEVERE": "ERROR", "EXCEPTION": "ERROR",
    "FATAL": "FATAL", "CRITICAL": "FATAL", "CRIT": "FATAL", "EMERG": "FATAL", "ALERT": "FATAL",
    "PANIC": "FATAL", "F": "FATAL",
}  # fmt: skip
ERROR_LEVELS = frozenset({"ERROR", "FATAL"})


def normalise_level(raw: str | None) -> str:
    """`warning` -> `WARN`, `Err` -> `ERROR`; unknown or missing -> `""` (never guessed)."""
    if not raw:
        return ""
    return LEVELS.get(raw.strip().upper(), "")


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line (or one Elasticsearch document) ready to mine."""

    timestamp_ms: int  # epoch milliseconds, UTC
    service: str
    level: str  # normalised (see LEVELS), "" when the source has none
    message: str  # the content to mine (Loghub's <Content>)
    origin: str  # file:line or index/_id
    fields: Mapping[str, str] = field(default_factory=dict)  # other parsed fields

    @property
    def is_error(self) -> bool:
        return self.level in ERROR_LEVELS


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A line or document that could not become a LogRecord, with why and where."""

    origin: str
    reason: str
    raw: str  # an excerpt of what was read (PII-masked before it is stored or shown)
    service: str = ""


class LogSource(Protocol):
    """Anything that can list the log lines of a time range: Elasticsearch, a folder of files.

    `read` yields every line with start <= timestamp < end (start and end timezone-aware), and
    a `Quarantined` for each one it could not read, in any order; callers sort.
    """

    def read(self, start: datetime, end: datetime) -> Iterator[LogRecord | Quarantined]: ...

    def describe(self) -> str:
        """Where the lines come from, for logs and errors (no secrets)."""
        ...
