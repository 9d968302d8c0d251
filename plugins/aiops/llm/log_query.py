"""`aiops logs ask`: a question in plain words to an Elasticsearch query that is checked
against the index mapping before it runs, and shown to the user.

The model answers by calling a tool whose input is a :class:`LogQuery`: the query clause, an
optional sort, a size and a sentence for the user. Before anything runs, :func:`check_query`
walks the clause: only read-only clauses on an allow-list (no scripts, no `query_string`,
whose text can name any field, no joins or lookups into other indices), every field in the
mapping, exact-value clauses only on exact-value fields (`term` on a `text` field is the
classic mistake; the problem names `<field>.keyword` when the mapping has it). The gateway
sends a failed check back to the model once; a second failure, no key or an API error leave
the user with the reason, and `--query` runs a query the user wrote, checked the same way.

The time range is ours, never the model's: :func:`time_bounded` puts a range on the
configured timestamp field in a `bool.filter` next to the model's clause, and the check
refuses a range of the model's own on that field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiops.llm.gateway import Prompt, Tool
from aiops.llm.prompts import PromptTemplate, load_prompt
from aiops.llm.query_check import (  # noqa: F401 (the checks are part of this module's API)
    OBJECT_TYPES,
    QueryError,
    check_answer,
    check_query,
    check_sort,
    close_names,
    exact_field_for,
    field_kinds,
    mapping_fields,
    shown_value,
)
from aiops.logs.formats import lookup
from aiops.logs.records import normalise_level
from aiops.pii import mask_pii
from aiops.sources.elasticsearch_logs import MAX_ASK_SIZE, LogFields

PROMPT_NAME = "query"
DEFAULT_SIZE = 20
MAX_PROMPT_FIELDS = 300  # fields listed to the model; a wider mapping is cut (and says so)
# -- the tool's answer --------------------------------------------------------------------------


class SortKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="a listed field that is not of type text")
    order: Literal["asc", "desc"] = "desc"


class LogQuery(BaseModel):
    """A search over the logs: the Elasticsearch query clause and how to show its hits."""

    model_config = ConfigDict(extra="forbid")

    query: dict[str, Any] = Field(
        description='The Elasticsearch query DSL clause only (what goes under "query" in a '
        'search body), such as {"bool": {"filter": [...], "must": [...]}}. Only the listed '
        "fields exist. No time range: it is added to this clause."
    )
    sort: list[SortKey] = Field(
        default_factory=list, max_length=3, description="Empty: newest first."
    )
    size: int = Field(DEFAULT_SIZE, ge=1, le=MAX_ASK_SIZE, description="log lines to show")
    explanation: str = Field(
        min_length=1,
        max_length=600,
        description="One or two sentences for the user: what the query matches, and any part "
        "of the question it cannot express with the listed fields.",
    )


QUERY_TOOL = Tool(
    name="search_logs",
    description="Search the application logs in Elasticsearch with a query over the listed "
    "fields. The time range is added by the tool.",
    schema=LogQuery,
)


# -- the prompt and the request -------------------------------------------------------------------


def listed_fields(
    fields: Mapping[str, str], log_fields: LogFields, limit: int = MAX_PROMPT_FIELDS
) -> tuple[list[str], int]:
    """``name (type)`` lines for the prompt, the configured log fields first (objects are not
    listed: their fields are); and how many were left out for ``limit``."""
    leaves = [f for f, kind in fields.items() if not set(kind.split("|")) & OBJECT_TYPES]
    first = [
        f
        for name in log_fields.names()
        if name in fields
        for f in [name, *(f for f in leaves if f.startswith(name + "."))]
    ]
    leaf = set(leaves)
    ordered = [f for f in dict.fromkeys([*first, *leaves]) if f in leaf]
    # `name (type)`, not `name: type`, which the PII masker reads as a secret when the name
    # is `token` or `password`
    return [f"- {f} ({fields[f]})" for f in ordered[:limit]], max(0, len(ordered) - limit)


def query_prompt(
    question: str,
    fields: Mapping[str, str],
    log_fields: LogFields,
    start: datetime,
    end: datetime,
    *,
    index: str,
    template: PromptTemplate | None = None,
) -> Prompt:
    """The `query` task's prompt; its check is :func:`check_answer` on this mapping."""
    template = template or load_prompt(PROMPT_NAME)
    lines, left_out = listed_fields(fields, log_fields)
    more = f"\n({left_out} more fields are not listed)" if left_out else ""
    user = template.render(
        question=" ".join(question.split()),
        index=index,
        start=iso_utc(start),
        end=iso_utc(end),
        timestamp=log_fields.timestamp,
        service=log_fields.service,
        level=log_fields.level,
        message=log_fields.message,
        fields="\n".join(lines) + more,
    )
    check = partial(check_answer, fields=fields, timestamp=log_fields.timestamp)
    return Prompt(task="query", system=template.system, user=user, tool=QUERY_TOOL, check=check)


