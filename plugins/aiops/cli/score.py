"""`aiops score`: the hourly scoring over a long-format CSV (`timestamp,service,signal,value`),
for replays and post-mortems without Prometheus; events as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiops.cli.common import parse_utc


def _cmd_score(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from aiops.catalog import CatalogError, load_catalog
    from aiops.metrics.long_csv import read_long_csv
    from aiops.metrics.offline import score_frame
    from aiops.model_registry import ModelRegistry
    from aiops.sources.signals import SourceError

    try:
        catalog = load_catalog(args.catalog)
        start, end = parse_utc(args.start, "--start"), parse_utc(args.end, "--end")
        train_at = parse_utc(args.train_at, "--train-at") if args.train_at else None
        try:
            signals = read_long_csv(args.input, timedelta(seconds=catalog.defaults.step))
        except OSError as exc:
            raise SourceError(f"{args.input}: cannot read: {exc}") from exc
        for line in signals.report.lines():
            print(line, file=sys.stderr)
        events = score_frame(
            signals.frame,
            catalog,
            start,
            end,
            registry=ModelRegistry(args.models) if args.models else None,
            train_at=train_at,
            services=args.service or None,
        )
    except (CatalogError, SourceError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        for event in events:
            out.write(json.dumps(event, default=str, sort_keys=True) + "\n")
    finally:
        if args.output:
            out.close()
    print(f"{len(events)} event(s) for [{start.isoformat()}, {end.isoformat()})", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="the hourly scoring over a long CSV (timestamp,service,signal,value): events as JSON",
    )
    p.add_argument("--input", type=Path, required=True, help="CSV: timestamp,service,signal,value")
    p.add_argument("--start", required=True, help="first hour scored (ISO 8601, whole hour)")
    p.add_argument("--end", required=True, help="end of the last hour scored (exclusive)")
    p.add_argument("--catalog", type=Path, default=None, help="default $AIOPS_CATALOG")
    p.add_argument("--models", default=None, help="a model registry to score with")
    p.add_argument(
        "--train-at", default=None, help="train on the file's data ending here first (ISO 8601)"
    )
    p.add_argument("--service", action="append", help="only this service (repeatable)")
    p.add_argument("--output", type=Path, default=None, help="JSON lines file (default stdout)")
    p.set_defaults(func=_cmd_score)
