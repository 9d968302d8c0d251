"""How a log line is laid out: Loghub format strings, timestamps, and JSON lines.

A Loghub format string names the parts of a line, ``<Date> <Time> <Level> <Component>:
<Content>``: each ``<Name>`` is a field, ``<Content>`` is the message to mine, and the text
between fields is a regular expression in which a run of spaces matches any run of whitespace,
so ``<Month> <Date> <Time> <Host> <Component>(\\[<PID>\\])?: <Content>`` keeps its optional
``[PID]``. Fields match lazily (``.*?``, as in Loghub: Apache's ``\\[<Time>\\]`` holds spaces)
and ``<Content>`` takes the rest; the whole line must match.

The time of a line comes from its fields: a single ``<Timestamp>`` (or ``<Datetime>``), else
``<Month> <Date|Day> <Time> [<Year>]`` (syslog), else ``<Date> <Time>``, else ``<Time>``.
:class:`TimestampReader` reads the usual shapes into epoch milliseconds.

Times written without a zone are taken as UTC unless a ``tz`` says otherwise: servers and
containers log in UTC by default, the demo world does, and the pipeline's intervals are UTC.
Guessing from the worker's local clock would make a backfill's result depend on the machine
it ran on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiops.logs.records import normalise_level

#: The demo world's layout, and a common one (Java's log4j, Python's logging defaults).
DEFAULT_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"
#: Fields that make up a line's time, in the order they are joined (see `time_fields`).
SINGLE_TIME_FIELDS = ("Timestamp", "Datetime", "DateTime")
MINUTE_CACHE = 1 << 14  # distinct minutes remembered (11 days of a sorted file)
HALF_YEAR_MS = 183 * 86_400_000

_FIELD = re.compile(r"(?<!\?P)<([A-Za-z_][A-Za-z0-9_]*)>")
_SPACES = re.compile(r"\\? +")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_MONTH = rf"({'|'.join(_MONTH_NAMES)})[a-z]*\.?"
_ZONE = r"(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)"
_ISO = re.compile(
    rf"(\d{{4}})[-/](\d{{1,2}})[-/](\d{{1,2}})(?:t|\s+)(\d{{1,2}}):(\d{{2}})"
    rf"(?::(\d{{2}})(?:[.,](\d+))?)?\s*{_ZONE}?",
    re.IGNORECASE,
)
_SYSLOG = re.compile(  # Oct 31 14:00:03, Sat Oct 31 14:00:03 2026 (ctime, Apache error log)
    rf"(?:[a-z]{{3}}[a-z]*,?\s+)??{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{1,2}}):(\d{{2}}):(\d{{2}})"
    rf"(?:[.,](\d+))?(?:\s+(\d{{4}}))?",
    re.IGNORECASE,
)
_CLF = re.compile(  # 31/Oct/2026:14:00:03 +0000 (Apache/nginx access logs)
    rf"(\d{{1,2}})/{_MONTH}/(\d{{4}}):(\d{{2}}):(\d{{2}}):(\d{{2}})(?:\s*{_ZONE})?",
    re.IGNORECASE,
)
_YYMMDD = re.compile(r"(\d{2})(\d{2})(\d{2})\s+(\d{2})(\d{2})(\d{2})")  # 081109 203615 (HDFS)
_FAST_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}[,.]\d{3}[Zz]?")
_JSON_SCALAR = re.compile(r'\s*(?:"([^"\\]*)"|(\d+(?:\.\d+)?)[\s,}])')
_EPOCH = re.compile(r"(\d{9,19})(?:\.(\d+))?")


class LogFormatError(ValueError):
    """A log format string that cannot be used; the message names the format and the problem."""


def as_tz(tz: str | tzinfo) -> tzinfo:
    """`"UTC"`, an IANA name (`"Europe/Berlin"`) or a tzinfo -> a tzinfo."""
    if isinstance(tz, tzinfo):
        return tz
    if tz.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LogFormatError(f"time zone {tz!r}: not a known IANA zone name") from exc


class TimestampReader:
    """Reads a timestamp string into epoch milliseconds (UTC), or None when it is not one.

    Shapes: ``2026-10-31 14:00:03,123`` / ``.123`` / ISO 8601 with ``T`` and ``Z`` or an
    offset; ``Oct 31 14:00:03`` (syslog, no year: the year that puts it nearest ``reference``);
    ``Sat Oct 31 14:00:03 2026``; ``31/Oct/2026:14:00:03 +0000``; ``081109 203615`` (Loghub's
    HDFS, ``yyMMdd HHmmss``); epoch seconds, milliseconds, microseconds or nanoseconds.

    Converting a calendar minute to epoch time is the slow part, so each minute is computed once
    and remembered; the common ``YYYY-MM-DD HH:MM:SS,mmm`` shape is read by slicing, without a
    regular expression.
    """

    __slots__ = ("tz", "_minutes", "_fast", "_fast_utc", "_reference")

    def __init__(self, tz: str | tzinfo = UTC) -> None:
        self.tz = as_tz(tz)
        self._minutes: dict[tuple[int, ...], int | None] = {}
        # "2026-10-31 14:00" -> epoch ms of that minute, for stamps of exactly the common
        # shape ("...:SS,mmm"; `_fast_utc` for "...:SS.mmmZ"); filled by the full parse
        self._fast: dict[str, int] = {}
        self._fast_utc: dict[str, int] = {}
        self._reference = (-1, 0)  # (epoch ms, its year), for syslog stamps

    def __call__(self, text: str, reference: datetime | int | None = None) -> int | None:
        """Epoch ms of ``text``; ``reference`` (a datetime or epoch ms) places year-less stamps."""
        n = len(text)
        if n == 23 or n == 24:
            base = (self._fast if n == 23 else self._fast_utc).get(text[:16])
            if base is not None and text[16] == ":" and text[19] in ",." and text[17:19].isdigit():
                millis = text[20:23]
                if millis.isdigit() and (n == 23 or text[23] in "Zz"):
                    return base + int(text[17:19]) * 1000 + int(millis)
        text = text.strip()
        if m := _ISO.fullmatch(text):
            y, mo, d, h, mi, s, frac, zone = m.groups()
            offset = _offset(zone)
            at = self._at(int(y), int(mo), int(d), int(h), int(mi), s, frac, offset)
            if at is not None and len(text) in (23, 24) and _FAST_SHAPE.fullmatch(text):
                self._remember_fast(text, at - int(text[17:19]) * 1000 - int(text[20:23]))
            return at
        if m := _EPOCH.fullmatch(text):
            return _epoch_ms(m.group(1), m.group(2))
        if m := _SYSLOG.fullmatch(text):
            mon, d, h, mi, s, frac, year = m.groups()
            mo, day, hour, minute = _MONTHS[mon[:3].lower()], int(d), int(h), int(mi)
            if year:
                return self._at(int(year), mo, day, hour, minute, s, frac, None)
            return self._nearest_year(mo, day, hour, minute, s, frac, reference)
        if m := _YYMMDD.fullmatch(text):
            yy, mo, d, h, mi, s = (int(g) for g in m.groups())
            year = 2000 + yy if yy < 70 else 1900 + yy  # POSIX %y pivot
            return self._at(year, mo, d, h, mi, str(s), None, None)
        if m := _CLF.fullmatch(text):
            d, mon, y, h, mi, s, zone = m.groups()
            mo = _MONTHS[mon[:3].lower()]
            return self._at(int(y), mo, int(d), int(h), int(mi), s, None, _offset(zone))
        return None

    def _remember_fast(self, text: str, minute_ms: int) -> None:
        """Remember the minute of a stamp shaped exactly ``YYYY-MM-DD[ T]HH:MM:SS[,.]mmm[Z]``."""
        cache = self._fast if len(text) == 23 else self._fast_utc
        if len(cache) >= MINUTE_CACHE:
            cache.clear()
        cache[text[:16]] = minute_ms

    def _at(
        self,
        y: int,
        mo: int,
        d: int,
        h: int,
        mi: int,
        s: str | None,
        frac: str | None,
        offset: int | None,
    ) -> int | None:
        key = (y, mo, d, h, mi, offset)
        base = self._minutes.get(key, -1)
        if base == -1:
            base = self._remember(key, self._minute(y, mo, d, h, mi, offset))
        sec = int(s) if s else 0
        if base is None or sec > 60:
            return None
        return base + sec * 1000 + (int((frac + "00")[:3]) if frac else 0)

    def _nearest_year(
        self,
        mo: int,
        d: int,
        h: int,
        mi: int,
        s: str | None,
        frac: str | None,
        reference: datetime | int | None,
    ) -> int | None:
        if reference is None:
            return None  # a syslog stamp cannot be placed without knowing roughly when
        ref = reference if isinstance(reference, int) else _epoch_ms_of(reference)
        if ref != self._reference[0]:
            self._reference = (ref, datetime.fromtimestamp(ref / 1000, UTC).year)
        year = self._reference[1]
        at = self._at(year, mo, d, h, mi, s, frac, None)
        if at is not None and abs(at - ref) <= HALF_YEAR_MS:
            return at
        near = [self._at(y, mo, d, h, mi, s, frac, None) for y in (year - 1, year + 1)]
        found = [t for t in (at, *near) if t is not None]
        return min(found, key=lambda t: abs(t - ref)) if found else None

    def _minute(self, y: int, mo: int, d: int, h: int, mi: int, offset: int | None) -> int | None:
        zone = self.tz if offset is None else timezone(timedelta(minutes=offset))
        try:
            return round(datetime(y, mo, d, h, mi, tzinfo=zone).timestamp()) * 1000
        except (ValueError, OverflowError):
            return None

    def _remember(self, key: Any, value: int | None) -> int | None:
        if len(self._minutes) >= MINUTE_CACHE:
            self._minutes.clear()
        self._minutes[key] = value
        return value


def _offset(zone: str | None) -> int | None:
    """Minutes east of UTC for `Z`, `+02:00`, `-0530`, `+01`; None when there is no zone."""
    if not zone:
        return None
    if zone[0] not in "+-":
        return 0  # Z, UTC, GMT
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return -minutes if zone[0] == "-" else minutes


def _epoch_ms(whole: str, frac: str | None) -> int:
    value = int(whole)
    if value < 10**11:  # seconds (until the year 5138)
        return value * 1000 + (int((frac + "00")[:3]) if frac else 0)
    if value < 10**14:
        return value
    return value // 1000 if value < 10**17 else value // 1_000_000


def _epoch_ms_of(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def time_fields(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The fields whose values, joined by a space, make a line's timestamp; () when none."""
    for single in SINGLE_TIME_FIELDS:
        if single in names:
            return (single,)
    if "Month" in names and "Time" in names:
        day = "Day" if "Day" in names else "Date"
        return tuple(f for f in ("Month", day, "Time", "Year") if f in names)
    if "Date" in names and "Time" in names:
        return ("Date", "Time")
    return tuple(f for f in ("Time", "Date") if f in names)[:1]