def user_query(text: str, fields: Mapping[str, str], timestamp: str | None) -> LogQuery:
    """``--query JSON``: a query clause, or a :class:`LogQuery` object (``{"query": ...,
    "sort": [...], "size": N}``), checked as the model's answer is."""
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--query: not JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError(
            f"--query: expected a JSON object (a query clause), got {shown_value(given)}"
        )
    wrapped = given if "query" in given else {"query": given}
    try:
        answer = LogQuery.model_validate({"explanation": "given with --query", **wrapped})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"--query: {problems}") from None
    try:
        check_answer(answer, fields, timestamp)
    except QueryError as exc:
        raise ValueError(f"--query: {exc}") from None
    return answer


def iso_utc(moment: datetime) -> str:
    """``2026-10-31T00:00:00.000Z``: what Elasticsearch's ``strict_date_optional_time`` reads."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_bounded(
    query: Mapping[str, Any], timestamp: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """``query`` limited to ``start <= timestamp < end``: our filter, the query beside it."""
    window = {"gte": iso_utc(start), "lt": iso_utc(end), "format": "strict_date_optional_time"}
    return {"bool": {"filter": [{"range": {timestamp: window}}], "must": [dict(query)]}}


def sort_clause(answer: LogQuery, timestamp: str) -> list[dict[str, Any]]:
    """The answer's sort, or newest first."""
    keys = answer.sort or [SortKey(field=timestamp, order="desc")]
    return [{key.field: {"order": key.order}} for key in keys]


def masked_placeholders(query: Mapping[str, Any]) -> list[str]:
    """Placeholders of masked personal data (``<email>``) the model copied into its query:
    it never saw the value, so the query searches for the placeholder."""
    text = json.dumps(query)
    kinds = ("<email>", "<card>", "<ip>", "<token>", "<jwt>", "<api-key>", "<secret>",
             "<password>")  # fmt: skip
    return [kind for kind in kinds if kind in text]


@dataclass(frozen=True)
class HitLine:
    timestamp: str
    service: str
    level: str
    message: str
    index: str
    doc_id: str

    def text(self) -> str:
        return f"{self.timestamp} {self.service} {self.level} {self.message}"


def hit_line(hit: Mapping[str, Any], log_fields: LogFields) -> HitLine:
    """One hit as a log line: the four configured fields (``-`` when absent), the message on
    one line with personal data masked."""
    source = hit.get("_source") if isinstance(hit.get("_source"), Mapping) else {}

    def value(name: str) -> str:
        found = lookup(source, name)
        found = found[0] if isinstance(found, list) and len(found) == 1 else found
        return "-" if found is None or found == "" else str(found)

    level = value(log_fields.level)
    message = " ".join(value(log_fields.message).split())
    return HitLine(
        timestamp=value(log_fields.timestamp),
        service=value(log_fields.service),
        level=normalise_level(level) or level,
        message=mask_pii(message),
        index=str(hit.get("_index", "")),
        doc_id=str(hit.get("_id", "")),
    )


def total_text(page: Mapping[str, Any], shown: int) -> str:
    """``12 hits (showing 12)``; ``10,000+ hits`` when Elasticsearch stopped counting."""
    total = page.get("hits", {}).get("total")
    if isinstance(total, Mapping):
        value, relation = int(total.get("value", 0)), total.get("relation", "eq")
    elif isinstance(total, int):
        value, relation = total, "eq"
    else:
        return f"{shown} hit(s) shown (total not counted)"
    plus = "+" if relation == "gte" else ""
    return f"{value:,}{plus} hit{'s' if value != 1 or plus else ''} (showing {shown})"
