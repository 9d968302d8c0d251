"""The demo's right-sizing section: the containers planted over-provisioned, throttled and
OOM-killed, and what the last night's `rightsize` task found for each (read back from the
stored findings and the issue ledger)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiops.dev.demo.traces import shown
from aiops.findings.model import Finding
from aiops.rightsizing.findings import REMOVE, SOURCE
from aiops.rightsizing.quantities import bytes_from_quantity, cores_from_quantity
from aiops.store import Store

Say = Callable[[str], None]


def print_rightsizing(
    store: Store, manifest: dict[str, Any], start: datetime, end: datetime, say: Say
) -> bool:
    """Print the night's right-sizing findings against the planted containers; whether each
    planted one got the finding its problem calls for."""
    rows = store.read("findings", interval_start=start, interval_end=end, source=SOURCE)
    findings = {
        f.evidence.numbers["container"]: f for f in (Finding.from_json(r["finding"]) for r in rows)
    }
    quarantined = store.read(
        "quarantine", interval_start=start, interval_end=end, stage="rightsize"
    )
    issues = {r["fingerprint"]: r["url"] for r in store.read("issue_ledger", kind=SOURCE)}
    say(f"      right-sizing, night ending {end:%Y-%m-%d}: {len(findings)} containers worth a "
        f"change, {len(quarantined)} quarantined")  # fmt: skip
    ok = True
    for item in manifest.get("rightsizing", []):
        name = f"{item['namespace']}/{item['workload']}/{item['container']}"
        finding = findings.get(name)
        right = finding is not None and _fits(item["problem"], finding)
        ok &= right
        say(f"        planted {item['problem']:<16} {name:<40} {'found' if right else 'MISSED'}")
        if finding is not None:
            say(f"          {finding.title}")
            say(f"          {finding.expected_improvement}")
            url = issues.get(finding.fingerprint)
            if url:
                say(f"          issue: {url if '://' in url else shown(Path(url))}")
    planted = {
        f"{p['namespace']}/{p['workload']}/{p['container']}"
        for p in manifest.get("rightsizing", [])
    }
    others = sorted(set(findings) - planted)
    if others:
        say(f"        also worth a change: {', '.join(others)}")
    return ok


def _fits(problem: str, finding: Finding) -> bool:
    """Whether the finding says what the planted problem calls for."""
    n = finding.evidence.numbers
    if problem == "throttled":
        return n["cpu_limit_recommended"] == REMOVE
    if problem == "oom_killed":
        return int(n["oom_kills"]) > 0 and bytes_from_quantity(
            n["memory_recommended"]
        ) > bytes_from_quantity(n["memory_now"])
    if problem == "over_provisioned":
        return cores_from_quantity(n["cpu_request_recommended"]) < 0.5 * cores_from_quantity(
            n["cpu_request_now"]
        )
    raise ValueError(f"unknown planted right-sizing problem {problem!r}")
