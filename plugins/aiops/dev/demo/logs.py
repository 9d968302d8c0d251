"""The demo's logs section: templates per service, and what the logs said during each planted
incident, read back from the anomaly events' context and the nightly's log findings."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiops.dev.demo.traces import shown
from aiops.logs.miner import TemplateMiner
from aiops.logs.window import STATE_FILE, STATE_NAME
from aiops.model_registry import ModelRegistry
from aiops.store import Store
from aiops.traces.pipeline import stored_findings

Say = Callable[[str], None]
#: The planted incident, and the service and signal whose event the logs should explain.
INCIDENT_EVENTS = {
    "latency_regression": ("catalog", "latency_p95"),
    "cascading_failure": ("redis", None),
    "error_spike": ("payment", "error_ratio"),
}


class _Interval(Protocol):
    start: datetime
    end: datetime


def print_logs(
    store: Store,
    manifest: dict[str, Any],
    nights: Sequence[_Interval],
    models: str,
    say: Say,
) -> bool:
    """Print the templates and the incidents' log context; whether every planted incident's
    event carries log anomalies and the lasting error became a finding with an issue."""
    registry = ModelRegistry(models)
    latest = registry.latest_good(STATE_NAME)
    if latest is None:
        say("      logs: no template state stored")
        return False
    path, meta = latest
    with tempfile.TemporaryDirectory(prefix="aiops-demo-") as tmp:
        miner = TemplateMiner.load(registry.local_copy(path, Path(tmp)) / STATE_FILE)
    clusters = miner.clusters()
    say(
        f"      logs: {sum(c.size for c in clusters):,} lines mined into {len(clusters)} "
        f"templates over {len(miner.services)} services (state {meta.version})"
    )
    for service in sorted(miner.services):
        mine = sorted(miner.clusters(service), key=lambda c: -c.size)
        errors = sum(1 for c in mine if c.level in ("ERROR", "FATAL"))
        say(f"        {service:<15} {len(mine):>3} templates ({errors} error); most common: "
            f"{_short(mine[0].template)}")  # fmt: skip
    ok = True
    for incident in manifest["incidents"]:
        if incident["kind"] in INCIDENT_EVENTS:
            ok = _print_incident(store, incident, say) and ok
    found = [f for n in nights for f in stored_findings(store, n.start, n.end, source="logs")]
    ledger = {row["fingerprint"]: row for row in store.read("issue_ledger")}
    for finding in found:
        say(f"      log finding (nightly): {finding['title']}")
        say(f"        {finding['suggestion']}")
        row = ledger.get(finding["fingerprint"])
        say(f"        issue: {shown(Path(row['url'])) if row else 'not filed'}")
    ok = ok and any(f["service"] == "catalog" for f in found)
    return ok


def _print_incident(store: Store, incident: dict[str, Any], say: Say) -> bool:
    service, signal = INCIDENT_EVENTS[incident["kind"]]
    start = datetime.fromisoformat(incident["start"])
    events = [
        e
        for e in store.read("anomaly_events", service=service, kind="anomaly")
        if (signal is None or e["signal"] == signal)
        and abs((e["start"] - start).total_seconds()) <= 1800
    ]
    with_logs = [e for e in events if (e["context"] or {}).get("logs")]
    if not with_logs:
        say(f"      MISSED log context for the planted {incident['kind']} ({service})")
        return False
    event = with_logs[0]
    say(
        f"      planted {incident['kind']}: {service} {event['signal']} anomaly from "
        f"{event['start']:%Y-%m-%d %H:%M}, with what {service}'s logs said that hour:"
    )
    for item in event["context"]["logs"][:6]:
        seen = (
            f"{item['observed']:g} lines"
            if item["kind"] != "error_ratio"
            else (f"{item['observed']:.1%} of lines vs {item['expected']:.1%} usually")
        )
        say(
            f"        {item['kind']:<12} {item['level'] or '-':<5} {_short(item['template']) or 'errors'} ({seen})"
        )
        if (
            item["kind"] == "new_template"
            and item["level"] in ("ERROR", "FATAL")
            and item["samples"]
        ):
            say(f"          e.g. {_short(item['samples'][0], 110)}")
    return True


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
