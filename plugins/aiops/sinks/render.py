"""A Finding as a GitHub issue a service team is glad to receive.

The body answers in order: what is wrong, where and how much; the numbers; traces to open; the
fix (for an N+1 query, the batched statement), its worth and risk; how it was found. Values from
a finding are escaped, so a statement with `||` cannot break the table and `GET /<id>` cannot
become HTML. The only raw HTML is the hidden `<!-- aiops:fingerprint=... -->` marker the GitHub
sink finds its issue by, so the same problem found tomorrow updates this issue.

What a kind of finding is called and why it matters (the sentence after the title) come
from the finding-kind registry (aiops.findings.kinds), where each source declares its kinds:
a finding of a kind nobody registered raises `UnknownKindError` rather than becoming an
issue with a made-up label and no reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote, urlsplit

from aiops.findings.kinds import KINDS
from aiops.findings.model import Finding, Safety, kind_label
from aiops.findings.narrative import Narrative
from aiops.pictures.mermaid import mermaid_block
from aiops.pictures.model import Picture
from aiops.pii import mask_pii
from aiops.sinks import render_incident as incident
from aiops.sinks.render_narrative import narrative_section
from aiops.traces.suggest import batched_statement

TITLE_MAX = 99  # "under 100 characters"
MARKER = "<!-- aiops:fingerprint={} -->"
_MARKER_LINE = re.compile(r"[ \t]*<!--[ \t]*aiops:fingerprint=([0-9a-f]{16})[ \t]*-->[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# evidence values that are whole files to apply: shown as fenced YAML under the suggested
# fix, not squashed into a table cell (a right-sizing finding's patch and Helm values)
YAML_BLOCKS = {"kubernetes_patch": "Kubernetes patch", "helm_values": "Helm values"}
# sources whose findings are counted in their own units, not in sampled requests
_OWN_UNITS = ("logs", "rightsizing", "predictive")
_SQL = re.compile(r"\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b", re.IGNORECASE)
_FILLER = {"a", "an", "the", "of", "for", "to", "in", "at", "on", "and", "or", "per", "one",
           "after", "is", "are", "with", "from", "by", "calls", "waits", "than", "→"}  # fmt: skip
_QUANTILES = ("p50", "p90", "p95", "p99", "median", "mean", "max", "min")
_CODE_KEYS = {"statement", "error", "template", "appeared_with"}
SAMPLE_PREFIX = "sample_"  # evidence keys of a log finding's example lines
_LABELS = {  # evidence keys whose generic label ("Time in loop (p50)") would read badly
    "callee": "Called service",
    "callees": "Called one after another",
    "repeats_median": "Repeats per request (median)",
    "repeats_max": "Repeats per request (max)",
    "sequential_ms_p50": "Time in the sequence (p50)",
    "saving_ms_p50": "Saving if run together (p50)",
    "share_of_traces_in_order": "Requests calling in this order",
    "entry_p95_ms": "Entry point latency (p95)",
    "requests": "Requests to the entry point",
    "share_of_slowest_5pct": "Share of the slowest 5% of requests' critical path",
    "on_path_ms_p50": "Time on the critical path (p50)",
    "failed_requests": "Failed requests, all causes",
    "failed_requests_from_here": "Failed requests starting here",
    "error": "Most common error",
    "propagates_through": "Passed up through",
    "time_in_loop_ms_p50": "Time in the loop (p50)",
    "time_in_loop_ms_p95": "Time in the loop (p95)",
    "dependents": "Dependent services",
    "share_of_requests": "Share of requests passing through",
    "instrumented": "Has its own spans",
    **incident.LABELS,
}
_SAFETY = {
    Safety.SAFE: "reversible and bounded, so it could be automated",
    Safety.REQUIRES_APPROVAL: "a human reviews and merges the change; nothing is automated",
    Safety.FORBIDDEN: "never automated: it is destructive or weakens a safeguard",
}
_EFFORT = {
    "low": "a local change: one query, one call site, one setting",
    "medium": "a change across a module or an interface between two services",
    "high": "a design change: new infrastructure, data model, ownership",
}


@dataclass(frozen=True)
class RenderedIssue:
    title: str
    body: str
    labels: tuple[str, ...]
    fingerprint: str
    repository: str  # "owner/repo"
    picture: Picture | None = None  # drawn in the body as Mermaid; the dry run adds a PNG


def render_issue(
    finding: Finding,
    *,
    repository: str,
    interval: tuple[datetime, datetime],
    labels: Iterable[str] = (),
    bot_label: str = "aiops",
    graph: str | None = None,
    narrative: Narrative | None = None,
) -> RenderedIssue:
    """The issue for ``finding`` in ``repository``, about the data in ``interval`` ([start,
    end), aware datetimes); ``graph`` is a path or URL of a dependency graph to link;
    ``narrative`` is what a language model wrote about it (aiops.llm), or why nothing.
    `UnknownKindError` when the finding's kind is not registered."""
    if not _REPO.match(repository):
        raise ValueError(f"render_issue: repository must be 'owner/repo', got {repository!r}")
    if not bot_label.strip():
        raise ValueError("render_issue: bot_label must not be empty")
    when = interval_text(interval)
    fingerprint, finding = finding.fingerprint, masked(finding)
    why = KINDS.get(finding.kind).why  # why the kind matters; an unregistered kind raises
    summary = (f"**{_prose(finding.title)}.**", why,
               f"{when_text(interval)} it was seen in {_how_much(finding)}.")  # fmt: skip
    sections = [
        " ".join(part for part in summary if part),
        "## Evidence\n\n" + _table(finding),
        _picture(finding),
        _examples(finding),
        narrative_section(finding, narrative, _text),
        "## Suggested fix\n\n" + _fix(finding),
        "## How this was detected\n\n" + _detected(finding, fingerprint, when, graph),
        MARKER.format(fingerprint),
    ]
    kind = f"{bot_label.strip()}:{finding.kind}"
    names = (name.strip() for name in (*labels, bot_label, kind))
    return RenderedIssue(
        title=short_title(finding.title),
        body="\n\n".join(s for s in sections if s) + "\n",
        labels=tuple(dict.fromkeys(name for name in names if name)),
        fingerprint=fingerprint,
        repository=repository,
        picture=finding.evidence.picture,
    )


