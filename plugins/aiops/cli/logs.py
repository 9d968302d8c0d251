"""`aiops logs parse|templates|ask`: mine a log file's templates from the command line, or ask
Elasticsearch a question in plain words.

`parse` writes the log-parsing literature's structured output (Loghub's ``*_structured.csv``:
every line with its fields, template and parameters, and optionally the templates file);
`templates` counts the lines per template, from a file or a saved miner state. The line
layout is recognised from the file's first lines (`--format auto`, the default:
`aiops.logs.auto_format`), or given as a Loghub format string, or `json` for JSON lines;
gzip is read transparently.
`ask` has the language model write the query (`aiops.llm.log_query`), checks it against the
index mapping, shows it, and runs it over a time range of ours; `--query` runs one written by
hand, checked the same way, without a model.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiops.cli.common import InputError
from aiops.logs.auto_format import AUTO, Detected, detect_format
from aiops.logs.formats import (
    DEFAULT_FORMAT,
    JsonLinesFormat,
    LogFormat,
    LogFormatError,
    lookup,
)
from aiops.logs.miner import TemplateMiner
from aiops.logs.records import normalise_level
from aiops.logs.templates import Cluster, MinerConfig
from aiops.sources.log_files import open_log_file

JSON_COLUMNS = ("Timestamp", "Service", "Level", "Content")  # the columns of a JSON line
UNMATCHED_SHOWN = 5  # unmatched lines named in the summary
#: (line number, format fields or None when the line does not match, content, level, time)
Row = tuple[int, dict[str, str] | None, str, str, int | None]


WHOLE_LINE = LogFormat("<Content>")  # no header recognised: each whole line is the message


@dataclass
class LogInput:
    """One log file and how its lines are laid out (`format` None: JSON lines)."""

    path: Path
    format: LogFormat | None
    json_format: JsonLinesFormat = field(default_factory=JsonLinesFormat)
    detected: Detected | None = None  # what `--format auto` chose, to say so

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
            raise InputError(f"{self.path}: cannot read: {exc}") from exc

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
    """What the first pass saw: each line's group as it was when the line was mined."""

    clusters: list[Cluster] = field(default_factory=list)
    matched: int = 0
    unmatched: list[int] = field(default_factory=list)  # line numbers

    def final(self, miner: TemplateMiner, service: str) -> list[Cluster | None]:
        """Each line's group after the whole file: a template merged later is its keeper's
        (None: evicted since, `MinerConfig.max_templates`)."""
        return [miner.cluster(service, c.id) for c in self.clusters]

    def occurrences(self, miner: TemplateMiner, service: str) -> Counter[str]:
        return Counter(c.id for c in self.final(miner, service) if c is not None)


def open_input(path: Path, fmt: str | None, as_json: bool = False) -> LogInput:
    """The file and its layout: `--json` or `--format json`, else a format string, else
    (`auto`, the default) the layout its first lines show (`aiops.logs.auto_format`)."""
    if not path.is_file():
        raise InputError(f"{path}: no such log file")
    if as_json or fmt == "json":
        return LogInput(path, None)
    if fmt is None or fmt == AUTO:
        return _detected(path)
    try:
        return LogInput(path, LogFormat.parse(fmt))
    except LogFormatError as exc:
        raise InputError(str(exc)) from exc


def _detected(path: Path) -> LogInput:
    try:
        with open_log_file(path) as handle:
            detected = detect_format(handle)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    if isinstance(detected.format, JsonLinesFormat):
        return LogInput(path, None, detected.format, detected)
    return LogInput(path, detected.format or WHOLE_LINE, detected=detected)


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


def write_structured(
    source: LogInput, miner: TemplateMiner, service: str, mined: Mined, out: Path
) -> None:
    """Second pass: every line with its fields and its group's FINAL template and values."""
    columns = source.columns
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", *columns, "EventId", "EventTemplate", "ParameterList"])
        # not strict: lines appended since the first pass are left out
        final = mined.final(miner, service)
        for row, cluster in zip(source.rows("writing"), final, strict=False):
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
        counts = mined.occurrences(miner, service)
        for cid, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            cluster = miner.cluster(service, cid)
            assert cluster is not None
            writer.writerow([cid, cluster.template, n, cluster.level])


