"""GitHub's objects, errors, links and times as the REST API sends them, for the fake in
``github_server.py``, and the records the fake keeps (clock, rate limits, requests,
repositories); ``github_openapi.py`` holds the shapes to the upstream description."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

# -- GitHub's objects, errors and links ----------------------------------------------------------


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).timestamp()


def error_body(message: str, documentation_url: str, status: int) -> dict[str, Any]:
    """A ``basic-error`` as GitHub sends it (``status`` is a string there)."""
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}


def accepts_json(accept: str) -> bool:
    """Whether an ``Accept`` header lets GitHub answer JSON (``application/vnd.github+json``)."""
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(
        m in ("*/*", "application/*", "application/json")
        or (m.startswith("application/vnd.github") and m.endswith("json"))
        for m in media
    )


def link_header(url: str, query: dict[str, list[str]], page: int, last: int) -> str:
    """GitHub's ``link``: ``prev``, ``next``, ``last``, ``first``, those that apply, each the
    request's URL with its query (``per_page`` included) and another ``page``."""

    def at(n: int) -> str:
        return f"{url}?" + urlencode({**{k: v[-1] for k, v in query.items()}, "page": n})

    rels = [("prev", page - 1, page > 1), ("next", page + 1, page < last)]
    rels += [("last", last, page < last), ("first", 1, page > 1)]
    return ", ".join(f'<{at(n)}>; rel="{rel}"' for rel, n, applies in rels if applies)


def order(sort: str | None = None) -> Callable[[dict[str, Any]], tuple[float, int]]:
    """A sort key for the fake's issue records by GitHub's ``sort``: ``created`` (the default),
    ``updated`` or ``comments``."""
    if sort == "comments":
        return lambda issue: (len(issue["comments"]), issue["number"])
    return lambda issue: (issue[f"{sort or 'created'}_at"], issue["number"])


def matching(found: list[tuple[Any, dict]], q: str) -> list[tuple[Any, dict]]:
    """The ``(repo, issue record)`` pairs a search's ``q`` keeps: ``repo:``, ``is:`` or
    ``state:`` (open, closed, issue, pr) and ``label:`` qualifiers; other words must be in the
    title or the body."""

    def keep(repo: Any, issue: dict, term: str) -> bool:
        qualifier, _, value = term.partition(":")
        value = value.strip('"').lower()
        if qualifier in ("is", "state") and value in ("issue", "pr"):
            return issue["is_pr"] == (value == "pr")
        if qualifier in ("repo", "is", "state", "label") and value:
            facts = {
                "repo": [repo.full_name.lower()],
                "label": [n.lower() for n in issue["labels"]],
            }
            return value in facts.get(qualifier, [issue["state"]])
        return term.lower() in f"{issue['title']} {issue['body'] or ''}".lower()

    return [(r, i) for r, i in found if all(keep(r, i, term) for term in q.split())]


@dataclass(frozen=True)
class Shapes:
    """Users, labels, issues and comments as GitHub serves them, for one server's URLs: ``api``
    is the API root, ``web`` the HTML one (they differ on GitHub Enterprise)."""

    api: str
    web: str
    user_id: Callable[[str], int]

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        api, uid = f"{self.api}/users/{login}", self.user_id(login)
        return {
            "login": login, "id": uid, "node_id": f"U_kgDO{uid:08d}", "type": "User",
            "avatar_url": f"{self.web}/avatars/u/{uid}", "gravatar_id": "", "url": api,
            "html_url": f"{self.web}/{login}", "site_admin": False, "user_view_type": "public",
            "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
        }  # fmt: skip

    def label(self, repo: str, label: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": label["id"], "node_id": f"LA_kwDO{label['id']:08d}",
            "url": f"{self.api}/repos/{repo}/labels/{quote(label['name'])}",
            "name": label["name"], "description": label["description"],
            "color": label["color"], "default": False,
        }  # fmt: skip

    def issue(self, repo: str, issue: dict[str, Any], labels: list[dict[str, Any]]) -> dict:
        """``issue`` is the fake's record: times in epoch seconds, users as logins."""
        n, pr = issue["number"], issue["is_pr"]
        api, web = f"{self.api}/repos/{repo}/issues/{n}", f"{self.web}/{repo}/{'pull' if pr else 'issues'}/{n}"  # fmt: skip
        out = {
            "id": issue["id"], "node_id": f"{'PR' if pr else 'I'}_kwDO{issue['id']:08d}",
            "url": api, "repository_url": f"{self.api}/repos/{repo}", "html_url": web,
            "labels_url": f"{api}/labels{{/name}}", "comments_url": f"{api}/comments",
            "events_url": f"{api}/events", "timeline_url": f"{api}/timeline",
            "number": n, "state": issue["state"], "state_reason": issue["state_reason"],
            "title": issue["title"], "body": issue["body"], "user": self.user(issue["user"]),
            "labels": [self.label(repo, label) for label in labels],
            "assignee": self.user(issue["assignees"][0]) if issue["assignees"] else None,
            "assignees": [self.user(login) for login in issue["assignees"]],
            "milestone": None, "locked": False, "active_lock_reason": None,
            "comments": len(issue["comments"]), "author_association": issue["association"],
            "closed_at": iso(issue["closed_at"]) if issue["closed_at"] else None,
            "closed_by": self.user(issue["closed_by"]), "performed_via_github_app": None,
            "created_at": iso(issue["created_at"]), "updated_at": iso(issue["updated_at"]),
        }  # fmt: skip
        if pr:
            out["draft"] = False
            out["pull_request"] = {
                "url": f"{self.api}/repos/{repo}/pulls/{n}", "html_url": web,
                "diff_url": f"{web}.diff", "patch_url": f"{web}.patch", "merged_at": None,
            }  # fmt: skip
        return out

    def search_item(self, repo: str, issue: dict[str, Any], labels: list[dict[str, Any]]) -> dict:
        """An issue as search lists it: scored, and without ``body`` when there is none, since
        ``issue-search-result-item.body`` is a string that cannot be null there."""
        item = {**self.issue(repo, issue, labels), "score": 1.0}
        return {k: v for k, v in item.items() if k != "body" or v is not None}

    def comment(self, repo: str, number: int, comment: dict[str, Any]) -> dict[str, Any]:
        cid = comment["id"]
        return {
            "id": cid, "node_id": f"IC_kwDO{cid:08d}", "body": comment["body"],
            "url": f"{self.api}/repos/{repo}/issues/comments/{cid}",
            "html_url": f"{self.web}/{repo}/issues/{number}#issuecomment-{cid}",
            "issue_url": f"{self.api}/repos/{repo}/issues/{number}",
            "user": self.user(comment["user"]), "author_association": comment["association"],
            "created_at": iso(comment["created_at"]), "updated_at": iso(comment["created_at"]),
        }  # fmt: skip


# -- what the fake keeps ------------------------------------------------------------------------


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, start: float | None = None):
        self.now = float(int(time.time())) if start is None else start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RateLimit:
    """A primary budget (``core`` or ``search``): ``limit`` requests per ``window`` seconds."""

    limit: int
    window: int
    used: int = 0
    reset: int = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass
class RecordedRequest:
    """A request as the fake saw it (``Authorization`` cut to its scheme) and its answer."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    auth: str | None  # the Authorization scheme ("Bearer", "token", ...) or None
    body: Any = None
    operation_id: str | None = None
    status: int | None = None
    problems: list[str] = field(default_factory=list)
    response_problems: list[str] = field(default_factory=list)


@dataclass
class Repo:
    full_name: str  # "owner/name"
    has_issues: bool = True
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower-cased name