def render_comment(finding: Finding, *, interval: tuple[datetime, datetime]) -> str:
    """The comment added to the open issue when the same problem is found again: the new
    interval's numbers and example traces, and the same fingerprint marker."""
    fingerprint, finding = finding.fingerprint, masked(finding)
    sections = [
        f"**Seen again {_lower(when_text(interval))}**: {_how_much(finding)}.",
        _table(finding),
        *(
            re.sub(r"(?m)^## (.+)\n\n", r"\1:\n\n", part)  # headings as lead-ins
            for part in (_picture(finding), _examples(finding))
        ),
        f"Interval: `{interval_text(interval)}` (UTC)",
        MARKER.format(fingerprint),
    ]
    return "\n\n".join(sections) + "\n"


def masked(finding: Finding) -> Finding:
    """``finding`` with personal data and secrets masked in every text it shows (aiops.pii),
    before escaping, so a masked value renders as `<email>` and nothing of it leaks. Its
    fingerprint may change with it: callers keep the original's."""
    numbers = {
        k: mask_pii(v) if isinstance(v, str) else v for k, v in finding.evidence.numbers.items()
    }
    evidence = replace(finding.evidence, numbers=numbers,
                       links=tuple(mask_pii(link) for link in finding.evidence.links))  # fmt: skip
    texts = ("service", "operation", "title", "suggestion", "expected_improvement")
    return replace(finding, evidence=evidence, **{k: mask_pii(getattr(finding, k)) for k in texts})


