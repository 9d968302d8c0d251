"""The GitHub client against a loopback GitHub that checks every request and answer against
the upstream OpenAPI description: pagination, pull requests skipped, write spacing, rate
limits, clear errors that name the repository and never the token."""

from __future__ import annotations

import pytest

from aiops.sinks.github import GitHubClient, GitHubError, GitHubRateLimited
from fakes.github_server import DEFAULT_TOKEN, FakeClock, FakeGitHub, Sleeper


@pytest.fixture
def github():
    clock = FakeClock(1_761_800_000.0)
    with FakeGitHub(clock=clock) as fake:
        fake.add_repo("acme-shop", "catalog")
        yield fake
        assert fake.violations == []


def client(github: FakeGitHub, **kwargs) -> tuple[GitHubClient, Sleeper]:
    sleeper = Sleeper(github.clock)
    made = GitHubClient(DEFAULT_TOKEN, github.url, sleep=sleeper, clock=github.clock.time, **kwargs)
    return made, sleeper


def test_issues_follow_link_pages_and_skip_pull_requests(github) -> None:
    repo = github.repos[("acme-shop", "catalog")]
    for n in range(230):
        github.add_issue(repo, f"issue {n}", labels=("aiops",), pull_request=n % 50 == 0)
    github.add_issue(repo, "not ours", labels=("bug",))
    gh, _ = client(github)
    found = list(gh.issues("acme-shop/catalog", label="aiops"))
    assert len(found) == 230 - 5  # five of them are pull requests
    assert all("pull_request" not in i for i in found)
    pages = [r for r in github.requests if r.method == "GET"]
    assert len(pages) == 3  # 100 per page, through the Link header
    assert gh.writes == 0


def test_writes_are_spaced_a_second_apart_and_counted(github) -> None:
    gh, sleeper = client(github)
    first = gh.create_issue("acme-shop/catalog", "N+1 in catalog", "body", ["aiops"])
    gh.comment("acme-shop/catalog", first["number"], "seen again")
    gh.update_issue("acme-shop/catalog", first["number"], state="closed", state_reason="completed")
    assert gh.writes == 3 and len(github.writes()) == 3
    assert sleeper.waits == [1.0, 1.0]  # the fake clock does not move between calls by itself
    assert [label["name"] for label in first["labels"]] == ["aiops"]


def test_labels_dropped_without_push_access_are_warned_about(github, caplog) -> None:
    github.add_token("ghp_readonly", push=False)
    gh = GitHubClient("ghp_readonly", github.url, sleep=lambda s: None)
    issue = gh.create_issue("acme-shop/catalog", "t", "b", ["aiops", "perf"])
    assert issue["labels"] == []
    assert "dropped the labels aiops, perf" in caplog.text and "push access" in caplog.text


def test_secondary_limit_waits_retry_after_then_succeeds(github) -> None:
    github.secondary_limit_next(1, retry_after=42)
    gh, sleeper = client(github)
    gh.create_issue("acme-shop/catalog", "t", "b", [])
    assert 42.0 in sleeper.waits


def test_secondary_limit_without_retry_after_backs_off_from_a_minute(github) -> None:
    github.secondary_limit_next(2, retry_after=None)
    gh, sleeper = client(github)
    gh.create_issue("acme-shop/catalog", "t", "b", [])
    assert [w for w in sleeper.waits if w >= 60] == [60.0, 120.0]


def test_primary_limit_waits_until_the_reset(github) -> None:
    github.set_rate_limit("core", remaining=0, reset_in=120)
    gh, sleeper = client(github)
    assert list(gh.issues("acme-shop/catalog", label="aiops")) == []
    assert sleeper.waits and 120.0 <= sleeper.waits[0] <= 122.0


def test_a_reset_beyond_max_wait_is_an_error_not_a_stuck_task(github) -> None:
    github.set_rate_limit("core", remaining=0, reset_in=3600)
    gh, _ = client(github, max_wait=600)
    with pytest.raises(GitHubRateLimited, match=r"acme-shop/catalog.*rate limited for 3\d\d\d s"):
        list(gh.issues("acme-shop/catalog", label="aiops"))


def test_5xx_is_retried_and_gives_up_naming_the_repository(github) -> None:
    gh, _ = client(github)
    created = gh.create_issue("acme-shop/catalog", "t", "b", [])
    github.fail_next(1, status=502)
    assert [i["number"] for i in gh.issues("acme-shop/catalog", label="x", state="all")] == []
    github.fail_next(1, status=503)
    assert gh.update_issue("acme-shop/catalog", created["number"], state="closed")["state"] == (
        "closed"
    )  # a PATCH sets fields: sending it twice is harmless
    github.fail_next(10, status=503)
    gh, _ = client(github, attempts=3)
    with pytest.raises(
        GitHubError,
        match=r"GET .*/repos/acme-shop/catalog/issues \(acme-shop/catalog\): gave up after 3",
    ):
        list(gh.issues("acme-shop/catalog", label="x"))


def test_a_post_that_may_have_been_applied_is_not_retried_blindly(github) -> None:
    gh, _ = client(github)
    github.fail_next(1, status=502, method="POST")
    with pytest.raises(GitHubError, match=r"HTTP 502.*may have been applied") as failed:
        gh.create_issue("acme-shop/catalog", "t", "b", [])
    assert failed.value.ambiguous and failed.value.status == 502
    assert [r.method for r in github.requests] == ["POST"]


@pytest.mark.parametrize(
    ("setup", "token", "repository", "expected"),
    [
        (lambda g: None, "ghp_wrong", "acme-shop/catalog", "token is missing, wrong or expired"),
        (lambda g: None, DEFAULT_TOKEN, "acme-shop/nope", "repository acme-shop/nope not found"),
        (lambda g: g.add_repo("acme-shop", "quiet", has_issues=False), DEFAULT_TOKEN,
         "acme-shop/quiet", "issues are disabled for acme-shop/quiet"),
    ],
)  # fmt: skip
def test_401_404_410_are_clear_and_never_show_the_token(github, setup, token, repository, expected):
    setup(github)
    gh = GitHubClient(token, github.url, sleep=lambda s: None)
    with pytest.raises(GitHubError) as caught:
        gh.create_issue(repository, "t", "b", [])
    assert expected in str(caught.value)
    assert token not in str(caught.value) and DEFAULT_TOKEN not in repr(gh)
    github.violations.clear()  # a bad token is recorded as a violation by the fake


def test_enterprise_base_url_works() -> None:
    with FakeGitHub(enterprise=True) as fake:
        fake.add_repo("acme-shop", "catalog")
        assert fake.url.endswith("/api/v3")
        gh = GitHubClient(DEFAULT_TOKEN, fake.url, sleep=lambda s: None)
        assert gh.create_issue("acme-shop/catalog", "t", "b", [])["number"] == 1
        assert fake.violations == []
