"""The parts of the LLM path that need no server: the catalog's `llm:` section, what is
sent about a finding, the check an incident narrative must pass, and how generated or
rule-based text lands in an issue (escaped, defused, marked)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from aiops.catalog import CatalogError, parse_catalog
from aiops.findings.narrative import GENERATED, Narrative, rule_based
from aiops.incidents.report import incident_finding
from aiops.llm import explain
from aiops.llm.narrate import Step, Story, check_story
from aiops.sinks.render import render_issue
from aiops.sinks.render_incident import evidence_items
from support.catalogs import catalog_yaml
from support.findings import CALLS, CASCADE, PRODUCTS, _row

DAY = (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
INCIDENT = incident_finding(_row(CASCADE, CALLS))
SERVICES = {"frontend", "cart", "redis", "checkout", "payments"}


def _body(finding, narrative) -> str:
    return render_issue(finding, repository="acme-shop/catalog", interval=DAY,
                        narrative=narrative).body  # fmt: skip


def _section(body: str, heading: str) -> str:
    return body.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_every_task_model_needs_a_price_so_the_budget_can_bound_it() -> None:
    text = (
        catalog_yaml("  cart: {owner: acme-shop/cart, team: shop}\n")
        + "llm:\n  models:\n    narrate: claude-opus-9\n"
    )
    with pytest.raises(CatalogError, match=r"llm.*narrate.*'claude-opus-9' has no entry in prices"):
        parse_catalog(text, "catalog.yaml")
    priced = text + "  prices:\n    claude-opus-9: {input: 20, output: 100}\n"
    priced = priced.replace("  prices:", "  prices:\n    claude-haiku-4-5: {input: 1, output: 5}")
    settings = parse_catalog(priced, "catalog.yaml").llm
    assert settings.model_for("narrate") == "claude-opus-9"
    assert settings.prices["claude-opus-9"].cost(1_000_000, 100_000) == pytest.approx(30.0)


def test_what_is_sent_about_a_trace_finding_is_its_identity_and_rounded_figures() -> None:
    text = explain.item_text(PRODUCTS)
    assert "service: catalog" in text and "operation: GET /products" in text
    assert '"statement": "SELECT * FROM reviews WHERE product_id = ?"' in text
    assert '"time_in_loop_ms_p50": 21' in text  # 21.4 to two significant figures
    assert PRODUCTS.title not in text  # today's exact numbers stay in the issue's table
    # a day later the loop took 21.2 ms: the same text, so the cache answers it
    again = PRODUCTS.evidence.numbers | {"time_in_loop_ms_p50": 21.2}
    moved = PRODUCTS.evidence.numbers | {"time_in_loop_ms_p50": 35.0}
    with_numbers = lambda n: explain.item_text(  # noqa: E731
        PRODUCTS.__class__(**{**PRODUCTS.__dict__, "evidence": PRODUCTS.evidence.__class__(n)})
    )
    assert with_numbers(again) == text and with_numbers(moved) != text


def _story(summary: str, summary_ids: list[str], *steps: tuple[str, list[str]]) -> Story:
    return Story(summary=summary, summary_evidence=summary_ids,
                 steps=[Step(text=t, evidence=e) for t, e in steps])  # fmt: skip


def test_an_incident_narrative_may_state_only_what_the_evidence_it_cites_says() -> None:
    items = {i: text for i, _, text in evidence_items(INCIDENT)}
    labels = {label: i for i, label, _ in evidence_items(INCIDENT)}
    root, first = labels["Likely root cause"], labels["First anomaly"]
    first_at = items[first]  # "2025-10-30 13:10 UTC"
    time_of_day = first_at.split()[1]
    good = _story(f"redis slowed first at {time_of_day} and the slowdown reached frontend.",
                  [root, first, labels["Spread 1"]],
                  ("redis latency rose first.", [root]))  # fmt: skip
    check_story(good, items, SERVICES)
    cases = {
        "cites ['E99']": _story("redis slowed first.", ["E99"], ("redis moved first.", [root])),
        "states ['14:55']": _story("redis slowed at 14:55.", [root], ("x happened.", [root])),
        "names services the evidence does not: ['payments']": _story(
            "payments failed and redis slowed.", [root], ("redis moved first.", [root])
        ),
        # the time is in the evidence, but not in what this sentence cites
        f"states ['{time_of_day}']": _story(
            f"It began at {time_of_day}.", [root], ("redis moved first.", [root])
        ),  # fmt: skip
    }
    for expected, story in cases.items():
        with pytest.raises(ValueError, match=re.escape(expected)):
            check_story(story, items, SERVICES)


def test_without_a_model_the_sections_say_they_are_rule_based_and_why() -> None:
    body = _body(PRODUCTS, rule_based("explain", "no Anthropic API key is configured"))
    section = _section(body, "Explanation and suggested change (rule-based)")
    assert "_Rule-based: no Anthropic API key is configured._" in section
    assert "Generated" not in body
    # before "Suggested fix", after the evidence
    assert (
        body.index("## Example traces")
        < body.index("(rule-based)")
        < body.index("## Suggested fix")
    )
    incident = _body(INCIDENT, None)
    assert "## What happened (rule-based)" in incident
    assert "no narrative was prepared for this interval" in incident


def test_generated_text_is_marked_escaped_and_cannot_ping_link_or_break_the_body() -> None:
    content = {
        "explanation": "Each product makes a round trip. Ask @acme/dba or see #12 and "
        "https://evil.example/x <script>alert(1)</script> **now**; mail bob@example.com.",
        "change": "Batch `SELECT ... IN (...)` in `ProductRepo.reviews`.",
        "code": {"language": "python", "before": "for p in ps:\n    q(p)",
                 "after": "rows = q_many(ps)  # ```"},
    }  # fmt: skip
    narrative = Narrative("explain", GENERATED, "", "claude-haiku-4-5", content, "h")
    section = _section(_body(PRODUCTS, narrative), "Explanation and suggested change (generated)")
    assert "> [!NOTE]\n> Generated by `claude-haiku-4-5`" in section
    assert "`@acme/dba`" in section and "`#12`" in section
    assert "`https://evil.example/x`" in section
    assert "<script>" not in section and "&lt;script&gt;" in section
    assert r"\*\*now\*\*" in section and "bob@example.com" not in section
    assert "`SELECT ... IN (...)`" in section  # the model's own code spans kept
    assert "````python\nrows = q_many(ps)  # ```\n````" in section  # a longer fence


def test_a_generated_incident_narrative_shows_what_each_sentence_cites() -> None:
    ids = {label: i for i, label, _ in evidence_items(INCIDENT)}
    content = {
        "summary": "redis slowed and took frontend with it.",
        "summary_evidence": [ids["Likely root cause"], ids["Spread 1"]],
        "steps": [{"text": "redis latency rose first.", "evidence": [ids["Likely root cause"]]}],
    }
    narrative = Narrative("narrate", GENERATED, "", "claude-sonnet-5", content, "h")
    section = _section(_body(INCIDENT, narrative), "What happened (generated)")
    assert "**redis slowed and took frontend with it.** _(Likely root cause; Spread 1)_" in section
    assert "1. redis latency rose first. _(Likely root cause)_" in section


def test_log_findings_get_no_narrative_section() -> None:
    from dataclasses import replace

    body = _body(replace(PRODUCTS, source="logs", kind="new_error_template"), None)
    assert "rule-based" not in body and "generated" not in body
