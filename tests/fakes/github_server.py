"""A loopback fake of GitHub's REST issues API, held (with its clients) to GitHub's own OpenAPI
description, ``shared/data/github/issues-openapi.json``, read by ``github_openapi.py``.

A request that does not validate is answered 422 ``{"message": "Invalid request. ...", "errors":
[...], "documentation_url": <the operation's docs>}`` and listed in ``.violations``. Each answer
is validated before it goes out; one that fails is the fake's own bug: it is sent as a 500, kept
in ``.response_problems`` and raised when the ``with`` block ends.

GitHub's behaviour as github/docs states it (``content/rest/using-the-rest-api/``: rate limits,
troubleshooting, pagination, best practices; ``about-the-rest-api/api-versions.md``):

- every answer has ``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (UTC epoch
  seconds) and ``-resource``; a token gets 5,000 ``core`` requests an hour, 30 ``search`` a
  minute. Past that primary limit: 403 or 429 with ``x-ratelimit-remaining: 0``; no retry before
  ``x-ratelimit-reset``. A secondary limit is 403 or 429 with a message saying so; wait
  ``retry-after`` seconds when it is there (else a minute or more, backing off exponentially).
- ``link`` lists ``prev``, ``next``, ``last``, ``first`` (those that apply), ``per_page`` (at most
  100) kept in the URLs; GitHub's point at ``/repositories/{id}/...``, the fake's at ``/repos/``.
- a bad token is 401 "Bad credentials"; an unknown repository 404 "Not Found"; issues turned off
  410 "Issues are disabled for this repo"; labels and assignees sent without push access are
  silently dropped.

The token is never recorded nor logged, only its scheme (``Bearer`` or ``token``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from fakes import github_openapi as gh
from fakes import github_shapes as wire
from fakes.github_openapi import MISSING, OpenAPI, Operation
from fakes.github_shapes import FakeClock, RateLimit, RecordedRequest, Repo, Shapes
from fakes.github_shapes import error_body as _error
from fakes.loopback import LoopbackHTTP

DEFAULT_TOKEN = "ghp_fakeTokenWithPushAccess000000000000"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)


class FakeGitHub:
    """``with FakeGitHub() as github: requests.get(f"{github.url}/repos/o/r/issues", ...)``;
    ``enterprise=True`` serves under ``/api/v3`` as GitHub Enterprise Server does."""

    def __init__(
        self,
        *,
        enterprise: bool = False,
        core_limit: int = 5000,
        search_limit: int = 30,
        primary_status: int = 403,
        clock: FakeClock | None = None,
    ):
        if not gh.DESCRIPTION.exists():  # CI has shared/ beside the checkout; elsewhere, skip
            pytest.skip(f"GitHub's REST description is not at {gh.DESCRIPTION}")
        self.prefix = "/api/v3" if enterprise else ""
        self.openapi = OpenAPI.load()
        self.clock = clock or FakeClock()
        self.limits = {"core": RateLimit(core_limit, 3600), "search": RateLimit(search_limit, 60)}
        self.primary_status = primary_status
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, tuple[bool, str]] = {DEFAULT_TOKEN: (True, "aiops-bot")}
        self._users: dict[str, int] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        # (status, body, headers, only for this method or None)
        self._faults: deque[tuple[int, dict[str, Any], dict[str, str], str | None]] = deque()
        self._http = LoopbackHTTP(_Handler, self)

    def start(self) -> FakeGitHub:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None:
            self.assert_responses_valid()

    @property
    def url(self) -> str:
        """The API root: ``http://127.0.0.1:PORT``, and ``/api/v3`` for Enterprise."""
        return self._http.base_url("FakeGitHub") + self.prefix

    # -- state ------------------------------------------------------------------------------------

    def add_token(self, token: str, *, push: bool = True, login: str = "aiops-bot") -> None:
        self.tokens[token] = (push, login)

    def add_repo(self, owner: str, name: str, *, has_issues: bool = True) -> Repo:
        repo = Repo(f"{owner}/{name}", has_issues)
        return self.repos.setdefault((owner.lower(), name.lower()), repo)

    def add_label(self, repo: Repo, name: str, color: str = "ededed") -> dict[str, Any]:
        label = {"id": next(self._ids), "name": name, "color": color, "description": None}
        return repo.labels.setdefault(name.lower(), label)

    def add_issue(
        self, repo: Repo, title: str, *, body: str | None = None, labels: tuple[str, ...] = (),
        user: str = "octocat", pull_request: bool = False, state: str = "open", at: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """An issue (or pull request) as the fake stores it; times are epoch seconds."""
        now, closed = self.clock.time() if at is None else at, state == "closed"
        issue = {
            "id": next(self._ids), "number": len(repo.issues) + 1, "title": title, "body": body,
            "user": user, "labels": [self.add_label(repo, n)["name"] for n in labels],
            "assignees": [], "state": state, "state_reason": "completed" if closed else None,
            "closed_at": now if closed else None, "closed_by": None, "comments": [],
            "created_at": now, "updated_at": now, "is_pr": pull_request, "association": "NONE",
        }  # fmt: skip
        return repo.issues.setdefault(issue["number"], issue)

    # -- what tests look at and steer -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]

    @property
    def violations(self) -> list[str]:
        return [f"{r.method} {r.path}: {p}" for r in self.requests for p in r.problems]

    @property
    def response_problems(self) -> list[str]:
        return [p for r in self.requests for p in r.response_problems]

    def assert_responses_valid(self) -> None:
        problems = self.response_problems
        assert not problems, "the fake sent bodies the description rejects:\n" + "\n".join(problems)

    def set_rate_limit(self, resource: str = "core", *, remaining: int, reset_in: int = 3600):
        """Leave ``remaining`` requests in ``resource``'s window, which ends ``reset_in`` s on."""
        budget = self.limits[resource]
        budget.used, budget.reset = budget.limit - remaining, int(self.clock.time()) + reset_in

    def secondary_limit_next(self, n: int = 1, *, retry_after: int | None = 60, status: int = 403):
        body = _error(SECONDARY, RATE_DOCS + "#about-secondary-rate-limits", status)
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        with self._lock:
            self._faults.extend([(status, body, headers, None)] * n)

    def fail_next(self, n: int = 1, status: int = 502, *, method: str | None = None) -> None:
        """Answer the next ``n`` authenticated requests (of ``method``, if given) with
        ``status`` (a 5xx), without acting on them."""
        body = _error("Server Error", "https://www.githubstatus.com", status)
        with self._lock:
            self._faults.extend([(status, body, {}, method)] * n)

    # -- one request ------------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Record and answer one request: ``(status, body or None, headers)``."""
        parts, headers = urlsplit(target), {k.lower(): v for k, v in headers.items()}
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        shown = {k: f"{scheme} ***" if k == "authorization" else v for k, v in headers.items()}
        query = parse_qs(parts.query, keep_blank_values=True)
        record = RecordedRequest(method, parts.path, query, shown, scheme or None)
        with self._lock:
            self._requests.append(record)
            op, status, body, extra = self._respond(record, headers, token.strip(), raw)
            record.status = status
            record.response_problems = self.openapi.response_problems(op, status, body)
            if record.response_problems:
                status, body = 500, {"message": "fake GitHub: " + record.response_problems[0]}
            resource = "search" if op and op.operation_id.startswith("search/") else "core"
            budget = self._budget(resource)
            rate = {"limit": budget.limit, "remaining": budget.remaining, "used": budget.used}
            rate |= {"reset": budget.reset, "resource": resource}
            extra |= {f"x-ratelimit-{k}": str(v) for k, v in rate.items()}
            version = headers.get("x-github-api-version")
            version = version if version in gh.API_VERSIONS else gh.API_VERSIONS[0]
            return status, body, {"x-github-api-version-selected": version, **extra}

    def _budget(self, resource: str) -> RateLimit:
        budget, now = self.limits[resource], self.clock.time()
        if now >= budget.reset:
            budget.used, budget.reset = 0, int(now) + budget.window
        return budget

    def _respond(self, record: RecordedRequest, headers: dict[str, str], token: str, raw: bytes):
        """``(operation, status, body, headers)``: the checks in GitHub's order, then the work."""
        if not record.path.startswith(self.prefix + "/"):  # GitHub Enterprise: /api/v3/...
            record.problems.append(f"{record.path} is outside the API root {self.prefix}")
            return None, 404, _error("Not Found", "https://docs.github.com/rest", 404), {}
        path = record.path.removeprefix(self.prefix)
        checked = self.openapi.check_request(record.method, path, record.query, headers, raw)
        op, record.problems = checked.op, checked.problems
        record.body = None if checked.body is MISSING else checked.body
        record.operation_id = op.operation_id if op else None
        docs = op.documentation_url if op else "https://docs.github.com/rest"
        if checked.refusal is not None:
            status, message = checked.refusal
            return op, status, _error(message, docs, status), {}
        assert op is not None and record.auth is not None
        if record.auth.lower() not in ("bearer", "token") or token not in self.tokens:
            return op, 401, _error("Bad credentials", "https://docs.github.com/rest", 401), {}
        push, login = self.tokens[token]
        budget = self._budget("search" if op.operation_id.startswith("search/") else "core")
        if budget.remaining == 0:
            message = f"API rate limit exceeded for user ID {self._user_id(login)}."
            return op, self.primary_status, _error(message, RATE_DOCS, self.primary_status), {}
        budget.used += 1
        fault = next((f for f in self._faults if f[3] in (None, record.method)), None)
        if fault is not None:
            self._faults.remove(fault)
            return op, *fault[:3]
        if record.problems:
            resource = "Search" if op.operation_id.startswith("search/") else "Issue"
            errors = [
                {"resource": resource, "code": "invalid", "field": p.split(":")[0], "message": p}
                for p in record.problems
            ]
            message = "Invalid request.\n\n" + "\n".join(record.problems)
            return op, 422, {**_error(message, docs, 422), "errors": errors}, {}
        body = {} if checked.body is MISSING else checked.body
        return op, *self._operate(op, checked.params, body, push, login, record)

    def _user_id(self, login: str) -> int:
        return self._users.setdefault(login, 9000 + len(self._users))

    # -- the operations ---------------------------------------------------------------------------

    def _operate(self, op: Operation, params: dict, body: dict, push: bool, login: str, record):
        now, kind, docs = self.clock.time(), op.operation_id, op.documentation_url
        host = self.url.removesuffix(self.prefix)
        shapes = Shapes(self.url, host, self._user_id)

        def paged(items: list, show) -> tuple[int, list, dict[str, str]]:
            size = params.get("per_page", 30)
            size, page = (min(size, 100) if size > 0 else 30), max(params.get("page", 1), 1)
            last = max(-(-len(items) // size), 1)
            link = wire.link_header(host + record.path, record.query, page, last)
            shown = [show(x) for x in items[(page - 1) * size : page * size]]
            return 200, shown, {"link": link} if link else {}

        if kind == "search/issues-and-pull-requests":
            found = [(r, i) for r in self.repos.values() if r.has_issues for i in r.issues.values()]
            found = sorted(
                wire.matching(found, params["q"]),
                key=lambda ri: wire.order()(ri[1]),
                reverse=True,
            )
            status, items, link = paged(found, lambda ri: self._issue(shapes, *ri, search=True))
            answer = {"total_count": len(found), "incomplete_results": False, "items": items}
            return status, {**answer, "search_type": "lexical"}, link
        repo = self.repos.get((params["owner"].lower(), params["repo"].lower()))
        if repo is None:
            return 404, _error("Not Found", docs, 404), {}
        if not repo.has_issues and "label" not in kind:
            return 410, _error("Issues are disabled for this repo", docs, 410), {}
        issue = repo.issues.get(params.get("issue_number", 0))
        if "issue_number" in params and issue is None:
            return 404, _error("Not Found", docs, 404), {}
        if kind == "issues/list-for-repo":
            wanted = {n.strip().lower() for n in params.get("labels", "").split(",") if n.strip()}
            since = wire.epoch(params["since"]) if "since" in params else 0
            found = [
                i
                for i in repo.issues.values()
                if params.get("state", "open") in ("all", i["state"])
                and wanted <= {n.lower() for n in i["labels"]}
                and i["updated_at"] >= since
                and params.get("creator", i["user"]) == i["user"]
            ]
            found.sort(key=wire.order(params.get("sort")), reverse=params.get("direction") != "asc")
            return paged(found, lambda i: self._issue(shapes, repo, i))
        if kind == "issues/create":
            issue = self.add_issue(repo, str(body["title"]), body=body.get("body"), user=login)
            issue["association"] = "COLLABORATOR" if push else "NONE"
        if kind == "issues/update" and body.get("state", issue["state"]) != issue["state"]:
            closing = body["state"] == "closed"
            issue["state"], issue["closed_at"] = body["state"], now if closing else None
            issue["closed_by"] = login if closing else None
            default_reason = "completed" if closing else "reopened"
            issue["state_reason"] = body.get("state_reason") or default_reason
        if kind in ("issues/create", "issues/update"):
            issue.update({k: body[k] for k in ("title", "body") if k in body}, updated_at=now)
            if push and "labels" in body:  # without push access GitHub drops them silently
                names = [x if isinstance(x, str) else x.get("name", "") for x in body["labels"]]
                issue["labels"] = [self.add_label(repo, n)["name"] for n in names if n]
            if push and "assignees" in body:
                logins = [a if isinstance(a, str) else a.get("login") for a in body["assignees"]]
                issue["assignees"] = [login for login in logins if login]
        if kind in ("issues/get", "issues/update"):
            return 200, self._issue(shapes, repo, issue), {}
        if kind == "issues/create":
            created = self._issue(shapes, repo, issue)
            return 201, created, {"location": created["url"]}
        if kind == "issues/list-comments":
            since = wire.epoch(params["since"]) if "since" in params else 0
            found = [c for c in issue["comments"] if c["created_at"] >= since]
            return paged(found, lambda c: shapes.comment(repo.full_name, issue["number"], c))
        if kind == "issues/create-comment":
            association = "COLLABORATOR" if push else "NONE"
            comment = {"id": next(self._ids), "body": body["body"], "user": login}
            issue["comments"].append({**comment, "created_at": now, "association": association})
            issue["updated_at"] = now
            created = shapes.comment(repo.full_name, issue["number"], issue["comments"][-1])
            return 201, created, {"location": created["url"]}
        if kind == "issues/list-labels-for-repo":
            labels = sorted(repo.labels.values(), key=lambda label: label["name"].lower())
            return paged(labels, lambda label: shapes.label(repo.full_name, label))
        if kind == "issues/create-label" and not push:
            return 403, _error("Must have admin rights to Repository.", docs, 403), {}
        if kind == "issues/create-label" and body["name"].lower() in repo.labels:
            errors = [{"resource": "Label", "code": "already_exists", "field": "name"}]
            return 422, {**_error("Validation Failed", docs, 422), "errors": errors}, {}
        if kind == "issues/create-label":
            label = self.add_label(repo, body["name"], body.get("color", "ededed"))
            label["description"] = body.get("description")
            created = shapes.label(repo.full_name, label)
            return 201, created, {"location": created["url"]}
        raise NotImplementedError(f"the fake does not serve {kind}")

    def _issue(self, shapes: Shapes, repo: Repo, issue: dict, search: bool = False) -> dict:
        labels = [repo.labels[name.lower()] for name in issue["labels"]]
        build = shapes.search_item if search else shapes.issue
        return build(repo.full_name, issue, labels)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body, headers = self.fake.answer(self.command, self.path, dict(self.headers), raw)
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server API)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # request lines and headers could carry a token: never log them


class Sleeper:
    """Records waits instead of waiting, and moves the fake's clock along with them."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.waits = clock, []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
