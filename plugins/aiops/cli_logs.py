"""`aiops logs parse|templates|ask`: mine a log file's templates from the command line, or ask
Elasticsearch a question in plain words.

`parse` writes the log-parsing literature's structured output (Loghub's ``*_structured.csv``:
every line with its fields, template and parameters, and optionally the templates file);
`templates` counts the lines per template, from a file or a saved miner state. Plain text is
read in a Loghub format string, JSON lines with `JsonLinesFormat`'s keys, gzip transparently.
`ask` has the language model write the query (`aiops.llm.log_query`), checks it against the
index mapping, shows it, and runs it over a time range of ours; `--query` runs one written by
hand, checked the same way, without a model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.logs.drain import Cluster, DrainConfig
from aiops.logs.formats import (
    DEFAULT_FORMAT,
    JsonLinesFormat,
    LogFormat,
    LogFormatError,
    lookup,
)
from aiops.logs.miner import TemplateMiner
from aiops.logs.records import normalise_level
from aiops.sources.log_files import JSON_SUFFIXES, open_log_file

JSON_COLUMNS = ("Timestamp", "Service", "Level", "Content")  # the columns of a JSON line
ES_URL_ENV = "ELASTICSEARCH_URL"  # `logs ask` without --url
ASK_SINCE = "1h"  # `logs ask` without --since / --start
UNMATCHED_SHOWN = 5  # unmatched lines named in the summary
#: (line number, format fields or None when the line does not match, content, level, time)
Row = tuple[int, dict[str, str] | None, str, str, int | None]


class _InputError(Exception):
    """A log file, format or state the command cannot use; the message names it."""


@dataclass
class LogInput:
    """One log file and how its lines are laid out (`format` None: JSON lines)."""

    path: Path
    format: LogFormat | None
    json_format: JsonLinesFormat = field(default_factory=JsonLinesFormat)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.format.fields if self.format else JSON_COLUMNS

    def rows(self, progress: str = "") -> Iterator[Row]:
        """Every non-blank line, matched or not; `progress` labels a bar when stderr is a TTY."""
        reference = int(self.path.stat().st_mtime * 1000)  # places year-less syslog stamps
        try:
            with open_log_file(self.path) as handle:
                lines: Iterable[str] = handle
                if progress and sys.stderr.isatty():
                    from tqdm import tqdm

                    lines = tqdm(handle, desc=progress, unit=" lines", file=sys.stderr, leave=False)
                read = self._text_row if self.format else self._json_row
                for number, raw in enumerate(lines, 1):
                    line = raw.rstrip("\r\n")
                    if line.strip():
                        yield read(number, line, reference)
        except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a broken gzip
            raise _InputError(f"{self.path}: cannot read: {exc}") from exc

    def _text_row(self, number: int, line: str, reference: int) -> Row:
        assert self.format is not None
        m = self.format.regex.fullmatch(line)
        if m is None:
            return number, None, line, "", None
        fields = m.groupdict("")
        at = self.format.timestamp_of_match(m, reference)
        return number, fields, fields["Content"], normalise_level(fields.get("Level")), at

    def _json_row(self, number: int, line: str, reference: int) -> Row:
        jf = self.json_format
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or lookup(doc, jf.message) is None:
            return number, None, line, "", None
        content, level = jf.text(doc, jf.message), jf.text(doc, jf.level)
        fields = {"Timestamp": jf.text(doc, jf.timestamp), "Service": jf.text(doc, jf.service),
                  "Level": level, "Content": content}  # fmt: skip
        return number, fields, content, normalise_level(level), jf.timestamp_ms(doc, reference)


@dataclass
class Mined:
    """What the first pass saw: each line's group (None: a line with empty content)."""

    clusters: list[Cluster | None] = field(default_factory=list)
    matched: int = 0
    unmatched: list[int] = field(default_factory=list)  # line numbers

    def occurrences(self) -> Counter[str]:
        return Counter(c.id for c in self.clusters if c is not None)


