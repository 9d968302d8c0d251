"""What a language model wrote about a finding, or why it wrote nothing: the record the
issue renderer shows beside the evidence, kept apart from the Finding so the finding (and
its fingerprint, and everything decided from it) never depends on the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.store import Store

GENERATED = "generated"
RULE_BASED = "rule_based"
#: Which findings get which text: trace findings an explanation and a code-level change,
#: incidents a narrative citing their evidence. Other sources get no such section.
USES = {"traces": "explain", "incidents": "narrate"}


@dataclass(frozen=True)
class Narrative:
    use: str  # "explain" | "narrate"
    status: str  # GENERATED | RULE_BASED
    reason: str = ""  # why rule-based
    model: str = ""  # who wrote it, when generated
    content: dict[str, Any] = field(default_factory=dict)  # the validated answer
    prompt_hash: str = ""

    @property
    def generated(self) -> bool:
        return self.status == GENERATED

    def row(self, fingerprint: str, start: datetime, end: datetime) -> dict[str, Any]:
        return {
            "interval_start": start, "interval_end": end, "fingerprint": fingerprint,
            "use": self.use, "status": self.status, "reason": self.reason,
            "model": self.model if self.generated else "", "content": self.content,
            "prompt_hash": self.prompt_hash,
        }  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Narrative:
        return cls(row["use"], row["status"], row["reason"], row["model"],
                   dict(row["content"] or {}), row["prompt_hash"])  # fmt: skip


def rule_based(use: str, reason: str, prompt_hash: str = "") -> Narrative:
    return Narrative(use, RULE_BASED, reason, "", {}, prompt_hash)


def read_narratives(store: Store, start: datetime, end: datetime) -> dict[str, Narrative]:
    """The interval's narratives by fingerprint, as the nightly narration stored them (the
    `narratives` table holds these records' rows, replaced per interval)."""
    rows = store.read("narratives", interval_start=start, interval_end=end)
    return {row["fingerprint"]: Narrative.from_row(row) for row in rows}
