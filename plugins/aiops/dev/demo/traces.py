"""The demo's trace section: the nightly analysis's findings checked against what was planted,
the dependency graph drawn, the top findings listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.store import Store
from aiops.traces.pipeline import graph_path, stored_edges, stored_findings

Say = Callable[[str], None]


def planted_found(incident: dict[str, Any], findings: list[dict[str, Any]]) -> dict | None:
    """The stored finding that matches a planted N+1 or sequential-calls incident: the same
    kind, service and operation, and the same statement or callees."""
    details = incident["details"]
    for finding in findings:
        if (finding["kind"], finding["service"]) != (incident["kind"], incident["service"]):
            continue
        if finding["operation"] != details["operation"]:
            continue
        numbers = finding["evidence"]["numbers"]
        if incident["kind"] == "n_plus_one" and numbers.get("statement") == details["statement"]:
            return finding
        if incident["kind"] == "sequential_calls" and sorted(
            numbers.get("callees", "").split(", ")
        ) == sorted(details["callees"]):
            return finding
    return None


def print_traces(
    store: Store, manifest: dict[str, Any], start: datetime, end: datetime, out: Path, say: Say
) -> bool:
    """Print the window's trace findings; return whether every planted pattern was found."""
    run = store.read("trace_runs", interval_start=start, interval_end=end)
    findings = stored_findings(store, start, end)
    if not run:
        say(f"      traces [{start:%Y-%m-%d}): no analysis stored")
        return False
    row = run[0]
    issues = ", ".join(f"{k} {v}" for k, v in sorted(row["issues"].items())) or "none"
    say(
        f"      traces {start:%Y-%m-%d}: {row['traces']:,} traces, {row['spans']:,} spans, "
        f"{row['dropped']} quarantined; repaired or skipped: {issues}"
    )
    ok, planted = True, []
    for incident in manifest["incidents"]:
        if incident["kind"] not in ("n_plus_one", "sequential_calls"):
            continue
        found = planted_found(incident, findings)
        ok = ok and found is not None
        if found is None:
            say(f"      MISSED planted {incident['kind']}: {incident['summary']}")
            continue
        planted.append(found)
        impact = found["impact"]
        say(
            f"      found planted {incident['kind']}: {found['title']}\n"
            f"        {impact['ms_per_request']:.1f} ms per request, "
            f"~{found['expected_saving_ms']:.1f} ms to save, "
            f"{impact['requests_per_day']:,.0f} requests/day; {found['safety']}, "
            f"fingerprint {found['fingerprint']}\n"
            f"        suggestion: {found['suggestion']}"
        )
    edges, graph = stored_edges(store, start, end), graph_path(out, start)
    if graph.exists():  # drawn by the nightly's analyze_traces
        png = graph.with_suffix(".png").name
        say(f"      dependency graph: {len(edges)} edges -> {shown(graph)} and {png}")
    else:
        say("      dependency graph: not drawn")
        ok = False
    say("      top findings:")
    for finding in findings[:6]:
        impact = finding["impact"]
        say(
            f"        [{finding['kind']}] {finding['title']} "
            f"({impact['requests_affected']} sampled requests, {finding['safety']})"
        )
    return print_issues(store, planted, out, say) and ok


def print_issues(store: Store, planted: list[dict[str, Any]], out: Path, say: Say) -> bool:
    """The issues the nightly filed into the dry-run folder, the planted findings' first;
    whether each planted finding has its issue file."""
    from aiops.sinks.dry_run import DryRunSink

    folder = DryRunSink(out / "issues")
    ledger = store.read("issue_ledger", sink=folder.sink)
    comments = sum(1 for row in ledger if row["comments"])
    later = f", {comments} with a comment from a later night" if comments else ""
    say(
        f"      issues (dry run: the demo never calls GitHub): {len(ledger)} filed under "
        f"{shown(folder.root)}/{later}"
    )
    ok, repositories = True, {row["fingerprint"]: row["repository"] for row in ledger}
    for finding in planted:
        repository = repositories.get(finding["fingerprint"])
        path = folder.path_for(finding["fingerprint"], repository) if repository else None
        ok = ok and path is not None and path.exists()
        where = shown(path) if path is not None and path.exists() else "MISSING (not filed)"
        say(f"        planted {finding['kind']} -> {where}")
    for row in sorted(ledger, key=lambda r: (r["repository"], r["fingerprint"])):
        say(f"        {row['repository']:<24} {row['title']}")
    return ok


def shown(path: Path) -> str:
    """The path relative to the working directory when it is under it (as the demo prints)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
