"""From a masked message to the tokens its template is made of.

Masking (`aiops.logs.masking`) replaces values whose whole shape says "variable". Real logs
also hide variables INSIDE tokens (`blk_-123`, `proxy.example.org:5070`, `attempt_01_m_2`,
`setLightsOn(true)`), and a variable written as several words (`0 bytes (0.1 KB)`) changes
how many tokens a line has. `template_tokens` settles both, the same way for every system:

- a token holding a digit or a masked value is a variable as a whole: `<*>`, so
  `blk_-<*>` and `<*>` are the same thing; the brackets and quotes around it stay
  (`[instance: <*>]`, `(session <*>)`);
- except a `key=value` token, whose key is a constant and whose value is a variable
  whatever it looks like (`user=alice` -> `user=<*>`), and a `key:value` token whose value
  holds a digit or a masked value (`isOverlap:<*>`; a `key:` with a dot in it,
  `host.example.org:5070`, is a host and port, a variable as a whole);
- a run of variables is one variable, so the same template keeps one token count however
  many words its values take;
- a message that would be nothing but variables keeps its masked tokens instead
  (`setLightsOn(<*>)`): a template with no constant at all would swallow every other
  message of its length.
"""

from __future__ import annotations

import re

from aiops.logs.masking import WILDCARD

_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")
_EDGES = re.compile(r"^([\[\](){},;:'\"=]*)(.*?)([\[\](){},;:'\".]*)$")
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z_.-]*?)([=:])(.+)$")  # a key holds no digit
_MASKED = "<*"
_NOT_BRACKETS = ",;:="  # leading punctuation that is not kept around a variable  # a masked value, even with its closing ">" read as punctuation


def template_tokens(masked: str) -> list[str]:
    """The tokens of ``masked`` (a message after `Masker.mask`) as a template compares them."""
    raw = masked.split()
    out: list[str] = []
    variable = False  # whether the last token of `out` is a variable
    for token in raw:
        lead, core, trail = _EDGES.match(token).groups()  # type: ignore[union-attr]
        pair = _KEY_VALUE.match(core)
        if token == WILDCARD:
            variable = _append_variable(out, variable, "", "")
        elif pair is not None and (pair.group(2) == "=" or "." not in pair.group(1)):
            key, sep, value = pair.groups()
            if sep == "=" or _MASKED in value or _DIGIT.search(value):
                token = f"{lead}{key}{sep}{WILDCARD}{trail}"
            out.append(token)
            variable = False
        elif _MASKED in core or _DIGIT.search(core):
            if any(bracket in core for bracket in "([{"):
                trail = ""  # `Cart.add(Cart.java:42)`: the bracket closes inside the value
            variable = _append_variable(out, variable, lead, trail)
        else:
            out.append(token)
            variable = False
    if all(_core(t) == WILDCARD for t in out):
        return _collapsed(raw)
    return out


def _append_variable(out: list[str], after_variable: bool, lead: str, trail: str) -> bool:
    """A variable, with the brackets and quotes around it; after another: one bare `<*>`."""
    if after_variable:
        out[-1] = WILDCARD
    else:
        out.append(f"{lead.lstrip(_NOT_BRACKETS)}{WILDCARD}{trail}")
    return True


def _core(token: str) -> str:
    return _EDGES.match(token).group(2)  # type: ignore[union-attr]


def _collapsed(tokens: list[str]) -> list[str]:
    """The masked tokens, runs of variables as one, and each digit run inside a word a
    variable too (`v1.<*>` -> `v<*>.<*>`): tokens never depend on which digits a message
    has, only on where (aiops.logs.miner remembers tokens per such shape)."""
    out: list[str] = []
    for token in tokens:
        token = _DIGITS.sub(WILDCARD, token)
        if token != WILDCARD or not out or out[-1] != WILDCARD:
            out.append(token)
    return out
