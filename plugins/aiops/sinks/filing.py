"""Findings in, issues out, exactly once: the filing rules, for any tracker (GitHub or the
dry-run folder).

For each finding, costliest first, in the repository that owns the fix:
- the ledger already covers the interval (a rerun, a backfill): nothing is read or written;
- written to today already: the ledger notes the interval, nothing else (one write a day);
- an open issue carries its fingerprint (listed by the bot label, every page, pull requests
  skipped, matched locally on the hidden marker; the search API's index lags and allows 30
  requests a minute, so it is not used): one comment with the new evidence. A kind that
  tells only a change (``FindingKind.worth_telling``) compares today's finding with the one
  last told to the issue (the ledger's ``last_told``): when it moved too little, the ledger
  notes the interval, nothing else ("unchanged"); an entry that recorded none is commented;
- closed as not planned (or as a duplicate): never filed again;
- closed as completed: reopened with a comment, or left closed (``reopen_completed``);
- nowhere: a new issue, up to ``max_new_issues`` per run; the rest wait for the next run.
The ledger is written after every action, so a run that fails half-way resumes where it was.
One repository's failure (issues disabled, no access) does not stop the others; a rate limit
that would need too long a wait stops the run.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from aiops.catalog import Catalog
from aiops.findings.kinds import KINDS
from aiops.findings.model import Finding
from aiops.findings.narrative import Narrative
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.ledger import LedgerEntry, read_ledger, write_ledger
from aiops.sinks.render import interval_text, render_comment, render_issue
from aiops.sinks.routing import RoutingError, repository_for
from aiops.sinks.tracker import NEVER_REFILE, IssueRef, IssueTracker, SinkError, SinkExhausted
from aiops.store import Store

log = logging.getLogger(__name__)

REOPENED = (
    "Reopened: this was closed as completed, and the analysis found the problem again. "
    "If it is expected now, close it as *not planned* and it will not be reopened.\n\n"
)


@dataclass(frozen=True)
class Outcome:
    fingerprint: str
    repository: str | None
    action: str  # created | commented | unchanged | reopened | adopted | already_filed |
    #              same_day | not_planned | left_closed | deferred | below_confidence | failed
    url: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class FilingReport:
    sink: str
    outcomes: tuple[Outcome, ...]
    writes: int  # write calls the tracker made
    stopped: str | None = None  # why filing stopped before the end

    @property
    def errors(self) -> list[str]:
        failed = [o.detail for o in self.outcomes if o.action == "failed"]
        return list(dict.fromkeys(failed + ([self.stopped] if self.stopped else [])))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(o.action for o in self.outcomes).items()))

    def to_json(self) -> dict:
        return {
            "sink": self.sink,
            "writes": self.writes,
            "counts": self.counts(),
            "errors": self.errors,
            "outcomes": [o.__dict__ for o in self.outcomes],
        }


def file_findings(
    findings: Iterable[Finding],
    interval: tuple[datetime, datetime],
    tracker: IssueTracker,
    store: Store,
    catalog: Catalog,
    *,
    graph: str | None = None,
    narratives: Mapping[str, Narrative] | None = None,
) -> FilingReport:
    """File ``findings`` of ``interval`` ([start, end), aware) with ``tracker``, recording what
    was done in ``store``'s issue ledger; ``graph`` is a dependency picture to link;
    ``narratives`` (by fingerprint) go into new issues."""
    interval_text(interval)  # validates it
    run = _Run(tracker, store, catalog, interval, graph, dict(narratives or {}))
    writes_before = tracker.writes
    ordered = filing_order(findings)
    outcomes, stopped, broken = [], None, {}
    for finding in ordered:
        fp = finding.fingerprint
        if stopped:
            outcomes.append(Outcome(fp, None, "failed", detail=f"not tried: {stopped}"))
            continue
        if finding.confidence < catalog.issues.min_confidence:
            outcomes.append(Outcome(fp, None, "below_confidence", detail=f"{finding.confidence}"))
            continue
        try:
            repository = repository_for(finding, catalog, catalog.issues.default_repository)
        except RoutingError as exc:
            outcomes.append(Outcome(fp, None, "failed", detail=str(exc)))
            continue
        if repository in broken:
            outcomes.append(Outcome(fp, repository, "failed", detail=broken[repository]))
            continue
        try:
            outcomes.append(run.file(finding, repository))
        except SinkExhausted as exc:
            stopped = str(exc)
            outcomes.append(Outcome(fp, repository, "failed", detail=stopped))
        except SinkError as exc:
            broken[repository] = str(exc)
            outcomes.append(Outcome(fp, repository, "failed", detail=str(exc)))
    report = FilingReport(tracker.sink, tuple(outcomes), tracker.writes - writes_before, stopped)
    for error in report.errors:
        log.error("filing: %s", error)
    return report


@dataclass
class _Run:
    tracker: IssueTracker
    store: Store
    catalog: Catalog
    interval: tuple[datetime, datetime]
    graph: str | None
    narratives: dict[str, Narrative] = field(default_factory=dict)
    created: int = 0
    ledger: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    _listed: dict[tuple[str, str], dict[str, IssueRef]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ledger = read_ledger(self.store, self.tracker.sink)
        self.end = self.interval[1]
        self.day = self.interval[0].astimezone(UTC).date().isoformat()

    def file(self, finding: Finding, repository: str) -> Outcome:
        fp = finding.fingerprint
        entry = self.ledger.get((repository, fp))
        if entry and self.end <= entry.last_interval_end:
            return Outcome(fp, repository, "already_filed", entry.url)
        if entry and entry.last_write_day >= self.day:
            self._record(entry.seen(self.end))
            return Outcome(fp, repository, "same_day", entry.url)
        ref = self._listed_as(repository, "open").get(fp)
        if ref is None and entry is not None:
            if entry.state == "closed" and entry.state_reason in NEVER_REFILE:
                self._record(entry.seen(self.end))
                return Outcome(fp, repository, "not_planned", entry.url)
            ref = self.tracker.get(repository, entry.number, fp)
        elif ref is None:
            ref = self._listed_as(repository, "closed").get(fp)
        if ref is None:
            return self._create(finding, repository)
        if ref.state == "open":
            if entry is None and interval_text(self.interval) in ref.body:
                # filed by a run that lost its ledger, with this interval's finding
                self._record(self._entry(finding, ref, told=True))
                return Outcome(fp, repository, "adopted", ref.url)
            if entry is not None and not self._worth_telling(finding, entry):
                self._record(entry.seen(self.end, state=ref.state, state_reason=ref.state_reason))
                return Outcome(fp, repository, "unchanged", ref.url)
            self.tracker.comment(ref, render_comment(finding, interval=self.interval))
            self._record(self._entry(finding, ref, entry, wrote=True, comments=1))
            return Outcome(fp, repository, "commented", ref.url)
        if ref.state_reason in NEVER_REFILE or not self.catalog.issues.reopen_completed:
            self._record(self._entry(finding, ref, entry))
            action = "not_planned" if ref.state_reason in NEVER_REFILE else "left_closed"
            return Outcome(fp, repository, action, ref.url)
        ref = self.tracker.reopen(ref)
        self.tracker.comment(ref, REOPENED + render_comment(finding, interval=self.interval))
        self._record(self._entry(finding, ref, entry, wrote=True, comments=1))
        return Outcome(fp, repository, "reopened", ref.url)

    def _create(self, finding: Finding, repository: str) -> Outcome:
        fp, settings = finding.fingerprint, self.catalog.issues
        if self.created >= settings.max_new_issues:
            detail = f"over the cap of {settings.max_new_issues} new issues per run"
            return Outcome(fp, repository, "deferred", detail=detail)
        service = self.catalog.services.get(finding.service)
        issue = render_issue(
            finding,
            repository=repository,
            interval=self.interval,
            labels=[*settings.labels, *(service.issue_labels if service else [])],
            bot_label=settings.bot_label,
            graph=self.graph,
            narrative=self.narratives.get(fp),
        )
        try:
            ref = self.tracker.create(issue)
        except SinkError as exc:
            if not exc.ambiguous:
                raise
            log.warning("%s; looking for it before creating it again", exc)
            self._listed.pop((repository, "open"), None)
            ref = self._listed_as(repository, "open").get(fp) or self.tracker.create(issue)
        self.created += 1
        log.info("filed %s for %s: %s", ref.name, fp, issue.title)
        self._record(self._entry(finding, ref, None, wrote=True))
        return Outcome(fp, repository, "created", ref.url)

    def _worth_telling(self, finding: Finding, entry: LedgerEntry) -> bool:
        """Whether ``finding`` is worth a comment on the open issue ``entry`` filed: always,
        unless its kind says when and the ledger knows what the issue was last told."""
        if not entry.last_told:
            return True
        rule = KINDS.get(finding.kind).worth_telling
        return rule is None or bool(rule(entry.last_told, finding.to_json()))

    def _listed_as(self, repository: str, state: str) -> dict[str, IssueRef]:
        """The bot's issues in ``state`` by fingerprint, read once per run (oldest wins)."""
        key = (repository, state)
        if key not in self._listed:
            found: dict[str, IssueRef] = {}
            for ref in self.tracker.listed(repository, self.catalog.issues.bot_label, state):
                if ref.fingerprint:
                    found.setdefault(ref.fingerprint, ref)
            self._listed[key] = found
        return self._listed[key]

    def _entry(
        self,
        finding: Finding,
        ref: IssueRef,
        entry: LedgerEntry | None = None,
        *,
        wrote: bool = False,
        told: bool = False,
        comments: int = 0,
    ) -> LedgerEntry:
        """The entry after an action on ``ref``: ``wrote``, today's evidence was written to
        it; ``told``, the issue holds ``finding`` without a write (adopted). Either way the
        finding is what the issue was last told."""
        last_told = finding.to_json() if wrote or told else entry.last_told if entry else None
        return LedgerEntry(
            sink=self.tracker.sink,
            repository=ref.repository,
            fingerprint=finding.fingerprint,
            number=ref.number,
            url=ref.url,
            state=ref.state,
            state_reason=ref.state_reason,
            kind=finding.kind,
            service=finding.service,
            title=finding.title,
            first_interval_end=entry.first_interval_end if entry else self.end,
            last_interval_end=max(entry.last_interval_end, self.end) if entry else self.end,
            last_write_day=self.day if wrote or not entry else entry.last_write_day,
            comments=(entry.comments if entry else 0) + comments,
            last_told=last_told,
        )

    def _record(self, entry: LedgerEntry) -> None:
        write_ledger(self.store, [entry])
        self.ledger[entry.key] = entry


