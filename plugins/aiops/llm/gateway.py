"""The one door to the model: mask, check the budget, call, validate, retry once, or say why
not.

Structured output is a forced tool call: the tool's input schema is a pydantic model, so the
schema sent and the validator applied are one definition. A reply that does not validate
(or fails the prompt's own check, such as citing evidence that was not given) is sent back
once as a `tool_result` with `is_error` and the problems listed; a second invalid reply, an
API error (after the client's own retries), a wait longer than the bound, an exhausted
budget or a missing key all give an `Answer` without a value and with the reason, and the
caller uses its rule-based text. Nothing here raises for the model's sake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
from pydantic import BaseModel, ValidationError

from aiops.llm.client import WaitTooLong
from aiops.llm.config import LlmSettings, Task
from aiops.llm.usage import RunTotals, UsageLedger
from aiops.pii import PiiMasker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tool:
    """The structured answer: its name and description as the model sees them, and the
    pydantic model that is both the input schema sent and the validator applied."""

    name: str
    description: str
    schema: type[BaseModel]

    def param(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "input_schema": self.schema.model_json_schema()}  # fmt: skip


@dataclass(frozen=True)
class Prompt:
    task: Task
    system: str
    user: str
    tool: Tool
    check: Callable[[Any], None] | None = None  # raises ValueError naming what is wrong


@dataclass(frozen=True)
class Answer:
    value: Any | None  # an instance of the prompt's tool schema, when valid
    model: str
    reason: str = ""  # why there is no value

    @property
    def ok(self) -> bool:
        return self.value is not None


class Gateway:
    """Calls for one run. ``client`` None means no key (``off_reason`` says so); then every
    answer is rule-based and nothing is recorded."""

    def __init__(
        self,
        client: anthropic.Anthropic | None,
        settings: LlmSettings,
        ledger: UsageLedger | None,
        *,
        off_reason: str = "",
    ) -> None:
        if client is not None and ledger is None:
            raise ValueError("a gateway with a client needs a usage ledger for the budget")
        self.client, self.settings, self.ledger = client, settings, ledger
        self.off_reason = off_reason or "no Anthropic API key is configured"
        self._masker = PiiMasker(ips=settings.mask_ips)
        self.totals = ledger.totals if ledger else RunTotals()

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def mask(self, text: str) -> str:
        """What leaves the process in place of ``text``: personal data and secrets masked."""
        masked, counts = self._masker.mask_counted(text)
        if counts:
            log.info("masked before sending: %s", dict(sorted(counts.items())))
        return masked

    def ask(self, prompt: Prompt) -> Answer:
        model = self.settings.model_for(prompt.task)
        if self.client is None:
            return Answer(None, model, self.off_reason)
        system, tool = self.mask(prompt.system), prompt.tool.param()
        messages: list[dict[str, Any]] = [{"role": "user", "content": self.mask(prompt.user)}]
        max_tokens = self.settings.max_tokens_for(prompt.task)
        problem = ""
        for attempt in (1, 2):
            size = len(system) + len(json.dumps(messages)) + len(json.dumps(tool))
            over = self.ledger.allows(prompt.task, model, size, max_tokens)
            if over:
                log.warning("llm %s: call skipped: %s", prompt.task, over)
                return Answer(None, model, over)
            try:
                reply = self.client.messages.create(
                    model=model,
                    max_tokens=max_tokens,
                    system=system,
                    messages=messages,
                    tools=[tool],
                    tool_choice={"type": "tool", "name": prompt.tool.name},
                )
            except (anthropic.APIError, WaitTooLong) as exc:
                reason = api_failure(exc)
                self.ledger.record(prompt.task, model, "error", None, reason)
                self.totals.errors += 1
                log.warning("llm %s: %s", prompt.task, reason)
                return Answer(None, model, reason)
            value, problem = validated(reply, prompt)
            outcome = "ok" if value is not None else "invalid"
            cost = self.ledger.record(prompt.task, model, outcome, reply.usage, problem)
            log.info("llm %s: %s, %d+%d tokens, $%.4f (%s)", prompt.task, model,
                     reply.usage.input_tokens, reply.usage.output_tokens, cost, outcome)  # fmt: skip
            if value is not None:
                return Answer(value, model)
            log.warning("llm %s: attempt %d invalid: %s", prompt.task, attempt, problem)
            messages += correction(reply, prompt.tool.name, problem)
        return Answer(None, model, f"the model's answer was invalid twice: {problem}")


def validated(reply: Any, prompt: Prompt) -> tuple[Any | None, str]:
    """The reply's tool input as the schema's instance, or None and what is wrong with it."""
    uses = [b for b in reply.content if b.type == "tool_use" and b.name == prompt.tool.name]
    if not uses:
        return None, f"no call of the tool {prompt.tool.name!r} (stop reason {reply.stop_reason})"
    try:
        value = prompt.tool.schema.model_validate(uses[0].input)
        if prompt.check is not None:
            prompt.check(value)
    except ValidationError as exc:
        return None, "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:8]
        )
    except ValueError as exc:
        return None, str(exc)
    return value, ""


def correction(reply: Any, tool: str, problem: str) -> list[dict[str, Any]]:
    """The turns that send an invalid answer back: the model's reply as it was, then the
    problems as an error result of its tool call (or, without one, a plain request)."""
    content = [block.model_dump(exclude_none=True) for block in reply.content]
    uses = [b for b in reply.content if b.type == "tool_use"]
    ask = f"Call the tool {tool!r} again with input that fixes this."
    if uses:
        results = [
            {"type": "tool_result", "tool_use_id": use.id, "is_error": True,
             "content": f"Invalid input: {problem}. {ask}"}
            for use in uses
        ]  # fmt: skip
        return [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
    if not content:  # an empty turn cannot be sent back
        return [{"role": "assistant", "content": "(no answer)"},
                {"role": "user", "content": f"{problem}. {ask}"}]  # fmt: skip
    return [{"role": "assistant", "content": content},
            {"role": "user", "content": f"{problem}. {ask}"}]  # fmt: skip


def api_failure(exc: BaseException) -> str:
    """Why a call failed, for the log and the rendered section (no key, no prompt text)."""
    if isinstance(exc, WaitTooLong):
        return f"the API asked to wait too long: {exc}"
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        kind = error.get("type") or type(exc).__name__
        message = " ".join(str(error.get("message") or "").split())[:200]
        request_id = exc.response.headers.get("request-id", "")
        where = f" (request {request_id})" if request_id else ""
        return f"the API answered {exc.status_code} {kind}{where}: {message}".rstrip(": ")
    if isinstance(exc, anthropic.APITimeoutError):
        return "the API did not answer in time (after the client's retries)"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"the API could not be reached (after the client's retries): {exc.__cause__ or exc}"
    return f"the API call failed: {type(exc).__name__}: {exc}"
