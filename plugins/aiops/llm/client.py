"""The `anthropic` client as the gateway uses it: the SDK's own timeout and retries (429,
529 and other 5xx, honouring `retry-after`), plus one guard the SDK lacks.

The SDK sleeps for whatever `retry-after` the API sends, however long; a batch task must not
hang for an hour on an overloaded API. A middleware (it runs inside the SDK's retry loop,
once per attempt) turns a wait longer than `max_wait` into `WaitTooLong`, which the SDK
passes to the caller without retrying and the gateway turns into rule-based text.
"""

from __future__ import annotations

import logging
from typing import Any

import anthropic

from aiops.llm.config import LlmSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"


class WaitTooLong(Exception):
    """The API asked to wait longer than the configured bound before retrying."""


def requested_wait(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds), as the SDK reads them."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue
    return None


class BoundedWait(anthropic.Middleware):
    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def handle(self, request: Any, call_next: Any) -> Any:
        response = call_next(request)
        wait = requested_wait(response.headers)
        if response.status_code >= 400 and wait is not None and wait > self.max_wait:
            raise WaitTooLong(
                f"{response.url}: {response.status_code} with retry-after {wait:g} s, longer "
                f"than llm.max_wait_seconds ({self.max_wait:g} s)"
            )
        return response


def make_client(api_key: str, settings: LlmSettings, base_url: str | None = None):
    """A ready client; ``base_url`` None means Anthropic's API."""
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        middleware=[BoundedWait(settings.max_wait_seconds)],
    )
