"""Findings from logs: a new error template that has lasted.

A template becomes a finding when its lines are ERROR or FATAL, it was first seen within
`new_within_days` (and after its service had been mined for `min_history_hours`, so the
first day of mining does not call everything new), at least `lasting_hours` before the
interval's end, and it occurred in at least `lasting_share` of those last hours. A 40-minute
burst is an incident (an anomaly event's context); an error logged every hour since a change
is a defect someone should fix, and that is what gets an issue. The fingerprint is the
template's ID, so the next nights comment on the same issue.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiops.catalog import LogSettings
from aiops.findings.kinds import KINDS, FindingKind
from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.logs.miner import TemplateMiner
from aiops.logs.records import ERROR_LEVELS
from aiops.logs.templates import Cluster
from aiops.store import Store

NEW_ERROR_TEMPLATE = KINDS.register(
    FindingKind(
        "new_error_template",
        label="new error template",
        why="An error logged every hour since a change is a defect, not noise, and it raises "
        "the error ratio every alert on this service is judged by.",
    )
)
COMPANION_WINDOW = timedelta(minutes=15)  # other new templates "appearing together" with it
#: a version named in a line ("version 2.0.0", "release 7.1", "v2.3"); an IP is not one
_VERSION = re.compile(r"\b(?:version|release)\s+v?\d+(?:\.\d+)+|\bv\d+\.\d+", re.IGNORECASE)


def lasting_error_findings(
    store: Store, miner: TemplateMiner, end: datetime, settings: LogSettings
) -> list[Finding]:
    """Findings for the new error templates that lasted up to `end`, worst first."""
    lasting = timedelta(hours=settings.lasting_hours)
    since = end - lasting
    hours = round(settings.lasting_hours)
    out = []
    for service in sorted(miner.services):
        mined_from = miner.first_ms.get(service)
        for cluster in miner.clusters(service):
            first = _dt(cluster.first_ms)
            if (
                cluster.level not in ERROR_LEVELS
                or first is None
                or mined_from is None
                or not end - timedelta(days=settings.new_within_days) <= first <= since
                or first - _dt(mined_from) < timedelta(hours=settings.min_history_hours)
            ):
                continue
            rows = store.read(
                "log_template_counts", service=service, template_id=cluster.id,
                at_least={"bucket_start": since}, at_most={"bucket_start": end - timedelta(microseconds=1)},
            )  # fmt: skip
            present = {row["bucket_start"].replace(minute=0, second=0) for row in rows}
            lines = sum(row["count"] for row in rows)
            if len(present) < settings.lasting_share * hours:
                continue
            out.append(_finding(miner, service, cluster, first, len(present), hours, lines))
    return sorted(out, key=lambda f: -f.impact.requests_affected)


def _finding(
    miner: TemplateMiner,
    service: str,
    cluster: Cluster,
    first: datetime,
    present: int,
    hours: int,
    lines: int,
) -> Finding:
    near = [
        c
        for c in miner.clusters(service)
        if c.id != cluster.id
        and c.first_ms is not None
        and c.samples
        and abs(_dt(c.first_ms) - first) <= COMPANION_WINDOW
    ]
    # a line naming a version (a start-up line) says which change it came with; then closest
    near.sort(key=lambda c: (not _VERSION.search(c.samples[0]), abs(c.first_ms - cluster.first_ms)))
    companions = [c.samples[0] for c in near]
    since = f"{first:%Y-%m-%d %H:%M} UTC"
    numbers: dict[str, float | int | str] = {
        "template": cluster.template,
        "template_id": cluster.id,
        "level": cluster.level,
        "first_seen": since,
        "hours_present": f"{present} of the last {hours}",
        "lines_since_first_seen": cluster.size,
    }
    if companions:
        numbers["appeared_with"] = companions[0]
    numbers.update({f"sample_{i + 1}": s for i, s in enumerate(cluster.samples)})
    together = (
        f" It first appeared within minutes of `{companions[0]}`: start with that change."
        if companions
        else ""
    )
    return Finding(
        source="logs",
        kind=NEW_ERROR_TEMPLATE.name,
        service=service,
        operation="",
        title=f"{service} logs a new error every hour since {since}: {cluster.template}",
        impact=Impact(ms_per_request=0.0, requests_affected=lines),
        evidence=Evidence(numbers),
        suggestion=(
            f"Find the change that introduced this error: {service} first logged it at "
            f"{since} and has logged it in {present} of the last {hours} hours.{together} "
            "Fix the cause; if the condition is expected and handled, log it below ERROR so "
            "it stops counting against the service's error ratio."
        ),
        expected_improvement=f"about {lines} error lines a day fewer",
        action="code_change",
        effort=Effort.MEDIUM,
        confidence=round(min(1.0, present / hours), 3),
        key={"template_id": cluster.id},
    )


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)
