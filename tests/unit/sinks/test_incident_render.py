"""An incident finding as a GitHub issue: plain evidence in the table, the ranked candidates,
the spread and the events as their own sections, everything escaped, and the comment.

The findings come from aiops.incidents.report on an incidents row made the way the hourly
run makes it (events ranked on a dependency map, `Incident.to_row`).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from aiops.findings.model import Evidence, Finding
from aiops.incidents.report import incident_finding
from aiops.sinks import render_incident
from aiops.sinks.render import fingerprint_in, render_comment, render_issue
from support.findings import CALLS, CASCADE, DAY, _event, _row

NEXT_DAY = (DAY[1], datetime(2025, 11, 1, tzinfo=UTC))
SECTIONS = ["## Evidence", "## The chain, root first", "## Root-cause candidates",
            "## How it spread", "## Events",
            "## What happened (rule-based)", "## Suggested fix",
            "## How this was detected"]  # fmt: skip
LABELS = {"Likely root cause", "How it was ranked", "First anomaly", "Duration",
          "Services affected", "Events", "Raw anomalous points", "Incident"}  # fmt: skip
LISTS = ("Root-cause candidates", "How it spread", "Events")
HOSTILE = "## cache`x`<script>alert(1)</script>**b**"  # a service name nobody should have


@pytest.fixture(scope="module")
def cascade() -> Finding:
    return incident_finding(_row(CASCADE, CALLS))


def _body(finding: Finding) -> str:
    return render_issue(finding, repository="acme-shop/redis", interval=DAY).body


def _section(body: str, heading: str) -> list[str]:
    """The lines under a `## heading` (or a comment's `heading:`), up to the next one."""
    part = re.split(rf"(?m)^(?:## {heading}|{heading}:)\n\n", body, maxsplit=1)[1]
    return part.split("\n\n", 1)[0].splitlines()


def _table(body: str, heading: str = "## Evidence") -> dict[str, str]:
    section = body.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [
        [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in section.splitlines()
    ]
    assert rows[0] == ["Metric", "Value"] and rows[1] == ["---", "---"]
    assert all(len(row) == 2 for row in rows)
    return dict(rows[2:])


def _numbered(finding: Finding, prefix: str) -> list[str]:
    return render_incident.items(finding.evidence.numbers, prefix)


def test_an_incident_issue_lists_candidates_spread_and_events_instead_of_traces(cascade) -> None:
    issue = render_issue(cascade, repository="acme-shop/redis", interval=DAY)
    body = issue.body
    assert [body.index(h) for h in SECTIONS] == sorted(body.index(h) for h in SECTIONS)
    assert "## Example traces" not in body and "sampled requests" not in body
    summary = body.split("\n\n", 1)[0]
    assert summary.startswith(f"**{cascade.title}.** Many alerts, one cause: fixing the first")
    assert summary.endswith("On 2025-10-30 (UTC) it was seen in 4 anomaly events.")
    candidates = _section(body, "Root-cause candidates")
    assert candidates == [f"{n}. {c}" for n, c in enumerate(_numbered(cascade, "candidate_"), 1)]
    assert [line.split(":")[0] for line in candidates] == ["1. redis", "2. cart", "3. frontend"]
    spread = _section(body, "How it spread")
    assert spread[0] == "- redis latency p95 at 13:10 UTC"
    assert spread[1] == "- cart latency p95 at 13:12 UTC (+2m 00s), through redis → cart"
    assert len(spread) == 3 and all(line.startswith("- ") for line in spread)
    events = _section(body, "Events")
    assert len(events) == 4 and events[0].startswith("- frontend latency p95: frontend latency")
    assert "- **Detector:** `incident` (incident)" in body
    assert issue.labels == ("aiops", "aiops:incident")
    assert fingerprint_in(body) == cascade.fingerprint
    assert body.count("<") == body.count("<!--")


def test_the_table_shows_the_plain_keys_with_their_labels_and_no_list_keys(cascade) -> None:
    assert {"candidate_1", "spread_1", "event_1"} <= set(cascade.evidence.numbers)
    rows = _table(_body(cascade))
    assert set(rows) == LABELS
    assert rows["Likely root cause"] == "redis (latency p95)"
    assert rows["Incident"] == cascade.key["incident_id"]
    assert rows["Events"] == "4: 4 metric, 0 log, 0 predictive"
    assert (rows["Services affected"], rows["Raw anomalous points"]) == ("3", "40")
    assert rows["First anomaly"] == "2025-10-30 13:10 UTC" and rows["Duration"] == "15m 00s"
    assert rows["How it was ranked"].startswith("random walk on the dependency map of traces")
    assert not any("score" in value or "sigma" in value for value in rows.values())


def test_a_service_off_the_roots_path_is_named_in_the_table() -> None:
    events = [*CASCADE, _event("search", "latency_p95", 6, 4.0)]
    finding = incident_finding(_row(events, [*CALLS, ("frontend", "search")]))
    rows = _table(_body(finding))
    assert rows["Anomalous but not downstream of the root"] == "search"
    assert rows["Likely root cause"] == "redis (latency p95)"


def test_hostile_service_and_explanation_text_is_escaped_everywhere() -> None:
    text = "timeout `rm -rf /` <img src=x onerror=alert(1)> [click](javascript:alert(1)) *x*"
    events = [
        _event(HOSTILE, "latency_p95", 0, 5.0, "- " + text + " for alice@example.com"),
        _event("cart", "latency_p95", 2, 8.0),
    ]
    finding = incident_finding(_row(events, [("cart", HOSTILE)]))
    assert finding.service == HOSTILE
    body = _body(finding)
    comment = render_comment(finding, interval=NEXT_DAY)
    for out in (body, comment):
        assert out.count("<") == out.count("<!--")  # no HTML but the marker
        assert "<script>" not in out and "<img" not in out
        assert not re.search(r"(?<!\\)\]\(javascript:", out)  # a link only when escaped
        assert "alice" not in out and "&lt;email&gt;" in out
        headings = [line for line in out.splitlines() if line.startswith("#")]
        assert all(line in SECTIONS for line in headings), headings
        listed = [line for h in LISTS for line in _section(out, h)]
        assert len(listed) == 2 + 2 + 2
        for line in listed:  # no block opens inside an item; every backtick and * is escaped
            assert re.match(r"(- |\d+\. )[^#\-+]", line) and "\\\\" not in line, line
            assert not re.search(r"(?<!\\)[`*_\[\]]", line), line
    escaped = r"## cache\`x\`&lt;script&gt;alert(1)&lt;/script&gt;\*\*b\*\*"
    assert f"1. \\{escaped}: score" in body  # a leading # would make the item a heading
    assert f"- \\{escaped} latency p95 at 13:10 UTC" in body
    event = next(line for line in _section(body, "Events") if line.startswith(f"- \\{escaped}"))
    assert event == (
        f"- \\{escaped} latency p95: - timeout \\`rm -rf /\\` &lt;img src=x onerror=alert(1)&gt; "
        r"\[click\](javascript:alert(1)) \*x\* for &lt;email&gt;"
    )
    assert _table(body)["Likely root cause"] == f"{escaped} (latency p95)"
    assert fingerprint_in(body) == fingerprint_in(comment) == finding.fingerprint


def test_the_comment_carries_the_table_and_the_lists_and_the_marker(cascade) -> None:
    comment = render_comment(cascade, interval=NEXT_DAY)
    assert comment.startswith("**Seen again on 2025-10-31 (UTC)**: 4 anomaly events.\n\n")
    assert "## " not in comment and "Requests affected" not in comment
    assert set(_table(comment, "**Seen again")) == LABELS
    assert _section(comment, "Root-cause candidates")[0].startswith("1. redis: score ")
    assert _section(comment, "How it spread")[0] == "- redis latency p95 at 13:10 UTC"
    assert len(_section(comment, "Events")) == 4
    positions = [comment.index(f"\n\n{h}:") for h in ("Root-cause candidates", "How it spread",
                                                    "Events", "Interval")]  # fmt: skip
    assert positions == sorted(positions)
    assert "Interval: `[2025-10-31T00:00:00Z, 2025-11-01T00:00:00Z)` (UTC)" in comment
    assert fingerprint_in(comment) == cascade.fingerprint


def test_lists_follow_their_numbers_and_an_empty_incident_says_so(cascade) -> None:
    numbers = {"root_cause": "redis (latency p95)", "event_10": "ten", "event_2": "two",
               "event_1": "one", "spread_1": "", "candidate_1": "redis"}  # fmt: skip
    one = dataclasses.replace(
        cascade,
        evidence=Evidence(numbers),
        impact=dataclasses.replace(cascade.impact, requests_affected=1),
    )
    body = _body(one)
    assert _section(body, "Events") == ["- one", "- two", "- ten"]
    assert _section(body, "Root-cause candidates") == ["1. redis"]
    assert "## How it spread" not in body  # nothing in it
    assert "it was seen in 1 anomaly event." in body
    assert set(_table(body)) == {"Likely root cause"}
    bare = _body(dataclasses.replace(cascade, evidence=Evidence({"root_cause": "redis"})))
    assert _section(bare, "Root-cause candidates") == ["None were kept for this finding."]
    # the list keys are an incident's: another source's `event_1` stays a table row
    traces = _body(dataclasses.replace(one, source="traces", kind="fan_out"))
    assert "## Example traces" in traces and _table(traces)["Event 1"] == "one"


def test_the_chain_is_drawn_root_first_with_the_lag_on_each_arrow(cascade) -> None:
    body = _body(cascade)
    block = re.search(r"## The chain, root first\n\n```mermaid\n(.*?)\n```", body, re.DOTALL)
    assert block and body.index("## Evidence") < block.start() < body.index("## How it spread")
    lines = block.group(1).splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(re.findall(r"^\s+(n\d+)[([]+\"([^\"]+)\"", block.group(1), re.MULTILINE))
    assert nodes["n0"] == "redis · latency p95"  # the root comes first
    arrows = re.findall(r"(n\d+) -->\|\"([^\"]+)\"\| (n\d+)", block.group(1))
    named = {(nodes[a].split(" ·")[0], nodes[b].split(" ·")[0]): lag for a, lag, b in arrows}
    assert named[("redis", "cart")] == "+2m" and named[("cart", "frontend")] == "+4m"
    assert _body(cascade) == body  # the same incident draws the same chart
    comment = render_comment(cascade, interval=NEXT_DAY)
    assert "The chain, root first:\n\n```mermaid\n" in comment
