"""Which issue tracker a run files into, decided in one place for the nightly DAG and the CLI.

GitHub when a token is configured; the dry-run folder (markdown files, same filing rules)
when there is none, or when ``AIOPS_ISSUES_DRY_RUN`` asks for it even with a token: a run
someone wants to read before anything reaches GitHub. Where the token comes from is the
caller's business (an Airflow connection, the environment, a flag); what is done with it is
decided here, so the two paths cannot drift apart.

Another tracker (Jira, GitLab) implements :class:`aiops.sinks.tracker.IssueTracker` in a
module of its own and registers a factory here with :func:`register_tracker`; the catalog's
issue settings and the filing rules stay as they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.github import DEFAULT_BASE_URL, GitHubClient, GitHubTracker
from aiops.sinks.tracker import IssueTracker

log = logging.getLogger(__name__)

ISSUES_DRY_RUN_ENV = "AIOPS_ISSUES_DRY_RUN"  # "1": file issues as files even with a token
DRY_RUN = "dry-run"


@dataclass(frozen=True)
class TrackerSettings:
    """What a run knows about where its issues go."""

    folder: Path  # the dry-run folder
    token: str | None = None
    base_url: str | None = None  # the API base; empty: the tracker's public default
    kind: str = "github"  # the registered tracker used when a token is configured
    dry_run: bool = False  # files even with a token
    token_source: str = "the environment"  # where a token was looked for, for the log line
    timeout: float = 30.0
    attempts: int = 5
    max_wait: float = 900.0  # longest rate-limit wait before the run stops and the next resumes
    min_write_interval: float = 1.0


TrackerFactory = Callable[[TrackerSettings], IssueTracker]
_TRACKERS: dict[str, TrackerFactory] = {}


def register_tracker(kind: str, factory: TrackerFactory) -> None:
    """Make ``kind`` selectable in :class:`TrackerSettings`; a kind is registered once."""
    if kind in _TRACKERS or kind == DRY_RUN:
        raise ValueError(f"issue tracker {kind!r} is already registered")
    _TRACKERS[kind] = factory


def unregister_tracker(kind: str) -> None:
    """Forget a kind registered by :func:`register_tracker` (tests, plugins being unloaded)."""
    _TRACKERS.pop(kind, None)


def tracker_kinds() -> tuple[str, ...]:
    return (*sorted(_TRACKERS), DRY_RUN)


def dry_run_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``AIOPS_ISSUES_DRY_RUN`` asks for files even with a token."""
    value = (os.environ if environ is None else environ).get(ISSUES_DRY_RUN_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def open_tracker(settings: TrackerSettings) -> IssueTracker:
    """The tracker the settings choose, with the reason logged: the dry-run folder without a
    token or when a dry run is asked for, else the registered ``kind``."""
    if settings.dry_run or not settings.token:
        why = (
            "a dry run was asked for"
            if settings.dry_run
            else f"no token in {settings.token_source}"
        )
        log.info("issues: dry run into %s (%s)", settings.folder, why)
        return DryRunSink(settings.folder)
    factory = _TRACKERS.get(settings.kind)
    if factory is None:
        raise ValueError(
            f"issue tracker {settings.kind!r} is not registered; known: {', '.join(tracker_kinds())}"
        )
    tracker = factory(settings)
    log.info("issues: filing on %s", tracker.sink)
    return tracker


def github_client(settings: TrackerSettings) -> GitHubClient:
    """The GitHub REST client for the settings (a bare host gets https://; writes at least a
    second apart, as GitHub asks of integrations)."""
    base = settings.base_url or DEFAULT_BASE_URL
    if "://" not in base:
        base = f"https://{base}"
    return GitHubClient(
        settings.token or "", base.rstrip("/"), timeout=settings.timeout,
        attempts=settings.attempts, max_wait=settings.max_wait,
        min_write_interval=max(settings.min_write_interval, 1.0),
    )  # fmt: skip


register_tracker("github", lambda settings: GitHubTracker(github_client(settings)))
