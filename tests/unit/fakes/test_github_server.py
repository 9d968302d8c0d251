"""The loopback fake of GitHub's issues API (tests/github_server.py), driven with plain requests:
what it accepts, what it answers, and that both follow GitHub's own OpenAPI description."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from fakes.github_openapi import DESCRIPTION, OpenAPI
from fakes.github_server import DEFAULT_TOKEN, FakeClock, FakeGitHub
from fakes.github_shapes import Shapes

pytestmark = pytest.mark.skipif(
    not DESCRIPTION.exists(),
    reason=f"GitHub's REST description is not at {DESCRIPTION} (shared/ beside the checkout)",
)

HEADERS = {
    "Authorization": f"Bearer {DEFAULT_TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}


@pytest.fixture
def github():
    with FakeGitHub() as fake:  # leaving the block raises if the fake sent an invalid body
        fake.add_repo("acme", "shop")
        yield fake


@pytest.fixture
def api():
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


ISSUES = "/repos/acme/shop/issues"


def issues_url(github: FakeGitHub, tail: str = "") -> str:
    return f"{github.url}{ISSUES}{tail}"


def rate(response: requests.Response) -> dict[str, str]:
    prefix = "x-ratelimit-"
    return {k.removeprefix(prefix): v for k, v in response.headers.items() if k.startswith(prefix)}


def valid(response: requests.Response) -> Any:
    """The answer's JSON, held to the description here as well as in the fake."""
    openapi = OpenAPI.load()
    op, _ = openapi.match(response.request.method, urlsplit(response.request.url).path)
    assert op is not None, response.request.url
    assert openapi.response_problems(op, response.status_code, response.json()) == []
    return response.json()


def test_an_issue_lifecycle_validates_both_ways(github, api):
    body = {"title": "cart p99 over SLO", "body": "seen at 02:00", "labels": ["aiops"]}
    created = api.post(issues_url(github), json=body)
    assert created.status_code == 201, created.text
    issue = valid(created)
    assert created.headers["location"] == issue["url"] == issues_url(github, "/1")
    assert (issue["number"], issue["state"], issue["state_reason"]) == (1, "open", None)
    assert [label["name"] for label in issue["labels"]] == ["aiops"]
    assert issue["user"]["login"] == "aiops-bot" and "pull_request" not in issue

    listed = valid(api.get(issues_url(github), params={"labels": "aiops", "state": "open"}))
    assert [i["number"] for i in listed] == [1]

    comment = api.post(issues_url(github, "/1/comments"), json={"body": "scaled cart to 6"})
    assert comment.status_code == 201 and valid(comment)["body"] == "scaled cart to 6"
    comments = valid(api.get(issues_url(github, "/1/comments")))
    assert [c["body"] for c in comments] == ["scaled cart to 6"]

    reason = {"state": "closed", "state_reason": "not_planned"}
    closed = valid(api.patch(issues_url(github, "/1"), json=reason))
    assert (closed["state"], closed["state_reason"], closed["comments"]) == (
        "closed",
        "not_planned",
        1,
    )
    assert closed["closed_at"] and closed["closed_by"]["login"] == "aiops-bot"
    assert valid(api.get(issues_url(github))) == []  # state=open by default

    reopened = valid(api.patch(issues_url(github, "/1"), json={"state": "open"}))
    assert (reopened["state"], reopened["state_reason"], reopened["closed_at"]) == (
        "open",
        "reopened",
        None,
    )
    assert valid(api.get(issues_url(github, "/1")))["state"] == "open"

    assert github.violations == [] and github.response_problems == []
    assert [r.status for r in github.requests] == [201, 200, 201, 200, 200, 200, 200, 200]
    assert [r.method for r in github.writes()] == ["POST", "POST", "PATCH", "PATCH"]


