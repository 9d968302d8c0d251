"""Filing findings as GitHub issues exactly once, against a loopback GitHub that checks every
request and answer against the upstream OpenAPI description: reruns and backfills make no
calls, a new day adds one comment (for a kind that tells only a change, only when its numbers
moved since the issue last heard), a match on page two is found, closed issues are reopened or
left alone as their closer meant, rate limits and 5xx never make a second issue."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from aiops.catalog import parse_catalog
from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.filing import file_findings
from aiops.sinks.github import GitHubClient, GitHubTracker
from aiops.sinks.ledger import read_ledger
from aiops.sinks.render import render_issue
from fakes.github_server import DEFAULT_TOKEN, FakeClock, FakeGitHub, Sleeper
from support.catalogs import catalog_yaml
from support.findings import CHECKOUT, DAY1, PRODUCTS, STRIPE, finding

DAY2 = (DAY1[1], DAY1[1] + timedelta(days=1))
DAY3 = (DAY2[1], DAY2[1] + timedelta(days=1))
DAY4 = (DAY3[1], DAY3[1] + timedelta(days=1))
SERVICES = """  catalog: {owner: acme-shop/catalog, team: discovery, issue_labels: ["team:discovery"]}
  checkout: {owner: acme-shop/checkout, team: commerce}
  quiet: {owner: acme-shop/quiet, team: commerce}
"""


def catalog(**issues):
    settings = {"labels": ["performance"], "default_repository": "acme-shop/platform", **issues}
    lines = "".join(f"  {k}: {_yaml(v)}\n" for k, v in settings.items())
    return parse_catalog(catalog_yaml(SERVICES) + "issues:\n" + lines)


def _yaml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"[{', '.join(value)}]" if isinstance(value, list) else str(value)


FINDINGS = [PRODUCTS, CHECKOUT, STRIPE]


@pytest.fixture
def github():
    with FakeGitHub(clock=FakeClock(1_761_800_000.0)) as fake:
        for name in ("catalog", "checkout", "platform"):
            fake.add_repo("acme-shop", name)
        fake.add_repo("acme-shop", "quiet", has_issues=False)
        yield fake
        assert fake.violations == []
        fake.assert_responses_valid()


def tracker(github: FakeGitHub, session: requests.Session | None = None, **kwargs):
    client = GitHubClient(DEFAULT_TOKEN, github.url, sleep=Sleeper(github.clock),
                          clock=github.clock.time, session=session, **kwargs)  # fmt: skip
    return GitHubTracker(client)


def issues_of(github: FakeGitHub, name: str) -> list[dict]:
    return [i for i in github.add_repo("acme-shop", name).issues.values() if not i["is_pr"]]


def test_files_each_finding_once_and_a_rerun_or_backfill_makes_no_call(github, store) -> None:
    report = file_findings(FINDINGS, DAY1, tracker(github), store, catalog())
    assert report.counts() == {"created": 3} and report.errors == []
    assert [o.repository for o in report.outcomes] == [
        "acme-shop/checkout",
        "acme-shop/catalog",
        "acme-shop/platform",
    ]  # costliest first
    (products,) = issues_of(github, "catalog")
    assert products["labels"] == ["performance", "team:discovery", "aiops", "aiops:n_plus_one"]
    assert products["body"] == render_issue(
        PRODUCTS, repository="acme-shop/catalog", interval=DAY1, bot_label="aiops",
        labels=["performance", "team:discovery"]).body  # fmt: skip
    assert len(issues_of(github, "platform")) == 1  # outside the catalog: the default repository
    ledger = read_ledger(store, github.url)
    assert {(e.repository, e.number, e.state) for e in ledger.values()} == {
        ("acme-shop/catalog", 1, "open"), ("acme-shop/checkout", 1, "open"),
        ("acme-shop/platform", 1, "open")}  # fmt: skip

    calls = len(github.requests)
    for interval in (DAY1, (DAY1[0] - timedelta(days=3), DAY1[1] - timedelta(days=3))):
        again = file_findings(FINDINGS, interval, tracker(github), store, catalog())
        assert again.counts() == {"already_filed": 3} and again.writes == 0
    assert len(github.requests) == calls  # not a read either


def test_a_new_day_adds_one_comment_and_nothing_more_that_day(github, store) -> None:
    file_findings(FINDINGS, DAY1, tracker(github), store, catalog())
    writes = len(github.writes())
    report = file_findings(FINDINGS, DAY2, tracker(github), store, catalog())
    assert report.counts() == {"commented": 3} and report.writes == 3
    assert len(github.writes()) == writes + 3
    (products,) = issues_of(github, "catalog")
    (comment,) = products["comments"]
    assert comment["body"].startswith("**Seen again on 2026-10-31 (UTC)**: 400 sampled requests")
    assert f"<!-- aiops:fingerprint={PRODUCTS.fingerprint} -->" in comment["body"]

    evening = (DAY2[1] - timedelta(hours=1), DAY2[1] + timedelta(hours=1))  # same UTC day start
    later = file_findings(FINDINGS, evening, tracker(github), store, catalog())
    assert later.counts() == {"same_day": 3} and later.writes == 0
    rerun = file_findings(FINDINGS, DAY2, tracker(github), store, catalog())
    assert rerun.counts() == {"already_filed": 3} and rerun.writes == 0
    assert len(github.writes()) == writes + 3
    entry = read_ledger(store, github.url)[("acme-shop/catalog", PRODUCTS.fingerprint)]
    assert (entry.comments, entry.last_write_day, entry.first_interval_end) == (
        1,
        "2026-10-31",
        DAY1[1],
    )


def sized(cpu: str) -> Finding:
    """A right-sizing finding for catalog/server recommending a CPU request of ``cpu``: the
    fingerprint has no number in it, so every day's finds the same issue."""
    numbers = {"container": "catalog/server", "cpu_request_now": "500m",
               "cpu_request_recommended": cpu, "memory_now": "1Gi",
               "memory_recommended": "384Mi", "cpu_limit_now": "",
               "cpu_limit_recommended": "unchanged"}  # fmt: skip
    return Finding(
        source="rightsizing", kind="rightsizing", service="catalog", operation="server",
        title=f"catalog/server: CPU request 500m -> {cpu}, memory 1Gi -> 384Mi",
        impact=Impact(ms_per_request=0.0, requests_affected=0), evidence=Evidence(numbers),
        suggestion=f"Set `server` to a CPU request of `{cpu}`.",
        expected_improvement="fewer cores requested", action="config_change",
        effort=Effort.LOW, confidence=0.9,
    )  # fmt: skip