def open_input(path: Path, fmt: str | None, as_json: bool = False) -> LogInput:
    """The file and its layout: `--json` or `--format json`, else `--format`, else JSON lines
    for a `.jsonl`/`.ndjson` name (before any `.gz`), else the default format."""
    if not path.is_file():
        raise _InputError(f"{path}: no such log file")
    bare = path.name.removesuffix(".gz")
    if as_json or fmt == "json" or (fmt is None and bare.endswith(JSON_SUFFIXES)):
        return LogInput(path, None)
    try:
        return LogInput(path, LogFormat.parse(fmt or DEFAULT_FORMAT))
    except LogFormatError as exc:
        raise _InputError(str(exc)) from exc


def service_of(path: Path, service: str | None) -> str:
    """`--service`, else the file name up to its first dot (`payment.log.gz` -> `payment`)."""
    return service or path.name.split(".", 1)[0]


def mine_file(source: LogInput, miner: TemplateMiner, service: str) -> Mined:
    """First pass: stream every line into the miner (templates may still generalise)."""
    mined = Mined()
    for number, fields, content, level, at in source.rows("mining"):
        if fields is None:
            mined.unmatched.append(number)
        else:
            mined.matched += 1
        mined.clusters.append(miner.add(service, content, level, at))
    return mined


def write_structured(source: LogInput, miner: TemplateMiner, mined: Mined, out: Path) -> None:
    """Second pass: every line with its fields and its group's FINAL template and values."""
    columns = source.columns
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", *columns, "EventId", "EventTemplate", "ParameterList"])
        # not strict: lines appended since the first pass are left out
        for row, cluster in zip(source.rows("writing"), mined.clusters, strict=False):
            number, fields, content = row[0], row[1] or {}, row[2]
            values = [content if c == "Content" else fields.get(c, "") for c in columns]
            template = cluster.template if cluster else ""
            params = miner.parameters(template, content) if cluster else []
            cid = cluster.id if cluster else ""
            writer.writerow([number, *values, cid, template, json.dumps(params)])


