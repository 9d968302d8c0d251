"""Use (a): for trace findings, an explanation and a concrete code-level change, written next
to our evidence, never instead of it.

Findings are explained in batches (one system prompt and schema per call, not per finding),
and cached per finding: an item's text is what the problem *is* (kind, service, operation,
the identifying details, our own suggestion) and its numbers rounded to two significant
figures. Tomorrow's run of the same N+1 query, 23 repeats instead of 24, sends nothing; a
finding whose magnitude changed materially is explained again. The title is not sent: it
holds today's exact numbers, and the evidence table next to the text has them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from aiops.findings.model import Finding, kind_label
from aiops.llm.cache import ResponseCache, prompt_hash
from aiops.llm.gateway import Answer, Gateway, Prompt, Tool
from aiops.llm.prompts import load_prompt

USE = "explain"


class CodeChange(BaseModel):
    language: str = Field(
        pattern=r"^[a-z0-9+#._-]{1,20}$", description="fence language, e.g. python, sql, java"
    )
    before: str = Field("", max_length=3000, description="the code as it likely is (may be empty)")
    after: str = Field(min_length=1, max_length=3000, description="the code as it should be")


class Explanation(BaseModel):
    finding: str = Field(description="the finding's id as given, e.g. F1")
    explanation: str = Field(
        min_length=20, max_length=1500, description="why it is slow or failing, in 2-4 sentences"
    )
    change: str = Field(
        min_length=10, max_length=1200, description="the concrete change to make, in 1-3 sentences"
    )
    code: CodeChange | None = Field(None, description="a code sketch of the change, when one helps")


class Explanations(BaseModel):
    explanations: list[Explanation] = Field(min_length=1, max_length=20)


TOOL = Tool(
    name="record_explanations",
    description="Record one explanation and suggested change for every finding given.",
    schema=Explanations,
)


def item_text(finding: Finding) -> str:
    """What is sent about one finding (before masking): its identity and rounded figures."""
    numbers = {k: _rounded(v) for k, v in sorted(finding.evidence.numbers.items())
               if not k.startswith("sample_")}  # fmt: skip
    lines = [
        f"kind: {finding.kind} ({kind_label(finding.kind)})",
        f"service: {finding.service}",
        f"operation: {finding.operation or '(service-wide)'}",
    ]
    if finding.key:
        lines.append(f"identity: {json.dumps(finding.key, sort_keys=True)}")
    lines += [f"evidence (two significant figures): {json.dumps(numbers, sort_keys=True)}",
              f"our rule-based suggestion: {finding.suggestion}",
              f"action class: {finding.action} ({finding.safety})"]  # fmt: skip
    return "\n".join(lines)


def explain_findings(
    findings: Sequence[Finding], gateway: Gateway, cache: ResponseCache, batch_size: int
) -> dict[str, tuple[dict[str, Any] | None, str, str, str]]:
    """By fingerprint: (content or None, model, reason when None, prompt hash). Cached items
    are not sent; the rest go in batches of ``batch_size``."""
    template = load_prompt(USE)
    model = gateway.settings.model_for(USE)
    texts = {f.fingerprint: gateway.mask(item_text(f)) for f in findings}
    keys = {fp: prompt_hash(template.system, template.user.template, TOOL.param(), text)
            for fp, text in texts.items()}  # fmt: skip
    out: dict[str, tuple[dict[str, Any] | None, str, str, str]] = {}
    todo = []
    for f in findings:
        fp = f.fingerprint
        if not gateway.enabled:
            out[fp] = (None, model, gateway.off_reason, keys[fp])
        elif (hit := cache.get(model, keys[fp])) is not None:
            gateway.totals.cache_hits += 1
            out[fp] = (hit, model, "", keys[fp])
        else:
            todo.append(fp)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        ids = {f"F{n}": fp for n, fp in enumerate(batch, 1)}
        answer: Answer = gateway.ask(batch_prompt({i: texts[fp] for i, fp in ids.items()}))
        by_id = {e.finding: e for e in answer.value.explanations} if answer.ok else {}
        for i, fp in ids.items():
            if i in by_id:
                content = by_id[i].model_dump(exclude={"finding"})
                cache.put(answer.model, keys[fp], USE, content)
                out[fp] = (content, answer.model, "", keys[fp])
            else:
                out[fp] = (None, answer.model, answer.reason, keys[fp])
    return out


def batch_prompt(texts: dict[str, str]) -> Prompt:
    """The call explaining the findings whose (masked) texts are given by their batch id."""
    template = load_prompt(USE)
    body = "\n\n".join(f'<finding id="{i}">\n{text}\n</finding>' for i, text in texts.items())
    return Prompt(USE, template.system, template.render(findings=body, count=str(len(texts))),
                  TOOL, check=lambda value: _check(value, texts))  # fmt: skip


def _check(value: Explanations, ids: dict[str, str]) -> None:
    got = [e.finding for e in value.explanations]
    missing, unknown = sorted(set(ids) - set(got)), sorted(set(got) - set(ids))
    repeated = sorted({i for i in got if got.count(i) > 1})
    problems = [f"{name}: {items}" for name, items in
                (("missing", missing), ("not given", unknown), ("repeated", repeated)) if items]  # fmt: skip
    if problems:
        raise ValueError("one explanation per finding id: " + "; ".join(problems))


def _rounded(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        return value
    if not math.isfinite(value):
        return value
    digits = 1 - int(math.floor(math.log10(abs(value))))
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded
