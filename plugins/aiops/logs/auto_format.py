"""`--format auto`: recognise a log file's line header from a sample of its lines.

Writing a Loghub format string for every file is the main chore of reading logs from disk, and
most files use one of a dozen layouts: syslog, log4j/logback/Python logging, Apache and nginx,
klog, Windows CBS, JSON lines. :data:`CANDIDATES` lists those layouts as data, one row per
layout, each a Loghub format string (see :mod:`aiops.logs.formats`) plus the shape each field
must have. :func:`detect_format` tries every row on the first :data:`SAMPLE_LINES` non-blank
lines and keeps the one that matches the most of them.

Why shapes: a Loghub field is lazy ``.*?``, so ``<Date> <Time> <Level> <Component>: <Content>``
matches nearly any line with a colon in it and cannot tell layouts apart. Here ``<Level>`` must
be a level word, ``<Pid>`` digits, ``<Timestamp>`` a date and a time, and so on; the chosen
layout is a :class:`ShapedFormat`, a :class:`~aiops.logs.formats.LogFormat` whose regex carries
those shapes, so detection and reading use the same expression and timestamps come out through
the usual ``timestamp_ms`` / ``timestamp_of_match``.

Choice rules, in order:

1. A row's score is the share of the sample's *record lines* it matches. Lines that start with
   whitespace (stack-trace frames, wrapped text), ``Caused by:`` or ``Traceback`` continue the
   record above (:data:`CONTINUATION`) and are left out of the share, so a Java or Python log
   with stack traces is still recognised. An exception's own first line (``java.io.IOException:
   ...``) does count, and is what such a log spends of its ``1 - MIN_SHARE``.
2. Rows within :data:`TIE_MARGIN` of the best score compete on specificity: the mean number of
   header fields they fill per matched line (the catch-all fields of :data:`LOOSE_FIELDS` do not
   count). ``<Timestamp> <Level> <Content>`` matches every log4j line too; the row that also
   names the ``<Component>`` says more and wins. Remaining ties go to the earlier row.
3. The winner must match at least :data:`MIN_SHARE` of the record lines, else the file is
   "plain": each whole line is the message, and the report names the closest row.

A line the chosen layout does not match is never dropped: :func:`split_message` gives it no
fields and the whole line as its message, and the caller counts it as unmatched.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from itertools import islice
from typing import Any

from aiops.logs.formats import JsonLinesFormat, LogFormat, lookup

#: Non-blank lines looked at.
SAMPLE_LINES = 200
#: Share of the sample's record lines the chosen layout must match; below it, "plain".
MIN_SHARE = 0.9
#: Rows this close to the best share count as tied and are told apart by specificity.
TIE_MARGIN = 0.02
#: Catch-all fields (an optional prefix, a run of header words): they say nothing about the
#: layout, so they do not make a row more specific.
LOOSE_FIELDS = frozenset({"Source", "Tag", "Header"})
#: A line that continues the record above it rather than starting one.
CONTINUATION = re.compile(r"\s|Caused by:|Traceback \(most recent call last\)")
#: The format name that asks for this module (the CLI's default, the file source's option).
AUTO = "auto"
PLAIN = "plain"
JSON = "json"

# -- field shapes ------------------------------------------------------------------------------

LEVEL_WORDS = (
    "TRACE", "DEBUG", "FINEST", "FINER", "FINE", "CONFIG", "INFORMATION", "INFO", "NOTICE",
    "WARNING", "WARN", "ERROR", "ERR", "SEVERE", "CRITICAL", "CRIT", "ALERT", "FATAL",
    "EMERGENCY", "EMERG", "PANIC",
)  # fmt: skip
#: A level word in any case (``INFO``, ``Info``, ``info``; Apache's ``trace1``..``trace8``).
LEVEL = rf"(?i:TRACE[1-8]|{'|'.join(LEVEL_WORDS)})"
#: A level word in capitals, for layouts where it is the only anchor (prose says "error" too).
LEVEL_UPPER = "|".join(LEVEL_WORDS)
#: A level word or Android/klog's one letter.
LEVEL_OR_LETTER = rf"{LEVEL}|[VDIWEFA]"
DATE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{2}[-/.]\d{2}[-/.]\d{2}|\d{2}-\d{2}|\d{6}"
CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?|\d{6}"
ZONE = r"Z|[+-]\d{2}(?::?\d{2})?"
#: A date and a time as one field: ``2026-10-31 14:00:03,123``, ``2026-10-31T14:00:03.123Z``,
#: ``2026/10/31 14:00:03``, ``17/06/09 20:10:40``, ``03-17 16:13:38.811``, ``081109 203615``.
STAMP = rf"(?:{DATE})(?:T|\s+)(?:{CLOCK})(?:{ZONE})?"
#: Epoch seconds (with a fraction) or milliseconds.
EPOCH = r"\d{10}(?:\.\d+)?|\d{13}"
#: ``Sat Oct 31 14:00:03.123 2026`` (ctime, Apache's error log).
CTIME = r"[A-Za-z]{3}\s+[A-Za-z]{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\d{4}"
#: ``31/Oct/2026:14:00:03 +0000`` (Common Log Format).
CLF_TIME = r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\s+[+-]\d{4})?"
#: A logger name: dotted, or with ``_`` or ``$``; a message's first word rarely looks like one.
LOGGER = r"[\w$-]*[.$_][\w$.-]*"

#: A host name: any token but a level word (``2026-10-31T14:00:03Z INFO app: x`` has no host).
HOST = rf"(?!(?:{LEVEL})(?!\S))\S+"

#: The shape of a field wherever it appears, unless a row says otherwise. Fields not listed
#: keep the Loghub ``.*?``.
FIELD_SHAPES: dict[str, str] = {
    "Timestamp": STAMP,
    "Level": LEVEL,
    "Pid": r"\d+",
    "Tid": r"\d+",
    "Thread": r"[^\]]*",
    "Component": r"\S+?",
    "Context": r"[^\]]*",
    "Source": r"\S+",
    "Tag": r"\S+",
    "Header": r"\S+(?:\s+\S+){0,9}?",
    "Host": HOST,
    "Month": r"[A-Za-z]{3}",
    "Day": r"\d{1,2}",
    "Time": r"\d{2}:\d{2}:\d{2}(?:\.\d+)?",
    "Year": r"\d{4}",
    "Priority": r"\d{1,3}",
}


@dataclass(frozen=True)
class Candidate:
    """One header layout: a Loghub format string and the shapes that differ from the defaults."""

    name: str
    layout: str
    shapes: Mapping[str, str] = field(default_factory=dict)
    seen_in: str = ""  # who writes lines like this, for the reader of this table
    #: Also try the layout after a ``<Source>`` token (a file or host name, as concatenated or
    #: shipped logs put before each line).
    sourced: bool = False

    def layouts(self) -> tuple[str, ...]:
        """The layout, then the layout after a source token when `sourced`."""
        return (self.layout, f"<Source> {self.layout}") if self.sourced else (self.layout,)

    def compile(self, layout: str, tz: str | tzinfo = UTC) -> ShapedFormat:
        return ShapedFormat(layout, {**FIELD_SHAPES, **self.shapes}, tz=tz)


def dated(name: str, body: str, seen_in: str, **shapes: str) -> Candidate:
    """A row of the date-time family: ``<Timestamp>`` then ``body``, maybe after a source."""
    return Candidate(name, f"<Timestamp>{body}", shapes, seen_in, sourced=True)


#: The layouts tried, most canonical first (the earlier row wins a full tie).
CANDIDATES: tuple[Candidate, ...] = (
    # date time [pid [tid]] level component: message, and its relatives
    dated("log4j-thread", r" <Level> \[<Thread>\] <Component>: <Content>",
          "log4j %d %p [%t] %c: %m"),
    dated("log4j", " <Level> <Component>: <Content>",
          "log4j %d %p %c: %m, Python %(asctime)s %(levelname)s %(name)s: %(message)s"),
    dated("pid-level-component", " <Pid> <Level> <Component>: <Content>",
          "a process id before the level; Python with %(process)d"),
    dated("pid-tid-level-component", " <Pid> <Tid> <Level> <Component>: <Content>",
          "Android logcat -v threadtime", Level=LEVEL_OR_LETTER),
    dated("pid-level-logger-context", r" <Pid> <Level> <Component> \[<Context>\] <Content>",
          "oslo.log: pid level logger [request context] message"),
    dated("pid-level-logger", " <Pid> <Level> <Component> <Content>",
          "pid level logger message, without a colon", Component=LOGGER),
    dated("pid-level", " <Pid> <Level> <Content>", "pid level message"),
    dated("logback", r" \[<Thread>\] <Level> <Component> - <Content>",
          "logback's default %d [%thread] %-5level %logger - %msg"),
    dated("spring-boot", r" <Level> <Pid> --- \[\s*<Thread>\] <Component>\s*: <Content>",
          "Spring Boot's default layout"),
    dated("python-dash", " - <Component> - <Level> - <Content>",
          "Python %(asctime)s - %(name)s - %(levelname)s - %(message)s"),
    dated("bracket-level-component", r" \[<Level>\] <Component>: <Content>",
          "date time [LEVEL] logger: message"),
    dated("bracket-level", r" \[<Level>\] <Content>", "date time [LEVEL] message"),
    dated("level-message", " <Level> <Content>",
          "Python %(asctime)s %(levelname)s %(message)s, many Go loggers"),
    dated("windows-cbs", ", <Level> <Component> <Content>",
          "Windows CBS.log: date time, Level  Component  message"),
    dated("nginx-error", r" \[<Level>\] <Pid>#<Tid>: (\*<Connection> )?<Content>",
          "nginx error.log", Connection=r"\d+"),
    # syslog
    Candidate("syslog",
              r"(<<Priority>>)?<Month> <Day> <Time>( <Year>)? <Host> <Component>(\[<Pid>\])?: "
              r"<Content>", {"Component": r"[^\s\[\]:]+"}, "RFC 3164, /var/log/messages"),
    Candidate("syslog-iso", r"<Timestamp> <Host> <Component>(\[<Pid>\])?: <Content>",
              {"Component": r"[^\s\[\]:]+"}, "rsyslog with RFC 3339 stamps"),
    Candidate("rfc5424",
              r"(<<Priority>>)?1 <Timestamp> <Host> <App> <ProcId> <MsgId> <StructuredData>"
              r"( <Content>)?",
              {"Timestamp": rf"-|{STAMP}", "App": r"\S+", "ProcId": r"\S+", "MsgId": r"\S+",
               "StructuredData": r'-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+'},
              "RFC 5424 syslog"),
    # web servers
    Candidate("access-log", r"<Client> <Ident> <User> \[<Timestamp>\] <Content>",
              {"Client": r"\S+", "Ident": r"\S+", "User": r"\S+", "Timestamp": CLF_TIME,
               "Content": r'"(?:[^"\\]|\\.)*"\s+\d{3}\s+(?:\d+|-)(?:\s.*)?'},
              "Apache/nginx common and combined log formats"),
    Candidate("apache-error",
              r"\[<Timestamp>\] \[(<Module>:)?<Level>\]( \[pid <Pid>(:tid <Tid>)?\])? <Content>",
              {"Timestamp": CTIME, "Module": r"[\w-]+"}, "Apache httpd error_log 2.2 and 2.4"),
    # others
    Candidate("klog", r"<Level><Date> <Time> <Thread> <File>\] <Content>",
              {"Level": "[IWEF]", "Date": r"\d{4}", "Thread": r"\d+", "File": r"[^\s\]]+:\d+"},
              "Kubernetes klog, glog"),
    Candidate("monolog", r"\[<Timestamp>\] <Component>\.<Level>: <Content>",
              {"Component": r"[\w-]+"}, "PHP Monolog, Laravel"),
    Candidate("bracket-time", r"\[<Timestamp>\] <Component> - <Content>",
              {"Timestamp": r"[^\]]*\d{1,2}:\d{2}:\d{2}[^\]]*", "Component": r"\S.*?"},
              "[time] program - message (Proxifier, Python with a dash)"),
    Candidate("python-basic", r"<Level>:<Component>:<Content>",
              {"Level": LEVEL_UPPER, "Component": r"[^\s:]*"}, "Python logging.basicConfig()"),
    # the last resort: a time near the start, some header words, then a level word
    Candidate("level-anchored", r"(<Tag> )??<Timestamp> (<Header> )??<Level> <Content>",
              {"Timestamp": rf"{STAMP}|{EPOCH}", "Level": LEVEL_UPPER},
              "tag, time, header words, LEVEL, message (BlueGene RAS and custom layouts)"),
)  # fmt: skip

#: JSON keys tried for each role, most common first.
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "message": ("message", "msg", "log", "@message", "event", "text"),
    "level": ("level", "severity", "levelname", "log.level", "lvl"),
    "timestamp": ("@timestamp", "timestamp", "time", "ts", "@t"),
    "service": ("service", "service.name", "logger", "logger_name", "name"),
}


class ShapedFormat(LogFormat):
    """A :class:`LogFormat` whose fields must have a shape (``<Pid>`` digits, ...).

    ``shapes`` maps field names to regular expressions; names the layout lacks are ignored,
    fields without a shape keep the Loghub ``.*?``.

    ``format`` is the plain Loghub string, which reads the same lines a little more loosely;
    ``regex`` carries the shapes, so anything that reads with ``regex`` and
    ``timestamp_of_match`` (the file source, the CLI) reads exactly what detection matched.
    """

    __slots__ = ("shapes",)

    def __init__(self, layout: str, shapes: Mapping[str, str], *, tz: str | tzinfo = UTC) -> None:
        super().__init__(layout, tz=tz)
        self.shapes = {f: shapes[f] for f in self.fields if f in shapes}
        pattern = self.regex.pattern
        for name, shape in self.shapes.items():
            lazy = f"(?P<{name}>.*)" if name == "Content" else f"(?P<{name}>.*?)"
            pattern = pattern.replace(lazy, f"(?P<{name}>(?:{shape}))")
        self.regex = re.compile(pattern)

    def __repr__(self) -> str:
        return f"ShapedFormat({self.format!r})"


@dataclass(frozen=True)
class Detected:
    """What :func:`detect_format` chose, and how well it fit the sample."""

    name: str  # a Candidate's name, "json" or "plain"
    format: LogFormat | JsonLinesFormat | None  # None: plain, each whole line is the message
    matched: float  # share of the sample's record lines the format matched
    sample: int  # non-blank lines looked at
    closest: tuple[str, float] | None = None  # plain only: the best row and its share

    @property
    def json(self) -> bool:
        return isinstance(self.format, JsonLinesFormat)

    @property
    def layout(self) -> str:
        """The Loghub format string ("" for JSON lines and plain)."""
        return self.format.format if isinstance(self.format, LogFormat) else ""

    def describe(self) -> str:
        """One line for the CLI: what was chosen and why."""
        share = f"{self.matched:.0%} of {self.sample} sample lines"
        if isinstance(self.format, LogFormat):
            return f'log format: {self.name} "{self.format.format}" (matched {share})'
        if isinstance(self.format, JsonLinesFormat):
            jf = self.format
            keys = f"message={jf.message!r} level={jf.level!r} time={jf.timestamp!r} "
            return f"log format: json lines, {keys}service={jf.service!r} (matched {share})"
        if self.sample == 0:
            return "log format: plain (no non-blank lines to look at): each line is the message"
        closest = f"; closest: {self.closest[0]} at {self.closest[1]:.0%}" if self.closest else ""
        return (
            f"log format: plain, each whole line is the message (no known layout matched "
            f"{MIN_SHARE:.0%} of {self.sample} sample lines{closest})"
        )


@dataclass(frozen=True)
class _Score:
    name: str
    format: LogFormat | JsonLinesFormat
    share: float
    specificity: float
    order: int


def detect_format(
    lines: Iterable[str], sample: int = SAMPLE_LINES, *, tz: str | tzinfo = UTC
) -> Detected:
    """The header layout of ``lines``, judged on the first ``sample`` non-blank ones.

    Reads no more of ``lines`` than that, so a file handle can be passed and reopened after.
    ``tz`` is the zone of times written without one (see :mod:`aiops.logs.formats`).
    """
    picked = [ln.rstrip("\r\n") for ln in islice((ln for ln in lines if ln.strip()), sample)]
    records = [ln for ln in picked if not CONTINUATION.match(ln)] or picked
    if not records:
        return Detected(PLAIN, None, 0.0, 0)
    rows = [(c, layout) for c in CANDIDATES for layout in c.layouts()]
    scores = [_score_text(c, layout, i, records, tz) for i, (c, layout) in enumerate(rows)]
    scores.append(_score_json(records, len(rows), tz))
    best = max(s.share for s in scores)
    tied = [s for s in scores if s.share >= max(best - TIE_MARGIN, MIN_SHARE)]
    if not tied:
        top = max(scores, key=lambda s: (s.share, -s.order))
        return Detected(PLAIN, None, 0.0, len(picked), (top.name, top.share))
    chosen = max(tied, key=lambda s: (s.specificity, -s.order))
    return Detected(chosen.name, chosen.format, chosen.share, len(picked))


def split_message(detected: Detected, line: str) -> tuple[dict[str, str] | None, str]:
    """``(fields, message)`` of one line: fields None when the layout does not match it, and
    then the message is the whole line (it is counted as unmatched, never dropped)."""
    line = line.rstrip("\r\n")
    fmt = detected.format
    if isinstance(fmt, LogFormat):
        fields = fmt.match(line)
        return (fields, fields["Content"]) if fields is not None else (None, line)
    if isinstance(fmt, JsonLinesFormat):
        doc = _json_object(line)
        if doc is None or lookup(doc, fmt.message) is None:
            return None, line
        fields = {
            "Timestamp": fmt.text(doc, fmt.timestamp),
            "Service": fmt.text(doc, fmt.service),
            "Level": fmt.text(doc, fmt.level),
            **fmt.other_fields(doc),
        }
        return fields, fmt.text(doc, fmt.message)
    return None, line


def _score_text(
    candidate: Candidate, layout: str, order: int, lines: list[str], tz: str | tzinfo
) -> _Score:
    fmt = candidate.compile(layout, tz)
    fullmatch = fmt.regex.fullmatch
    counted = [f for f in fmt.fields if f != "Content" and f not in LOOSE_FIELDS]
    matched = filled = 0
    for line in lines:
        if m := fullmatch(line):
            matched += 1
            groups = m.groupdict()
            filled += sum(1 for f in counted if groups[f])
    return _Score(candidate.name, fmt, matched / len(lines), filled / max(matched, 1), order)


def _score_json(lines: list[str], order: int, tz: str | tzinfo) -> _Score:
    docs = [d for d in map(_json_object, lines) if d is not None]
    keys: dict[str, str] = {}
    for role, names in JSON_KEYS.items():
        seen = Counter(n for d in docs for n in names if lookup(d, n) is not None)
        keys[role] = seen.most_common(1)[0][0] if seen else names[0]
    fmt = JsonLinesFormat(tz=tz, **keys)
    with_message = [d for d in docs if isinstance(lookup(d, fmt.message), str)]
    found = sum(1 for role, n in keys.items() if role != "message" and _present(docs, n))
    return _Score(JSON, fmt, len(with_message) / len(lines), float(found), order)


def _present(docs: list[dict[str, Any]], name: str) -> bool:
    return any(lookup(d, name) is not None for d in docs)


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