def comments_on(github: FakeGitHub, fingerprint: str) -> list[str]:
    marker = f"<!-- aiops:fingerprint={fingerprint} -->"
    (issue,) = [i for i in issues_of(github, "catalog") if marker in i["body"]]
    return [c["body"] for c in issue["comments"]]


def entry_of(store, github: FakeGitHub, fingerprint: str):
    return read_ledger(store, github.url)[("acme-shop/catalog", fingerprint)]


def test_a_right_sizing_issue_hears_again_only_when_its_numbers_move(github, store) -> None:
    """Compared with what the issue was last told, not with yesterday: a drift of a few
    percent a day never adds up to a comment on its own, and a told change resets the base."""
    fp = sized("120m").fingerprint
    first = file_findings([sized("120m"), PRODUCTS], DAY1, tracker(github), store, catalog())
    assert first.counts() == {"created": 2}
    assert entry_of(store, github, fp).last_told == sized("120m").to_json()

    writes = len(github.writes())
    second = file_findings([sized("130m"), PRODUCTS], DAY2, tracker(github), store, catalog())
    # 120m -> 130m is 8%: nothing for the right-sizing issue; the N+1 issue is told as ever
    assert {o.fingerprint: o.action for o in second.outcomes} == {
        fp: "unchanged", PRODUCTS.fingerprint: "commented"}  # fmt: skip
    assert second.writes == 1 and len(github.writes()) == writes + 1
    assert comments_on(github, fp) == []
    entry = entry_of(store, github, fp)
    assert (entry.last_told, entry.comments, entry.last_write_day) == (
        sized("120m").to_json(), 0, "2026-10-30")  # fmt: skip
    assert entry.last_interval_end == DAY2[1]

    calls = len(github.requests)
    rerun = file_findings([sized("130m"), PRODUCTS], DAY2, tracker(github), store, catalog())
    assert rerun.counts() == {"already_filed": 2} and len(github.requests) == calls

    third = file_findings([sized("200m")], DAY3, tracker(github), store, catalog())
    assert third.counts() == {"commented": 1} and third.writes == 1  # 120m -> 200m: 67%
    (comment,) = comments_on(github, fp)
    assert "200m" in comment
    assert entry_of(store, github, fp).last_told == sized("200m").to_json()

    # 200m -> 220m is 10%; against day 1's 120m it would be 83%: the issue says 200m now
    fourth = file_findings([sized("220m")], DAY4, tracker(github), store, catalog())
    assert fourth.counts() == {"unchanged": 1} and fourth.writes == 0
    assert len(comments_on(github, fp)) == 1
    assert entry_of(store, github, fp).last_told == sized("200m").to_json()


