"""`aiops traces ...`: trace analytics from the command line, over Jaeger JSON files.

`analyze` is the same analysis the nightly DAG runs, on exported files; `fetch` exports a
window from a Jaeger query service into such a file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiops.cli.common import parse_utc


def _progress(items: Iterator[Any], enabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    yield from tqdm(items, unit=" traces", disable=not enabled, file=sys.stderr, leave=False)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from aiops.findings.model import kind_label
    from aiops.sources.jaeger_files import TraceFileError, iter_trace_documents
    from aiops.traces.analyze import analyze_traces
    from aiops.traces.view import AnalysisConfig

    window = None
    if args.start or args.end:
        if not (args.start and args.end):
            print("error: --start and --end go together", file=sys.stderr)
            return 2
        window = (parse_utc(args.start, "--start"), parse_utc(args.end, "--end"))
    ui = args.jaeger_ui.rstrip("/") if args.jaeger_ui else None
    try:
        config = AnalysisConfig(n_plus_one_min=args.n_plus_one_min)
        documents = _progress(iter_trace_documents(args.inputs), sys.stderr.isatty())
        analysis = analyze_traces(
            documents,
            config=config,
            window=window,
            link=(lambda trace_id: f"{ui}/trace/{trace_id}") if ui else None,
        )
    except (TraceFileError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(analysis.to_json(), indent=2, ensure_ascii=False) + "\n")
    summary = analysis.summary()
    print(
        f"{summary['traces']:,} traces, {summary['spans']:,} spans, {summary['services']} services, "
        f"{len(analysis.edges)} edges; {summary['dropped_traces']} traces dropped"
    )
    if summary["issues"]:
        print("repaired or skipped: " + ", ".join(f"{k} {v}" for k, v in summary["issues"].items()))
    for finding in analysis.findings[: args.top]:
        impact = finding.impact
        saving = (
            f", saves ~{finding.expected_saving_ms:.1f} ms"
            if finding.expected_saving_ms is not None
            else ""
        )
        print(
            f"  [{finding.kind}] {finding.title} ({impact.requests_affected} requests"
            f"{saving}; {finding.safety})"
        )
    print(f"findings: {args.output}")
    if args.graph:
        from aiops.traces.graph import draw_dependency_graph

        notes = {}
        for finding in analysis.findings:
            if finding.kind in ("n_plus_one", "sequential_calls", "critical_path_hotspot"):
                notes.setdefault(finding.service, kind_label(finding.kind))
        if not analysis.edges:
            print("graph: not drawn, no dependencies observed", file=sys.stderr)
        else:
            draw_dependency_graph(analysis.edges, args.graph, highlight=notes)
            print(f"graph: {args.graph}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from aiops.sources.jaeger import JaegerClient, JaegerError

    start, end = parse_utc(args.start, "--start"), parse_utc(args.end, "--end")
    try:
        with JaegerClient(args.jaeger, timeout=args.timeout) as client:
            traces = list(client.fetch_window(start, end, args.service or None))
    except (JaegerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"data": traces, "total": len(traces), "limit": 0, "offset": 0, "errors": None}
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{len(traces):,} traces -> {args.out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traces", help="trace analytics over Jaeger JSON")
    tsub = p.add_subparsers(dest="traces_command", required=True, metavar="ACTION")

    c = tsub.add_parser(
        "analyze", help="dependency map and bottleneck findings from Jaeger JSON files"
    )
    c.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="Jaeger JSON files or folders: the query API's {'data': [...]} or bare traces",
    )
    c.add_argument("--output", type=Path, required=True, help="findings and edges (JSON)")
    c.add_argument("--graph", type=Path, default=None, help="dependency graph (.svg or .png)")
    c.add_argument("--jaeger-ui", default=None, help="Jaeger UI base URL for evidence links")
    c.add_argument("--start", default=None, help="only traces starting at/after (ISO, UTC)")
    c.add_argument("--end", default=None, help="... and before this time")
    c.add_argument("--n-plus-one-min", type=int, default=5, help="repeats that make an N+1")
    c.add_argument("--top", type=int, default=10, help="findings to print")
    c.set_defaults(func=_cmd_analyze)

    c = tsub.add_parser("fetch", help="export a window of traces from a Jaeger query service")
    c.add_argument("--jaeger", required=True, help="query service URL, e.g. http://jaeger:16686")
    c.add_argument("--start", required=True, help="window start (ISO, UTC)")
    c.add_argument("--end", required=True, help="window end (ISO, UTC)")
    c.add_argument("--service", action="append", default=[], help="only these services")
    c.add_argument("--timeout", type=float, default=30.0)
    c.add_argument("--out", type=Path, required=True, help="output file (query API JSON)")
    c.set_defaults(func=_cmd_fetch)
