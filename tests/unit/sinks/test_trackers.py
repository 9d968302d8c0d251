"""Where issues go is decided in one place (aiops.sinks.trackers) for the nightly and the CLI:
GitHub with a token, the dry-run folder without one or when a dry run is asked for, and a
tracker kind of one's own once it is registered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiops.cli.main import main
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.github import GitHubTracker
from aiops.sinks.render import RenderedIssue
from aiops.sinks.tracker import IssueRef
from aiops.sinks.trackers import (
    TrackerSettings,
    dry_run_requested,
    open_tracker,
    register_tracker,
    tracker_kinds,
    unregister_tracker,
)
from fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from support.catalogs import catalog_yaml
from support.findings import DAY1, PRODUCTS


def test_without_a_token_issues_are_files(tmp_path: Path) -> None:
    tracker = open_tracker(TrackerSettings(folder=tmp_path / "issues"))
    assert isinstance(tracker, DryRunSink) and tracker.root == tmp_path / "issues"


def test_a_token_files_on_github_and_a_bare_host_means_https(tmp_path: Path) -> None:
    settings = TrackerSettings(folder=tmp_path, token="ghp_x", base_url="ghe.example.com/api/v3/")
    tracker = open_tracker(settings)
    assert isinstance(tracker, GitHubTracker)
    assert tracker.sink == "https://ghe.example.com/api/v3"
    assert open_tracker(TrackerSettings(folder=tmp_path, token="ghp_x")).sink == (
        "https://api.github.com"
    )


def test_a_dry_run_wins_over_a_token(tmp_path: Path) -> None:
    settings = TrackerSettings(folder=tmp_path, token="ghp_x", dry_run=True)
    assert isinstance(open_tracker(settings), DryRunSink)


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), (" YES ", True), ("0", False), ("", False)]
)
def test_the_dry_run_variable_reads_like_a_flag(value: str, expected: bool) -> None:
    assert dry_run_requested({"AIOPS_ISSUES_DRY_RUN": value}) is expected


def test_an_unknown_kind_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'jira' is not registered; known: github, dry-run"):
        open_tracker(TrackerSettings(folder=tmp_path, token="t", kind="jira"))


class ToyTracker:
    """A tracker of its own kind: the filing rules run unchanged against it."""

    def __init__(self, settings: TrackerSettings) -> None:
        self.sink, self.writes, self.created = f"toy://{settings.base_url}", 0, []

    def listed(self, repository: str, label: str, state: str) -> Iterator[IssueRef]:
        return iter(())

    def get(self, repository: str, number: int | None, fingerprint: str) -> IssueRef | None:
        return None

    def create(self, issue: RenderedIssue) -> IssueRef:
        self.writes += 1
        self.created.append(issue)
        return IssueRef(issue.repository, len(self.created), f"{self.sink}/{len(self.created)}",
                        "open", None, issue.fingerprint)  # fmt: skip

    def comment(self, ref: IssueRef, body: str) -> None:
        self.writes += 1

    def reopen(self, ref: IssueRef) -> IssueRef:
        self.writes += 1
        return ref


@pytest.fixture
def toy_kind() -> Iterator[str]:
    register_tracker("toy", ToyTracker)
    yield "toy"
    unregister_tracker("toy")


def test_a_registered_kind_is_chosen_and_filed_with_the_same_rules(toy_kind, tmp_path) -> None:
    from aiops.catalog import parse_catalog
    from aiops.sinks.filing import file_findings
    from aiops.store import Store

    assert toy_kind in tracker_kinds()
    with pytest.raises(ValueError, match="already registered"):
        register_tracker(toy_kind, ToyTracker)
    tracker = open_tracker(TrackerSettings(folder=tmp_path, token="t", base_url="jira", kind="toy"))
    catalog = parse_catalog(catalog_yaml("  catalog: {owner: acme-shop/catalog, team: x}\n"))
    with Store.open(f"sqlite:///{tmp_path / 'aiops.db'}") as store:
        first = file_findings([PRODUCTS], DAY1, tracker, store, catalog)
        again = file_findings([PRODUCTS], DAY1, tracker, store, catalog)
    assert first.counts() == {"created": 1} and first.sink == "toy://jira"
    assert again.counts() == {"already_filed": 1} and len(tracker.created) == 1


def test_the_cli_honours_the_dry_run_variable_even_with_a_token(tmp_path, monkeypatch) -> None:
    """`aiops issues file` with a token and AIOPS_ISSUES_DRY_RUN=1 writes files, and nothing
    reaches GitHub (it used to file real issues)."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_yaml("  catalog: {owner: acme-shop/catalog, team: x}\n"))
    findings = tmp_path / "findings.json"
    doc = {"summary": {"window": [t.isoformat() for t in DAY1]}, "findings": [PRODUCTS.to_json()]}
    findings.write_text(json.dumps(doc))
    with FakeGitHub() as github:
        github.add_repo("acme-shop", "catalog")
        monkeypatch.setenv("GITHUB_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        monkeypatch.setenv("AIOPS_ISSUES_DRY_RUN", "1")
        code = main(["issues", "file", str(findings), "--out", str(tmp_path / "issues"),
                     "--catalog", str(catalog), "--store", f"sqlite:///{tmp_path / 'a.db'}"])  # fmt: skip
        assert code == 0
        assert github.requests == []  # not even a read
    assert (tmp_path / "issues" / "acme-shop" / "catalog" / f"{PRODUCTS.fingerprint}.md").exists()
