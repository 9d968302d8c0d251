"""`aiops rca`: a post-mortem's root cause from exports, without Prometheus or Airflow.

The metrics (a long CSV, `timestamp,service,signal,value`) are scored by the hourly scoring
around `--at`, the events active near it ranked by the hourly ranking, on the dependency map
of `--traces` when given (aiops.incidents.postmortem). The time is always `--at`, never the
wall clock: a post-mortem is about a moment that has passed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.cli.common import parse_utc

if TYPE_CHECKING:
    from aiops.incidents.postmortem import Postmortem, PostmortemConfig


def _duration(text: str, flag: str) -> timedelta:
    from aiops.units import parse_duration_seconds

    try:
        seconds = float(parse_duration_seconds(text))
    except (TypeError, ValueError):
        raise ValueError(f"{flag}: expected a duration such as 10m or 2h, got {text!r}") from None
    if seconds < 0:
        raise ValueError(f"{flag}: must not be negative, got {text!r}")
    return timedelta(seconds=seconds)


def _metrics(args: argparse.Namespace, notes: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """The wide frame of `--metrics`, the catalog (`--catalog`, else one made from the
    metrics) and the services of both; the reader's report goes to stderr."""
    from aiops.catalog import load_catalog
    from aiops.incidents.postmortem import default_catalog
    from aiops.metrics.long_csv import read_long_csv
    from aiops.sources.signals import SourceError

    catalog = load_catalog(args.catalog) if args.catalog else None
    step = timedelta(seconds=catalog.defaults.step if catalog else 60)
    try:
        signals = read_long_csv(args.metrics, step)
    except OSError as exc:
        raise SourceError(f"{args.metrics}: cannot read: {exc.strerror or exc}") from exc
    for line in signals.report.lines():
        print(line, file=sys.stderr)
    frame = signals.frame
    in_frame = sorted({str(c).split(":", 1)[0] for c in frame.columns})
    if catalog is None:
        made = default_catalog(frame.columns, step)
        catalog = made.catalog
        notes["catalog"] = {"default": True, "unknown_signals": list(made.unknown_signals)}
    else:
        notes["catalog"] = {"default": False, "path": str(args.catalog)}
    services = [s for s in in_frame if s in catalog.services]
    notes["not_in_catalog"] = [s for s in in_frame if s not in catalog.services]
    if not services:
        raise ValueError(f"{args.metrics}: none of its services ({', '.join(in_frame)}) "
                         f"is in the catalog {args.catalog}")  # fmt: skip
    return frame, catalog, services


def _cmd_rca(args: argparse.Namespace) -> int:
    from aiops.catalog import CatalogError
    from aiops.incidents.postmortem import (
        PostmortemConfig,
        history_before,
        require_data,
        root_cause,
        trace_map,
    )
    from aiops.sources.jaeger_files import TraceFileError
    from aiops.sources.signals import SourceError

    notes: dict[str, Any] = {}
    try:
        at = parse_utc(args.at, "--at")
        config = PostmortemConfig(
            window=_duration(args.window, "--window"),
            history=_duration(args.history, "--history"),
        )
        frame, catalog, services = _metrics(args, notes)
        scored = frame[[c for c in frame.columns if str(c).split(":", 1)[0] in services]]
        require_data(scored, at, config, str(args.metrics))
        graph, edges = None, None
        if args.traces:
            traces = trace_map([args.traces], timedelta(seconds=catalog.defaults.step))
            graph, edges = traces.graph, traces.edges
            notes["traces"] = {"path": str(args.traces), "traces": traces.traces,
                               "dropped": traces.dropped,
                               "edges": sum(len(c) for c in graph.callees.values())}  # fmt: skip
        notes["history"] = history_before(scored, at, config)
        postmortem = root_cause(frame, catalog, at, graph, config, services=services, edges=edges)
    except (CatalogError, SourceError, TraceFileError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = postmortem.to_json()
        doc["catalog"] = notes["catalog"]
        doc["traces"] = notes.get("traces")
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(_text(postmortem, config, notes)))
    return 0


def _text(postmortem: Postmortem, config: PostmortemConfig, notes: dict[str, Any]) -> list[str]:
    """The moment, what it was made of, then the candidates, the chain and the events as
    `aiops incidents show` prints a stored incident."""
    from aiops.cli.incidents import show_lines
    from aiops.units import format_duration

    low, high = postmortem.span
    start, end = postmortem.hours
    catalog = notes["catalog"]
    if catalog["default"]:
        unknown = catalog["unknown_signals"]
        what = (
            f"; the kind, unit and bad direction of {', '.join(unknown)} are unknown "
            "(scored as kind other, either direction bad)"
            if unknown
            else ""
        )
        catalog_line = "none given: a default one, every service with every signal it has" + what
    else:
        catalog_line = catalog["path"]
    if notes["not_in_catalog"]:
        catalog_line += f" (not in it, not scored: {', '.join(notes['not_in_catalog'])})"
    traces = notes.get("traces")
    map_line = (
        f"{traces['path']}: {traces['edges']} call edge(s) from {traces['traces']:,} trace(s)"
        + (f", {traces['dropped']} dropped" if traces["dropped"] else "")
        if traces
        else "none (--traces not given): the ranking falls back to onset order"
    )
    history = notes["history"]
    short = history is not None and history < config.history
    out = [
        f"root cause at {postmortem.at:%Y-%m-%d %H:%M} UTC",
        f"  events    active in [{low:%H:%M}, {high:%H:%M}) UTC",
        f"  scored    {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC, after "
        + (format_duration(history.total_seconds()) if history else "no data")
        + " of history"
        + (f" (of {format_duration(config.history.total_seconds())} asked)" if short else ""),
        f"  catalog   {catalog_line}",
        f"  map       {map_line}",
    ]
    if postmortem.unscored_edges:
        edges = sorted({key.rpartition(":")[0] for key in postmortem.unscored_edges})
        out.append(f"  not scored (under {config.edges.min_baseline_points} traced minutes "
                   f"outside the window): {', '.join(edges)}")  # fmt: skip
    incident = postmortem.incident()
    if incident is None:
        out.append(f"no anomalous event active in [{low:%H:%M}, {high:%H:%M}) UTC: nothing to rank")
        return out
    ranking = postmortem.ranking
    out[1:1] = [f"  {incident.title}", f"  {incident.summary}"]
    out.append(f"  ranking   {ranking.method}, confidence {ranking.confidence:.2f}: {ranking.note}")
    body = show_lines(incident.to_row(postmortem.hours))
    return [*out, "", *body[body.index("Root-cause candidates") :]]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rca",
        help="a post-mortem's root cause from a metrics CSV (and traces), around a time",
    )
    p.add_argument(
        "--metrics", type=Path, required=True, help="CSV: timestamp,service,signal,value"
    )
    p.add_argument(
        "--traces",
        type=Path,
        default=None,
        help="Jaeger JSON file or folder of them: the dependency map (else onset order)",
    )
    p.add_argument("--at", required=True, help="when it happened (ISO 8601 with a timezone)")
    p.add_argument("--window", default="10m", help="events active this long after --at (10m)")
    p.add_argument("--history", default="2h", help="data read before the first scored hour (2h)")
    p.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="the service catalog (default: one made from the metrics)",
    )
    p.add_argument("--json", action="store_true", help="the result as JSON")
    p.set_defaults(func=_cmd_rca)
