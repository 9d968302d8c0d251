"""Human units both ways: parsed from configuration ("300ms", "1GiB"), so the catalog reads
like an SLO document, and formatted for people ("412 ms", "1h 05m", "latency p95"), so every
message, issue and report names a signal and its value the same way."""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_DURATION_FACTOR = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)\s*$", re.IGNORECASE)
_BYTES_FACTOR = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


def parse_number(value: Any) -> Any:
    """Numbers pass; numeric strings become floats; anything else is left for pydantic to reject."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_duration_seconds(value: Any) -> Any:
    """'300ms' -> 0.3, '5m' -> 300; bare numbers are seconds."""
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m is None:
            number = parse_number(value)
            if isinstance(number, float):
                return number
            raise ValueError(f"expected a duration such as 300ms, 1.5s, 5m or 1h, got {value!r}")
        return float(m.group(1)) * _DURATION_FACTOR[m.group(2)]
    return value


def parse_bytes(value: Any) -> Any:
    """'1GiB' -> 1073741824, '500MB' -> 5e8; bare numbers are bytes."""
    if isinstance(value, str):
        m = _BYTES.match(value)
        if m is None:
            number = parse_number(value)
            if isinstance(number, float):
                return number
            raise ValueError(f"expected a size such as 512MiB, 1GiB or 2e9, got {value!r}")
        unit = m.group(2).lower().removesuffix("b")
        return float(m.group(1)) * _BYTES_FACTOR[unit]
    return value


def format_duration(seconds: float) -> str:
    """1h 05m style, for messages people read."""
    seconds = int(round(seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d {h:02d}h"
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


#: How people name the built-in signals.
SIGNAL_LABELS = {
    "request_rate": "request rate",
    "error_ratio": "error ratio",
    "latency_p95": "latency p95",
    "cpu": "CPU",
    "memory": "memory",
}


def signal_label(signal: str) -> str:
    """How a person names a signal (latency p95); "*" is the multivariate detector's."""
    return SIGNAL_LABELS.get(signal, "combined signals" if signal == "*" else signal)


#: The unit of each well-known signal when the caller does not pass the catalog's.
DEFAULT_UNITS = {
    "request_rate": "req/s",
    "error_ratio": "ratio",
    "latency_p95": "s",
    "cpu": "cores",
    "memory": "bytes",
}


def format_value(signal: str, value: float, unit: str | None = None) -> str:
    """A value in the unit people read: the catalog's `unit` for the signal when given (a CPU
    signal in percent prints as 95.0%, not 95.00 cores), else the well-known signal's."""
    if value is None or not math.isfinite(value):
        return "n/a"
    unit = unit or DEFAULT_UNITS.get(signal)
    if unit == "s":
        if abs(value) >= 10:
            return f"{value:.1f} s"
        return f"{value * 1000:.0f} ms" if abs(value) >= 0.01 else f"{value * 1000:.1f} ms"
    if unit == "ms":
        return f"{value:.0f} ms" if abs(value) >= 10 else f"{value:.1f} ms"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit in ("percent", "%"):
        return f"{value:.1f}%"
    if unit == "bytes":
        return f"{value / 2**30:.2f} GiB" if abs(value) >= 2**30 else f"{value / 2**20:.0f} MiB"
    if unit in ("cores", "req/s"):
        return f"{value:.2f} cores" if unit == "cores" else f"{value:.1f} req/s"
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def format_range(signal: str, low: float, high: float, unit: str | None = None) -> str:
    """The expected range as people read it: 180-240 ms when both ends share a unit, else
    "0.95 GiB to 1.10 GiB"."""
    lo, hi = format_value(signal, low, unit), format_value(signal, high, unit)
    unit = lo.split(" ", 1)[1] if " " in lo and lo.split(" ", 1)[1] == hi.split(" ", 1)[-1] else ""
    return f"{lo.split(' ')[0]}-{hi}" if unit else f"{lo} to {hi}"
