"""Column types that make SQLite and PostgreSQL store and return the same values.

Backfills compare and key rows by time, so a datetime must mean one instant everywhere:
naive datetimes are refused, everything is stored as UTC and comes back tz-aware UTC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone reached the store; it would be read as local time."""


def to_utc(value: datetime) -> datetime:
    """``value`` as a tz-aware UTC ``datetime``; naive values raise :class:`NaiveDatetimeError`.

    Accepts ``pandas.Timestamp`` (a ``datetime`` subclass) and returns a plain ``datetime``,
    so drivers never see pandas types.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timezone-aware datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"naive datetime {value.isoformat()} has no timezone; pass an aware datetime "
            "such as datetime(..., tzinfo=timezone.utc) or pandas.Timestamp(..., tz='UTC'), "
            "because a naive time is read as local time and shifts backfilled intervals"
        )
    to_pydatetime = getattr(value, "to_pydatetime", None)  # pandas.Timestamp
    if to_pydatetime is not None:
        value = to_pydatetime()
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored as UTC and always returned tz-aware UTC.

    PostgreSQL gets ``timestamptz``; SQLite, which has no timezone type, gets naive UTC text
    in a fixed format, so keys compare correctly and reruns write identical bytes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = to_utc(value)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as naive UTC by process_bind_param
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # PostgreSQL: returned in the session's time zone


class JSONList(TypeDecorator[list]):
    """A list stored as canonical JSON text (sorted keys, no spaces), returned as a list.

    Accepts a list/tuple or a string that already holds a JSON list; both are written as the
    same bytes, so a rerun that builds the value either way leaves the row unchanged.
    ``None`` is stored as ``[]`` so readers never branch on NULL.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        if value is None:
            items: Sequence[Any] = []
        elif isinstance(value, str):
            items = json.loads(value)
        else:
            items = value
        if not isinstance(items, list | tuple):
            raise TypeError(f"expected a list or a JSON list, got {type(value).__name__} {value!r}")
        return json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any]:
        if value is None:
            return []
        return list(json.loads(value))


class JSONDoc(TypeDecorator[dict]):
    """A JSON object (validation reports, event context) stored as canonical JSON text.

    Canonical (sorted keys, no spaces) for the same reason as :class:`JSONList`: a rerun that
    builds the same document must leave the row byte-identical. ``None`` is stored as ``{}``.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        doc = {} if value is None else json.loads(value) if isinstance(value, str) else value
        if not isinstance(doc, dict):
            raise TypeError(f"expected a mapping or a JSON object, got {type(value).__name__}")
        return json.dumps(
            doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any]:
        return {} if value is None else dict(json.loads(value))