def write_templates(miner: TemplateMiner, service: str, mined: Mined, out: Path) -> None:
    """Loghub's templates file: the groups this file's lines fell in, most frequent first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["EventId", "EventTemplate", "Occurrences", "Level"])
        for cid, n in sorted(mined.occurrences().items(), key=lambda kv: (-kv[1], kv[0])):
            cluster = miner.cluster(service, cid)
            assert cluster is not None
            writer.writerow([cid, cluster.template, n, cluster.level])


def _miner(state: Path | None, depth: int | None, sim: float | None) -> TemplateMiner:
    """A fresh miner, or the one saved in `state`, whose knobs must then agree with flags."""
    if state is None or not state.exists():
        knobs = {"depth": depth, "sim_threshold": sim}
        try:
            return TemplateMiner(DrainConfig(**{k: v for k, v in knobs.items() if v is not None}))
        except ValueError as exc:
            raise _InputError(str(exc)) from exc
    try:
        miner = TemplateMiner.load(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise _InputError(str(exc) if str(state) in str(exc) else f"{state}: {exc}") from exc
    for flag, name, value in (("--depth", "depth", depth), ("--sim", "sim_threshold", sim)):
        saved = getattr(miner.config, name)
        if value is not None and value != saved:
            raise _InputError(f"{state}: was mined with {name}={saved}; {flag} {value} differs")
    return miner


def _cmd_parse(args: argparse.Namespace) -> int:
    try:
        source = open_input(args.input, args.format, args.json)
        miner = _miner(args.state, args.depth, args.sim)
        service = service_of(args.input, args.service)
        before = len(miner.clusters(service))
        mined = mine_file(source, miner, service)
        output = args.output or args.input.with_name(
            args.input.name.removesuffix(".gz") + "_structured.csv"
        )
        write_structured(source, miner, mined, output)
        if args.templates:
            write_templates(miner, service, mined, args.templates)
        if args.state:
            miner.save(args.state)
    except (_InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    templates = len(miner.clusters(service))
    shown = ", ".join(f"{args.input}:{n}" for n in mined.unmatched[:UNMATCHED_SHOWN])
    more = " ..." if len(mined.unmatched) > UNMATCHED_SHOWN else ""
    print(
        f"{args.input}: {len(mined.clusters):,} lines, {mined.matched:,} matched, "
        f"{len(mined.unmatched):,} unmatched{f' ({shown}{more})' if shown else ''}; "
        f"{len(mined.occurrences())} templates in the file, service {service} has {templates} "
        f"({templates - before} new)"
    )
    print(f"structured: {output}")
    for label, path in (("templates", args.templates), ("state", args.state)):
        if path:
            print(f"{label}: {path}")
    return 0


def template_counts(clusters: Iterable[tuple[str, Cluster]]) -> list[dict[str, Any]]:
    """(service, group) -> rows of count, share, level, id and template, most frequent first."""
    rows = [
        {"service": s, "event_id": c.id, "template": c.template, "count": c.size, "level": c.level}
        for s, c in clusters
    ]
    total = sum(r["count"] for r in rows) or 1
    for r in rows:
        r["share"] = round(r["count"] / total, 6)
    return sorted(rows, key=lambda r: (-r["count"], r["service"], r["event_id"]))


def _cmd_templates(args: argparse.Namespace) -> int:
    try:
        if args.state:
            if not args.state.is_file():
                raise _InputError(f"{args.state}: no such template-miner state")
            miner = _miner(args.state, None, None)
            services = [args.service] if args.service else sorted(miner.drains)
            if args.service and args.service not in miner.drains:
                raise _InputError(
                    f"{args.state}: no service {args.service!r}; it holds {sorted(miner.drains)}"
                )
        else:
            source = open_input(args.input, args.format)
            miner, services = TemplateMiner(), [service_of(args.input, args.service)]
            mine_file(source, miner, services[0])
    except (_InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = template_counts((s, c) for s in services for c in miner.clusters(s))
    rows = rows[: args.top] if args.top else rows
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    many = len(services) > 1
    print(f"{'count':>9} {'share':>7} {'level':<5} {'EventId':<11} {'service  ' if many else ''}template")  # fmt: skip
    for r in rows:
        where = f"{r['service']}  " if many else ""
        print(f"{r['count']:>9,} {r['share']:>7.1%} {r['level']:<5} {r['event_id']:<11} {where}{r['template']}")  # fmt: skip
    return 0


def ask_window(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC: ``--start``/``--end`` (ISO 8601 with a zone), else ``--since``
    (default 1h) before ``--end`` (default ``now``)."""
    from aiops.cli_traces import parse_utc
    from aiops.units import parse_duration_seconds

    if args.since and args.start:
        raise _InputError("give --since or --start, not both")
    end = parse_utc(args.end, "--end") if args.end else now
    if args.start:
        start = parse_utc(args.start, "--start")
    else:
        try:
            seconds = parse_duration_seconds(args.since or ASK_SINCE)
        except ValueError as exc:
            raise _InputError(f"--since: {exc}") from None
        if seconds <= 0:
            raise _InputError(f"--since: must be a positive duration, got {args.since!r}")
        start = end - timedelta(seconds=seconds)
    if start >= end:
        raise _InputError(f"--start ({start.isoformat()}) must be before --end ({end.isoformat()})")
    return start.astimezone(UTC), end.astimezone(UTC)


