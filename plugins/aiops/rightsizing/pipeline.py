"""The nightly right-sizing step: the window's container usage read from Prometheus,
recommendations per namespace, findings and quarantined containers stored for the interval.

One call for the DAG's `rightsize` task and for `aiops rightsize`: `rightsize_window` reads
the `window_days` ending at the interval's end (never the wall clock: a rerun or a backfill
of a night gives that night's answer), fits one recommender per namespace (the CPU budget is
shared within a namespace, which is usually one team or one environment), and turns the
recommendations worth a change into `rightsizing` findings. A container the recommender
cannot use (too short, too many gaps, negative values) is not dropped: it goes to the
`quarantine` table with the reason, stage "rightsize", and the rest are sized without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aiops.findings.model import Finding, finding_row
from aiops.rightsizing.findings import SOURCE, rightsizing_findings
from aiops.rightsizing.recommend import Recommendation, Recommender, RightsizingConfig
from aiops.rightsizing.settings import RightsizingSettings
from aiops.rightsizing.source import ContainerKey, ContainerRead, read_containers
from aiops.rightsizing.usage import ContainerUsage, RightsizingError
from aiops.sources.prometheus import PrometheusClient
from aiops.store import Store

log = logging.getLogger(__name__)

STAGE = "rightsize"


@dataclass(frozen=True)
class Quarantined:
    key: ContainerKey
    reason: str
    samples: int


@dataclass(frozen=True)
class RightsizingRun:
    """One window's right-sizing: every recommendation, the findings worth an issue, and the
    containers that could not be used."""

    read: ContainerRead
    recommendations: dict[ContainerKey, Recommendation] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        saving = [r.saving_per_month for r in self.recommendations.values()]
        return {
            "containers": len(self.read.containers),
            "recommended": len(self.recommendations),
            "findings": len(self.findings),
            "quarantined": len(self.quarantined),
            "saving_per_month": round(sum(s for s in saving if s is not None), 2),
            "missing_inputs": list(self.read.missing_inputs),
        }


def recommend_window(
    client: PrometheusClient, settings: RightsizingSettings, end: datetime
) -> RightsizingRun:
    """Recommendations and findings for the `window_days` ending at ``end``."""
    start = end - timedelta(days=settings.window_days)
    read = read_containers(client, settings, start, end)
    config = settings.config()
    recommendations: dict[ContainerKey, Recommendation] = {}
    findings: list[Finding] = []
    quarantined: list[Quarantined] = []
    for namespace in read.namespaces():
        containers = read.in_namespace(namespace)
        usable, refused = split_usable(containers, config)
        quarantined += refused
        if not usable:
            continue
        keys = {c.key: key for key, c in usable.items()}
        recs = Recommender(config).fit(usable.values()).recommend()
        recommendations.update({keys[r.key]: r for r in recs})
        findings += rightsizing_findings(
            recs,
            values_paths=settings.values_paths,
            min_change=settings.min_change,
            workload_kind=settings.workload_kind,
            currency=settings.currency,
            namespace=namespace,
        )
    for q in quarantined:
        log.warning("rightsizing: quarantined %s: %s", q.key, q.reason)
    return RightsizingRun(read, recommendations, findings, quarantined)


def split_usable(
    containers: dict[ContainerKey, ContainerUsage], config: RightsizingConfig
) -> tuple[dict[ContainerKey, ContainerUsage], list[Quarantined]]:
    """The containers the recommender can size, and the others with its reason: each is
    fitted alone (the fleet allocation off), which is where the recommender checks input."""
    alone = Recommender(replace(config, risk_budget=None))
    usable, refused = {}, []
    for key, container in containers.items():
        try:
            alone.fit([container])
        except RightsizingError as exc:
            samples = int(container.usage[["cpu", "memory"]].notna().all(axis=1).sum())
            refused.append(Quarantined(key, str(exc), samples))
        else:
            usable[key] = container
    return usable, refused


def rightsize_interval(
    store: Store,
    client: PrometheusClient,
    settings: RightsizingSettings,
    start: datetime,
    end: datetime,
) -> RightsizingRun:
    """The nightly step: `recommend_window` at the interval's end, its findings and
    quarantined containers stored under the interval (replacing a rerun's rows)."""
    run = recommend_window(client, settings, end)
    window = {"interval_start": start, "interval_end": end}
    rows = [{**window, **finding_row(f.to_json())} for f in run.findings]
    store.replace("findings", rows, **window, source=SOURCE)
    store.replace("quarantine", [quarantine_row(q, start, end) for q in run.quarantined],
                  **window, stage=STAGE)  # fmt: skip
    log.info("rightsizing [%s, %s): %s", start.isoformat(), end.isoformat(), run.totals())
    for finding in run.findings:
        log.info("  %s %s", finding.fingerprint, finding.title)
    return run


def quarantine_row(q: Quarantined, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "interval_start": start,
        "interval_end": end,
        "service": q.key.workload,
        "signal": f"{q.key.namespace}/{q.key.container}",
        "stage": STAGE,
        "suite": "rightsizing usage",
        "reason": q.reason,
        "points": q.samples,
        "report": {
            "namespace": q.key.namespace,
            "workload": q.key.workload,
            "container": q.key.container,
        },
    }
