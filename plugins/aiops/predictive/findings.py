"""The day's predictive alerts as findings: one issue per signal forecast to cross its limit.

The hourly run raises an alert each hour the forecast of a signal crosses its catalog
threshold within the horizon (aiops.predictive.breach). The night turns the day's alerts
into one finding per (service, signal) for the owning team: the newest alert of the day at
its worst severity, the hours it was seen, and the picture the alert was raised on (the last
day, the forecast with its band, the threshold), which the issue draws as a chart.

Only alerts whose mean forecast crosses (``warning``) or whose signal is already over the
limit (``critical``) become findings; an alert where only the upper end of the interval
crosses (``info``) stays on the Airflow page, as a possibility rather than a forecast.

The fingerprint is (service, signal): the same signal forecast to breach again tomorrow
comments on the open issue rather than filing a second one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from aiops.catalog import Catalog
from aiops.findings.kinds import KINDS, FindingKind
from aiops.findings.model import Effort, Evidence, Finding, Impact, finding_row
from aiops.pictures.model import picture_from_json
from aiops.predictive.breach import SIGNAL_WORDS
from aiops.store import Store
from aiops.units import format_duration, format_value

log = logging.getLogger(__name__)

SOURCE = "predictive"
FILED_SEVERITIES = ("critical", "warning")
_CONFIDENCE = {"critical": 0.95, "warning": 0.8}

PREDICTED_BREACH = KINDS.register(
    FindingKind(
        "predicted_breach",
        label="predicted breach",
        why="The forecast crosses the service's limit before any static alert fires: acting "
        "now is cheaper than the incident.",
    )
)


def alert_findings(rows: list[dict[str, Any]], catalog: Catalog) -> list[Finding]:
    """One finding per (service, signal) among the ``predictive_alerts`` rows of a day that
    reached ``warning`` or worse, most severe first; rows of services the catalog no longer
    has are left out (and logged), since nobody owns their fix."""
    by_signal: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["severity"] in FILED_SEVERITIES:
            by_signal[(row["service"], row["signal"])].append(row)
    findings = []
    for (service, signal), alerts in sorted(by_signal.items()):
        if service not in catalog.services:
            log.warning(
                "predictive alerts of %s/%s: not in the catalog; not filed", service, signal
            )
            continue
        findings.append(_finding(sorted(alerts, key=lambda r: r["generated_at"]), catalog))
    return sorted(findings, key=lambda f: (-f.confidence, f.service, f.key["signal"]))


def record_day(store: Store, catalog: Catalog, start: datetime, end: datetime) -> dict[str, int]:
    """The nightly step: the alerts raised by the runs ending in (start, end] stored as
    findings of the interval [start, end) for the issue sink (replacing the interval's own)."""
    rows = store.read("predictive_alerts", at_least={"generated_at": start},
                      at_most={"generated_at": end})  # fmt: skip
    rows = [r for r in rows if start < r["generated_at"] <= end]
    findings = alert_findings(rows, catalog)
    window = {"interval_start": start, "interval_end": end}
    store.replace("findings", [{**window, **finding_row(f.to_json())} for f in findings],
                  **window, source=SOURCE)  # fmt: skip
    log.info("predictive alerts of [%s, %s): %d alerts, %d findings", start.isoformat(),
             end.isoformat(), len(rows), len(findings))  # fmt: skip
    return {"alerts": len(rows), "findings": len(findings)}


def _finding(alerts: list[dict[str, Any]], catalog: Catalog) -> Finding:
    """The finding of one signal's alerts of the day (oldest first)."""
    worst = "critical" if any(a["severity"] == "critical" for a in alerts) else "warning"
    newest = [a for a in alerts if a["severity"] == worst][-1]
    service, signal = newest["service"], newest["signal"]
    unit = catalog.signal(service, signal).unit
    limit = format_value(signal, newest["threshold"], unit)
    words = SIGNAL_WORDS.get(signal, signal)
    numbers: dict[str, float | int | str] = {
        "forecast": newest["message"],
        "limit": limit,
        "last_observed": (
            "" if newest["observed"] is None else format_value(signal, newest["observed"], unit)
        ),
        "predicted_crossing": _when(newest["breach_at"]),
        "earliest_crossing": _when(newest["breach_earliest"]),
        "latest_crossing": _when(newest["breach_latest"]) or "beyond the horizon",
        "horizon": format_duration(newest["horizon_seconds"]),
        "first_alerted": _when(alerts[0]["generated_at"]),
        "hourly_runs_alerting": len(alerts),
        "forecast_made": _when(newest["generated_at"]),
        "model": f"{newest['model']} ({newest['model_version']})",
    }
    picture = newest.get("picture")
    scaling = catalog.services[service].scaling
    by = _when(newest["breach_at"] or newest["breach_earliest"])
    if scaling is not None and scaling.metric == signal:
        action = "scale_out"
        suggestion = (
            f"Make sure `{service}` can serve the predicted {words} before {by}: the KEDA "
            f"scaler follows this forecast up to max_replicas ({scaling.max_replicas}); if "
            f"that cannot hold {limit}, raise max_replicas or the capacity per replica now."
        )
    else:
        action = "config_change"
        suggestion = (
            f"Find what is pushing `{service}`'s {words} towards {limit} (growing load, a slow "
            f"dependency, a leak, a recent change) and act before {by}; the chart shows the "
            "last day and the forecast the alert was raised on."
        )
    title = (
        f"`{service}` {words} is at or above {limit}"
        if worst == "critical"
        else f"`{service}` {words} forecast to reach {limit} by {by}"
    )
    return Finding(
        source=SOURCE,
        kind=PREDICTED_BREACH.name,
        service=service,
        operation="",
        title=title,
        impact=Impact(ms_per_request=0.0, requests_affected=len(alerts)),
        evidence=Evidence(numbers, picture=picture_from_json(picture) if picture else None),
        suggestion=suggestion,
        expected_improvement=f"{words} stays under {limit}: the breach the forecast sees "
        "does not happen, and no incident follows",
        action=action,
        effort=Effort.LOW,
        confidence=_CONFIDENCE[worst],
        key={"signal": signal},
    )


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"
