"""Bounded retries with capped exponential backoff, shared by the HTTP sources.

One policy object says how many attempts, how long to wait between them, and which failures
are worth another try (connection errors, timeouts, 429 and the gateway / unavailable 5xx).
Everything else (a 400, a 422, a programming error) is returned or raised on the first
attempt: retrying a bad query only multiplies the load it puts on the server.

``sleep`` is a parameter everywhere so tests run without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable (also Prometheus's "query
#: timed out / aborted"), 504 Gateway Timeout.
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one call.

    ``attempts`` counts the first try: ``attempts=3`` means at most two retries. The wait
    before retry *n* (1-based) is ``backoff * multiplier ** (n - 1)``, capped at
    ``max_backoff``; a server's ``Retry-After`` can lengthen it, never beyond the cap.
    """

    attempts: int = 3
    backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    retry_exceptions: tuple[type[BaseException], ...] = RETRYABLE_EXCEPTIONS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts: must be >= 1, got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError(
                f"RetryPolicy.backoff / max_backoff: must be >= 0, got {self.backoff} / "
                f"{self.max_backoff}"
            )
        if self.multiplier < 1:
            raise ValueError(f"RetryPolicy.multiplier: must be >= 1, got {self.multiplier}")

    def delay(self, retry: int, hint: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), at most ``max_backoff``."""
        wait = self.backoff * self.multiplier ** (retry - 1)
        if hint is not None:
            wait = max(wait, hint)
        return min(wait, self.max_backoff)

    def retryable_exception(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_exceptions)

    def response_retry_reason(self, response: requests.Response) -> str | None:
        """``"HTTP 503: <body excerpt>"`` when the response is worth another try, else None."""
        if response.status_code not in self.retry_statuses:
            return None
        return f"HTTP {response.status_code}: {excerpt(response.text)}"


@dataclass(frozen=True)
class Retried(Generic[T]):
    """The value of the first attempt that was not retried, and how many attempts it took."""

    value: T
    attempts: int


class RetriesExhausted(Exception):
    """Every attempt failed in a retryable way. ``last_error`` describes the final failure."""

    def __init__(self, attempts: int, last_error: str, last_value: object | None = None):
        super().__init__(f"gave up after {attempts} attempt(s): {last_error}")
        self.attempts = attempts
        self.last_error = last_error
        self.last_value = last_value


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    retry_reason: Callable[[T], str | None] | None = None,
    retry_after: Callable[[T], float | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "call",
) -> Retried[T]:
    """Call ``fn`` until it returns a value that needs no retry, at most ``policy.attempts`` times.

    A retryable exception (``policy.retry_exceptions``) or a value for which ``retry_reason``
    returns a reason leads to another attempt after ``policy.delay``. Any other exception
    propagates at once. When the attempts run out, raises :class:`RetriesExhausted` chained to
    the last exception (if the last failure was one).
    """
    last_error = ""
    for attempt in range(1, policy.attempts + 1):
        hint: float | None = None
        try:
            value = fn()
        except Exception as exc:
            if not policy.retryable_exception(exc):
                raise
            last_error = describe_exception(exc)
            if attempt == policy.attempts:
                raise RetriesExhausted(attempt, last_error) from exc
        else:
            reason = retry_reason(value) if retry_reason is not None else None
            if reason is None:
                return Retried(value, attempt)
            last_error = reason
            if attempt == policy.attempts:
                raise RetriesExhausted(attempt, last_error, value)
            hint = retry_after(value) if retry_after is not None else None
        wait = policy.delay(attempt, hint)
        logger.warning(
            "%s failed (attempt %d/%d): %s; retrying in %.2fs",
            what,
            attempt,
            policy.attempts,
            last_error,
            wait,
        )
        sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def send_with_retry(
    send: Callable[[], requests.Response],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "HTTP request",
) -> Retried[requests.Response]:
    """:func:`call_with_retry` for a ``requests`` call: retries the policy's statuses, honouring
    a numeric ``Retry-After`` header (capped by ``policy.max_backoff``)."""
    return call_with_retry(
        send,
        policy,
        retry_reason=policy.response_retry_reason,
        retry_after=retry_after_seconds,
        sleep=sleep,
        what=what,
    )


def retry_after_seconds(response: requests.Response) -> float | None:
    """The ``Retry-After`` header in seconds when it is a number; HTTP dates are ignored."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``"ConnectTimeout: ..."``, shortened: urllib3's messages repeat the whole URL twice."""
    return excerpt(f"{type(exc).__name__}: {exc}", limit)


def excerpt(text: str, limit: int = 200) -> str:
    """The text on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))
