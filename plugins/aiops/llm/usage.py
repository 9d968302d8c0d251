"""What the model cost: every call (and every call the budget skipped) appended to the
store's `llm_usage`, charged to the data day of the run that made it, and the run's totals
for its summary.

The budget is per data day, not per wall-clock day, so whether a night's interval gets
generated text depends on that night alone, never on when it was run; a backfill of N days
can therefore spend up to N budgets (turn the LLM off for large backfills: docs/LLM.md).
A call is made only when its worst case (the prompt's estimated tokens plus the whole
`max_tokens` of output) fits in what is left, so the budget is a ceiling, not a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from aiops.llm.config import LlmSettings, Price
from aiops.store import Store

#: Characters per token assumed when estimating a prompt before sending it: English and
#: JSON run at about 3.5-4; 3 over-estimates, which errs toward skipping, never overspending.
CHARS_PER_TOKEN = 3.0
CACHE_WRITE_FACTOR = 1.25  # prompt-cache writes and reads, as Anthropic bills them
CACHE_READ_FACTOR = 0.1


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def billed_cost(price: Price, usage) -> float:
    """USD for one reply's `usage` (the SDK's Usage or anything with its attributes)."""
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    inputs = usage.input_tokens + CACHE_WRITE_FACTOR * written + CACHE_READ_FACTOR * read
    return (inputs * price.input + usage.output_tokens * price.output) / 1_000_000


@dataclass
class RunTotals:
    """One run's use of the model, for its summary line and the task's return value."""

    calls: int = 0  # Messages API calls that returned (valid or not)
    cache_hits: int = 0  # items answered from the cache
    generated: int = 0  # items with generated text
    rule_based: int = 0  # items with rule-based text
    over_budget: int = 0  # calls skipped for the budget
    errors: int = 0  # calls that failed (API error, too long a wait)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)  # why items were rule-based

    def to_json(self) -> dict:
        return {**self.__dict__, "cost_usd": round(self.cost_usd, 6),
                "reasons": dict(sorted(self.reasons.items()))}  # fmt: skip

    def line(self) -> str:
        text = (
            f"{self.calls} call(s), {self.input_tokens:,} input + {self.output_tokens:,} output "
            f"tokens, ${self.cost_usd:.4f}; {self.generated} generated, {self.cache_hits} from "
            f"the cache, {self.rule_based} rule-based"
        )
        if self.reasons:
            text += " (" + "; ".join(f"{n}x {r}" for r, n in sorted(self.reasons.items())) + ")"
        return text


class UsageLedger:
    """The store's `llm_usage` for one run: ``run`` names it, ``day`` is the data day its
    calls are charged to."""

    def __init__(self, store: Store, settings: LlmSettings, *, run: str, day: date) -> None:
        self.store, self.settings, self.run, self.day = store, settings, run, day.isoformat()
        previous = store.read("llm_usage", day=self.day, run=run)
        self._seq = max((r["seq"] for r in previous), default=0)
        self.totals = RunTotals()

    def spent(self) -> float:
        """USD charged to the day so far, by every run."""
        return sum(r["cost_usd"] for r in self.store.read("llm_usage", day=self.day))

    def allows(self, task: str, model: str, prompt_chars: int, max_tokens: int) -> str | None:
        """None when the call's worst case fits in what is left of the day's budget, else
        why not (recorded as a skipped call)."""
        price = self.settings.prices[model]
        worst = price.cost(math.ceil(prompt_chars / CHARS_PER_TOKEN), max_tokens)
        spent, budget = self.spent(), self.settings.daily_budget_usd
        if spent + worst <= budget:
            return None
        reason = (
            f"over the daily budget: ${spent:.4f} of ${budget:.2f} spent on {self.day}, and "
            f"this call could cost up to ${worst:.4f}"
        )
        self.record(task, model, "over_budget", None, reason)
        self.totals.over_budget += 1
        return reason

    def record(self, task: str, model: str, outcome: str, usage, detail: str = "") -> float:
        """Append one call; returns its cost."""
        cost = billed_cost(self.settings.prices[model], usage) if usage is not None else 0.0
        self._seq += 1
        self.store.upsert(
            "llm_usage",
            [{
                "day": self.day, "run": self.run, "seq": self._seq, "task": task,
                "model": model, "outcome": outcome,
                "input_tokens": usage.input_tokens if usage is not None else 0,
                "output_tokens": usage.output_tokens if usage is not None else 0,
                "cost_usd": cost, "detail": detail[:500],
            }],
        )  # fmt: skip
        if usage is not None:
            self.totals.calls += 1
            self.totals.input_tokens += usage.input_tokens
            self.totals.output_tokens += usage.output_tokens
            self.totals.cost_usd += cost
        return cost