def test_a_ledger_entry_from_before_last_told_is_commented_and_then_remembers(
    github, store
) -> None:
    file_findings([sized("120m")], DAY1, tracker(github), store, catalog())
    with store.engine.begin() as conn:  # as the v5 migration leaves a row filed before it
        conn.execute(text("UPDATE issue_ledger SET last_told = NULL"))
    fp = sized("120m").fingerprint
    assert entry_of(store, github, fp).last_told is None

    report = file_findings([sized("125m")], DAY2, tracker(github), store, catalog())
    assert report.counts() == {"commented": 1} and report.writes == 1
    assert entry_of(store, github, fp).last_told == sized("125m").to_json()
    again = file_findings([sized("130m")], DAY3, tracker(github), store, catalog())
    assert again.counts() == {"unchanged": 1} and again.writes == 0


def test_a_right_sizing_issue_closed_as_completed_is_reopened_whatever_moved(github, store) -> None:
    gh = tracker(github)
    file_findings([sized("120m")], DAY1, gh, store, catalog())
    gh.client.update_issue("acme-shop/catalog", 1, state="closed", state_reason="completed")
    report = file_findings([sized("125m")], DAY2, tracker(github), store, catalog())
    assert report.counts() == {"reopened": 1}
    fp = sized("120m").fingerprint
    assert comments_on(github, fp)[0].startswith("Reopened: this was closed as completed")
    assert entry_of(store, github, fp).last_told == sized("125m").to_json()


def test_an_issue_on_page_two_is_found_and_commented_not_filed_again(github, store) -> None:
    repo = github.add_repo("acme-shop", "catalog")
    for n in range(130):
        github.add_issue(repo, f"other {n}", body=f"<!-- aiops:fingerprint={n:016x} -->",
                         labels=("aiops",), pull_request=n % 10 == 0)  # fmt: skip
    old = render_issue(PRODUCTS, repository="acme-shop/catalog", interval=DAY1)
    ours = github.add_issue(repo, old.title, body=old.body, labels=("aiops",))
    # a store without a ledger (lost, or a different database): the marker on page 2 decides
    report = file_findings([PRODUCTS], DAY2, tracker(github), store, catalog())
    assert report.counts() == {"commented": 1}
    assert len(ours["comments"]) == 1 and len(issues_of(github, "catalog")) == 118  # 117 + ours
    pages = [r.query.get("page") for r in github.requests if r.method == "GET"]
    assert pages == [None, ["2"]]
    # the same lost ledger, for the interval the issue was filed for: adopted without a write
    fresh_writes = len(github.writes())
    store.replace("issue_ledger", [], sink=github.url)
    adopted = file_findings([PRODUCTS], DAY1, tracker(github), store, catalog())
    assert adopted.counts() == {"adopted": 1} and len(github.writes()) == fresh_writes


