"""What the filing logic needs from an issue tracker, so GitHub and the dry-run folder are filed
by the very same code (aiops.sinks.filing): list the bot's issues, look one up, create, comment,
reopen. A tracker counts its write calls; the filing summary reports them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from aiops.sinks.render import RenderedIssue

NEVER_REFILE = frozenset({"not_planned", "duplicate"})  # closed by people who said "no"


class SinkError(Exception):
    """A tracker call failed; the message names the repository (and never the token)."""

    # True when a create may have taken effect (a 5xx or a timeout after sending): the caller
    # looks for the issue before creating it again
    ambiguous: bool = False


class SinkExhausted(SinkError):
    """The tracker will not take more calls for a while (a rate limit longer than allowed):
    the run stops filing, and the next run picks up what is left."""


@dataclass(frozen=True)
class IssueRef:
    repository: str  # "owner/repo"
    number: int | None  # None in the dry-run folder
    url: str
    state: str  # "open" | "closed"
    state_reason: str | None
    fingerprint: str | None  # from the hidden marker in the body
    body: str = ""

    @property
    def name(self) -> str:
        return f"{self.repository}#{self.number}" if self.number is not None else self.url


class IssueTracker(Protocol):
    sink: str  # what the ledger is keyed by: an API base URL or a folder's file:// URL
    writes: int

    def listed(self, repository: str, label: str, state: str) -> Iterator[IssueRef]:
        """Issues (no pull requests) with ``label`` in ``state`` ("open" | "closed")."""
        ...

    def get(self, repository: str, number: int | None, fingerprint: str) -> IssueRef | None:
        """The issue as it is now; None when it no longer exists."""
        ...

    def create(self, issue: RenderedIssue) -> IssueRef: ...

    def comment(self, ref: IssueRef, body: str) -> None: ...

    def reopen(self, ref: IssueRef) -> IssueRef: ...
