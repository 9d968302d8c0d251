"""`aiops status`: every catalog service and signal, the model that scores it, its history,
its newest point, and why it is not scored when it is not."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiops.cli.common import columns, parse_utc, signal_source


def _cmd_status(args: argparse.Namespace) -> int:
    from aiops.catalog import CatalogError, load_catalog
    from aiops.metrics.status import signal_status
    from aiops.model_registry import ModelRegistry
    from aiops.settings import models_root, resolve_store_url
    from aiops.sources.prometheus import PrometheusError
    from aiops.store import Store, StoreError

    try:
        catalog = load_catalog(args.catalog)
        at = parse_utc(args.at, "--at") if args.at else datetime.now(UTC).replace(second=0)
        source = signal_source(args.prometheus)
        registry = ModelRegistry(args.models or models_root())
        try:
            store: Store | None = Store.open(resolve_store_url(args.store), create=False)
        except StoreError:
            store = None  # no run has stored anything yet: no quarantine to show
        try:
            rows = signal_status(catalog, source, registry, store, at, args.service or None)
        finally:
            if store is not None:
                store.close()
    except (CatalogError, ValueError, KeyError, PrometheusError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = [
        [
            r.service,
            r.signal,
            r.model,
            f"{r.history_days:.1f}d",
            r.last_point.strftime("%Y-%m-%d %H:%M") if r.last_point else "never",
            r.why_not or (f"last quarantined: {r.quarantined}" if r.quarantined else ""),
        ]
        for r in rows
    ]
    header = ["service", "signal", "model", "history", "last point", "note"]
    print("\n".join(columns(header, table, numeric=("history",))))
    unscored = sum(1 for r in rows if r.why_not)
    print(f"{len(rows) - unscored} of {len(rows)} signals scored as of {at.isoformat()}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="every catalog signal: its model, history, newest point, why it is not scored",
    )
    p.add_argument("--catalog", type=Path, default=None, help="default $AIOPS_CATALOG")
    p.add_argument("--prometheus", default=None, help="Prometheus base URL")
    p.add_argument("--models", default=None, help="model registry (default $AIOPS_MODELS)")
    p.add_argument("--store", default=None, help="results store (for quarantine reasons)")
    p.add_argument("--service", action="append", help="only this service (repeatable)")
    p.add_argument("--at", default=None, help="as of this time (ISO 8601; default now)")
    p.set_defaults(func=_cmd_status)