def test_closed_as_completed_is_reopened_and_not_planned_is_never_filed_again(
    github, store
) -> None:
    gh = tracker(github)
    file_findings([PRODUCTS, CHECKOUT], DAY1, gh, store, catalog())
    gh.client.update_issue("acme-shop/catalog", 1, state="closed", state_reason="completed")
    gh.client.update_issue("acme-shop/checkout", 1, state="closed", state_reason="not_planned")

    report = file_findings([PRODUCTS, CHECKOUT], DAY2, tracker(github), store, catalog())
    assert {o.repository: o.action for o in report.outcomes} == {
        "acme-shop/catalog": "reopened",
        "acme-shop/checkout": "not_planned",
    }
    (products,), (checkout,) = issues_of(github, "catalog"), issues_of(github, "checkout")
    assert (products["state"], products["state_reason"]) == ("open", "reopened")
    assert products["comments"][0]["body"].startswith("Reopened: this was closed as completed")
    assert (checkout["state"], checkout["state_reason"], checkout["comments"]) == (
        "closed",
        "not_planned",
        [],
    )

    calls = len(github.requests)
    third = file_findings([CHECKOUT], DAY3, tracker(github), store, catalog())
    assert third.counts() == {"not_planned": 1} and third.writes == 0
    assert [r.method for r in github.requests[calls:]] == ["GET"]  # the open list, nothing else
    assert len(issues_of(github, "checkout")) == 1


def test_reopening_can_be_turned_off(github, store) -> None:
    gh = tracker(github)
    file_findings([PRODUCTS], DAY1, gh, store, catalog(reopen_completed=False))
    gh.client.update_issue("acme-shop/catalog", 1, state="closed")
    report = file_findings(
        [PRODUCTS], DAY2, tracker(github), store, catalog(reopen_completed=False)
    )
    assert report.counts() == {"left_closed": 1} and report.writes == 0
    assert issues_of(github, "catalog")[0]["state"] == "closed"


def test_the_cap_files_the_costliest_first_and_the_rest_next_run(github, store) -> None:
    report = file_findings(FINDINGS, DAY1, tracker(github), store, catalog(max_new_issues=2))
    assert [(o.repository, o.action) for o in report.outcomes] == [
        ("acme-shop/checkout", "created"), ("acme-shop/catalog", "created"),
        ("acme-shop/platform", "deferred")]  # fmt: skip
    assert "cap of 2 new issues" in report.outcomes[2].detail
    rerun = file_findings(FINDINGS, DAY1, tracker(github), store, catalog(max_new_issues=2))
    assert rerun.counts() == {"already_filed": 2, "created": 1}


def test_rate_limits_and_server_errors_never_make_a_second_issue(github, store) -> None:
    gh = tracker(github)
    github.secondary_limit_next(1, retry_after=30)
    github.set_rate_limit("core", remaining=0, reset_in=120)
    github.fail_next(1, status=502, method="POST")  # instead of the create: nothing was done
    report = file_findings([PRODUCTS], DAY1, gh, store, catalog())
    assert report.counts() == {"created": 1} and len(issues_of(github, "catalog")) == 1
    posts = [r.path for r in github.requests if r.method == "POST"]
    assert posts == ["/repos/acme-shop/catalog/issues"] * 2  # looked, then created once
    assert 30 in gh.client._sleep.waits and any(w > 100 for w in gh.client._sleep.waits)


class LostAnswer(requests.Session):
    """GitHub creates the issue, but the answer never arrives (a read timeout)."""

    lost = 0

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        if method == "POST" and url.endswith("/issues") and not self.lost:
            self.lost += 1
            raise requests.ReadTimeout("read timed out")
        return response


def test_a_create_whose_answer_is_lost_is_found_not_filed_twice(github, store) -> None:
    report = file_findings([PRODUCTS], DAY1, tracker(github, LostAnswer()), store, catalog())
    assert report.counts() == {"created": 1}
    assert len(issues_of(github, "catalog")) == 1
    assert read_ledger(store, github.url)[("acme-shop/catalog", PRODUCTS.fingerprint)].number == 1


def test_one_broken_repository_does_not_stop_the_others(github, store, caplog) -> None:
    quiet = finding("quiet", "GET /q", 50.0)
    caplog.set_level(logging.DEBUG)
    report = file_findings([quiet, PRODUCTS], DAY1, tracker(github), store, catalog())
    assert [o.action for o in report.outcomes] == ["failed", "created"]
    assert report.errors and "issues are disabled for acme-shop/quiet" in report.errors[0]
    assert DEFAULT_TOKEN not in caplog.text + "".join(report.errors)
    assert ("acme-shop/quiet", quiet.fingerprint) not in read_ledger(store, github.url)


