"""A light scan of PromQL text: which metrics a query selects and which functions enclose each.

Not a parser: it skips strings, label matchers and range brackets, follows parentheses, and
tells a function call (`name(`) and a grouping list (`by (...)`) from a metric selector. That
is enough to see `http_requests_total{...}` used without `rate(` around it, the mistake that
makes a catalog signal a line that only grows. Queries the server rejects are reported by the
server; on those the scan's answer does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Functions that turn a counter into something a signal can use.
RATE_FUNCTIONS = frozenset({"rate", "irate", "increase", "deriv", "delta", "idelta"})
#: Suffixes the Prometheus naming conventions reserve for counters and histogram parts.
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")

_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "atan2",
        "inf",
        "nan",
        "start",
        "end",
    }
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(
    r"(?:(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:])|0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"
    r"|\.\d+)"
)  # durations (1h30m) first, so their unit letters are not read as a metric
_GROUPING_AFTER = re.compile(r"(?:by|without)\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """One metric selected by a query and the functions around it, outermost first."""

    metric: str
    enclosing: tuple[str, ...]

    @property
    def rated(self) -> bool:
        """True when a rate-like function (rate, increase, ...) encloses the selector."""
        return any(name in RATE_FUNCTIONS for name in self.enclosing)


def selections(query: str) -> list[Selection]:
    """The metric selectors of ``query`` in order of appearance."""
    out: list[Selection] = []
    stack: list[str] = []  # per open parenthesis: the function name, "" for plain grouping
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in "\"'`":
            i = _skip_string(query, i)
        elif ch == "{":
            i = _skip_to(query, i, "}")
        elif ch == "[":
            i = _skip_to(query, i, "]")
        elif ch == "#":
            i = _skip_to(query, i, "\n")
        elif ch == "(":
            stack.append("")
            i += 1
        elif ch == ")":
            if stack:
                stack.pop()
            i += 1
        elif (number := _NUMBER.match(query, i)) and not _IDENT.match(query, i):
            i = number.end()
        elif ident := _IDENT.match(query, i):
            name, i = ident.group(), ident.end()
            j = _skip_space(query, i)
            follows = query[j] if j < n else ""
            if follows != "(" and _GROUPING_AFTER.match(query, j):
                # `sum by (le) (...)`: the grouping list, then the operator's argument
                j = _skip_space(query, _skip_to(query, query.index("(", j), ")"))
                follows = query[j] if j < n else ""
                i = j
            if name.lower() in _GROUPING and follows == "(":
                i = _skip_to(query, j, ")")
            elif follows == "(":
                stack.append(name)
                i = j + 1
            elif name.lower() not in _KEYWORDS:
                out.append(Selection(name, tuple(stack)))
        else:
            i += 1
    return out


def unrated_counters(query: str, counters: frozenset[str] = frozenset()) -> list[str]:
    """Metrics ``query`` selects without a rate-like function around them whose name ends like
    a counter's (`_total`, `_count`, `_sum`, `_bucket`) or that ``counters`` lists (metric
    types from the server's metadata), in order, each once."""
    found: list[str] = []
    for sel in selections(query):
        looks_counter = sel.metric.endswith(COUNTER_SUFFIXES) or sel.metric in counters
        if looks_counter and not sel.rated and sel.metric not in found:
            found.append(sel.metric)
    return found


def has_rate(query: str) -> bool:
    """True when any selector of ``query`` sits inside a rate-like function."""
    return any(sel.rated for sel in selections(query))


def _skip_string(text: str, i: int) -> int:
    quote, i = text[i], i + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" and quote != "`" else 1
    return i + 1


def _skip_to(text: str, i: int, closing: str) -> int:
    """Past the ``closing`` character that ends the construct opened at ``i`` (strings in it
    skipped)."""
    i += 1
    while i < len(text) and text[i] != closing:
        i = _skip_string(text, i) if text[i] in "\"'`" else i + 1
    return i + 1


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


__all__ = [
    "COUNTER_SUFFIXES",
    "RATE_FUNCTIONS",
    "Selection",
    "has_rate",
    "selections",
    "unrated_counters",
]
