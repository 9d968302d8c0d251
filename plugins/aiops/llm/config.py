"""The catalog's `llm:` section: which model writes what, what it may cost, how long an
answer is reused.

Prices are configuration, not code, because they change more often than this package; a
model without a price cannot be budgeted, so it is refused on load rather than called
without a bound.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: What the model is asked to write, each with its own model and output bound.
TASKS = ("explain", "narrate", "query")
Task = Literal["explain", "narrate", "query"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Model):
    """USD per million tokens, as the vendor's price list gives them."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


class TaskModels(_Model):
    explain: str = Field("claude-haiku-4-5", min_length=1, description="trace findings, batched")
    narrate: str = Field("claude-sonnet-5", min_length=1, description="incident narratives")
    query: str = Field("claude-haiku-4-5", min_length=1, description="`aiops logs ask`")


class TaskTokens(_Model):
    explain: int = Field(4000, ge=64, le=64_000)
    narrate: int = Field(2000, ge=64, le=64_000)
    query: int = Field(1000, ge=64, le=64_000)


def _default_prices() -> dict[str, Price]:
    """Anthropic's list prices (platform.claude.com model pages, November 2026)."""
    return {
        "claude-haiku-4-5": Price(input=1.0, output=5.0),
        "claude-sonnet-5": Price(input=2.0, output=10.0),
        "claude-sonnet-4-6": Price(input=3.0, output=15.0),
        "claude-opus-5": Price(input=5.0, output=25.0),
    }


class LlmSettings(_Model):
    """Optional Claude narratives (aiops.llm). Without a key nothing here is used."""

    enabled: bool = Field(True, description="false: rule-based text everywhere, no call made")
    models: TaskModels = TaskModels()
    max_tokens: TaskTokens = TaskTokens()
    batch_size: int = Field(5, ge=1, le=20, description="trace findings explained per call")
    daily_budget_usd: float = Field(
        1.0, ge=0, description="spend per data day; a call that could exceed it is skipped"
    )
    cache_ttl_days: float = Field(30, gt=0, description="how long an answer is reused")
    timeout_seconds: float = Field(60, gt=0, description="per HTTP attempt")
    max_retries: int = Field(2, ge=0, le=5, description="the client's retries on 429/5xx")
    max_wait_seconds: float = Field(
        30, ge=0, description="longest retry-after honoured; a longer one skips the call"
    )
    mask_ips: bool = Field(True, description="mask IP addresses too, not only personal data")
    prices: dict[str, Price] = Field(default_factory=_default_prices)

    @model_validator(mode="after")
    def _check(self) -> LlmSettings:
        for task in TASKS:
            model = getattr(self.models, task)
            if model not in self.prices:
                raise ValueError(
                    f"models.{task}: {model!r} has no entry in prices (USD per million "
                    f"tokens); known: {sorted(self.prices)}"
                )
        return self

    def model_for(self, task: Task) -> str:
        return getattr(self.models, task)

    def max_tokens_for(self, task: Task) -> int:
        return getattr(self.max_tokens, task)