def _cmd_ask(args: argparse.Namespace) -> int:
    from aiops.catalog import load_catalog
    from aiops.llm import log_query as lq
    from aiops.llm.session import KEY_ENV, off_reason
    from aiops.sources.elasticsearch_logs import (
        ElasticsearchLogConfig,
        ElasticsearchLogSource,
        ElasticsearchSourceError,
    )
    from aiops.store.errors import StoreError

    now = datetime.now(UTC)  # interactive: the wall clock places the default window, once
    try:
        if not args.question and args.query is None:
            raise _InputError("give a QUESTION, or the query itself with --query JSON")
        if args.size is not None and not 1 <= args.size <= lq.MAX_ASK_SIZE:
            raise _InputError(f"--size: must be in 1..{lq.MAX_ASK_SIZE}, got {args.size}")
        start, end = ask_window(args, now)
        url = args.url or os.environ.get(ES_URL_ENV)
        if not url:
            raise _InputError(f"no Elasticsearch URL: pass --url or set {ES_URL_ENV}")
        config = ElasticsearchLogConfig(url, **({"index": args.index} if args.index else {}))
        settings, api_key = None, os.environ.get(KEY_ENV)
        if args.query is None:
            settings = load_catalog().llm
            why = off_reason(settings, api_key)
            if why is not None:
                print(f"logs ask needs a language model: {why}; or give the query with "
                      "--query JSON", file=sys.stderr)  # fmt: skip
                return 2
    except (_InputError, ValueError) as exc:  # CatalogError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = config.fields
    try:
        with ElasticsearchLogSource(config) as source:
            fields = lq.mapping_fields(source.mapping())
            if not fields:
                raise _InputError(f"{source.describe()}: no mapped fields (does any index match?)")
            totals = None
            if args.query is not None:
                answer, model = lq.user_query(args.query, fields, names.timestamp), None
            else:
                answer, model, totals = _model_query(args, settings, api_key, fields, config,
                                                     start, end)  # fmt: skip
                if answer is None:
                    return 2
            query = lq.time_bounded(answer.query, names.timestamp, start, end)
            size = args.size or answer.size
            request = source.page_request(
                query, size=size, sort=lq.sort_clause(answer, names.timestamp)
            )
            _show_request(args, source.describe(), start, end, request, answer, model)
            page = None
            if not args.dry_run:
                context = f"interval [{lq.iso_utc(start)}, {lq.iso_utc(end)})"
                page = source.search_page(request, context)
    except (_InputError, ValueError, ElasticsearchSourceError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hits = [lq.hit_line(h, names) for h in page["hits"]["hits"]] if page is not None else []
    usage = f"llm ({model}): {totals.line()}" if totals is not None else None
    if args.json:
        print(json.dumps({
            "index": config.index, "start": lq.iso_utc(start), "end": lq.iso_utc(end),
            "request": request, "explanation": answer.explanation, "model": model,
            "ran": page is not None,
            "total": page["hits"].get("total") if page is not None else None,
            "hits": [asdict(h) for h in hits],
            "llm": totals.to_json() if totals is not None else None,
        }, ensure_ascii=False))  # fmt: skip
        return 0
    for hit in hits:
        print(hit.text())
    if page is not None:
        print(lq.total_text(page, len(hits)))
    if usage:
        print(usage)
    return 0


def _model_query(args, settings, api_key, fields, config, start, end):
    """The model's checked answer (or None after saying why), its model and the run's use."""
    from aiops.llm import log_query as lq
    from aiops.llm.session import open_gateway
    from aiops.settings import resolve_store_url
    from aiops.store import Store

    prompt = lq.query_prompt(args.question, fields, config.fields, start, end, index=config.index)
    run = f"logs ask [{lq.iso_utc(start)}, {lq.iso_utc(end)})"
    with Store.open(resolve_store_url(args.store)) as store:
        # the budget is charged to the UTC day of the window's end
        gateway, _ = open_gateway(
            store, settings, run=run, day=end.date(), now=end, api_key=api_key
        )
        result = gateway.ask(prompt)
    totals = gateway.totals
    if result.ok:
        totals.generated += 1
        return result.value, result.model, totals
    totals.reasons[result.reason] = totals.reasons.get(result.reason, 0) + 1
    print(f"logs ask needs a language model: {result.reason}", file=sys.stderr)
    print(f"llm ({result.model}): {totals.line()}", file=sys.stderr)
    return None, result.model, totals


def _show_request(args, where, start, end, request, answer, model) -> None:
    """The query exactly as it is sent, before it runs (on stderr with --json), and the
    model's explanation of it."""
    from aiops.llm import log_query as lq

    out = sys.stderr if args.json else sys.stdout
    print(f"query for {where}, {lq.iso_utc(start)} to {lq.iso_utc(end)}:", file=out)
    print(json.dumps(request, indent=2, ensure_ascii=False), file=out)
    if model is not None:
        print(f"why: {answer.explanation}", file=out)
    masked = lq.masked_placeholders(answer.query)
    if masked:
        print(f"note: {', '.join(masked)} in the query stands for a value masked before the "
              "question was sent; give the value with --query JSON", file=sys.stderr)  # fmt: skip
    if args.dry_run:
        print("dry run: the query was not run", file=out)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="mine log templates from files (Drain)")
    lsub = p.add_subparsers(dest="logs_command", required=True, metavar="ACTION")

    def layout(c: argparse.ArgumentParser) -> None:
        c.add_argument("--format", default=None, metavar="FMT",
                       help=f"Loghub format string (default {DEFAULT_FORMAT!r}); 'json' for "
                       "JSON lines, the default for *.jsonl / *.ndjson")  # fmt: skip
        c.add_argument("--service", default=None,
                       help="service the templates belong to (default: file name to its first dot)")  # fmt: skip

    c = lsub.add_parser("parse", help="structured CSV (Loghub layout) of every line's template")
    c.add_argument("--input", type=Path, required=True, metavar="FILE", help="log file (.gz too)")
    layout(c)
    c.add_argument("--json", action="store_true", help="the input is JSON lines")
    c.add_argument("--output", type=Path, default=None, metavar="STRUCTURED.csv",
                   help="default: FILE_structured.csv beside the input")  # fmt: skip
    c.add_argument("--templates", type=Path, default=None, metavar="TEMPLATES.csv",
                   help="also write EventId,EventTemplate,Occurrences,Level")  # fmt: skip
    c.add_argument("--state", type=Path, default=None, metavar="STATE.json",
                   help="miner state: loaded first if it exists, saved after (stable IDs)")  # fmt: skip
    c.add_argument("--depth", type=int, default=None, help="Drain tree depth (default 3)")
    c.add_argument("--sim", type=float, default=None, help="similarity threshold (default 0.4)")
    c.set_defaults(func=_cmd_parse)

    c = lsub.add_parser("templates", help="lines per template, from a file or a miner state")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, metavar="FILE", help="log file to mine")
    src.add_argument("--state", type=Path, metavar="STATE.json", help="saved miner state")
    layout(c)
    c.add_argument("--top", type=int, default=None, help="only the N most frequent")
    c.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    c.set_defaults(func=_cmd_templates)

    c = lsub.add_parser(
        "ask",
        help="a question in plain words to an Elasticsearch query, checked against the index "
        "mapping and shown before it runs (needs a language model, or --query)",
    )
    c.add_argument("question", nargs="?", default=None, metavar="QUESTION",
                   help='e.g. "payment errors from checkout mentioning a timeout"')  # fmt: skip
    c.add_argument("--url", default=None, help=f"Elasticsearch URL (default ${ES_URL_ENV})")
    c.add_argument("--index", default=None, metavar="PATTERN",
                   help="index pattern (default the log source's, logs-*)")  # fmt: skip
    c.add_argument("--since", default=None, metavar="DURATION",
                   help=f"window before --end, such as 15m, 6h, 2d (default {ASK_SINCE})")  # fmt: skip
    c.add_argument(
        "--start", default=None, metavar="ISO", help="window start, e.g. 2026-11-01T08:00Z"
    )
    c.add_argument("--end", default=None, metavar="ISO", help="window end (default now)")
    c.add_argument("--size", type=int, default=None, metavar="N",
                   help="lines to show, 1..100 (default the model's choice, else 20)")  # fmt: skip
    c.add_argument("--query", default=None, metavar="JSON",
                   help="run this query clause (or {query, sort, size}) instead of asking a "
                   "model; checked the same way")  # fmt: skip
    c.add_argument("--dry-run", action="store_true", help="show the query, do not run it")
    c.add_argument("--json", action="store_true",
                   help="one JSON document on stdout (the query also goes to stderr first)")  # fmt: skip
    c.add_argument("--store", default=None,
                   help="store URL for the model's usage (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip
    c.set_defaults(func=_cmd_ask)
