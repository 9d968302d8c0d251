"""Benchmark: what Claude narratives cost over a month of nights, ours (batched, cached per
finding) against one call per finding every night, side by side in one process.

    .venv/bin/python bench/bench_llm.py [--nights 30] [--findings 12] [--seed 0]

Both run the production path (aiops.llm.explain through the real `anthropic` client) against
the loopback Messages API of the tests (tests/anthropic_server.py), which answers every
finding with a ~900-character explanation, change and code sketch and reports `usage`
estimated at 4 characters a token (the real tokenizer is not available offline: the token
and dollar figures are estimates; the call counts are exact). The fleet's findings drift
the way a real one's do: each night every figure moves by up to +-3%, a finding's
magnitude doubles or halves on 10% of nights, and a new finding appears every third night.
Prices are the catalog's (claude-haiku-4-5, $1/$5 per million tokens).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "tests"))

from anthropic_server import FakeAnthropic, tool_reply  # noqa: E402

from aiops.findings.model import Effort, Evidence, Finding, Impact  # noqa: E402
from aiops.llm.config import LlmSettings  # noqa: E402
from aiops.llm.explain import explain_findings  # noqa: E402
from aiops.llm.session import open_gateway  # noqa: E402
from aiops.store import Store  # noqa: E402

FIRST = datetime(2026, 10, 1, tzinfo=UTC)
ANSWER = {
    "explanation": "Each item in the loop issues its own query, so the request pays one "
    "database round trip per item and its latency grows with the size of the list; under "
    "load the connection pool is held longer and queues form behind it.",
    "change": "Collect the keys first and load all rows with one IN query, then map the "
    "rows back to the items in memory.",
    "code": {"language": "python", "before": "for item in items:\n    item.rows = "
             "repo.rows_for(item.id)", "after": "rows = repo.rows_for_many([i.id for i in "
             "items])\nfor item in items:\n    item.rows = rows[item.id]"},
}  # fmt: skip


def answer(body: dict):
    import re

    ids = re.findall(r'<finding id="(F\d+)">', body["messages"][0]["content"])
    return tool_reply("record_explanations",
                      {"explanations": [{"finding": i, **ANSWER} for i in ids]})  # fmt: skip


def fleet(n: int, rng: random.Random) -> list[Finding]:
    return [_finding(f"svc-{i % 6}", f"GET /resource-{i}", rng.uniform(5, 80)) for i in range(n)]


def _finding(service: str, operation: str, ms: float) -> Finding:
    statement = f"SELECT * FROM {operation.split('-')[-1]}_rows WHERE parent_id = ?"
    return Finding(
        source="traces", kind="n_plus_one", service=service, operation=operation,
        title=f"N+1 query in {service}", impact=Impact(ms, 400),
        evidence=Evidence({"statement": statement, "repeats_median": 18,
                           "time_in_loop_ms_p50": ms, "time_in_loop_ms_p95": ms * 2.5}),
        suggestion="Load the rows in one query.", expected_improvement="less time",
        action="code_change", effort=Effort.LOW, confidence=0.9, key={"statement": statement},
    )  # fmt: skip


def drift(findings: list[Finding], night: int, rng: random.Random) -> list[Finding]:
    out = []
    for f in findings:
        factor = rng.uniform(0.97, 1.03) * (rng.choice([0.5, 2.0]) if rng.random() < 0.1 else 1)
        numbers = {k: v * factor if k.startswith("time") else v
                   for k, v in f.evidence.numbers.items()}  # fmt: skip
        out.append(dataclasses.replace(f, evidence=Evidence(numbers)))
    if night % 3 == 2:
        out.append(_finding(f"svc-{night % 6}", f"GET /new-{night}", rng.uniform(5, 80)))
    return out


def run(nights: list[list[Finding]], fake: FakeAnthropic, *, batched: bool) -> dict:
    settings = LlmSettings(batch_size=5 if batched else 1, daily_budget_usd=100.0)
    totals = {"calls": 0, "input": 0, "output": 0, "cost": 0.0, "cache_hits": 0, "seconds": 0.0}
    with tempfile.TemporaryDirectory() as tmp, Store.open(f"sqlite:///{tmp}/b.db") as store:
        for n, findings in enumerate(nights):
            end = FIRST + timedelta(days=n + 1)
            gateway, cache = open_gateway(store, settings, run=f"bench {n}", day=end.date(),
                                          now=end, api_key=fake.api_key, base_url=fake.url)  # fmt: skip
            if not batched:
                cache.ttl = timedelta(0)  # the comparison: no cache
            began = time.perf_counter()
            explain_findings(findings, gateway, cache, settings.batch_size)
            totals["seconds"] += time.perf_counter() - began
            t = gateway.totals
            totals["calls"] += t.calls
            totals["input"] += t.input_tokens
            totals["output"] += t.output_tokens
            totals["cost"] += t.cost_usd
            totals["cache_hits"] += t.cache_hits
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--findings", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    nights = [fleet(args.findings, rng)]
    for n in range(1, args.nights):
        nights.append(drift(nights[-1], n, rng))
    explained = sum(len(n) for n in nights)
    with FakeAnthropic() as fake:
        fake.respond_with(answer)
        ours = run(nights, fake, batched=True)
        naive = run(nights, fake, batched=False)
    print(f"{args.nights} nights, {explained} finding-nights "
          f"({len(nights[0])} findings on the first night, {len(nights[-1])} on the last)")  # fmt: skip
    print("| path | calls | input tokens | output tokens | cost (USD) | cache hits | s/night |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, t in (("batched + per-finding cache (ours)", ours),
                    ("one call per finding, no cache", naive)):  # fmt: skip
        print(
            f"| {name} | {t['calls']:,} | {t['input']:,} | {t['output']:,} | "
            f"{t['cost']:.4f} | {t['cache_hits']:,} | {t['seconds'] / args.nights:.3f} |"
        )
    print(
        f"ratio (naive / ours): calls {naive['calls'] / ours['calls']:.1f}x, "
        f"input tokens {naive['input'] / ours['input']:.1f}x, "
        f"cost {naive['cost'] / ours['cost']:.1f}x"
    )


if __name__ == "__main__":
    main()
