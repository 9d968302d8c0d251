"""Generated text keeps the spaces around its inline code: "use the `IN` list" must not
become "use the`IN`list" in the issue (GitHub renders the glued form as one run-on word)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.findings.narrative import GENERATED, Narrative
from aiops.sinks.render import render_issue
from support.findings import PRODUCTS

DAY = (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))


def _section(content: dict) -> str:
    narrative = Narrative("explain", GENERATED, "", "claude-haiku-4-5", content, "h")
    body = render_issue(PRODUCTS, repository="acme-shop/catalog", interval=DAY,
                        narrative=narrative).body  # fmt: skip
    return body.split("## Explanation and suggested change (generated)", 1)[1]


def test_inline_code_in_the_middle_of_a_sentence_keeps_its_spaces() -> None:
    section = _section({
        "explanation": "  Use the `IN` list, not one query per id; ask @acme/dba first.  ",
        "change": "Batch `SELECT ... IN (...)` in `ProductRepo.reviews` and cache it.",
    })  # fmt: skip
    assert "Use the `IN` list, not one query per id; ask `@acme/dba` first." in section
    assert (
        "**Suggested change:** Batch `SELECT ... IN (...)` in `ProductRepo.reviews` and cache it."
        in section
    )


def test_the_text_around_code_is_still_escaped() -> None:
    section = _section({"explanation": "Set *all* of `a_b` to <none>", "change": "x"})
    assert r"Set \*all\* of `a_b` to &lt;none&gt;" in section
