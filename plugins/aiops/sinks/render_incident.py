"""The parts of an issue that differ for an incident finding (aiops.incidents.report).

An incident's evidence holds plain keys (the root cause, how it was ranked, when it began,
how many events it condenses) and numbered keys for lists: `candidate_N` (the ranked
root-cause candidates), `spread_N` (the causal chain from the root to its symptoms) and
`event_N` (the strongest events). The plain keys go in the Evidence table as for any finding;
the lists replace "Example traces" with three sections, in their numbered order. Every
value is escaped with the renderer's own escaping (passed in, so this module does not import
the renderer back), and a list item that would open a block of its own (a heading, a nested
list) has that marker backslash-escaped. Why an incident matters (the sentence after the
title) is registered with its kind, in aiops.incidents.report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from aiops.findings.model import Finding

SOURCE = "incidents"  # Finding.source of an incident finding
CANDIDATE_PREFIX = "candidate_"  # ranked root-cause candidates, best first
SPREAD_PREFIX = "spread_"  # the causal chain, root first
EVENT_PREFIX = "event_"  # the strongest events' explanations
_LIST_KEY = re.compile(r"(candidate|spread|event)_(\d+)")
_BLOCK_START = re.compile(r"(?P<number>\d{1,9})(?P<dot>[.)])(?=\s|$)|(?P<mark>[#+=-])")

#: Labels for the incident's plain evidence keys (merged into the renderer's), in the order
#: the Evidence table shows them (the stored record's keys come back sorted).
LABELS = {
    "root_cause": "Likely root cause",
    "first_anomaly": "First anomaly",
    "duration": "Duration",
    "services_affected": "Services affected",
    "not_downstream_of_root": "Anomalous but not downstream of the root",
    "events": "Events",
    "raw_anomalous_points": "Raw anomalous points",
    "ranking": "How it was ranked",
    "incident_id": "Incident",
}
#: (prefix, heading, numbered list?) in the order the sections appear.
_SECTIONS = (
    (CANDIDATE_PREFIX, "Root-cause candidates", True),
    (SPREAD_PREFIX, "How it spread", False),
    (EVENT_PREFIX, "Events", False),
)


def is_incident(finding: Finding) -> bool:
    return finding.source == SOURCE


def list_key(key: str) -> bool:
    """Whether an evidence key is one of the numbered list keys (not a table row)."""
    return _LIST_KEY.fullmatch(key) is not None


def ordered(numbers: Mapping[str, object]) -> list[tuple[str, object]]:
    """The evidence in the table's order: the labelled keys as LABELS lists them, then the
    rest as they come."""
    rank = {key: n for n, key in enumerate(LABELS)}
    return sorted(numbers.items(), key=lambda kv: rank.get(kv[0], len(rank)))


def how_much(finding: Finding) -> str:
    """What an incident was seen in, "9 anomaly events": its impact counts events."""
    n = finding.impact.requests_affected
    return f"{n:,} anomaly event{'' if n == 1 else 's'}"


def sections(finding: Finding, text: Callable[[object], str]) -> str:
    """The candidates, the spread and the events as markdown sections; a list with no item
    is left out, and with none at all the candidates' heading says so."""
    out = []
    for prefix, heading, numbered in _SECTIONS:
        values = items(finding.evidence.numbers, prefix)
        if not values:
            continue
        lines = (
            f"{f'{n}.' if numbered else '-'} {_inline(text(v))}" for n, v in enumerate(values, 1)
        )
        out.append(f"## {heading}\n\n" + "\n".join(lines))
    return "\n\n".join(out) or f"## {_SECTIONS[0][1]}\n\nNone were kept for this finding."


def items(numbers: Mapping[str, object], prefix: str) -> list[object]:
    """The values of `prefix`N keys, by N (so 10 comes after 9), empty ones left out."""
    found = []
    for key, value in numbers.items():
        m = _LIST_KEY.fullmatch(key)
        if m and f"{m.group(1)}_" == prefix and value not in ("", None):
            found.append((int(m.group(2)), value))
    return [value for _, value in sorted(found, key=lambda kv: kv[0])]


def evidence_items(finding: Finding) -> list[tuple[str, str, str]]:
    """(id, label, text) for each evidence value, in the issue's order: the plain keys, then
    the candidates, the spread and the events, by number."""
    numbers = finding.evidence.numbers
    plain = [(k, v) for k, v in ordered(numbers)
             if not list_key(k) and v not in ("", None)]  # fmt: skip
    labelled = [(LABELS.get(k, k.replace("_", " ")), str(v)) for k, v in plain]
    for prefix, label in (("candidate_", "Candidate"), ("spread_", "Spread"), ("event_", "Event")):
        values = items(numbers, prefix)
        labelled += [(f"{label} {n}", str(v)) for n, v in enumerate(values, 1)]
    return [(f"E{n}", label, text) for n, (label, text) in enumerate(labelled, 1)]


def _inline(escaped: str) -> str:
    """An escaped value kept inside its list item: a leading `#`, `-`, `+`, `=` or `1.`
    would open a heading or a nested list, so its marker is backslash-escaped."""
    m = _BLOCK_START.match(escaped)
    if m is None:
        return escaped
    if m.group("mark"):
        return "\\" + escaped
    return f"{m.group('number')}\\{escaped[m.end('number') :]}"
