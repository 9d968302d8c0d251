"""Benchmark: what a night's filing costs in GitHub requests and time, our dedupe (one
paginated list of the bot's open issues, fingerprints matched locally, the ledger for reruns)
against dedupe by the search API (one search per finding).

    .venv/bin/python bench/bench_issues.py [--existing 2000] [--findings 100]

Workload: one repository holding --existing open issues of the bot label (other problems'),
plus open issues for half of --findings, filed by an earlier run whose ledger is gone (so the
issues themselves must be found). Each side files the same findings for a new day: a comment on
each existing issue, a new issue for the rest; the same writes either way.

Both sides run in this one process against the loopback GitHub of tests/ (every request and
answer checked against the upstream OpenAPI description) with a simulated clock: write spacing
(1 s) and rate-limit waits (search: 30 requests a minute) are added up, not slept. "GitHub
time" is that simulated time plus nothing else; "local s" is this machine's wall time, which
includes the fake server's validation of every request and answer.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from catalogs import catalog_yaml  # noqa: E402
from github_server import DEFAULT_TOKEN, FakeClock, FakeGitHub  # noqa: E402

from aiops.catalog import parse_catalog  # noqa: E402
from aiops.findings.model import Effort, Evidence, Finding, Impact  # noqa: E402
from aiops.sinks.filing import file_findings  # noqa: E402
from aiops.sinks.github import GitHubClient, GitHubTracker  # noqa: E402
from aiops.sinks.render import render_comment, render_issue  # noqa: E402
from aiops.store import Store  # noqa: E402

REPO = "acme-shop/catalog"
DAY1 = (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
DAY2 = (DAY1[1], DAY1[1] + timedelta(days=1))
CATALOG = parse_catalog(catalog_yaml("  catalog: {owner: acme-shop/catalog, team: t}\n")
                        + "issues:\n  max_new_issues: 100000\n")  # fmt: skip


def findings(n: int) -> list[Finding]:
    out = []
    for k in range(n):
        statement = f"SELECT * FROM table_{k} WHERE id = ?"
        out.append(Finding(
            source="traces", kind="n_plus_one", service="catalog", operation=f"GET /r{k}",
            title=f"N+1: catalog GET /r{k} calls `{statement}` 12 times per request",
            impact=Impact(ms_per_request=10.0 + k, requests_affected=100),
            evidence=Evidence({"statement": statement, "repeats_median": 12}),
            suggestion="Batch it.", expected_improvement="less", action="code_change",
            effort=Effort.LOW, confidence=0.9, key={"statement": statement},
        ))  # fmt: skip
    return out


def world(existing: int, ours: list[Finding]) -> FakeGitHub:
    github = FakeGitHub(clock=FakeClock(1_761_800_000.0), core_limit=1_000_000)
    repo = github.add_repo(*REPO.split("/"))
    for k in range(existing):
        github.add_issue(repo, f"other {k}", body=f"<!-- aiops:fingerprint={k:016x} -->",
                         labels=("aiops",))  # fmt: skip
    for f in ours:
        issue = render_issue(f, repository=REPO, interval=DAY1)
        github.add_issue(repo, issue.title, body=issue.body, labels=issue.labels)
    return github


class Sleeper:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.clock.advance(seconds)


def client(github: FakeGitHub) -> GitHubClient:
    return GitHubClient(DEFAULT_TOKEN, github.url, sleep=Sleeper(github.clock),
                        clock=github.clock.time)  # fmt: skip


def ours(github: FakeGitHub, all_findings: list[Finding], store: Store) -> None:
    report = file_findings(all_findings, DAY2, GitHubTracker(client(github)), store, CATALOG)
    assert not report.errors, report.errors


def by_search(github: FakeGitHub, all_findings: list[Finding]) -> None:
    """The alternative: ask the search API for each finding's marker, comment or create."""
    gh = client(github)
    for f in all_findings:
        q = f"repo:{REPO} is:issue state:open label:aiops aiops:fingerprint={f.fingerprint}"
        found = gh._send("GET", f"{gh.base_url}/search/issues", REPO, params={"q": q}).json()
        if found["items"]:
            gh.comment(REPO, found["items"][0]["number"], render_comment(f, interval=DAY2))
        else:
            issue = render_issue(f, repository=REPO, interval=DAY2)
            gh.create_issue(REPO, issue.title, issue.body, list(issue.labels))


def measure(name: str, github: FakeGitHub, run) -> dict:
    before, t0, c0 = len(github.requests), time.perf_counter(), github.clock.time()
    run()
    requests = github.requests[before:]
    assert github.violations == [], github.violations[:3]
    return {
        "name": name,
        "reads": sum(r.method == "GET" for r in requests),
        "writes": sum(r.method != "GET" for r in requests),
        "github_s": github.clock.time() - c0,
        "local_s": time.perf_counter() - t0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", type=int, default=2000)
    parser.add_argument("--findings", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the search side's rate-limit waits are expected
    all_findings = findings(args.findings)
    filed_before = all_findings[: args.findings // 2]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Store.open(f"sqlite:///{tmp}/b.db") as store:
        with world(args.existing, filed_before) as github:
            rows.append(measure("ours: list + match", github,
                                lambda: ours(github, all_findings, store)))  # fmt: skip
            rows.append(measure("ours: rerun (ledger)", github,
                                lambda: ours(github, all_findings, store)))  # fmt: skip
            assert len(github.add_repo("acme-shop", "catalog").issues) == (
                args.existing + args.findings
            )  # one new issue per finding not filed before
        with world(args.existing, filed_before) as github:
            rows.append(measure("search API per finding", github,
                                lambda: by_search(github, all_findings)))  # fmt: skip
            assert len(github.add_repo("acme-shop", "catalog").issues) == (
                args.existing + args.findings
            )
    print(f"filing {args.findings} findings into a repository with {args.existing:,} open bot "
          f"issues ({len(filed_before)} of them ours, ledger lost): a comment or a new issue each")  # fmt: skip
    print(f"{'':<26}{'reads':>7}{'writes':>8}{'GitHub time':>13}{'local s':>9}")
    for r in rows:
        print(f"{r['name']:<26}{r['reads']:>7}{r['writes']:>8}{r['github_s']:>11.0f} s"
              f"{r['local_s']:>9.2f}")  # fmt: skip
    first, _, search = rows
    print(
        f"search / ours: {search['reads'] / first['reads']:.1f}x the reads, "
        f"{search['github_s'] / first['github_s']:.2f}x the GitHub time "
        "(both pay 1 s per write; search adds its 30-a-minute limit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