def filing_order(findings: Iterable[Finding]) -> list[Finding]:
    """Costliest first (time per request x requests), then by fingerprint: the order new
    issues are created in, up to the run's cap."""
    return sorted(findings, key=lambda f: (-_cost(f), f.fingerprint))


def _cost(finding: Finding) -> float:
    return finding.impact.ms_per_request * finding.impact.requests_affected


def graph_link(
    tracker: IssueTracker, picture: Path, graph_url: str | None, day: date
) -> str | None:
    """How an issue links the day's dependency picture: a path relative to the issue's file
    in the dry-run folder (when the picture exists), else ``graph_url`` with {day} filled in
    (GitHub's REST API cannot attach files, so the picture must be published somewhere)."""
    if isinstance(tracker, DryRunSink):
        if not picture.exists():
            return None
        folder = tracker.folder_for("owner/repo")  # every issue file is this deep
        return Path(os.path.relpath(picture.resolve(), folder.resolve())).as_posix()
    return graph_url.format(day=day.isoformat()) if graph_url else None


def file_summary(report: FilingReport) -> str:
    """One line for a task log or the CLI."""
    counts = ", ".join(f"{n} {action}" for action, n in report.counts().items()) or "nothing"
    return f"{report.sink}: {counts}; {report.writes} write call(s)"
