"""A small GitHub REST client for the issue sink: list, create, update and comment on issues.

GitHub's rules shape it (docs.github.com, "Rate limits for the REST API" and "Best practices
for using the REST API"):
- writes go out one at a time, at least ``min_write_interval`` (1 s) apart;
- a 403 or 429 that is a rate limit waits for ``retry-after`` when given, else until
  ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0, else backs off from one minute;
  a wait longer than ``max_wait`` is an error rather than a stuck task;
- 5xx and connection errors are retried with backoff; 401, 404 and 410 are clear errors that
  name the repository; the token is sent in a header and never appears in an error or a log;
- list endpoints page through the ``Link`` header, and the issues list also returns pull
  requests, which are skipped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from aiops.retry import describe_exception, excerpt, redact_url
from aiops.sinks.render import RenderedIssue, fingerprint_in
from aiops.sinks.tracker import IssueRef, SinkError, SinkExhausted

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_RATE_LIMITED = re.compile(r"rate limit", re.IGNORECASE)


class GitHubError(SinkError):
    """Anything that went wrong talking to GitHub; the message names the repository."""

    def __init__(self, message: str, status: int | None = None, *, ambiguous: bool = False):
        super().__init__(message)
        self.status = status  # the HTTP status, when GitHub answered
        # a POST that failed in a way that may have taken effect (5xx, read timeout): the
        # caller looks before trying again, since a blind retry could file the issue twice
        self.ambiguous = ambiguous


class GitHubRateLimited(GitHubError, SinkExhausted):
    """A rate limit would need a longer wait than allowed."""


class GitHubClient:
    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        attempts: int = 5,
        min_write_interval: float = 1.0,
        max_wait: float = 900.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ValueError("GitHubClient.token: empty; give a token or use the dry-run sink")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"GitHubClient.base_url: must start with http(s)://, got {base_url!r}")
        if timeout <= 0 or attempts < 1:
            raise ValueError(
                f"GitHubClient: timeout must be > 0 and attempts >= 1, got {timeout}, {attempts}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout, self.attempts = timeout, attempts
        self.min_write_interval, self.max_wait = min_write_interval, max_wait
        self._session = session or requests.Session()
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "aiops-airflow",
        }
        self._sleep, self._clock = sleep, clock
        self._last_write: float | None = None
        self.writes = 0  # write calls sent, for run summaries and tests

    def __repr__(self) -> str:
        return f"GitHubClient({redact_url(self.base_url)!r})"

    # -- issues -------------------------------------------------------------------------------

    def issues(self, repository: str, *, label: str, state: str = "open") -> Iterator[dict]:
        """Issues (never pull requests) of ``repository`` carrying ``label``, every page."""
        url = f"{self.base_url}/repos/{repository}/issues"
        params: Mapping[str, str] | None = {
            "labels": label,
            "state": state,
            "per_page": "100",
            "sort": "created",
            "direction": "asc",
        }
        while url:
            response = self._send("GET", url, repository, params=params)
            for item in response.json():
                if "pull_request" not in item:
                    yield item
            url, params = _next_page(response), None  # the next link carries the query

    def create_issue(
        self, repository: str, title: str, body: str, labels: list[str]
    ) -> dict[str, Any]:
        payload = {"title": title, "body": body, "labels": labels}
        issue = self._send("POST", f"{self.base_url}/repos/{repository}/issues", repository,
                           json=payload).json()  # fmt: skip
        missing = sorted(set(labels) - {label.get("name") for label in issue.get("labels", [])})
        if missing:
            log.warning(
                "%s#%s: GitHub dropped the labels %s: the token needs push access to set labels",
                repository, issue.get("number"), ", ".join(missing),
            )  # fmt: skip
        return issue

    def issue(self, repository: str, number: int) -> dict[str, Any]:
        url = f"{self.base_url}/repos/{repository}/issues/{number}"
        return self._send("GET", url, repository).json()

    def update_issue(self, repository: str, number: int, **fields: Any) -> dict[str, Any]:
        url = f"{self.base_url}/repos/{repository}/issues/{number}"
        return self._send("PATCH", url, repository, json=fields).json()

    def comment(self, repository: str, number: int, body: str) -> dict[str, Any]:
        url = f"{self.base_url}/repos/{repository}/issues/{number}/comments"
        return self._send("POST", url, repository, json={"body": body}).json()

    # -- the request path ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        repository: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        where = f"{method} {redact_url(url)} ({repository})"
        write = method != "GET"
        backoff = 60.0
        for attempt in range(1, self.attempts + 1):
            if write:
                self._space_writes()
            limited = False
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=self._headers,
                    timeout=self.timeout,
                )  # fmt: skip
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait, reason = min(2.0**attempt, 30.0), describe_exception(exc)
                if method == "POST" and not _never_sent(exc):
                    raise GitHubError(
                        f"{where}: {reason}; it may have been applied, so it "
                        "is not retried blindly",
                        ambiguous=True,
                    ) from exc
            else:
                if write:
                    self.writes += 1
                if response.status_code < 400:
                    return response
                wait, reason = self._retry_wait(response, backoff), _message(response)
                if wait is None:
                    raise _error(response, repository, where)
                if method == "POST" and response.status_code >= 500:
                    raise GitHubError(f"{where}: {reason}; it may have been applied, so it "
                                      "is not retried blindly", response.status_code,
                                      ambiguous=True)  # fmt: skip
                if response.status_code in (403, 429):
                    backoff, limited = backoff * 2, True
            if attempt == self.attempts:
                failure = f"{where}: gave up after {attempt} attempt(s): {reason}"
                raise GitHubRateLimited(failure) if limited else GitHubError(failure)
            if wait > self.max_wait:
                raise GitHubRateLimited(
                    f"{where}: rate limited for {wait:.0f} s (more than max_wait "
                    f"{self.max_wait:.0f} s): {reason}"
                )
            log.warning("%s: %s; retrying in %.1f s (attempt %d/%d)", where, reason, wait,
                        attempt, self.attempts)  # fmt: skip
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _space_writes(self) -> None:
        now = self._clock()
        if self._last_write is not None:
            gap = self._last_write + self.min_write_interval - now
            if gap > 0:
                self._sleep(gap)
                now += gap
        self._last_write = now

    def _retry_wait(self, response: requests.Response, backoff: float) -> float | None:
        """Seconds to wait before retrying, or None when the failure is not worth a retry."""
        status, headers = response.status_code, response.headers
        if status >= 500:
            return min(backoff / 30.0, 30.0)  # 2 s, 4 s, ...
        if status not in (403, 429):
            return None
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            return max(float(headers["x-ratelimit-reset"]) - self._clock(), 0.0) + 1.0
        if status == 429 or _RATE_LIMITED.search(_message(response)):
            return backoff  # a secondary limit without headers: back off from a minute
        return None  # a 403 that is not a rate limit: a permission problem


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request surely never reached GitHub (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _next_page(response: requests.Response) -> str | None:
    match = _NEXT.search(response.headers.get("Link", ""))
    return match.group(1) if match else None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {excerpt(response.text)}"
    text = body.get("message", "") if isinstance(body, dict) else ""
    return f"HTTP {response.status_code}: {excerpt(str(text) or response.text)}"


def _error(response: requests.Response, repository: str, where: str) -> GitHubError:
    status, message = response.status_code, _message(response)
    hint = {
        401: "the token is missing, wrong or expired",
        403: "the token lacks permission for this repository",
        404: f"repository {repository} not found, or the token cannot see it",
        410: f"issues are disabled for {repository}",
        422: "GitHub refused the request's content",
    }.get(status, "")
    text = f"{where}: {hint}: {message}" if hint else f"{where}: {message}"
    return GitHubError(text, status)


class GitHubTracker:
    """The filing logic's view of GitHub (aiops.sinks.tracker.IssueTracker)."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.sink = client.base_url

    @property
    def writes(self) -> int:
        return self.client.writes

    def listed(self, repository: str, label: str, state: str) -> Iterator[IssueRef]:
        for item in self.client.issues(repository, label=label, state=state):
            yield _ref(repository, item)

    def get(self, repository: str, number: int | None, fingerprint: str) -> IssueRef | None:
        if number is None:
            return None
        try:
            return _ref(repository, self.client.issue(repository, number))
        except GitHubError as exc:
            if exc.status in (404, 410):  # deleted, or transferred out of reach
                log.warning("%s#%d is gone (%s); it will be filed again", repository, number, exc)
                return None
            raise

    def create(self, issue: RenderedIssue) -> IssueRef:
        created = self.client.create_issue(
            issue.repository, issue.title, issue.body, list(issue.labels)
        )
        return _ref(issue.repository, created)

    def comment(self, ref: IssueRef, body: str) -> None:
        assert ref.number is not None, ref
        self.client.comment(ref.repository, ref.number, body)

    def reopen(self, ref: IssueRef) -> IssueRef:
        assert ref.number is not None, ref
        item = self.client.update_issue(
            ref.repository, ref.number, state="open", state_reason="reopened"
        )
        return _ref(ref.repository, item)


def _ref(repository: str, item: dict[str, Any]) -> IssueRef:
    body = item.get("body") or ""
    return IssueRef(
        repository=repository,
        number=int(item["number"]),
        url=str(item.get("html_url") or item.get("url") or ""),
        state=str(item.get("state", "open")),
        state_reason=item.get("state_reason"),
        fingerprint=fingerprint_in(body),
        body=body,
    )
