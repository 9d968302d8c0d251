"""A Connection's extras, read with the type each key must have.

Extras are free JSON typed into the Airflow UI, a secrets backend or an ``AIRFLOW_CONN_*``
variable, so one setting arrives as ``30``, ``30.0`` or ``"30"``, and a boolean as ``false``
or ``"false"``. Every hook reads them through :class:`ConnectionExtras`, so they are read the
same way everywhere, and a wrong one is an error that names the connection, the key and the
value, at the moment the hook builds its client::

    connection prometheus_default: extra "timeout": expected a number of seconds > 0, got 'thirty'

(before, that was ``ValueError: could not convert string to float: 'thirty'``, naming neither).

Rules, the same for every getter: a key that is absent or ``null`` takes the default; numbers
may be written as text; a boolean as ``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case)
or ``""`` (false, as a cleared field in the UI); text stays as typed (an empty string is not
the default: the caller decides what "" means). A secret's value is never shown in an error.

No Airflow import here: the hooks pass ``conn.conn_id`` and ``conn.extra_dejson``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, overload

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class ConnectionExtraError(ValueError):
    """An extra has the wrong type or is out of range. A ValueError, as the bare
    ``float(...)`` / ``int(...)`` it replaces raised, so callers catching that still do."""

    def __init__(self, conn_id: str, key: str, expected: str, shown: str) -> None:
        super().__init__(f'connection {conn_id}: extra "{key}": expected {expected}, got {shown}')
        self.conn_id = conn_id
        self.key = key


class ConnectionExtras:
    """The extras of connection ``conn_id``, with typed getters whose errors name it."""

    def __init__(self, conn_id: str, extra: Mapping[str, Any] | None) -> None:
        self.conn_id = conn_id
        self._extra: Mapping[str, Any] = extra or {}

    def seconds(
        self,
        key: str,
        default: float,
        *,
        above: float | None = None,
        at_least: float | None = None,
    ) -> float:
        """A finite number of seconds (int, float or numeric text), ``> above`` and/or
        ``>= at_least``."""
        bounds = [f"> {above:g}"] if above is not None else []
        bounds += [f">= {at_least:g}"] if at_least is not None else []
        expected = " ".join(["a number of seconds", *bounds])
        value = self._extra.get(key)
        if value is None:
            return default
        number = _as_number(value)
        if (
            number is None
            or (above is not None and not number > above)
            or (at_least is not None and not number >= at_least)
        ):
            self._fail(key, expected, value)
        return number

    def integer(self, key: str, default: int, *, at_least: int | None = None) -> int:
        """A whole number (an int, a float such as 3.0, or text such as "3"), ``>= at_least``."""
        expected = "a whole number" + (f" >= {at_least}" if at_least is not None else "")
        value = self._extra.get(key)
        if value is None:
            return default
        number = _as_number(value)
        if number is None or not number.is_integer():
            self._fail(key, expected, value)
        whole = int(number)
        if at_least is not None and whole < at_least:
            self._fail(key, expected, value)
        return whole

    def flag(self, key: str, default: bool) -> bool:
        """A boolean: true/false, or text such as "false", "0", "no", "off" (any case)."""
        value = self._extra.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        self._fail(key, "true or false (or yes/no, on/off, 1/0)", value)

    @overload
    def text(
        self,
        key: str,
        default: str,
        *,
        choices: Sequence[str] | None = None,
        secret: bool = False,
    ) -> str: ...

    @overload
    def text(
        self,
        key: str,
        default: None = None,
        *,
        choices: Sequence[str] | None = None,
        secret: bool = False,
    ) -> str | None: ...

    def text(
        self,
        key: str,
        default: str | None = None,
        *,
        choices: Sequence[str] | None = None,
        secret: bool = False,
    ) -> str | None:
        """A string, as typed; one of ``choices`` when given. A ``secret``'s value is never
        shown in the error, only its type."""
        value = self._extra.get(key)
        if value is None:
            return default
        if choices is not None and value not in choices:
            expected = " or ".join(repr(choice) for choice in choices)
            self._fail(key, expected, value, secret=secret)
        if not isinstance(value, str):
            self._fail(key, "text", value, secret=secret)
        return value

    def mapping(self, key: str) -> dict[str, str]:
        """An object whose keys and values are strings (e.g. HTTP headers); {} when absent."""
        value = self._extra.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self._fail(key, 'an object of text values, e.g. {"name": "value"}', value)
        return dict(value)

    def _fail(self, key: str, expected: str, value: object, *, secret: bool = False) -> NoReturn:
        shown = f"{_kind(value)} (not shown)" if secret else repr(value)
        raise ConnectionExtraError(self.conn_id, key, expected, shown)


def _as_number(value: object) -> float | None:
    """The value as a finite float, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")


__all__ = ["ConnectionExtraError", "ConnectionExtras"]
