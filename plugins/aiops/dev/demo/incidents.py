"""What `aiops demo` prints about incidents: each planted hour's incidents with their ranked
root cause and chain, the planted cascade checked against its ground truth, and the alert
volume (raw anomalous points -> events -> incidents)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aiops.dev.demo.traces import shown
from aiops.findings.model import fingerprint
from aiops.incidents.incident import lag_text
from aiops.incidents.pipeline import latest_incidents
from aiops.store import Store
from aiops.units import signal_label

Say = Callable[[str], None]
SHOWN = 4  # incidents printed per hour, the largest first
NEAR = timedelta(minutes=10)  # an incident this close to the planted start is about it


class _Interval(Protocol):
    start: datetime
    end: datetime


def print_incidents(
    store: Store,
    manifest: dict[str, Any],
    hours: Sequence[_Interval],
    nights: Sequence[_Interval],
    say: Say,
) -> None:
    rows = [r for h in hours for r in store.read("incidents", interval_start=h.start,
                                                 interval_end=h.end)]  # fmt: skip
    events = {e["key"] for r in rows for e in r["events"]}
    ids = {r["incident_id"] for r in rows}
    points = sum(r["points"] for r in rows)
    ratio = f"{len(events) / len(ids):.1f}" if ids else "-"
    say(
        f"      incidents over the {len(hours)} hours: {points} raw anomalous points -> "
        f"{len(events)} events -> {len(ids)} incidents ({ratio} events per incident)"
    )
    for h in hours:
        mine = sorted(
            store.read("incidents", interval_start=h.start, interval_end=h.end),
            key=lambda r: (-len(r["services"]), -len(r["events"]), r["start"]),
        )
        singles = sum(1 for r in mine if len(r["services"]) == 1)
        say(f"        [{h.start:%m-%d %H:%M}) {len(mine)} incidents, {singles} of one service"
            f"{'' if not mine else '; map: ' + (mine[0]['graph_window'] or 'none')}")  # fmt: skip
        for row in mine[:SHOWN]:
            _print_incident(row, say)
    _check_cascade(store, manifest, hours, say)
    for n in nights:
        for v in store.read("alert_volume", interval_start=n.start, interval_end=n.end):
            say(
                f"      alert volume {n.start:%Y-%m-%d} (aiops_nightly): {v['points']} raw points -> "
                f"{v['events']} events -> {v['incidents']} incidents "
                f"({v['multi_service_incidents']} across services)"
            )


def _print_incident(row: dict[str, Any], say: Say) -> None:
    ranking = row["ranking"]
    span = f"{row['start']:%H:%M}-{row['end']:%H:%M}" + (" open" if row["status"] == "open" else "")
    say(f"          {row['incident_id']} {span} [{row['severity']}] {row['title']}")
    say(f"            ranked by {ranking['method'].replace('_', ' ')}, confidence "
        f"{row['confidence']:.2f}: " + ", ".join(
            f"{c['service']} {c['score']:.2f}" for c in ranking["candidates"][:4]
            if c["role"] != "connector"))  # fmt: skip
    if ranking["method"] == "onset_order":
        say(f"            {ranking['note']}")
    if len(row["services"]) > 1:
        say("            chain: " + " -> ".join(_link(link) for link in ranking["chain"]))


def _link(link: dict[str, Any]) -> str:
    signal = signal_label(link["signal"])
    onset = datetime.fromisoformat(link["onset"]) if link["onset"] else None
    return f"{link['service']} {signal} ({lag_text(link['lag_seconds'], onset)})"


def _check_cascade(
    store: Store, manifest: dict[str, Any], hours: Sequence[_Interval], say: Say
) -> None:
    """The planted cascade: one incident, its first candidate the planted root."""
    for inc in manifest["incidents"]:
        if inc["kind"] != "cascading_failure":
            continue
        began = datetime.fromisoformat(inc["start"])
        root, planted = inc["details"]["root_cause"], set(inc["details"]["symptoms"])
        hour = next((h for h in hours if h.start <= began < h.end), None)
        rows = latest_incidents(store, hour.start, hour.end) if hour else []
        holding = [
            r for r in rows
            if root in r["services"] and r["start"] <= began + NEAR and r["end"] > began
        ]  # fmt: skip
        if not holding:
            say(
                f"      planted cascading failure ({root}, {began:%m-%d %H:%M}): MISSED, no incident holds {root}"
            )
            continue
        best = max(holding, key=lambda r: len(r["services"]))
        ranked = [c["service"] for c in best["ranking"]["candidates"] if c["role"] != "connector"]
        symptoms = [s for s in best["services"] if s != root]
        verdict = (
            "ROOT CAUSE FOUND"
            if ranked[0] == root
            else f"ROOT CAUSE MISSED ({ranked[0]} ranked first)"
        )
        say(
            f"      planted cascading failure ({root}, {began:%m-%d %H:%M}): {verdict}: incident "
            f"{best['incident_id']} ranks {root} #{ranked.index(root) + 1} of {len(ranked)}; "
            f"symptoms {', '.join(symptoms)} ({len(planted & set(symptoms))} of the "
            f"{len(planted)} planted; {len(holding)} incident{'s hold' if len(holding) > 1 else ' holds'} {root})"
        )
        fp = fingerprint(
            "incidents", "incident", ranked[0], "", {"incident_id": best["incident_id"]}
        )
        filed = {row["fingerprint"]: row for row in store.read("issue_ledger")}.get(fp)
        say(
            f"        issue: {shown(Path(filed['url'])) if filed else 'not filed (yet: the night after its day files it)'}"
        )