def test_a_rate_limit_beyond_max_wait_stops_the_run_and_the_next_resumes(github, store) -> None:
    github.set_rate_limit("core", remaining=0, reset_in=3600)
    stopped = file_findings(FINDINGS, DAY1, tracker(github, max_wait=900), store, catalog())
    assert stopped.counts() == {"failed": 3} and "rate limited for" in (stopped.stopped or "")
    assert read_ledger(store, github.url) == {}
    github.clock.advance(3601)
    resumed = file_findings(FINDINGS, DAY1, tracker(github, max_wait=900), store, catalog())
    assert resumed.counts() == {"created": 3}


def test_labels_dropped_without_push_access_warn_and_the_ledger_still_dedupes(
    github, store, caplog
) -> None:
    github.add_token("ghp_readonly", push=False)
    client = GitHubClient("ghp_readonly", github.url, sleep=Sleeper(github.clock),
                          clock=github.clock.time)  # fmt: skip
    with caplog.at_level(logging.WARNING):
        file_findings([PRODUCTS], DAY1, GitHubTracker(client), store, catalog())
    assert "dropped the labels aiops, aiops:n_plus_one, performance" in caplog.text
    assert issues_of(github, "catalog")[0]["labels"] == []
    again = file_findings([PRODUCTS], DAY1, GitHubTracker(client), store, catalog())
    assert again.counts() == {"already_filed": 1}


def test_the_dry_run_folder_follows_the_same_rules(store, tmp_path) -> None:
    folder = DryRunSink(tmp_path / "issues")
    first = file_findings(FINDINGS, DAY1, folder, store, catalog())
    assert first.counts() == {"created": 3} and first.writes == 3
    products = folder.path_for(PRODUCTS.fingerprint, "acme-shop/catalog")
    checkout = folder.path_for(CHECKOUT.fingerprint, "acme-shop/checkout")
    # people close issues in the folder by editing the front matter, as they would on GitHub
    folder.set_state(PRODUCTS.fingerprint, "acme-shop/catalog", "closed", "completed")
    folder.set_state(CHECKOUT.fingerprint, "acme-shop/checkout", "closed", "not_planned")
    untouched = checkout.read_bytes()

    second = file_findings(FINDINGS, DAY2, DryRunSink(tmp_path / "issues"), store, catalog())
    assert [o.action for o in second.outcomes] == ["not_planned", "reopened", "commented"]
    text = products.read_text()
    assert "\nstate: open\nstate_reason: reopened\n---\n" in text
    assert "## Comments\n\n---\n\nReopened: this was closed as completed" in text
    assert checkout.read_bytes() == untouched
    rerun = file_findings(FINDINGS, DAY2, DryRunSink(tmp_path / "issues"), store, catalog())
    assert rerun.counts() == {"already_filed": 3} and rerun.writes == 0


def test_the_dry_run_folder_puts_the_issues_picture_beside_it_as_png(store, tmp_path) -> None:
    from aiops.pictures.draw import png_bytes
    from aiops.pictures.model import MapEdge, NeighbourhoodPicture

    picture = NeighbourhoodPicture("catalog", (MapEdge("web", "catalog", 1204, 0.0, 38.0),
                                               MapEdge("catalog", "db", 2980, 0.01, 1.8)))  # fmt: skip
    drawn = dataclasses.replace(PRODUCTS, evidence=dataclasses.replace(PRODUCTS.evidence,
                                                                       picture=picture))  # fmt: skip
    assert drawn.fingerprint == PRODUCTS.fingerprint  # a picture is not part of the problem
    file_findings([drawn, CHECKOUT], DAY1, DryRunSink(tmp_path / "issues"), store, catalog())
    folder = DryRunSink(tmp_path / "issues")
    md = folder.path_for(drawn.fingerprint, "acme-shop/catalog")
    png = md.with_suffix(".png")
    assert "## Where it sits in the dependency map\n\n```mermaid\nflowchart LR" in md.read_text()
    assert png.read_bytes() == png_bytes(picture)
    assert (
        not folder.path_for(CHECKOUT.fingerprint, "acme-shop/checkout").with_suffix(".png").exists()
    )
    stamp = png.stat().st_mtime_ns
    folder.file(render_issue(drawn, repository="acme-shop/catalog", interval=DAY1))
    assert png.stat().st_mtime_ns == stamp  # the same picture is not written again
