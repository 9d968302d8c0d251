"""Log files on disk as a `LogSource`: plain lines in a Loghub format, and JSON lines.

With ``format="auto"`` each plain file's layout is recognised from its first lines
(`aiops.logs.auto_format`: syslog, log4j and other date-time layouts, access and error logs,
Windows CBS, klog, JSON lines), once per file and source, and logged; a file whose layout is
not recognised, or has no time to place its lines by, has every line quarantined with the
reason, so a wrong guess is as loud as a wrong format string.

A directory stands for every ``*.log`` and ``*.jsonl`` file below it (``.gz`` too, read
transparently), in sorted order; a file given by name is read whatever it is called, as JSON
lines when its name ends in ``.jsonl`` or ``.ndjson`` (before any ``.gz``). Files are streamed
line by line, so a 72-hour file read for one hour costs one pass and no memory; they need not
be sorted by time.

Every line is accounted for:

- a line that matches the format (with a readable time) is a `LogRecord` when its time is in
  ``[start, end)``;
- a line that does not (a stack trace's ``at ...`` lines, a wrapped message) continues the
  record before it: it is its own `LogRecord` with that record's time, level and service, the
  whole line as its message and ``fields={"unmatched": "1"}``;
- a line that cannot be placed in time at all (unmatched before any matched line, a JSON line
  that is not an object with a readable time) is `Quarantined`. It is placed with the line
  before it, or, at the top of a file, with the first placed line after it, so that reading
  consecutive intervals reports it exactly once. A file with no placed line at all reports
  them on every read: a wrong format should be loud.

Blank lines carry nothing and are skipped.

The service is the file name up to its first dot (``payment.log`` -> ``payment``,
``gateway.access.jsonl`` -> ``gateway``), the JSON service field when a document has one, or,
with ``service_from="parent"``, the folder holding the file; ``service_from="<Field>"`` takes a
format field up to its first dot (``<Component>`` ``payment.provider`` -> ``payment``).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from aiops.logs.auto_format import AUTO, Detected, detect_format
from aiops.logs.formats import (
    DEFAULT_FORMAT,
    JsonLinesFormat,
    LogFormat,
    LogFormatError,
    lookup,
)
from aiops.logs.records import LogRecord, Quarantined, normalise_level

log = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".ndjson")
LOG_SUFFIXES = (".log", *JSON_SUFFIXES)
RAW_CHARS = 500  # of a quarantined line
PENDING_MAX = 1000  # unplaced lines held back at the top of a file before reporting them
UNMATCHED = "unmatched"  # the field that marks a continuation line


class LogFileError(Exception):
    """A log path that cannot be read; the message names it."""


def open_log_file(path: Path | str) -> IO[str]:
    """A text stream over ``path``, gunzipped when its name ends in ``.gz``.

    Bytes that are not UTF-8 become U+FFFD rather than stopping the read.
    """
    path = Path(path)
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return path.open(encoding="utf-8", errors="replace", newline="")


def _unplaceable(
    handle: IO[str], name: str, file_service: str, reason: str
) -> Iterator[Quarantined]:
    """A file nothing places in time (no layout recognised, or one without a time): every
    non-blank line quarantined with `reason`, once per read as any unplaced line is."""
    top = _Top(name, file_service)
    for number, raw in enumerate(handle, 1):
        line = raw.rstrip("\r\n")
        if line and not line.isspace():
            yield from top.hold(number, line, reason)
    yield from top.release(True)


def _timeless(fmt: LogFormat) -> str:
    return (
        f"log format {fmt.format!r}: has no time field (<Timestamp>, <Date> <Time>, "
        "<Month> <Date> <Time> or <Time>), so lines cannot be placed in an interval"
    )


def _unplaced_reason(fmt: LogFormat, m: re.Match[str] | None) -> str:
    if m is None:
        return f"line does not match format '{fmt.format}'"
    shown = " ".join(m.group(f) or "" for f in fmt.time_fields)
    return f"time {shown!r} not understood (format '{fmt.format}')"


def _bare_name(name: str) -> str:
    return name.removesuffix(".gz")


def _is_json(path: Path) -> bool:
    return _bare_name(path.name).endswith(JSON_SUFFIXES)


class LogFileSource:
    """Reads log files for an interval: ``LogFileSource("out/world/logs").read(start, end)``."""

    def __init__(
        self,
        paths_or_dir: Path | str | Iterable[Path | str],
        format: LogFormat | str = DEFAULT_FORMAT,
        *,
        json_format: JsonLinesFormat | None = None,
        service_from: str = "stem",
    ) -> None:
        if isinstance(paths_or_dir, str | Path):
            paths_or_dir = [paths_or_dir]
        self.paths = [Path(p) for p in paths_or_dir]
        #: None with format="auto": each file's own (`layout_of`)
        self.format: LogFormat | None = None
        if format != AUTO:
            self.format = format if isinstance(format, LogFormat) else LogFormat.parse(format)
            if not self.format.time_fields:
                raise LogFormatError(_timeless(self.format))
        self.json_format = json_format or JsonLinesFormat()
        self._layouts: dict[Path, Detected] = {}
        fields = self.format.fields if self.format else ()
        if service_from not in ("stem", "parent") and self.format and service_from not in fields:
            raise ValueError(
                f"service_from={service_from!r}: expected 'stem', 'parent' or a field of "
                f"{self.format.format!r}"
            )
        self.service_from = service_from

    def describe(self) -> str:
        shown = ", ".join(str(p) for p in self.paths[:3])
        more = f" (+{len(self.paths) - 3} more)" if len(self.paths) > 3 else ""
        return f"log files in {shown}{more}"

    def files(self) -> list[tuple[Path, str]]:
        """``(file, name used in origins)`` for every file to read, in order."""
        out: list[tuple[Path, str]] = []
        for path in self.paths:
            if path.is_dir():
                found = (
                    p
                    for p in path.rglob("*")
                    if p.is_file() and _bare_name(p.name).endswith(LOG_SUFFIXES)
                )
                out += [(p, p.relative_to(path).as_posix()) for p in sorted(found)]
            elif path.is_file():
                out.append((path, path.name))
            else:
                raise LogFileError(f"{path}: no such log file or directory")
        return out

    def read(self, start: datetime, end: datetime) -> Iterator[LogRecord | Quarantined]:
        """Every line with start <= time < end, file by file, and what could not be read."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError(f"read({start}, {end}): start and end must be timezone-aware")
        lo, hi = _ceil_ms(start), _ceil_ms(end)
        for file, name in self.files():
            service = self._file_service(file)
            try:
                layout = self.json_format if _is_json(file) else self.layout_of(file)
                with open_log_file(file) as handle:
                    if isinstance(layout, JsonLinesFormat):
                        yield from self._json_records(handle, name, service, lo, hi, layout)
                    elif isinstance(layout, str):
                        yield from _unplaceable(handle, name, service, layout)
                    else:
                        yield from self._text_records(handle, name, service, lo, hi, layout)
            except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a broken gzip
                yield Quarantined(name, f"cannot read {file}: {exc}", "", service)

    def layout_of(self, file: Path) -> LogFormat | JsonLinesFormat | str:
        """How a plain file's lines are laid out: the source's format, or (``auto``) what its
        first lines show; a string says why its lines cannot be placed in time."""
        if self.format is not None:
            return self.format
        detected = self._layouts.get(file)
        if detected is None:
            with open_log_file(file) as handle:
                detected = self._layouts[file] = detect_format(handle)
            log.info("%s: %s", file, detected.describe())
        if isinstance(detected.format, JsonLinesFormat):
            return detected.format
        if detected.format is None:
            return f"{detected.describe()}; set the catalog's logs.format for {file.name}"
        if not detected.format.time_fields:
            return _timeless(detected.format)
        return detected.format

    def _file_service(self, file: Path) -> str:
        if self.service_from == "parent":
            return file.parent.name
        return _bare_name(file.name).split(".", 1)[0]

    def _text_records(
        self,
        handle: IO[str],
        name: str,
        file_service: str,
        lo: int,
        hi: int,
        fmt: LogFormat,
    ) -> Iterator[LogRecord | Quarantined]:
        fullmatch, time_of = fmt.regex.fullmatch, fmt.timestamp_of_match
        skip = {*fmt.time_fields, "Content", "Level"}
        has_level = "Level" in fmt.fields
        by_field = self.service_from if self.service_from in fmt.fields else None
        top = _Top(name, file_service)
        prev_at: int | None = None
        prev: LogRecord | None = None  # the last placed record, when inside [lo, hi)
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\r\n")
            if not line or line.isspace():
                continue
            m = fullmatch(line)
            at = time_of(m, lo) if m else None
            if at is None:
                if prev_at is None:
                    yield from top.hold(number, line, _unplaced_reason(fmt, m))
                elif prev is not None:
                    yield LogRecord(
                        prev.timestamp_ms, prev.service, prev.level, line, f"{name}:{number}",
                        {UNMATCHED: "1"},
                    )  # fmt: skip
                continue
            if prev_at is None and top.held:
                yield from top.release(lo <= at < hi)
            prev_at = at
            if not lo <= at < hi:
                prev = None
                continue
            service = file_service
            if by_field:
                service = (m.group(by_field) or "").split(".", 1)[0] or file_service
            prev = LogRecord(
                at,
                service,
                normalise_level(m.group("Level")) if has_level else "",
                m.group("Content") or "",
                f"{name}:{number}",
                {k: v for k, v in m.groupdict().items() if v and k not in skip},
            )
            yield prev
        yield from top.release(True)

    def _json_records(
        self,
        handle: IO[str],
        name: str,
        file_service: str,
        lo: int,
        hi: int,
        jf: JsonLinesFormat,
    ) -> Iterator[LogRecord | Quarantined]:
        scan = jf.scan_timestamp_ms
        top = _Top(name, file_service)
        prev_at: int | None = None
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line:
                continue
            at = scan(line, lo)  # most lines are placed (and skipped) without decoding
            if at is not None:
                if prev_at is None and top.held:
                    yield from top.release(lo <= at < hi)
                prev_at = at
                if not lo <= at < hi:
                    continue
            doc, problem = _json_object(line)
            if doc is not None and (decoded := jf.timestamp_ms(doc, lo)) is None:
                value = lookup(doc, jf.timestamp)
                problem = f"no {jf.timestamp!r} field" if value is None else f"time {jf.timestamp!r} = {value!r} not understood"  # fmt: skip
            if problem:
                service = jf.text(doc, jf.service) if doc is not None else ""
                if at is not None or (prev_at is not None and lo <= prev_at < hi):
                    yield top.quarantined(number, line, problem, service)
                elif prev_at is None:
                    yield from top.hold(number, line, problem, service)
                continue
            if at is None:
                if prev_at is None and top.held:
                    yield from top.release(lo <= decoded < hi)
                prev_at = decoded
            if not lo <= decoded < hi:
                continue
            service = jf.text(doc, jf.service) or file_service
            message = lookup(doc, jf.message)
            if message is None:
                yield top.quarantined(number, line, f"no {jf.message!r} field", service)
                continue
            yield LogRecord(
                decoded,
                service,
                normalise_level(jf.text(doc, jf.level)),
                message if isinstance(message, str) else jf.text(doc, jf.message),
                f"{name}:{number}",
                jf.other_fields(doc),
            )
        yield from top.release(True)


