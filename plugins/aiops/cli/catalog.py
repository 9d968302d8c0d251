"""`aiops catalog`: check a catalog file (and, with --prometheus, run its every query against
the server), or discover a starting catalog from what a Prometheus holds.

Exit codes of `check`: 0 clean, 1 problems found, 2 the catalog is invalid or the server
cannot be reached. The window ends, unless --at says otherwise, at the newest `up` sample the
server holds: the server's time, not this machine's clock, decides what "recent" is.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiops.catalog import DEFAULT_CATALOG, Catalog, CatalogError, parse_catalog
from aiops.cli.common import parse_utc
from aiops.units import parse_duration_seconds

if TYPE_CHECKING:
    from aiops.discovery.server_api import PrometheusApi


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="service catalog tools: check, discover")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")

    c = csub.add_parser(
        "check",
        help="validate a catalog file (problems printed with line numbers); with --prometheus "
        "also run every signal's query for a recent window",
    )
    c.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help="catalog file (default $AIOPS_CATALOG or include/catalog.yaml)",
    )
    _server_flags(c)
    c.set_defaults(func=_cmd_check)

    d = csub.add_parser(
        "discover", help="write a starting catalog from the metric conventions a Prometheus follows"
    )
    _server_flags(d, required=True)
    d.add_argument("--out", type=Path, default=None, help="catalog file to write (default: stdout)")
    d.add_argument(
        "--owner",
        default=None,
        metavar="ORG",
        help="GitHub organisation of the owners (ORG/<service>; default change-me)",
    )
    d.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    d.set_defaults(func=_cmd_discover)


def _server_flags(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument(
        "--prometheus",
        metavar="URL",
        required=required,
        default=None,
        help="Prometheus base URL, e.g. http://localhost:9090",
    )
    p.add_argument(
        "--window", default="1h", help="how far back from the window's end to look (default 1h)"
    )
    p.add_argument(
        "--at",
        default=None,
        metavar="TIME",
        help="end of the window, ISO 8601 with a timezone (default: the newest `up` "
        "sample on the server)",
    )


def _cmd_check(args: argparse.Namespace) -> int:
    from aiops.discovery.live_check import CheckWindow, check_catalog
    from aiops.sources.prometheus import PrometheusClient, PrometheusError
    from aiops.yaml_lines import compose_yaml

    path = Path(args.path or os.environ.get("AIOPS_CATALOG") or DEFAULT_CATALOG)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read catalog: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        catalog = parse_catalog(text, str(path))
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.prometheus:
        names = _signal_names(catalog)
        print(f"ok: {len(catalog.services)} services, signals {', '.join(names)}")
        return 0
    try:
        span, at = _window(args)
        with _api(args.prometheus) as api, PrometheusClient(args.prometheus) as client:
            end = at or api.newest_sample_time()
            types = api.metric_types()
            report = check_catalog(
                catalog,
                compose_yaml(text),
                client,
                CheckWindow(end - span, end, timedelta(seconds=catalog.defaults.step)),
                counters=frozenset(m for m, t in types.items() if t in ("counter", "histogram")),
                gauges=frozenset(m for m, t in types.items() if t == "gauge"),
            )
    except (PrometheusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(problem.render(str(path)))
    shown = f"{(end - span).isoformat()} to {end.isoformat()}"
    if report.problems:
        print(
            f"{len(report.problems)} problem(s) in {report.queries} queries of "
            f"{report.services} services ({shown}, {args.prometheus})"
        )
        return 1
    print(
        f"ok: {report.queries} queries of {report.services} services each returned one series "
        f"within bounds ({shown}, {args.prometheus})"
    )
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from aiops.discovery.discover import (
        ApiInventory,
        discover_services,
        render_catalog,
        summary_lines,
    )
    from aiops.discovery.registry import CONVENTIONS
    from aiops.sources.prometheus import PrometheusError

    out: Path | None = args.out
    if out is not None and out.exists() and not args.force:
        print(f"error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    try:
        span, at = _window(args)
        with _api(args.prometheus) as api:
            end = at or api.newest_sample_time()
            inventory = ApiInventory(api, end - span, end)
            discovery = discover_services(inventory, CONVENTIONS)
    except (PrometheusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not discovery.services:
        print(
            f"error: {args.prometheus}: no series of a known convention between "
            f"{(end - span).isoformat()} and {end.isoformat()}",
            file=sys.stderr,
        )
        return 2
    text = render_catalog(
        discovery, source=args.prometheus, start=end - span, end=end, owner_org=args.owner
    )
    report = sys.stdout if out is not None else sys.stderr
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=report)
    for line in summary_lines(discovery):
        print(line, file=report)
    return 0


def _signal_names(catalog: Catalog) -> list[str]:
    names: dict[str, None] = {}
    for service in catalog.service_names:
        names.update(dict.fromkeys(catalog.signals_of(service)))
    return list(names)


def _window(args: argparse.Namespace) -> tuple[timedelta, datetime | None]:
    """(--window as a timedelta, --at as an aware datetime or None); ValueError names the flag."""
    try:
        seconds = float(parse_duration_seconds(args.window))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--window: {exc}") from None
    if not seconds > 0:
        raise ValueError(f"--window: must be > 0, got {args.window!r}")
    at = parse_utc(args.at, "--at") if args.at else None
    return timedelta(seconds=seconds), at


def _api(url: str) -> PrometheusApi:
    from aiops.discovery.server_api import PrometheusApi

    return PrometheusApi(url)
