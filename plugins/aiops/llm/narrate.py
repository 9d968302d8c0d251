"""Use (b): an incident told as a story, in which every sentence cites the evidence it rests
on and states nothing the evidence does not.

The incident's evidence (root cause, ranking, onset, duration, candidates, the spread, the
events) is sent as numbered items E1..En. The answer is a one-sentence summary and a few
steps, each citing item IDs. It is checked before it is used: every cited ID must exist,
every number in a sentence (a time, a count, a percentage) must appear in the items it
cites, and a service of the catalog named in it must be one the evidence names. An answer
that fails is sent back once with the problems; then the rule-based text stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from aiops.findings.model import Finding
from aiops.llm.cache import ResponseCache, prompt_hash
from aiops.llm.gateway import Gateway, Prompt, Tool
from aiops.llm.prompts import load_prompt
from aiops.sinks.render_incident import evidence_items

USE = "narrate"
_NUMBER = re.compile(r"(?<![\w.:])\d+(?:[.:,]\d+)*(?![\w])")


class Step(BaseModel):
    text: str = Field(min_length=5, max_length=600, description="one or two sentences")
    evidence: list[str] = Field(min_length=1, max_length=8, description="ids cited, e.g. E2")


class Story(BaseModel):
    summary: str = Field(min_length=10, max_length=400, description="what happened, one sentence")
    summary_evidence: list[str] = Field(min_length=1, max_length=8)
    steps: list[Step] = Field(min_length=1, max_length=8, description="in causal order")


TOOL = Tool(
    name="record_incident_narrative",
    description="Record the incident's narrative; every sentence cites evidence item ids.",
    schema=Story,
)


def item_text(finding: Finding) -> str:
    lines = [f"{i} [{label}]: {text}" for i, label, text in evidence_items(finding)]
    return f"incident: {finding.title}\n" + "\n".join(lines)


def narrate_incidents(
    findings: Iterable[Finding], gateway: Gateway, cache: ResponseCache, services: Iterable[str]
) -> dict[str, tuple[dict[str, Any] | None, str, str, str]]:
    """By fingerprint: (content or None, model, reason when None, prompt hash), one call per
    incident not in the cache. ``services`` are the catalog's names, for the check."""
    template = load_prompt(USE)
    model = gateway.settings.model_for(USE)
    known = set(services)
    out: dict[str, tuple[dict[str, Any] | None, str, str, str]] = {}
    for finding in findings:
        fp, text = finding.fingerprint, gateway.mask(item_text(finding))
        key = prompt_hash(template.system, template.user.template, TOOL.param(), text)
        if not gateway.enabled:
            out[fp] = (None, model, gateway.off_reason, key)
            continue
        if (hit := cache.get(model, key)) is not None:
            gateway.totals.cache_hits += 1
            out[fp] = (hit, model, "", key)
            continue
        answer = gateway.ask(incident_prompt(finding, text, known))
        if answer.ok:
            content = answer.value.model_dump()
            cache.put(answer.model, key, USE, content)
            out[fp] = (content, answer.model, "", key)
        else:
            out[fp] = (None, answer.model, answer.reason, key)
    return out


def incident_prompt(finding: Finding, text: str, services: set[str]) -> Prompt:
    """The call narrating one incident from its (masked) evidence text."""
    template = load_prompt(USE)
    items = {i: t for i, _, t in evidence_items(finding)}
    return Prompt(USE, template.system, template.render(incident=text), TOOL,
                  check=lambda story: check_story(story, items, services))  # fmt: skip


def check_story(story: Story, items: dict[str, str], services: set[str]) -> None:
    """Raise ValueError listing every claim the cited evidence does not support."""
    problems = []
    mentioned = set()
    for where, text, cited in [("summary", story.summary, story.summary_evidence)] + [
        (f"steps[{n}]", s.text, s.evidence) for n, s in enumerate(story.steps)
    ]:
        unknown = [i for i in cited if i not in items]
        if unknown:
            problems.append(f"{where} cites {unknown}, which were not given (E1..E{len(items)})")
        support = " ".join(items[i] for i in cited if i in items)
        unsupported = [n for n in _NUMBER.findall(text) if not _appears(n, support)]
        if unsupported:
            problems.append(f"{where} states {unsupported}, not in the evidence it cites {cited}")
        mentioned |= {s for s in services if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)}
    named = " ".join(items.values())
    strangers = sorted(s for s in mentioned
                       if not re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", named))  # fmt: skip
    if strangers:
        problems.append(f"names services the evidence does not: {strangers}")
    if problems:
        raise ValueError("; ".join(problems))


def _appears(number: str, text: str) -> bool:
    """Whether ``number`` is in ``text`` as a whole number, thousands separators aside
    ("1,234" matches "1234"; "1" does not match "12" or "1.5")."""
    plain = re.escape(number.replace(",", ""))
    return re.search(rf"(?<![\d.]){plain}(?!\d|\.\d)", text.replace(",", "")) is not None
