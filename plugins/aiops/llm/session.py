"""A gateway for one run, from whatever key is configured (or none).

Three ways to turn the model off, each leaving every other output unchanged: no key, the
catalog's `llm.enabled: false`, or `AIOPS_LLM=off` in the environment (for a backfill, say).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from aiops.llm.cache import ResponseCache
from aiops.llm.client import make_client
from aiops.llm.config import LlmSettings
from aiops.llm.gateway import Gateway
from aiops.llm.usage import UsageLedger
from aiops.store import Store

OFF_ENV = "AIOPS_LLM"  # "off": no call, whatever the key
KEY_ENV = "ANTHROPIC_API_KEY"
URL_ENV = "ANTHROPIC_BASE_URL"


def off_reason(settings: LlmSettings, api_key: str | None) -> str | None:
    """Why no call will be made, or None when calls may be made."""
    if os.environ.get(OFF_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return f"the language model is turned off ({OFF_ENV}=off)"
    if not settings.enabled:
        return "the language model is turned off (llm.enabled: false in the catalog)"
    if not api_key:
        return f"no Anthropic API key is configured (connection anthropic_default or {KEY_ENV})"
    return None


def open_gateway(
    store: Store,
    settings: LlmSettings,
    *,
    run: str,
    day: date,
    now: datetime,
    api_key: str | None,
    base_url: str | None = None,
) -> tuple[Gateway, ResponseCache]:
    """The run's gateway (calls charged to ``day``) and its cache (fresh relative to
    ``now``, the run's data-interval end)."""
    cache = ResponseCache(store, now=now, ttl=timedelta(days=settings.cache_ttl_days))
    why = off_reason(settings, api_key)
    if why is not None:
        return Gateway(None, settings, None, off_reason=why), cache
    client = make_client(api_key, settings, base_url or os.environ.get(URL_ENV))
    ledger = UsageLedger(store, settings, run=run, day=day)
    return Gateway(client, settings, ledger), cache