def _miner(
    state: Path | None, variable_after: int | None, max_templates: int | None
) -> TemplateMiner:
    """A fresh miner, or the one saved in `state`, whose knobs must then agree with flags."""
    knobs = {"variable_after": variable_after, "max_templates": max_templates}
    if state is None or not state.exists():
        try:
            return TemplateMiner(MinerConfig(**{k: v for k, v in knobs.items() if v is not None}))
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    try:
        miner = TemplateMiner.load(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(str(exc) if str(state) in str(exc) else f"{state}: {exc}") from exc
    for name, value in knobs.items():
        saved = getattr(miner.config, name)
        if value is not None and value != saved:
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{state}: was mined with {name}={saved}; {flag} {value} differs")
    return miner


def _cmd_parse(args: argparse.Namespace) -> int:
    try:
        source = open_input(args.input, args.format, args.json)
        miner = _miner(args.state, args.variable_after, args.max_templates)
        service = service_of(args.input, args.service)
        before = len(miner.clusters(service))
        mined = mine_file(source, miner, service)
        output = args.output or args.input.with_name(
            args.input.name.removesuffix(".gz") + "_structured.csv"
        )
        write_structured(source, miner, service, mined, output)
        if args.templates:
            write_templates(miner, service, mined, args.templates)
        if args.state:
            miner.save(args.state)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    templates = len(miner.clusters(service))
    n = miner.evicted()
    evicted = f", {n:,} evicted past --max-templates {miner.config.max_templates:,}" if n else ""
    shown = ", ".join(f"{args.input}:{n}" for n in mined.unmatched[:UNMATCHED_SHOWN])
    more = " ..." if len(mined.unmatched) > UNMATCHED_SHOWN else ""
    print(
        f"{args.input}: {len(mined.clusters):,} lines, {mined.matched:,} matched, "
        f"{len(mined.unmatched):,} unmatched{f' ({shown}{more})' if shown else ''}; "
        f"{len(mined.occurrences(miner, service))} templates in the file, service {service} has {templates} "
        f"({templates - before} new{evicted})"
    )
    if source.detected:
        print(source.detected.describe())
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
                raise InputError(f"{args.state}: no such template-miner state")
            miner = _miner(args.state, None, None)
            services = [args.service] if args.service else sorted(miner.services)
            if args.service and args.service not in miner.services:
                raise InputError(
                    f"{args.state}: no service {args.service!r}; it holds {sorted(miner.services)}"
                )
        else:
            source = open_input(args.input, args.format)
            if source.detected:
                print(source.detected.describe(), file=sys.stderr)
            miner, services = TemplateMiner(), [service_of(args.input, args.service)]
            mine_file(source, miner, services[0])
    except (InputError, OSError) as exc:
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    from aiops.cli import logs_ask as ask

    p = sub.add_parser("logs", help="mine log templates from files")
    lsub = p.add_subparsers(dest="logs_command", required=True, metavar="ACTION")

    def layout(c: argparse.ArgumentParser) -> None:
        c.add_argument("--format", default=AUTO, metavar="FMT",
                       help="'auto' (default: recognised from the first lines and said), a "
                       f"Loghub format string such as {DEFAULT_FORMAT!r}, or 'json' for JSON "
                       "lines")  # fmt: skip
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
    c.add_argument("--variable-after", type=int, default=None, metavar="N",
                   help="distinct words at one position that make it a variable (default "
                   f"{MinerConfig.variable_after})")  # fmt: skip
    c.add_argument("--max-templates", type=int, default=None, metavar="N",
                   help="templates kept per service, least recently matched evicted (default "
                   f"{MinerConfig.max_templates})")  # fmt: skip
    c.set_defaults(func=_cmd_parse)

    c = lsub.add_parser("templates", help="lines per template, from a file or a miner state")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, metavar="FILE", help="log file to mine")
    src.add_argument("--state", type=Path, metavar="STATE.json", help="saved miner state")
    layout(c)
    c.add_argument("--top", type=int, default=None, help="only the N most frequent")
    c.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    c.set_defaults(func=_cmd_templates)
    ask.add_parser(lsub)