def fingerprint_in(body: str) -> str | None:
    """The fingerprint of the last `<!-- aiops:fingerprint=... -->` line outside fenced code
    blocks (leading and trailing spaces allowed), or None when there is none."""
    found, fence = None, ""
    for line in body.splitlines():
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = "" if not line[opening.end() :].strip() else fence
        elif opening:
            fence = opening.group(1)
        elif marker := _MARKER_LINE.fullmatch(line):
            found = marker.group(1)
    return found


def short_title(title: str) -> str:
    """``title`` on one line and under 100 characters: cut after a whole word, never inside a
    `code span` (a span that does not fit is left out whole and the words after it kept when
    they fit), not right after a filler word, and ended with an ellipsis."""
    title = " ".join(title.split())
    if len(title) <= TITLE_MAX:
        return title
    spans = [m.span() for m in _CODE_SPAN.finditer(title)]
    cuts = [i for i, c in enumerate(title) if c == " " and not any(a < i < b for a, b in spans)]
    fits = [i for i in cuts if len(title[:i].rstrip(":,;")) + 2 <= TITLE_MAX]
    if not fits:  # not even the first word fits: drop the backticks rather than split a span
        return title.replace("`", "")[: TITLE_MAX - 1].rstrip() + "…"
    span = next((s for s in spans if s[0] == fits[-1] + 1), None)
    if span and len(elided := f"{title[: fits[-1]]} …{title[span[1] :]}") <= TITLE_MAX:
        return elided
    while len(fits) > 1 and fits[-2] > TITLE_MAX // 2:
        if title[: fits[-1]].rsplit(" ", 1)[-1].lower() not in _FILLER:
            break
        fits.pop()
    return title[: fits[-1]].rstrip(":,;") + " …"


def interval_text(interval: tuple[datetime, datetime]) -> str:
    """`[2026-10-30T00:00:00Z, 2026-10-31T00:00:00Z)`, in UTC."""
    start, end = interval
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError(f"interval must be aware and non-empty, got [{start}, {end})")
    return "[{}, {})".format(*(t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in interval))


def when_text(interval: tuple[datetime, datetime]) -> str:
    """The interval as people say it: "On 2026-10-30 (UTC)", "From 2026-10-24 to 2026-10-30
    (UTC)", "On 2026-10-30 between 13:00 and 14:00 UTC"; the exact bounds are given below."""
    interval_text(interval)  # validates it
    start, end = (t.astimezone(UTC) for t in interval)
    if start.time() == end.time() == time(0):
        last = (end - timedelta(days=1)).date()
        if last == start.date():
            return f"On {start:%Y-%m-%d} (UTC)"
        return f"From {start:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)"
    if start.date() == end.date() or end == datetime.combine(end.date(), time(0), UTC):
        return f"On {start:%Y-%m-%d} between {start:%H:%M} and {end:%H:%M} UTC"
    return f"Between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC"


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


# -- sections -------------------------------------------------------------------------------


def _how_much(f: Finding) -> str:
    i = f.impact
    if f.source == "rightsizing":
        samples = f.evidence.numbers.get("samples")
        return f"{_count(samples if isinstance(samples, int | float) else 0)} usage samples"
    if f.source == "logs":
        return f"{_count(i.requests_affected)} log lines"
    if f.source == "predictive":
        runs = i.requests_affected
        return f"{_count(runs)} hourly forecast{'s' if runs != 1 else ''}"
    if incident.is_incident(f):
        return incident.how_much(f)
    text = f"{_count(i.requests_affected)} sampled requests"
    if i.requests_per_day is not None:
        text += f" (about {_count(round(i.requests_per_day))} requests/day)"
    if i.ms_per_request:
        text += f", costing each of them {_ms(i.ms_per_request)} on average"
        if i.p95_share is not None:
            text += f", {_pct(i.p95_share)} of the slowest requests' time"
    return text


