"""Masking the variable parts of a log message before it is mined.

Drain groups lines by their tokens; an order ID or a latency in a token makes every line
look new. Masking replaces the values whose shape says "variable" (emails, URLs, UUIDs, IP
addresses with an optional port, Unix and Windows paths, hex strings, sizes and durations
with their unit, booleans and nulls, numbers) with the wildcard `<*>` before the miner sees
the line, so what the miner compares is what is left. A quoted value after `=` is one value
(`q="running shoes"`); other quoted strings can be masked too, but not by default: on real logs a quoted request line (`"GET /v2/... HTTP/1.1"`) holds the
method that tells two templates apart (bench/bench_loghub.py).

All masks run as ONE compiled alternation (leftmost match wins, then the first alternative
in the order below), which is most of why mining here is faster than applying a list of
regular expressions one after another. No mask but the quoted strings matches whitespace,
so masking never changes how a line splits into tokens except inside quotes and between a
number and its unit (`12 MB`, `3 sec`: one value).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

WILDCARD = "<*>"

#: (name, pattern) in priority order. Every mask starts where a word does (the `(?<!\w)`
#: the alternation is wrapped in), so `sha256`, `v2` and `ipv4` stay while `u-123` and
#: `took=49ms` give `u-<*>` and `took=<*>ms`. Possessive quantifiers (`++`, `*+`) keep a
#: failed attempt from backtracking through every shorter prefix of a word: that, and one
#: alternation instead of one pass per mask, is what makes masking cheap.
MASKS: tuple[tuple[str, str], ...] = (
    ("email", r"[\w.+-]++@[\w-]++(?:\.[\w-]++)++"),
    ("url", r"[a-zA-Z][\w+.-]*+://[^\s\"'<>]++"),
    ("uuid", r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![\w-])"),
    ("ipv4", r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    ("ipv6", r"(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"),
    ("path", r"(?<![./])/(?:[\w.@%+~=-]++/?)*+(?![\w./])"),
    ("windows_path", r"[A-Za-z]:\\[^\s]*+"),
    (
        "size",
        r"[-+]?\d++(?:[.,]\d++)*+ ?(?:[kKMGTPE]i?[bB]|B|[bB]ytes?|[munµ]s|s|secs?"
        r"|seconds?|mins?|minutes?|h|hrs?|hours?|days?|%)(?!\w)",
    ),
    (
        "hex",
        r"(?:0[xX][0-9a-fA-F]++|(?=[0-9a-fA-F]{6})[a-fA-F]*+[0-9][0-9a-fA-F]*+"
        r"|[a-f]{8,}+|[A-F]{8,}+)(?!\w)",
    ),
    ("quoted_value", r"(?<==)(?:\"[^\"\n]*+\"|'[^'\n]*+')"),  # key="a value with spaces"
    ("quoted", r"\"[^\"\n]*+\"|(?<!')'[^'\s]*+'"),
    ("number", r"[-+]?\d++(?:[.:]\d++)*+"),
    ("literal", r"(?:true|false|null|nil|True|False|None|TRUE|FALSE|NULL)(?!\w)"),
)
#: The masks on by default: all but "quoted" (see the module docstring).
DEFAULT_MASKS: tuple[str, ...] = tuple(name for name, _ in MASKS if name != "quoted")


@dataclass(frozen=True)
class Masker:
    """Replace variable values with `<*>`; `names` picks which masks run (all by default)."""

    names: tuple[str, ...] = DEFAULT_MASKS

    def __post_init__(self) -> None:
        known = {name for name, _ in MASKS}
        unknown = sorted(set(self.names) - known)
        if unknown:
            raise ValueError(f"masks: unknown {unknown}; choose from {[n for n, _ in MASKS]}")
        wanted = [f"(?:{pattern})" for name, pattern in MASKS if name in self.names]
        # a pattern that never matches when every mask is switched off
        regex = rf"(?<!\w)(?:{'|'.join(wanted)})" if wanted else r"(?!x)x"
        object.__setattr__(self, "_regex", re.compile(regex))

    def mask(self, text: str) -> str:
        return self._regex.sub(WILDCARD, text)

    def values(self, text: str) -> list[str]:
        """The masked values, in order (what `mask` replaced)."""
        return [m.group(0) for m in self._regex.finditer(text)]

    @property
    def regex(self) -> re.Pattern[str]:
        """The one compiled alternation (hot loops bind `regex.sub` once)."""
        return self._regex

    @classmethod
    def only(cls, names: Sequence[str]) -> Masker:
        return cls(tuple(names))
