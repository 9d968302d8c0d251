"""One small base for the HTTP JSON APIs the sources read (Prometheus, Jaeger).

Each client used to carry the same plumbing; it lives here once, so a client is only its API
(paths, parameters, its envelope and its wording). :class:`JsonHttpClient` owns:

- the base URL: it must start with ``http(s)://``; trailing slashes are dropped; a
  ``user:password@`` in it is redacted from every message, log line and the repr;
- the timeout of every request (> 0 s), and the retry ladder of :mod:`aiops.retry`:
  connection errors, timeouts, 429, 502, 503 and 504 are retried ``attempts`` times in all with
  capped exponential backoff from ``backoff`` seconds, a numeric ``Retry-After`` lengthening the
  wait; anything else is answered on the first attempt, since retrying a bad query only
  multiplies its load;
- the session: created and closed by the client unless the caller gives one (then it stays
  the caller's to close, as it may be shared);
- the headers: ``Accept: application/json``, then the caller's, and basic auth; they are sent
  with every request and never appear in a log, a message or the repr;
- mapping failures to the client's own error classes. The base decides *which* failure it is
  (retries exhausted, a transport error, a status that is not 2xx, a body that is not JSON);
  the hooks :meth:`JsonHttpClient.status_error`, :meth:`~JsonHttpClient.unavailable_error`,
  :meth:`~JsonHttpClient.describe_status` and :meth:`~JsonHttpClient.error_text` let a
  subclass say it in its API's words (Prometheus's ``errorType``, Jaeger's ``errors[].msg``)
  and raise its own classes (``error_class`` / ``unavailable_class``, and ``rejected_class``
  for a 4xx other than 408 and 429: the request itself is wrong, so a client that sets it to
  a :class:`aiops.errors.PermanentError` subclass makes the task fail without retries).

What each client keeps: reading its envelope once the body is JSON (Prometheus's
``{"status": "success"}``, Jaeger's ``{"data": [...], "errors": [...]}``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import requests

from aiops.retry import (
    RetriesExhausted,
    RetryPolicy,
    call_with_retry,
    describe_exception,
    excerpt,
    redact_url,
    retry_after_seconds,
)


class HttpApiError(Exception):
    """Anything that went wrong talking to an HTTP JSON API (the base's own default class)."""


class HttpApiUnavailable(HttpApiError):
    """The API could not be reached, failed (5xx) or stayed overloaded after the retries."""


@dataclass(frozen=True)
class HttpCall:
    """One request, and how the messages about it name it.

    ``context`` follows the URL in every message (Jaeger: the service and time slice);
    ``query`` is the query the request runs, for the subclass's own messages (Prometheus quotes
    its PromQL); the base never shows it.
    """

    method: str
    url: str
    params: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    context: str = ""
    query: str = ""

    @property
    def where(self) -> str:
        """``<url without credentials>[: <context>]``: how every message about it begins."""
        shown = redact_url(self.url)
        return f"{shown}: {self.context}" if self.context else shown


@dataclass(frozen=True)
class JsonReply:
    """A 2xx answer: its parsed JSON ``body``, the response (for its text in envelope errors),
    and the attempts it took."""

    body: Any
    response: requests.Response
    attempts: int


class JsonHttpClient:
    """Talks to one HTTP JSON API: see the module docstring for what it owns.

    Subclasses set ``api_name`` (the name in log lines and "unavailable" messages),
    ``error_class`` and ``unavailable_class``, and override the hooks whose wording differs.
    """

    api_name: ClassVar[str] = "HTTP API"
    error_class: ClassVar[type[Exception]] = HttpApiError
    unavailable_class: ClassVar[type[Exception]] = HttpApiUnavailable
    #: The class for a 4xx other than 408 / 429 (None: ``error_class``).
    rejected_class: ClassVar[type[Exception] | None] = None

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        owner = type(self).__name__
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{owner}.base_url: must start with http(s)://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"{owner}.timeout: must be > 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = RetryPolicy(attempts=attempts, backoff=backoff)
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._auth = auth
        self._sleep = sleep

    def __repr__(self) -> str:
        fields = "".join(f", {name}={value!r}" for name, value in self.repr_fields().items())
        return f"{type(self).__name__}({redact_url(self.base_url)!r}{fields})"

    def repr_fields(self) -> dict[str, object]:
        """Settings shown in the repr after the URL; never headers or credentials."""
        return {}

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ------------------------------------------------------------------------------

    def endpoint(self, path: str) -> str:
        """The URL of ``path`` (which starts with ``/``) under the base URL."""
        return self.base_url + path

    def send(self, call: HttpCall) -> requests.Response:
        """One attempt, with the timeout, headers and auth; no retry, no error mapping (for
        probes such as a readiness check)."""
        return self._session.request(
            call.method,
            call.url,
            params=call.params,
            data=call.form,
            headers=self._headers,
            auth=self._auth,
            timeout=self.timeout,
        )

    def request_json(self, call: HttpCall) -> JsonReply:
        """Send ``call`` under the retry policy and return its 2xx JSON answer, or raise the
        subclass's error: :meth:`unavailable_error` once the retries are spent, ``error_class``
        for a transport error that is not retried or a body that is not JSON, and
        :meth:`status_error` for any other status."""
        where = call.where
        try:
            retried = call_with_retry(
                lambda: self.send(call),
                self.retry,
                retry_reason=self.retry_reason,
                retry_after=retry_after_seconds,
                sleep=self._sleep,
                what=f"{self.api_name} {where}",
            )
        except RetriesExhausted as exc:
            raise self.unavailable_error(call, exc.attempts, exc.last_error) from exc
        except requests.RequestException as exc:
            raise self.error_class(f"{where}: {describe_exception(exc)}") from exc

        response = retried.value
        if not 200 <= response.status_code < 300:
            raise self.status_error(call, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise self.error_class(
                f"{where}: response is not JSON: {excerpt(response.text)!r}"
            ) from exc
        return JsonReply(body, response, retried.attempts)

    # -- hooks: how a failure is worded and which class it raises -----------------------------

    def retry_reason(self, response: requests.Response) -> str | None:
        """Why ``response`` is worth another attempt (:meth:`describe_status`), or None."""
        if response.status_code not in self.retry.retry_statuses:
            return None
        return self.describe_status(response)

    def status_error(self, call: HttpCall, response: requests.Response) -> Exception:
        """The error for a status that is not 2xx and was not retried (or not retryable).

        5xx is :meth:`unavailable_error` after one attempt; 401/403 hint at the credentials; a
        4xx other than 408 (timeout) and 429 (overloaded) is ``rejected_class`` when set.
        Subclasses map their API's "bad query" statuses first, then call this.
        """
        status = response.status_code
        if status >= 500:
            return self.unavailable_error(
                call, 1, f"{self.describe_status(response)} (not retried)"
            )
        hint = " (check the credentials)" if status in (401, 403) else ""
        error_class = self.error_class
        if self.rejected_class is not None and is_rejection(status):
            error_class = self.rejected_class
        return error_class(f"{call.where}: HTTP {status}{hint}: {self.error_text(response)}")

    def unavailable_error(self, call: HttpCall, attempts: int, last_error: str) -> Exception:
        """The error once ``attempts`` attempts failed, the last with ``last_error``."""
        return self.unavailable_class(
            f"{call.where}: {self.api_name} unavailable after {attempts} attempt(s); "
            f"last error: {last_error}"
        )

    def describe_status(self, response: requests.Response) -> str:
        """``HTTP 503: <what the API said>``, for retry logs and "unavailable" messages."""
        return f"HTTP {response.status_code}: {self.error_text(response)}"

    def error_text(self, response: requests.Response) -> str:
        """What the API said in an error body; by default the body's first 200 characters."""
        return excerpt(response.text)


def is_rejection(status: int) -> bool:
    """True for a 4xx that says the request itself is wrong (bad query, unknown path, missing
    credentials): the same request fails again. 408 (request timeout) and 429 (too many
    requests) are about the moment, not the request."""
    return 400 <= status < 500 and status not in (408, 429)


__all__ = [
    "HttpApiError",
    "HttpApiUnavailable",
    "HttpCall",
    "JsonHttpClient",
    "JsonReply",
    "is_rejection",
]