@pytest.mark.parametrize(
    ("method", "tail", "body", "field"),
    [
        ("POST", "", {"title": "x", "labels": "aiops"}, "body.labels: 'aiops' is not of type"),
        ("POST", "", {"body": "no title"}, "'title' is a required property"),
        ("PATCH", "/1", {"state": "resolved"}, "body.state: 'resolved' is not one of"),
        ("PATCH", "/1", {"state": "closed", "state_reason": "wontfix"}, "body.state_reason"),
        ("GET", "?state=opened", None, "query.state: 'opened' is not one of"),
        ("GET", "?per_page=ten", None, "query.per_page: 'ten' is not an integer"),
        ("GET", "?since=yesterday", None, "query.since: 'yesterday' is not a 'date-time'"),
        ("GET", "?perpage=10", None, "query.perpage: not a parameter of issues/list-for-repo"),
        ("GET", "/one", None, "path.issue_number: 'one' is not an integer"),
    ],
)
def test_a_request_the_description_rejects_is_a_422_and_a_violation(
    github, api, method, tail, body, field
):
    github.add_issue(github.repos[("acme", "shop")], "already there")
    answer = api.request(method, issues_url(github, tail), json=body)
    assert answer.status_code == 422
    error = answer.json()
    assert error["message"].startswith("Invalid request.") and field in error["message"]
    assert error["documentation_url"].startswith("https://docs.github.com/rest/issues/issues#")
    assert all(e["code"] == "invalid" and e["resource"] == "Issue" for e in error["errors"])
    assert len(github.violations) == 1 and field in github.violations[0]
    assert github.repos[("acme", "shop")].issues[1]["state"] == "open"  # nothing changed


def test_bad_json_is_a_400(github, api):
    answer = api.post(
        issues_url(github), data="{'title': 1}", headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["message"]) == (400, "Problems parsing JSON")
    assert github.violations == ["POST /repos/acme/shop/issues: body: not JSON"]


def test_pages_follow_the_link_header(github, api):
    repo = github.repos[("acme", "shop")]
    for n in range(7):
        github.add_issue(repo, f"issue {n + 1}", at=1_700_000_000 + n)
    first = api.get(issues_url(github), params={"per_page": 3})
    assert set(first.links) == {"next", "last"} and "per_page=3" in first.links["next"]["url"]
    assert first.links["last"]["url"].endswith("page=3")
    numbers, url, pages = [], issues_url(github) + "?per_page=3", []
    while url:
        page = api.get(url)
        pages.append(page)
        numbers += [i["number"] for i in page.json()]
        url = page.links.get("next", {}).get("url")
    assert numbers == [7, 6, 5, 4, 3, 2, 1]  # newest first
    assert [len(p.json()) for p in pages] == [3, 3, 1]
    assert set(pages[1].links) == {"prev", "next", "last", "first"}
    assert set(pages[2].links) == {"prev", "first"}
    everything = api.get(issues_url(github), params={"per_page": 500, "direction": "asc"})
    assert [i["number"] for i in everything.json()] == [1, 2, 3, 4, 5, 6, 7]
    assert "link" not in everything.headers  # one page: no link
    assert github.violations == []


def test_pull_requests_come_back_from_the_issues_list(github, api):
    repo = github.repos[("acme", "shop")]
    github.add_issue(repo, "a bug")
    github.add_issue(repo, "fix the bug", pull_request=True)
    listed = {i["number"]: i for i in api.get(issues_url(github)).json()}
    assert "pull_request" not in listed[1]
    assert listed[2]["pull_request"]["html_url"].endswith("/acme/shop/pull/2")
    assert listed[2]["node_id"].startswith("PR_")


def test_labels_are_silently_dropped_without_push_access(github, api):
    github.add_token("ghp_readOnly", push=False, login="reader")
    api.headers["Authorization"] = "token ghp_readOnly"  # the older scheme works too
    created = api.post(issues_url(github), json={"title": "from a reader", "labels": ["sev1"]})
    assert created.status_code == 201
    assert created.json()["labels"] == [] and created.json()["author_association"] == "NONE"
    updated = api.patch(issues_url(github, "/1"), json={"labels": ["sev1"], "title": "retitled"})
    assert (updated.json()["labels"], updated.json()["title"]) == ([], "retitled")
    assert api.get(f"{github.url}/repos/acme/shop/labels").json() == []
    assert github.violations == [] and github.requests[0].auth == "token"


