"""A real-world two-column CSV made into a clean, regular series, with a report of what was done.

Exports from CloudWatch, Grafana, Prometheus or a spreadsheet carry quirks that a detector
must not see but a person must hear about. :func:`read_regular_series` accepts them, repairs
them by the rules below, and counts every repair in a :class:`SeriesReport`; what it cannot
repair without guessing is a :class:`SeriesCsvError` naming the file and the line.

Rules, in the order they are applied:

1. **Text.** UTF-8, or what a byte-order mark says (a spreadsheet's "CSV UTF-8" or UTF-16
   "Unicode text"); a file that does not decode, or holds NUL bytes, is refused.
2. **Columns.** Line 1 is the header. Columns named ``timestamp`` and ``value`` (any case)
   are used and any other column is ignored (and named in the report); otherwise a header
   with exactly two named columns is read as time, then value. A header that looks like a
   data row, or several columns none named ``timestamp``/``value``, is refused: guessing
   which of ``time,min,max,avg`` is "the" value would score the wrong series. A later line
   equal to the header (two exports pasted together) is skipped and counted.
3. **Times**, normalised to UTC: ISO 8601 (and the other date formats pandas reads) with an
   offset is converted, mixed offsets included; without an offset it is *taken as UTC* and
   the report counts such rows. A plain number is epoch time, told apart by magnitude:
   10^8..10^10 is seconds, 10^11..10^13 milliseconds (both 1973-03-03..2286-11-20 UTC);
   other numbers are read as compact dates (``20140309``) or refused. A time that does not
   parse is an error naming its line: a bad time means a wrong column or a damaged file.
4. **Values.** An empty cell, or ``nan``/``null``/``none``/``na``/``n/a``/``#n/a``/``-``
   (any case), is a missing value: counted, never scored. Text that is not a number, and
   ``inf``, are errors naming the line.
5. **Order.** Rows are sorted by time (stable); the rows found earlier than the row before
   them are counted.
6. **Repeated timestamps** (a double export, a daylight-saving repeat): rows at one instant
   become one. Repeats that add nothing (the same value, or empty) are dropped; differing
   values are averaged. A naive local-time export cannot be unfolded without knowing its
   zone, so an hour repeated at a daylight-saving change is averaged with the hour it
   repeats, and a skipped hour is a gap (rule 8); both are counted in the report.
7. **Step.** The step is the median spacing of the distinct times. Jittered times (a
   scraper's 5 minutes give 299 s and 301 s) make that median a little off, and a grid
   that is off by a second drifts a step every few hundred rows; so the median also counts
   how many steps each spacing spans, a least-squares fit of the times on those counts
   gives a refined length, used when it halves the mean distance of the times to their
   grid (both rounded to a whole second when at least one). Times are moved to the
   nearest step of the grid starting at the first row; times that had to move are
   counted, and times landing on one step are averaged and counted.
8. **Gaps.** Steps of the grid with no value are *missing*: they are counted (as gaps, each
   a run of missing steps, and as steps) and left out of the series, never filled. The
   series holds one row per step that has a value, at the step's time.

The caller gets the series' UTC times and values, and the same times and values as text in
the input's own style (see :class:`RegularSeries`), so a clean file round-trips unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class SeriesCsvError(ValueError):
    """The CSV cannot be made into a series; the message names the file and the line."""


#: Cell texts that mean "no value here" (compared in lower case, stripped).
MISSING_TEXTS = frozenset({"", "nan", "null", "none", "na", "n/a", "#n/a", "-"})

#: Epoch magnitudes: [low, high) of the number, and nanoseconds per unit.
EPOCH_SECONDS = (10**8, 10**10, 10**9)
EPOCH_MILLISECONDS = (10**11, 10**13, 10**6)

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_NS_PER_SECOND = 10**9

# how a time was written; the report counts each, the output text follows the input's
NAIVE, OFFSET, EPOCH_S, EPOCH_MS = "naive", "offset", "epoch_s", "epoch_ms"


@dataclass(frozen=True)
class SeriesReport:
    """What reading one file found and did; every repair is a count here."""

    source: Path
    time_column: str
    value_column: str
    ignored_columns: tuple[str, ...]
    rows: int  # data rows read (blank lines are not rows)
    header_repeats: int  # later lines equal to the header, skipped
    naive_times: int  # without an offset: taken as UTC
    offset_times: int  # with an offset: converted to UTC
    epoch_seconds: int
    epoch_milliseconds: int
    empty_values: int  # rows whose value is missing
    out_of_order: int  # rows earlier than the row before them
    repeats_dropped: int  # rows repeating a timestamp with the same value, or empty
    averaged_timestamps: int  # timestamps with differing values, averaged
    averaged_rows: int  # the rows those averages were made from
    step: pd.Timedelta
    median_spacing: pd.Timedelta  # the step unless the fit of rule 7 placed times better
    moved_to_step: int  # distinct times off the grid, moved to the nearest step
    merged_into_step: int  # distinct times that shared a step with another, averaged
    steps: int  # grid steps from the first to the last value
    steps_with_value: int  # the rows of the series
    gaps: int  # runs of steps without a value
    missing_steps: int  # steps without a value (left out, not filled)

    def lines(self) -> list[str]:
        """A few lines for a person: rows read, columns, times, repeats, order, step, gaps."""
        ignored = (
            f"; ignored: {', '.join(repr(c) for c in self.ignored_columns)}"
            if self.ignored_columns
            else ""
        )
        out = [
            f"{self.source}: {counted(self.rows, 'row')} read (time: column "
            f"{self.time_column!r}, value: column {self.value_column!r}{ignored})"
            + (
                f"; {counted(self.header_repeats, 'repeated header line')} skipped"
                if self.header_repeats
                else ""
            )
        ]
        kinds = [
            (self.naive_times, "without an offset, taken as UTC"),
            (self.offset_times, "with an offset, converted to UTC"),
            (self.epoch_seconds, "in epoch seconds"),
            (self.epoch_milliseconds, "in epoch milliseconds"),
        ]
        out.append("  times: " + "; ".join(f"{n:,} {what}" for n, what in kinds if n))
        if self.empty_values:
            out.append(f"  empty values: {self.empty_values:,}, treated as missing")
        if self.duplicates_combined:
            parts = []
            if self.averaged_timestamps:
                parts.append(
                    f"{counted(self.averaged_timestamps, 'timestamp')} with differing values "
                    f"averaged over {counted(self.averaged_rows, 'row')}"
                )
            if self.repeats_dropped:
                parts.append(
                    f"{counted(self.repeats_dropped, 'identical or empty repeat')} dropped"
                )
            out.append(
                f"  repeated timestamps: {counted(self.duplicates_combined, 'row')} combined "
                f"into the row they repeat ({'; '.join(parts)})"
            )
        if self.out_of_order:
            out.append(
                f"  order: {counted(self.out_of_order, 'row')} out of order; rows sorted by time"
            )
        how = (
            "the median spacing"
            if self.step == self.median_spacing
            else f"median spacing {duration_text(self.median_spacing)}, refined by a fit"
        )
        out.append(
            f"  step: {duration_text(self.step)} ({how}); "
            f"{counted(self.steps, 'step')}, {self.steps_with_value:,} with a value"
        )
        out.append(
            f"  gaps: {counted(self.gaps, 'gap')}, {counted(self.missing_steps, 'missing step')}"
            " left out (not filled)"
        )
        if self.moved_to_step or self.merged_into_step:
            out.append(
                f"  off-step times: {counted(self.moved_to_step, 'time')} moved to the nearest "
                f"step; {counted(self.merged_into_step, 'time')} sharing a step averaged"
            )
        return out

    @property
    def duplicates_combined(self) -> int:
        """Rows that repeated a timestamp and were folded into the row they repeat."""
        return self.repeats_dropped + self.averaged_rows - self.averaged_timestamps


@dataclass(frozen=True)
class RegularSeries:
    """One row per grid step that has a value.

    ``frame`` columns: ``timestamp`` (UTC), ``value`` (float, never NaN), ``time_text`` (the
    step's time in the input's style: naive times as they were, epoch in its unit, anything
    else ISO 8601 in UTC) and ``value_text`` (the value as read, or the average's digits).
    """

    frame: pd.DataFrame
    report: SeriesReport


def read_regular_series(path: Path) -> RegularSeries:
    """The series in CSV ``path``, repaired by the module's rules, with its report."""
    path = Path(path)
    with io.StringIO(read_text(path), newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise SeriesCsvError(f"{path}: line {reader.line_num}: {exc}") from None
        if header is None:
            raise SeriesCsvError(f"{path}: empty file, expected a timestamp,value header")
        ti, vi = _chosen_columns(header, path)
        names = [h.strip() for h in header]
        parsed = _parsed_rows(reader, path, ti, vi, names, len(header))
    ignored = tuple(
        n or f"column {i + 1} (unnamed)" for i, n in enumerate(names) if i not in (ti, vi)
    )
    return _regular(parsed, path, names[ti], names[vi], ignored)


def _chosen_columns(header: list[str], path: Path) -> tuple[int, int]:
    """(time column, value column) by name, else the two named columns in order."""
    lowered = [h.strip().lower() for h in header]
    if "timestamp" in lowered and "value" in lowered:
        return lowered.index("timestamp"), lowered.index("value")
    named = [i for i, h in enumerate(lowered) if h]
    if len(named) >= 2 and time_of(header[named[0]]) and _is_number(header[named[1]]):
        raise SeriesCsvError(
            f"{path}: line 1: header must name timestamp and value columns, got a data row "
            f"{header}; add a header line such as timestamp,value"
        )
    if len(named) == 2:
        return named[0], named[1]
    raise SeriesCsvError(
        f"{path}: line 1: header must name timestamp and value columns, got {header}; "
        "with other names the file must have exactly two columns (time, then value)"
    )


@dataclass(frozen=True)
class _Rows:
    ns: np.ndarray  # int64 nanoseconds since the epoch, UTC
    values: np.ndarray  # float, NaN where missing
    value_texts: list[str]
    lines: np.ndarray
    kinds: dict[str, int]
    header_repeats: int


def _parsed_rows(reader: Any, path: Path, ti: int, vi: int, names: list[str], width: int) -> _Rows:
    """Every data row's time and value; a row that cannot be read is an error with its line."""
    ns: list[int] = []
    values: list[float] = []
    value_texts: list[str] = []
    lines: list[int] = []
    kinds = dict.fromkeys((NAIVE, OFFSET, EPOCH_S, EPOCH_MS), 0)
    header_repeats = 0
    for row in _rows(reader, path):
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if [cell.strip() for cell in row] == names:
            header_repeats += 1
            continue
        if len(row) <= max(ti, vi):
            raise SeriesCsvError(
                f"{path}: line {line}: expected {width} columns, got {len(row)}: {row}"
            )
        text_ts, text_value = row[ti].strip(), row[vi].strip()
        when = time_of(text_ts)
        if when is None:
            raise SeriesCsvError(
                f"{path}: line {line}: unparsable timestamp {text_ts!r} in column {names[ti]!r}"
                " (expected ISO 8601, or epoch seconds or milliseconds)"
            )
        if text_value.lower() in MISSING_TEXTS:
            value = math.nan
        else:
            try:
                value = float(text_value)
            except ValueError:
                raise SeriesCsvError(
                    f"{path}: line {line}: unparsable value {text_value!r} in column {names[vi]!r}"
                ) from None
            if not math.isfinite(value):
                raise SeriesCsvError(
                    f"{path}: line {line}: value must be finite, got {text_value!r}"
                )
        ns.append(when[0])
        kinds[when[1]] += 1
        values.append(value)
        value_texts.append(text_value)
        lines.append(line)
    return _Rows(
        ns=np.asarray(ns, dtype=np.int64),
        values=np.asarray(values, dtype=float),
        value_texts=value_texts,
        lines=np.asarray(lines, dtype=np.int64),
        kinds=kinds,
        header_repeats=header_repeats,
    )


def time_of(text: str) -> tuple[int, str] | None:
    """(UTC nanoseconds, how it was written) of one time cell, or None if it is not a time."""
    text = text.strip()
    if not any(ch.isdigit() for ch in text):  # "now", "today": pandas reads the wall clock
        return None
    if _NUMBER.fullmatch(text):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        for (low, high, ns_per_unit), kind in (
            (EPOCH_SECONDS, EPOCH_S),
            (EPOCH_MILLISECONDS, EPOCH_MS),
        ):
            if low <= abs(number) < high:
                return int(number * ns_per_unit), kind
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT:
        return None
    kind = NAIVE if stamp.tzinfo is None else OFFSET
    if kind == OFFSET:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    try:
        return int(stamp.value), kind
    except OverflowError:  # beyond 2262: not a time a metric series holds
        return None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _regular(
    rows: _Rows, path: Path, time_column: str, value_column: str, ignored: tuple[str, ...]
) -> RegularSeries:
    """Sort, combine repeats, find the step, place rows on its grid, count what was done."""
    if not len(rows.ns):
        raise SeriesCsvError(f"{path}: line 2: no data rows after the header")
    present = ~np.isnan(rows.values)
    if not present.any():
        raise SeriesCsvError(
            f"{path}: line {rows.lines[0]}: no numeric values in column {value_column!r} "
            f"(all {len(rows.ns):,} rows are empty)"
        )
    out_of_order = int(np.count_nonzero(np.diff(rows.ns) < 0))
    frame = pd.DataFrame(
        {"ns": rows.ns, "value": rows.values, "text": rows.value_texts, "line": rows.lines}
    ).sort_values("ns", kind="stable")

    # rule 6: one row per instant
    by_time = frame.groupby("ns", sort=True)
    size = by_time.size()
    distinct = by_time["value"].nunique()
    averaged = distinct > 1
    instants = pd.DataFrame(
        {
            "value": by_time["value"].mean(),
            "text": frame.dropna(subset=["value"]).groupby("ns")["text"].first(),
            "line": by_time["line"].first(),
        }
    )
    instants.loc[averaged, "text"] = [repr(v) for v in instants.loc[averaged, "value"]]
    repeats_dropped = int((size - 1)[~averaged].sum())
    with_value = instants.dropna(subset=["value"])
    if len(with_value) < 2:
        only = with_value.iloc[0]
        raise SeriesCsvError(
            f"{path}: line {int(only['line'])}: a single row with a value; at least two "
            "timestamps with a value are needed to find the step"
        )

    # rule 7: the step and its grid
    times = instants.index.to_numpy(dtype=np.int64)
    median, step = step_of(times)
    origin = times[0]
    k = (times - origin + step // 2) // step
    moved = int(np.count_nonzero(origin + k * step != times))
    instants["k"] = k
    placed = instants.dropna(subset=["value"])
    by_step = placed.groupby("k", sort=True)
    shared = by_step.size() > 1
    steps = pd.DataFrame({"value": by_step["value"].mean(), "text": by_step["text"].first()})
    steps.loc[shared, "text"] = [repr(v) for v in steps.loc[shared, "value"]]

    # rule 8: gaps are counted, not filled
    kv = steps.index.to_numpy(dtype=np.int64)
    jumps = np.diff(kv)
    grid_ns = origin + kv * step
    report = SeriesReport(
        source=path,
        time_column=time_column,
        value_column=value_column,
        ignored_columns=ignored,
        rows=len(rows.ns),
        header_repeats=rows.header_repeats,
        naive_times=rows.kinds[NAIVE],
        offset_times=rows.kinds[OFFSET],
        epoch_seconds=rows.kinds[EPOCH_S],
        epoch_milliseconds=rows.kinds[EPOCH_MS],
        empty_values=int(np.count_nonzero(~present)),
        out_of_order=out_of_order,
        repeats_dropped=repeats_dropped,
        averaged_timestamps=int(averaged.sum()),
        averaged_rows=int(size[averaged].sum()),
        step=pd.Timedelta(step, unit="ns"),
        median_spacing=pd.Timedelta(median, unit="ns"),
        moved_to_step=moved,
        merged_into_step=int(by_step.size()[shared].sum()),
        steps=int(kv[-1] - kv[0] + 1),
        steps_with_value=len(kv),
        gaps=int(np.count_nonzero(jumps > 1)),
        missing_steps=int((jumps - 1).sum()),
    )
    series = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(grid_ns, unit="ns", utc=True),
            "value": steps["value"].to_numpy(dtype=float),
            "time_text": time_texts(grid_ns, rows.kinds),
            "value_text": steps["text"].to_numpy(dtype=object),
        }
    )
    return RegularSeries(frame=series, report=report)


def step_of(times: np.ndarray) -> tuple[int, int]:
    """(median spacing, step) of sorted distinct UTC nanoseconds: the step is the median
    spacing, or its least-squares refinement when that fits the times much better (rule 7)."""
    offsets = times - times[0]
    spacings = np.diff(times)
    median = float(np.median(spacings))
    spans = np.concatenate([[0], np.cumsum(np.maximum(1, np.rint(spacings / median)))])
    fitted = float(np.dot(spans, offsets) / np.dot(spans, spans))

    def whole(step: float) -> int:
        if step >= _NS_PER_SECOND:
            return max(1, round(step / _NS_PER_SECOND)) * _NS_PER_SECOND
        return max(1, round(step))

    def misfit(step: int) -> float:
        return float(np.mean(np.abs(offsets - np.rint(offsets / step) * step)))

    spacing, refined = whole(median), whole(fitted)
    # the fit must halve the misfit: on times scattered at random both grids fit badly,
    # and a step like 599 s would only look precise
    return spacing, refined if misfit(refined) < misfit(spacing) / 2 else spacing


def time_texts(ns: np.ndarray, kinds: dict[str, int]) -> list[str]:
    """UTC nanoseconds written in the input's style: naive as naive, epoch in its unit when
    every row was written so; otherwise ISO 8601 with ``+00:00``."""
    used = {kind for kind, n in kinds.items() if n}
    if used == {EPOCH_S} or used == {EPOCH_MS}:
        per_unit = EPOCH_SECONDS[2] if used == {EPOCH_S} else EPOCH_MILLISECONDS[2]
        return [
            str(n // per_unit) if n % per_unit == 0 else repr(n / per_unit) for n in ns.tolist()
        ]
    stamps = pd.to_datetime(ns, unit="ns", utc=used != {NAIVE})
    return [str(s) for s in stamps.astype(str)]


def counted(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``: a count and its noun, thousands separated."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def duration_text(step: pd.Timedelta) -> str:
    """A step as a person writes it: ``5min``, ``1h``, ``1d``, ``90s``, ``250ms``."""
    ns = int(step.value)
    for unit, size in (
        ("d", 86_400 * 10**9),
        ("h", 3_600 * 10**9),
        ("min", 60 * 10**9),
        ("s", 10**9),
        ("ms", 10**6),
    ):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return str(step)


#: Byte-order marks and the codecs of the text after them, longest first (UTF-32's
#: little-endian mark starts with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def read_text(path: Path) -> str:
    """The text of ``path``: UTF-8, or what its byte-order mark says (a spreadsheet's
    export). A file that is not text (it does not decode, or holds NUL bytes) raises
    :class:`SeriesCsvError` naming the offending byte's offset and line."""
    data = Path(path).read_bytes()
    bom, codec = next(((b, c) for b, c in _BOMS if data.startswith(b)), (b"", "utf-8"))
    try:
        text = data[len(bom) :].decode(codec)
    except UnicodeDecodeError as exc:
        offset = len(bom) + exc.start  # in the file, as `xxd` or `od` show it
        where = f"byte {offset:,}"
        if codec == "utf-8":  # lines are countable in the bytes themselves
            line = data.count(b"\n", 0, offset) + 1
            where += f", line {line}"
        name = codec.upper().removesuffix("-LE").removesuffix("-BE")
        raise SeriesCsvError(
            f"{path}: not {name} text (0x{data[offset]:02x} at {where}); export it as CSV UTF-8"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise SeriesCsvError(
            f"{path}: not a text file (a NUL byte on line {line}); expected a timestamp,value CSV"
        )
    return text


def _rows(reader: Any, path: Path) -> Iterator[list[str]]:
    """The reader's rows, its errors (an unterminated quote) as errors naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SeriesCsvError(f"{path}: line {reader.line_num}: {exc}") from None
        yield row
