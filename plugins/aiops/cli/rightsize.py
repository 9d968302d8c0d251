"""`aiops rightsize`: the containers' recommended requests, read live from Prometheus, as a
table like KRR's (or JSON for scripts). The same reader, recommender and rules as the
nightly's `rightsize` task; nothing is stored or filed."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops.cli.common import columns, parse_utc


def _cmd_rightsize(args: argparse.Namespace) -> int:
    from aiops.catalog import CatalogError, load_catalog
    from aiops.rightsizing.pipeline import recommend_window
    from aiops.rightsizing.usage import RightsizingError
    from aiops.sources.prometheus import PrometheusClient, PrometheusError

    try:
        if not args.prometheus:
            raise ValueError("give --prometheus URL (the Prometheus that scrapes cAdvisor)")
        settings = load_catalog(args.catalog).rightsizing
        if args.days is not None:
            settings = settings.model_copy(update={"window_days": args.days})
        at = parse_utc(args.at, "--at") if args.at else datetime.now(UTC)
        at = at.replace(second=0, microsecond=0)
        run = recommend_window(PrometheusClient(args.prometheus), settings, at)
    except (CatalogError, RightsizingError, PrometheusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    filed = {f.evidence.numbers["container"] for f in run.findings}
    chosen = [
        (key, rec)
        for key, rec in sorted(run.recommendations.items(), key=lambda kv: str(kv[0]))
        if args.service in (None, key.workload) and args.namespace in (None, key.namespace)
    ]
    if args.json:
        print(json.dumps([_as_json(key, rec, str(key) in filed) for key, rec in chosen], indent=1,
                         default=str))  # fmt: skip
        return 0
    print(f"window {run.read.start:%Y-%m-%d %H:%M} to {run.read.end:%Y-%m-%d %H:%M} UTC, "
          f"step {settings.step:g} s; {len(run.read.containers)} containers, "
          f"{len(run.quarantined)} not usable")  # fmt: skip
    print("\n".join(columns(HEADER, [_row(key, rec, str(key) in filed) for key, rec in chosen],
                            numeric=("risk", "saving/month"))))  # fmt: skip
    for q in run.quarantined:
        if args.service in (None, q.key.workload):
            print(f"not sized: {q.key}: {q.reason}")
    total = sum(rec.saving_per_month or 0.0 for _, rec in chosen)
    print(
        f"saving: {settings.currency}{total:,.2f} a month at the configured prices; "
        f"* = a change the nightly files (above {settings.min_change:.0%} or CPU-limit advice)"
    )
    return 0


HEADER = ["namespace", "workload", "container", "CPU request", "CPU limit", "memory",
          "risk", "saving/month", ""]  # fmt: skip


def _row(key: Any, rec: Any, filed: bool) -> list[str]:
    from aiops.rightsizing.quantities import cpu_quantity, memory_quantity

    def change(now: float | None, new: float | None, fmt: Any) -> str:
        was = "none" if now is None else fmt(now)
        return was if new is None else f"{was} -> {fmt(new)}"

    advice = rec.cpu_limit_advice
    limit = "-"
    if advice is not None:
        new = (
            "remove"
            if advice.suggested_limit_cores is None
            else cpu_quantity(advice.suggested_limit_cores)
        )
        was = (
            "none"
            if advice.current_limit_cores is None
            else cpu_quantity(advice.current_limit_cores)
        )
        limit = f"{was} -> {new}"
    saving = "?" if rec.saving_per_month is None else f"{rec.saving_per_month:,.2f}"
    return [
        key.namespace,
        key.workload,
        key.container,
        change(rec.current_cpu_request_cores, rec.cpu_request_cores, cpu_quantity),
        limit,
        change(rec.current_memory_request_bytes, rec.memory_limit_bytes, memory_quantity),
        f"{rec.risk:.1%}",
        saving,
        "*" if filed else "",
    ]


def _as_json(key: Any, rec: Any, filed: bool) -> dict[str, Any]:
    return {
        "namespace": key.namespace,
        "workload": key.workload,
        "container": key.container,
        "filed": filed,
        **asdict(rec),
    }


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rightsize", help="recommended CPU and memory requests per container, from Prometheus"
    )
    p.add_argument("--prometheus", default=None, help="Prometheus base URL")
    p.add_argument("--service", default=None, help="only this workload")
    p.add_argument("--namespace", default=None, help="only this namespace")
    p.add_argument("--at", default=None, metavar="ISO_TIME", help="end of the window (now)")
    p.add_argument("--days", type=float, default=None, help="window (the catalog's, 14)")
    p.add_argument("--catalog", type=Path, default=None, help="catalog (default $AIOPS_CATALOG)")
    p.add_argument("--json", action="store_true", help="every recommendation as JSON")
    p.set_defaults(func=_cmd_rightsize)