@pytest.mark.parametrize(
    ("headers", "path", "status", "message", "violation"),
    [
        ({"Authorization": "Bearer ghp_wrong"}, ISSUES, 401, "Bad credentials", False),
        ({"Authorization": None}, ISSUES, 401, "Requires authentication", True),
        ({}, "/repos/acme/nowhere/issues", 404, "Not Found", False),
        ({}, "/repos/acme/quiet/issues", 410, "Issues are disabled for this repo", False),
        ({}, "/repos/acme/shop/pulls", 404, "Not Found", True),
        ({"Accept": "text/html"}, ISSUES, 415, "Unsupported 'Accept'", True),
        ({"X-GitHub-Api-Version": "2021-01-01"}, ISSUES, 400, "API version", True),
        ({"User-Agent": ""}, ISSUES, 403, "Request forbidden", True),
    ],
)
def test_github_errors(github, api, headers, path, status, message, violation):
    github.add_repo("acme", "quiet", has_issues=False)
    answer = api.get(github.url + path, headers=headers)
    assert answer.status_code == status and answer.json()["message"].startswith(message)
    assert bool(github.violations) == violation
    assert "x-ratelimit-remaining" in answer.headers


def test_a_secondary_limit_says_when_to_retry(github, api):
    github.secondary_limit_next(1, retry_after=30)
    github.secondary_limit_next(1, retry_after=None, status=429)
    limited = api.post(issues_url(github), json={"title": "one"})
    assert limited.status_code == 403 and limited.headers["retry-after"] == "30"
    assert "secondary rate limit" in limited.json()["message"]
    again = api.post(issues_url(github), json={"title": "one"})
    assert again.status_code == 429 and "retry-after" not in again.headers
    assert api.post(issues_url(github), json={"title": "one"}).status_code == 201
    assert [r.status for r in github.writes()] == [403, 429, 201]


@pytest.mark.parametrize("status", [403, 429])
def test_the_primary_limit_resets_on_the_clock(api, status):
    clock = FakeClock(1_700_000_000)
    with FakeGitHub(core_limit=3, primary_status=status, clock=clock) as github:
        github.add_repo("acme", "shop")
        first = api.get(issues_url(github))
        assert rate(first) == dict(
            limit="3", remaining="2", used="1", reset="1700003600", resource="core"
        )
        api.get(issues_url(github))
        api.get(issues_url(github))
        over = api.get(issues_url(github))
        assert over.status_code == status
        assert over.json()["message"].startswith("API rate limit exceeded")
        assert (rate(over)["remaining"], rate(over)["reset"]) == ("0", "1700003600")
        clock.advance(3600)
        after = api.get(issues_url(github))
        assert after.status_code == 200
        assert (rate(after)["remaining"], rate(after)["reset"]) == ("2", "1700007200")
        search = api.get(f"{github.url}/search/issues", params={"q": "repo:acme/shop"})
        assert (rate(search)["resource"], rate(search)["limit"]) == ("search", "30")
        github.set_rate_limit("search", remaining=0, reset_in=42)
        assert api.get(f"{github.url}/search/issues", params={"q": "x"}).status_code == status


def test_server_errors_for_the_next_requests(github, api):
    github.fail_next(2, status=502)
    github.fail_next(1, status=503)
    statuses = [api.get(issues_url(github)).status_code for _ in range(4)]
    assert statuses == [502, 502, 503, 200]
    assert github.violations == []


def test_enterprise_serves_under_api_v3(api):
    with FakeGitHub(enterprise=True) as github:
        github.add_repo("acme", "shop")
        assert github.url.endswith("/api/v3")
        issue = api.post(issues_url(github), json={"title": "on GHES"}).json()
        assert issue["url"] == issues_url(github, "/1") and "/api/v3/" in issue["url"]
        assert issue["html_url"] == github.url.removesuffix("/api/v3") + "/acme/shop/issues/1"
        for n in range(2):
            github.add_issue(github.repos[("acme", "shop")], f"more {n}")
        paged = api.get(issues_url(github), params={"per_page": 1})
        assert paged.links["next"]["url"].startswith(github.url + "/repos/acme/shop/issues?")
        assert github.violations == []
        bare = api.get(github.url.removesuffix("/api/v3") + "/repos/acme/shop/issues")
        assert bare.status_code == 404 and len(github.violations) == 1


