"""A night's narratives: which findings get text, from the model or the rules, and why.

Text is paid for only where someone will read it: a new issue. A finding already in the
issue ledger (its repeat becomes a comment, which carries no narrative) and one beyond the
run's `max_new_issues` (filed on a later night, explained then, from the cache if unchanged)
get a rule-based row saying so. The order is the filing order, so the findings explained
are the ones filed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiops.catalog import Catalog
from aiops.findings.model import Finding
from aiops.findings.narrative import GENERATED, USES, Narrative, rule_based
from aiops.llm.cache import ResponseCache
from aiops.llm.explain import explain_findings
from aiops.llm.gateway import Gateway
from aiops.llm.narrate import narrate_incidents
from aiops.llm.session import open_gateway
from aiops.sinks.filing import filing_order
from aiops.sinks.render import interval_text
from aiops.store import Store

log = logging.getLogger(__name__)


def narrate_window(
    store: Store,
    findings: Sequence[Finding],
    gateway: Gateway,
    cache: ResponseCache,
    catalog: Catalog,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """`narratives` rows for the interval's findings that have a narrative use."""
    # filed by an earlier interval; one this interval filed is a rerun's, narrated again
    # (from the cache) so that a rerun writes the same rows
    filed = {row["fingerprint"] for row in store.read("issue_ledger")
             if row["first_interval_end"] < end}  # fmt: skip
    cap, floor = catalog.issues.max_new_issues, catalog.issues.min_confidence
    chosen: list[Finding] = []
    narratives: dict[str, Narrative] = {}
    for finding in filing_order(f for f in findings if f.source in USES):
        use, fp = USES[finding.source], finding.fingerprint
        if fp in filed:
            narratives[fp] = rule_based(use, "already filed: a repeat is a comment, without text")
        elif finding.confidence < floor:
            narratives[fp] = rule_based(use, f"below issues.min_confidence ({floor:g})")
        elif len(chosen) >= cap:
            narratives[fp] = rule_based(use, f"beyond the {cap} new issues this run may file")
        else:
            chosen.append(finding)
    by_use = {use: [f for f in chosen if USES[f.source] == use] for use in set(USES.values())}
    answers: dict[str, tuple] = {}
    for use, group in sorted(by_use.items()):
        if not group:
            continue
        try:
            if use == "explain":
                answers |= explain_findings(group, gateway, cache, catalog.llm.batch_size)
            else:
                answers |= narrate_incidents(group, gateway, cache, catalog.service_names)
        except Exception as exc:  # the model is an enrichment: a bug here must not stop filing
            log.exception("llm %s: failed, rule-based text instead", use)
            answers |= {f.fingerprint: (None, "", f"internal error: {exc}", "") for f in group}
    for finding in chosen:
        content, model, reason, key = answers[finding.fingerprint]
        use = USES[finding.source]
        narratives[finding.fingerprint] = (
            Narrative(use, GENERATED, "", model, content, key)
            if content is not None
            else rule_based(use, reason, key)
        )
    for narrative in narratives.values():
        if not narrative.generated:
            gateway.totals.rule_based += 1
            gateway.totals.reasons[_short(narrative.reason)] = (
                gateway.totals.reasons.get(_short(narrative.reason), 0) + 1
            )
        else:
            gateway.totals.generated += 1
    return [n.row(fp, start, end) for fp, n in sorted(narratives.items())]


def narrate_interval(
    store: Store,
    catalog: Catalog,
    start: datetime,
    end: datetime,
    *,
    api_key: str | None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The nightly narration step: the interval's findings narrated where a key, the day's
    budget and the cache allow (rule-based rows, with the reason, everywhere else), the
    `narratives` rows replaced; the run's totals (calls, tokens, cost, generated, cached)."""
    window = {"interval_start": start, "interval_end": end}
    gateway, cache = open_gateway(
        store, catalog.llm, run=f"narrate {interval_text((start, end))}", day=start.date(),
        now=end, api_key=api_key, base_url=base_url,
    )  # fmt: skip
    findings = [Finding.from_json(r["finding"]) for r in store.read("findings", **window)]
    rows = narrate_window(store, findings, gateway, cache, catalog, start, end)
    store.replace("narratives", rows, **window)
    log.info("narratives [%s, %s): %s", start.isoformat(), end.isoformat(), gateway.totals.line())
    return {"narratives": len(rows), **gateway.totals.to_json()}


def _short(reason: str) -> str:
    """A reason without its figures, to count alike reasons together in the summary."""
    return re.sub(r"\s*\([^)]*\)", "", reason.split(":", 1)[0]).strip()