def _table(f: Finding) -> str:
    numbers, i = f.evidence.numbers, f.impact
    rows = [
        (_label(k), _value(k, v))
        for k, v in (incident.ordered(numbers) if incident.is_incident(f) else numbers.items())
        if v not in ("", None)
        and k not in YAML_BLOCKS
        and not k.startswith(SAMPLE_PREFIX)
        and not (incident.is_incident(f) and incident.list_key(k))
    ]
    if f.source == "logs":
        rows.append(("Log lines", _count(i.requests_affected)))
    if f.source in (*_OWN_UNITS, incident.SOURCE):  # their own units, not requests
        cells = ["| " + " | ".join(c.replace("|", r"\|") for c in row) + " |" for row in rows]
        return "\n".join(["| Metric | Value |", "| --- | --- |", *cells])
    if i.ms_per_request:
        rows.append(("Time per affected request (mean)", _ms(i.ms_per_request)))
    if i.p95_share is not None and not any(k.startswith("share_of_slowest") for k in numbers):
        rows.append(("Share of the slowest requests' time", _pct(i.p95_share)))
    rows.append(("Requests affected (sampled traces)", _count(i.requests_affected)))
    if i.requests_per_day is not None:
        per_day = f"{_count(round(i.requests_per_day))} requests/day"
        rows.append(("Requests affected per day (estimated)", per_day))
    if f.expected_saving_ms is not None:
        rows.append(("Expected saving per request", _ms(f.expected_saving_ms)))
    cells = ["| " + " | ".join(c.replace("|", r"\|") for c in row) + " |" for row in rows]
    return "\n".join(["| Metric | Value |", "| --- | --- |", *cells])


def _examples(f: Finding) -> str:
    """Example traces; a log finding's sample lines (PII-masked, as code); an incident's lists."""
    if incident.is_incident(f):
        return incident.sections(f, _text)
    if f.source in ("rightsizing", "predictive"):
        return ""  # no traces or lines: the evidence is the usage or the forecast above
    if f.source != "logs":
        return "## Example traces\n\n" + _traces(f)
    samples = [v for k, v in f.evidence.numbers.items() if k.startswith(SAMPLE_PREFIX)]
    lines = "\n".join(f"- {_code(str(v))}" for v in samples)
    return "## Example log lines\n\n" + (lines or "None were kept for this finding.")


def _picture(f: Finding) -> str:
    """The finding's picture as a Mermaid block GitHub draws (aiops.pictures.mermaid), under
    a heading saying what it answers; "" without one."""
    picture = f.evidence.picture
    return f"## {picture.heading}\n\n{mermaid_block(picture)}" if picture is not None else ""


def _traces(f: Finding) -> str:
    ids, links = f.evidence.trace_ids, f.evidence.links
    items = []
    for n in range(max(len(ids), len(links))):
        text = _code(ids[n]) if n < len(ids) else f"trace {n + 1}"
        url = _url(links[n]) if n < len(links) else None
        items.append(f"- [{text}]({url})" if url else f"- {text}")
    return "\n".join(items) or "None were kept for this finding."


def _fix(f: Finding) -> str:
    parts = [_prose(f.suggestion)]
    statement = f.evidence.numbers.get("statement")
    batched = batched_statement(statement) if isinstance(statement, str) else None
    if f.kind == "n_plus_one" and batched and _SQL.match(statement or ""):
        repeats = f.evidence.numbers.get("repeats_median")
        times = f", {_count(repeats)} per request" if isinstance(repeats, int | float) else ""
        sql = (
            f"-- before: one query per item{times}\n{statement}\n\n"
            f"-- after: one query for all of them (collect the keys, then map the rows back)\n"
            f"{batched}"
        )
        parts.append(_fenced(sql, "sql"))
    for key, title in YAML_BLOCKS.items():
        block = f.evidence.numbers.get(key)
        if isinstance(block, str) and block.strip():
            parts.append(f"{title}:\n\n{_fenced(block.rstrip(), 'yaml')}")
    safety = f.safety
    parts.append(
        f"- **Expected improvement:** {_prose(f.expected_improvement)}\n"
        f"- **Effort:** {f.effort} ({_EFFORT[str(f.effort)]})\n"
        f"- **Confidence:** {_pct(f.confidence)}\n"
        f"- **Safety:** `{safety}`: {_SAFETY[safety]}"
    )
    return "\n\n".join(parts)


