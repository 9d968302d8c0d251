"""Answers reused while fresh, per item: a batch of five findings of which one changed pays
for one.

The key is the model and a hash of exactly what was sent for the item (after masking): the
system prompt, the tool's schema and the item's text. A changed prompt template, schema or
model is therefore a miss by construction. Freshness is measured in data time: an entry
paid for by the run of interval end T serves runs whose interval ends before T + ttl (a
backfill of an older night included), so reruns give the same text.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from aiops.store import Store


def prompt_hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    def __init__(self, store: Store, *, now: datetime, ttl: timedelta) -> None:
        self.store, self.now, self.ttl = store, now, ttl

    def get(self, model: str, key: str) -> dict[str, Any] | None:
        rows = self.store.read("llm_cache", model=model, prompt_hash=key)
        if rows and self.now - rows[0]["created_at"] < self.ttl:
            return rows[0]["content"]
        return None

    def put(self, model: str, key: str, task: str, content: dict[str, Any]) -> None:
        row = {"model": model, "prompt_hash": key, "task": task, "created_at": self.now,
               "content": content}  # fmt: skip
        self.store.upsert("llm_cache", [row])