def _json_object(line: str) -> tuple[dict[str, Any] | None, str]:
    """The decoded object, or None and why not."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(doc, dict):
        return None, f"not a JSON object but {type(doc).__name__}"
    return doc, ""


class _Top:
    """Lines that cannot be placed in time, held at the top of a file until the first line
    that can be says whether they belong to this interval (see the module docstring)."""

    __slots__ = ("name", "service", "held", "loud")

    def __init__(self, name: str, service: str) -> None:
        self.name, self.service = name, service
        self.held: list[Quarantined] = []
        self.loud = False  # too many: report them as they come

    def quarantined(self, number: int, line: str, reason: str, service: str = "") -> Quarantined:
        return Quarantined(
            f"{self.name}:{number}", reason, line[:RAW_CHARS], service or self.service
        )

    def hold(self, number: int, line: str, reason: str, service: str = "") -> Iterator[Quarantined]:
        q = self.quarantined(number, line, reason, service)
        if self.loud:
            yield q
            return
        self.held.append(q)
        if len(self.held) > PENDING_MAX:
            self.loud = True
            yield from self.release(True)

    def release(self, report: bool) -> list[Quarantined]:
        """The held lines when ``report``, none otherwise; either way they are no longer held."""
        held, self.held = self.held, []
        return held if report else []


def _ceil_ms(at: datetime) -> int:
    """Epoch ms of the first millisecond at or after ``at``."""
    return -((datetime(1970, 1, 1, tzinfo=UTC) - at) // timedelta(milliseconds=1))
