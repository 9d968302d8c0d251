"""`aiops`: the command line. Each command group is a module of this package with an
`add_parser(sub)`; this one assembles them and holds the one-liner (summary)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from aiops.cli import (
    catalog,
    detect,
    dev,
    forecast,
    incidents,
    issues,
    llm,
    logs,
    rca,
    readouts,
    rightsize,
    scaler,
    score,
    status,
    traces,
)


def _cmd_summary(args: argparse.Namespace) -> int:
    """Summaries already in the store, as JSON lines (for scripts and eyeballs alike)."""
    from aiops.cli.common import open_store
    from aiops.store import StoreError

    filters = {"service": args.service} if args.service else {}
    try:
        with open_store(args) as store:
            rows = store.read("series_summary", **filters)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row, default=str, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiops",
        description="Predictive AIOps on Airflow: the demo, the analytics run on exported "
        "files, the KEDA scaler, and what the results store holds.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev.add_parser(sub)

    p = sub.add_parser("summary", help="print stored per-series data summaries as JSON lines")
    p.add_argument(
        "--store", default=None, help="store URL (default $AIOPS_STORE_URL or out/aiops.db)"
    )
    p.add_argument("--service", default=None)
    p.set_defaults(func=_cmd_summary)

    for group in (
        catalog,
        status,
        score,
        rca,
        detect,
        scaler,
        traces,
        issues,
        logs,
        incidents,
        llm,
        readouts,
        forecast,
        rightsize,
    ):
        group.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