def _fenced(text: str, language: str) -> str:
    """A fenced code block longer than any run of backticks inside the text."""
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", text))])
    return f"{fence}{language}\n{text}\n{fence}"


def _detected(f: Finding, fingerprint: str, when: str, graph: str | None) -> str:
    items = [
        f"- **Source:** {_text(f.source)}",
        f"- **Detector:** {_code(f.kind)} ({_text(kind_label(f.kind))})",
        f"- **Interval:** `{when}` (UTC)",
        f"- **Fingerprint:** `{fingerprint}`",
    ]
    if graph:
        url = _url(graph, paths=True)
        if url is None:
            raise ValueError(f"render_issue: graph must be an http(s) URL or a path, got {graph!r}")
        name = _text(graph.rstrip("/").rsplit("/", 1)[-1] or graph)
        items.append(f"- **Dependency graph:** [{name}]({url})")
    return "\n".join(items) + (
        "\n\nWhen the same problem is found again, this issue is updated and the new evidence "
        "added as a comment; no second issue is filed."
    )


# -- escaping and units ---------------------------------------------------------------------


def _escape(text: str) -> str:
    """Markdown characters backslash-escaped, `<`/`>` as entities: nothing becomes HTML."""
    text = re.sub(r"[\\`*_\[\]]", r"\\\g<0>", text)
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _text(value: object) -> str:
    return _escape(" ".join(str(value).split()))


def _prose(value: str) -> str:
    """Finding text that already holds `code spans`: one line, escaped outside the spans."""
    line, out, pos = " ".join(value.split()), [], 0
    for m in _CODE_SPAN.finditer(line):
        out += [_escape(line[pos : m.start()]), m.group(0)]
        pos = m.end()
    return "".join([*out, _escape(line[pos:])])


def _code(value: object) -> str:
    line = " ".join(str(value).split())
    ticks = "`" * (max((len(run) for run in re.findall("`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{ticks}{pad}{line}{pad}{ticks}"


def _url(target: str, *, paths: bool = False) -> str | None:
    """A link destination that cannot break out of `(...)`: http(s) (or, when allowed, a
    path), with spaces, parentheses and angle brackets percent-encoded; else None."""
    scheme = urlsplit(target.strip()).scheme.lower()
    if scheme not in ("http", "https") and not (paths and not scheme):
        return None
    return quote(target.strip(), safe=":/?#[]@!$&'*+,;=%~")


def _label(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    words = [w for w in key.split("_") if w != "ms"]
    quantiles = [w for w in words if w in _QUANTILES]
    text = _text(" ".join(w for w in words if w not in _QUANTILES).capitalize() or key)
    return f"{text} ({', '.join(quantiles)})" if quantiles else text


def _value(key: str, value: float | int | str) -> str:
    words = key.split("_")
    if isinstance(value, str):
        if value in ("true", "false"):
            return "yes" if value == "true" else "no"
        return _code(value) if key in _CODE_KEYS else _text(value)
    if "ms" in words:
        return _ms(value)
    if words[0] == "share" or words[-1] in ("rate", "ratio", "share"):
        return _pct(value)
    return _count(value)


def _ms(value: float) -> str:
    return f"{float(value):,.1f} ms"


def _pct(share: float) -> str:
    pct = 100 * float(share)
    return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.1f}%" if pct >= 1 else f"{pct:.2f}%"


def _count(value: float) -> str:
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.2f}".rstrip("0").rstrip(".")