class LogFormat:
    """A compiled Loghub format string: ``LogFormat.parse("<Date> <Time> ... <Content>")``."""

    __slots__ = ("format", "regex", "fields", "time_fields", "tz", "read_timestamp")

    def __init__(self, format_string: str, *, tz: str | tzinfo = UTC) -> None:
        parts = _FIELD.split(format_string)
        names = parts[1::2]
        if "Content" not in names:
            raise LogFormatError(
                f"log format {format_string!r}: has no <Content> field (the message to mine)"
            )
        for name in names:
            if names.count(name) > 1:
                raise LogFormatError(f"log format {format_string!r}: field <{name}> appears twice")
        pattern = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                pattern += _SPACES.sub(r"\\s+", part)
            else:
                pattern += f"(?P<{part}>.*)" if part == "Content" else f"(?P<{part}>.*?)"
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise LogFormatError(
                f"log format {format_string!r}: not a valid regular expression: {exc}"
            ) from exc
        self.format = format_string
        self.fields: tuple[str, ...] = tuple(names)
        self.time_fields = time_fields(self.fields)
        self.tz = as_tz(tz)
        self.read_timestamp = TimestampReader(self.tz)

    @classmethod
    def parse(cls, format_string: str, *, tz: str | tzinfo = UTC) -> LogFormat:
        return cls(format_string, tz=tz)

    def __repr__(self) -> str:
        return f"LogFormat({self.format!r})"

    def match(self, line: str) -> dict[str, str] | None:
        """The fields of ``line`` (without its line break), or None when it does not match.

        An optional part that did not take part in the match gives ``""``.
        """
        m = self.regex.fullmatch(line.rstrip("\r\n"))
        return m.groupdict("") if m else None

    def timestamp_ms(
        self, fields: Mapping[str, str], reference: datetime | int | None = None
    ) -> int | None:
        """Epoch ms from the time fields, None when there are none or they are not a time.

        ``reference`` (e.g. the interval's start) gives the year to syslog stamps that lack one.
        """
        if not self.time_fields:
            return None
        text = " ".join(fields.get(f) or "" for f in self.time_fields)
        return self.read_timestamp(text, reference)

    def timestamp_of_match(self, m: re.Match[str], reference: datetime | int | None) -> int | None:
        """`timestamp_ms` straight from a match of `regex`, for the hot loop."""
        names = self.time_fields
        if len(names) == 1:
            return self.read_timestamp(m.group(names[0]) or "", reference)
        if not names:
            return None
        try:
            return self.read_timestamp(" ".join(m.group(*names)), reference)
        except TypeError:  # an optional time field that is absent
            return self.read_timestamp(" ".join(g or "" for g in m.group(*names)), reference)

    @staticmethod
    def level(fields: Mapping[str, str]) -> str:
        """The normalised ``<Level>`` ("" when the format has none or it is not a level)."""
        return normalise_level(fields.get("Level"))


