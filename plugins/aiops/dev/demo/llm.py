"""What `aiops demo` prints about the narratives: which sections were generated or rule-based
and why, what the model cost, and how to see what would be sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from aiops.store import Store

Say = Callable[[str], None]


def print_narratives(store: Store, nights: Sequence, say: Say) -> None:
    rows = [r for n in nights
            for r in store.read("narratives", interval_start=n.start, interval_end=n.end)]  # fmt: skip
    if not rows:
        return
    generated = Counter(r["use"] for r in rows if r["status"] == "generated")
    reasons = Counter(r["reason"] for r in rows if r["status"] != "generated")
    uses = Counter(r["use"] for r in rows)
    say(f"      narratives: {uses['explain']} trace explanation(s), {uses['narrate']} incident "
        f"narrative(s); {sum(generated.values())} generated")  # fmt: skip
    for reason, n in reasons.most_common():
        say(f"        {n} rule-based: {reason}")
    days = {n.start.date().isoformat() for n in nights}
    usage = [r for r in store.read("llm_usage") if r["day"] in days]
    cost = sum(r["cost_usd"] for r in usage)
    calls = sum(1 for r in usage if r["outcome"] in ("ok", "invalid"))
    say(f"      language model: {calls} call(s), ${cost:.4f} (`aiops llm usage`)")
    last = nights[-1]
    say(f"      what would be sent: aiops llm preview --start {last.start:%Y-%m-%d} "
        f"--end {last.end:%Y-%m-%d}")  # fmt: skip


def print_runs(store: Store, say: Say) -> None:
    """The newest summary of each DAG (aiops.pipeline_runs): what the pipeline's own monitoring sees."""
    from aiops.pipeline_runs import summary_line

    newest: dict[str, dict] = {}
    for row in store.read("pipeline_runs"):
        if (
            row["dag_id"] not in newest
            or row["interval_end"] > newest[row["dag_id"]]["interval_end"]
        ):
            newest[row["dag_id"]] = row
    for _, row in sorted(newest.items()):
        say(f"      {summary_line(row)}")
