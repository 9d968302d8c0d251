"""The nightly filing step: an interval's stored findings filed as issues, then announced.

One call for the DAG's `file_issues` task: read the findings the analyses stored for the
interval and the narratives written for them, link the day's dependency picture, file with
the rules of :mod:`aiops.sinks.filing` into the tracker :mod:`aiops.sinks.trackers` chose,
and tell the catalog's notifiers (:mod:`aiops.sinks.notify`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aiops.catalog import Catalog
from aiops.findings.model import Finding
from aiops.findings.narrative import read_narratives
from aiops.sinks.filing import FilingReport, file_findings, graph_link
from aiops.sinks.notify import notifier_names, notify_all
from aiops.sinks.tracker import IssueTracker
from aiops.store import Store
from aiops.traces.pipeline import graph_path


def file_interval(
    store: Store,
    catalog: Catalog,
    tracker: IssueTracker,
    start: datetime,
    end: datetime,
    graph_root: Path,
) -> FilingReport:
    """File the findings stored for [start, end) and notify; the report says what was done.
    An unknown notifier name in the catalog fails before anything is filed."""
    unknown = [n for n in catalog.issues.notifiers if n not in notifier_names()]
    if unknown:
        raise ValueError(
            f"catalog issues.notifiers: {unknown} not registered; known: {list(notifier_names())}"
        )
    rows = store.read("findings", interval_start=start, interval_end=end)
    findings = [Finding.from_json(row["finding"]) for row in rows]
    graph = graph_link(tracker, graph_path(graph_root, start), catalog.issues.graph_url,
                       start.date())  # fmt: skip
    report = file_findings(findings, (start, end), tracker, store, catalog, graph=graph,
                           narratives=read_narratives(store, start, end))  # fmt: skip
    notify_all(catalog.issues.notifiers, report, (start, end))
    return report