def parse_lines(
    lines: Iterator[str] | list[str], fmt: LogFormat | str
) -> Iterator[tuple[int, dict[str, str] | None]]:
    """``(line number from 1, fields or None)`` for every line, matched or not."""
    log_format = fmt if isinstance(fmt, LogFormat) else LogFormat.parse(fmt)
    for number, line in enumerate(lines, 1):
        yield number, log_format.match(line)


# -- JSON lines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonLinesFormat:
    """Which keys of a JSON object hold the time, service, level and message.

    A dotted name (``log.level``) finds a literal dotted key or nested objects, whichever the
    document has. The timestamp may be any shape :class:`TimestampReader` reads, or a number
    (epoch seconds or milliseconds).
    """

    timestamp: str = "@timestamp"
    service: str = "service"
    level: str = "level"
    message: str = "message"
    tz: str | tzinfo = "UTC"
    read_timestamp: TimestampReader = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_timestamp", TimestampReader(self.tz))

    def timestamp_ms(
        self, doc: Mapping[str, Any], reference: datetime | int | None = None
    ) -> int | None:
        value = lookup(doc, self.timestamp)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        if isinstance(value, float):
            value = repr(value)
        return self.read_timestamp(str(value), reference)

    def scan_timestamp_ms(self, line: str, reference: datetime | int | None = None) -> int | None:
        """The time of a JSON line without decoding it, when it can be seen cheaply.

        Reads the value after the first ``"<timestamp>":`` in the text (a string without
        escapes, or a number); None when there is no such key or the value is not a time, and
        the line must be decoded to know.
        """
        needle = f'"{self.timestamp}":'
        i = line.find(needle)
        if i == -1:
            return None
        m = _JSON_SCALAR.match(line, i + len(needle))
        if m is None:
            return None
        return self.read_timestamp(m.group(1) or m.group(2), reference)

    def text(self, doc: Mapping[str, Any], name: str) -> str:
        """The value at ``name`` as text; "" when absent or null."""
        value = lookup(doc, name)
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    def other_fields(self, doc: Mapping[str, Any]) -> dict[str, str]:
        """Every other value as text, nested objects flattened to dotted keys."""
        used = {self.timestamp, self.service, self.level, self.message}
        return {k: v for k, v in _flatten(doc, "") if k not in used}


def lookup(doc: Any, name: str) -> Any:
    """``doc["a.b"]`` if that key exists, else ``doc["a"]["b"]`` (any mix); None when absent."""
    if not isinstance(doc, Mapping):
        return None
    if name in doc:
        return doc[name]
    start = 0
    while (dot := name.find(".", start)) != -1:
        head = name[:dot]
        if head in doc:
            found = lookup(doc[head], name[dot + 1 :])
            if found is not None:
                return found
        start = dot + 1
    return None


def _flatten(doc: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + ".")
        elif isinstance(value, str):
            yield name, value
        elif value is not None:
            yield name, json.dumps(value, separators=(",", ":"))