def test_search_finds_issues_by_qualifiers_and_words(github, api):
    repo = github.repos[("acme", "shop")]
    github.add_issue(repo, "disk full on db-1", labels=("aiops",))
    github.add_issue(repo, "disk slow", state="closed", labels=("aiops",))
    github.add_issue(repo, "disk quota PR", pull_request=True, labels=("aiops",))
    found = api.get(
        f"{github.url}/search/issues",
        params={"q": 'repo:acme/shop is:issue is:open label:"aiops" disk'},
    )
    assert found.status_code == 200
    assert [i["title"] for i in found.json()["items"]] == ["disk full on db-1"]
    assert found.json()["total_count"] == 1 and found.json()["items"][0]["score"] == 1.0
    missing_q = api.get(f"{github.url}/search/issues")
    assert missing_q.status_code == 422 and "query.q: required" in github.violations[0]


def test_the_token_is_never_recorded(github, api):
    api.post(issues_url(github), json={"title": "secret-free"})
    api.get(issues_url(github), headers={"Authorization": "Bearer ghp_notKnown"})
    text = repr(github.requests)
    assert DEFAULT_TOKEN not in text and "ghp_notKnown" not in text
    assert github.requests[0].headers["authorization"] == "Bearer ***"
    assert github.requests[0].body == {"title": "secret-free"}


def test_the_fake_refuses_to_send_a_body_its_description_rejects(api, monkeypatch):
    original = Shapes.label

    def label_without_color(self, repo, label):
        return {k: v for k, v in original(self, repo, label).items() if k != "color"}

    monkeypatch.setattr(Shapes, "label", label_without_color)
    github = FakeGitHub()
    with pytest.raises(AssertionError, match="'color' is a required property"), github:
        github.add_label(github.add_repo("acme", "shop"), "aiops")
        answer = api.get(f"{github.url}/repos/acme/shop/labels")
        assert answer.status_code == 500 and "color" in answer.json()["message"]
    assert github.requests[0].status == 200  # what the fake meant to send


def test_labels_can_be_listed_and_created_once(github, api):
    labels = f"{github.url}/repos/acme/shop/labels"
    created = api.post(
        labels, json={"name": "aiops", "color": "0e8a16", "description": "filed by aiops"}
    )
    assert created.status_code == 201 and created.json()["description"] == "filed by aiops"
    again = api.post(labels, json={"name": "AIOps"})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "already_exists"
    assert [label["name"] for label in api.get(labels).json()] == ["aiops"]


def documented_examples(raw: dict[str, Any]):
    """``(method, template, status, value)`` for each response example in the description."""
    named = raw["components"]["examples"]

    def resolve(node: Any) -> Any:
        ref = node.get("$ref") if isinstance(node, dict) else None
        return named[ref.split("/")[-1]] if ref else node

    for template, item in raw["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json", {})
                for example in map(resolve, content.get("examples", {}).values()):
                    value = example["value"]
                    if isinstance(value, dict) and "$ref" in value:
                        value = resolve(value)["value"]
                    yield method.upper(), template, int(status), value


def test_the_translated_description_accepts_its_own_examples_and_nulls():
    openapi, raw = OpenAPI.load(), json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    checked = 0
    for method, template, status, value in documented_examples(raw):
        if isinstance(value, dict) and value.get("items") == ["..."]:
            continue  # search's lexical-fallback example: a placeholder for the items
        op, _ = openapi.match(method, template)
        assert openapi.response_problems(op, status, value) == [], (method, template, status)
        checked += 1
    assert checked == 10  # all the others
    get_issue, _ = openapi.match("GET", "/repos/o/r/issues/1")
    example = raw["components"]["examples"]["issue"]["value"]
    issue = dict(example, state_reason=None, closed_at=None, milestone=None)
    assert openapi.response_problems(get_issue, 200, issue) == []
    bad = dict(issue, state_reason="wontfix", closed_at="yesterday")
    problems = openapi.response_problems(get_issue, 200, bad)
    assert any("state_reason" in p for p in problems) and any("'date-time'" in p for p in problems)
