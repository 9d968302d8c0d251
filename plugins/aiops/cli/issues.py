"""`aiops issues ...`: findings (the JSON `aiops traces analyze --output` writes) as issues.

`render` writes each finding's issue as a markdown file to review; `file` files them with the
same rules as the nightly (ledger, dedupe, one comment a day, rate limits), on GitHub with a
token (GITHUB_TOKEN, GITHUB_API_URL for GitHub Enterprise) or, with --dry-run or without a
token, into the dry-run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from aiops.cli.common import open_store, parse_utc


def _cmd_render(args: argparse.Namespace) -> int:
    from aiops.sinks.dry_run import DryRunSink
    from aiops.sinks.render import render_issue
    from aiops.sinks.routing import RoutingError, repository_for

    try:
        findings, interval = _load(args)
        catalog = _catalog(args)
        settings = catalog.issues
        sink, failed = DryRunSink(_out(args)), 0
        for finding in findings:
            try:
                repository = repository_for(finding, catalog, settings.default_repository)
            except RoutingError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
                continue
            service = catalog.services.get(finding.service)
            issue = render_issue(
                finding, repository=repository, interval=interval, bot_label=settings.bot_label,
                labels=[*settings.labels, *(service.issue_labels if service else [])],
            )  # fmt: skip
            written = sink.file(issue)
            print(f"{'wrote' if written.changed else 'unchanged'} {written.path}")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


def _cmd_file(args: argparse.Namespace) -> int:
    from aiops.sinks.filing import file_findings, file_summary
    from aiops.sinks.trackers import TrackerSettings, dry_run_requested, open_tracker
    from aiops.store import StoreError

    try:
        findings, interval = _load(args)
        catalog = _catalog(args)
        settings = TrackerSettings(
            folder=_out(args),
            token=os.environ.get("GITHUB_TOKEN") or None,
            base_url=args.github_url or os.environ.get("GITHUB_API_URL") or None,
            dry_run=args.dry_run or dry_run_requested(),
            token_source="GITHUB_TOKEN",
            max_wait=args.max_wait,
        )
        if not settings.token and not settings.dry_run:
            print("no GITHUB_TOKEN: filing into the dry-run folder", file=sys.stderr)
        tracker = open_tracker(settings)
        # the ledger is written: a new store is created, not refused
        with open_store(args, read_only=False) as store:
            report = file_findings(findings, interval, tracker, store, catalog)
    except (OSError, ValueError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for outcome in report.outcomes:
        where = outcome.url or outcome.detail
        print(f"{outcome.action:<16} {outcome.repository or '-':<28} {outcome.fingerprint} {where}")
    print(file_summary(report))
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def _load(args: argparse.Namespace) -> tuple[list, tuple[datetime, datetime]]:
    """The findings of FINDINGS.json and their interval: --start/--end, else the analysed
    window, else the whole UTC days the analysed traces started in."""
    from aiops.findings.model import Finding

    path: Path = args.findings
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise ValueError(f"{path}: expected the output of `aiops traces analyze` ({{findings}})")
    findings = []
    for n, item in enumerate(doc["findings"]):
        try:
            findings.append(Finding.from_json(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: findings[{n}]: not a finding: {exc!r}") from None
    summary = doc.get("summary") or {}
    if args.start or args.end:
        if not (args.start and args.end):
            raise ValueError("--start and --end go together")
        return findings, (parse_utc(args.start, "--start"), parse_utc(args.end, "--end"))
    if summary.get("window"):
        return findings, tuple(parse_utc(t, f"{path}: summary.window") for t in summary["window"])
    if summary.get("observed"):
        first, last = (parse_utc(t, f"{path}: summary.observed") for t in summary["observed"])
        start = datetime.combine(first.astimezone(UTC).date(), time(0), UTC)
        end = datetime.combine(last.astimezone(UTC).date(), time(0), UTC) + timedelta(days=1)
        return findings, (start, end)
    raise ValueError(f"{path}: no analysed window in the file; give --start and --end")


def _out(args: argparse.Namespace) -> Path:
    from aiops.settings import aiops_home

    return args.out or aiops_home() / "issues"


def _catalog(args: argparse.Namespace):
    from aiops.catalog import load_catalog

    return load_catalog(args.catalog)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("issues", help="findings as GitHub issues (or markdown files)")
    isub = p.add_subparsers(dest="issues_command", required=True, metavar="ACTION")

    def common(c: argparse.ArgumentParser, out_help: str) -> None:
        c.add_argument("findings", type=Path, metavar="FINDINGS.json",
                       help="the output of `aiops traces analyze --output`")  # fmt: skip
        c.add_argument("--out", type=Path, default=None, help=out_help)
        c.add_argument("--catalog", type=Path, default=None,
                       help="service catalog (owners, issue settings); default include/catalog.yaml")  # fmt: skip
        c.add_argument("--start", default=None, help="interval start (ISO, UTC)")
        c.add_argument("--end", default=None, help="interval end (ISO, UTC)")

    c = isub.add_parser("render", help="write each finding's issue as <out>/<owner>/<repo>/<fp>.md")
    common(c, "folder for the markdown files (default $AIOPS_HOME/issues, out/issues)")
    c.set_defaults(func=_cmd_render)

    c = isub.add_parser("file", help="file the findings: GitHub with GITHUB_TOKEN, else files")
    common(c, "the dry-run folder (default $AIOPS_HOME/issues, out/issues)")
    c.add_argument("--dry-run", action="store_true",
                   help="write files even with a token (as AIOPS_ISSUES_DRY_RUN=1 does)")  # fmt: skip
    c.add_argument("--github-url", default=None,
                   help="API base URL (default $GITHUB_API_URL or https://api.github.com)")  # fmt: skip
    c.add_argument("--store", default=None,
                   help="store holding the issue ledger (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip
    c.add_argument("--max-wait", type=float, default=900.0,
                   help="longest rate-limit wait (s) before stopping; a rerun resumes")  # fmt: skip
    c.set_defaults(func=_cmd_file)
