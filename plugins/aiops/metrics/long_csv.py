"""A long export (`timestamp,service,signal,value`) made into the wide frame the hourly
scoring reads, with a report of every repair.

What people export for a replay or a post-mortem (a Prometheus API dump, a Grafana table, a
warehouse query) is long and messy in the same ways a single series is
(`aiops.metrics.series_csv`), and the same rules apply, per `service:signal`:

1. **Text** as `series_csv.read_text` reads it (UTF-8 or what a byte-order mark says);
   columns by name (`timestamp`, `service`, `signal`, `value`, any case; others ignored and
   named); blank lines skipped.
2. **Times**: ISO 8601 with an offset, converted to UTC; without one, taken as UTC
   (counted); epoch seconds or milliseconds told apart by magnitude. A time that does not
   parse is an error naming its line.
3. **Values**: empty cells and `nan`/`null`/`none`/`na`/`n/a`/`-` are missing (counted,
   never scored); other text, and infinities, are errors naming the line.
4. **Steps**: the scoring runs on the catalog's step grid (anchored at the epoch, as the
   hourly intervals are). A time off the grid moves to the nearest step (counted); rows of
   one series landing on one step, repeats of a timestamp included (a double export, a
   daylight-saving hour taken as UTC), become one: identical or empty repeats are dropped,
   differing values averaged (both counted).
5. **Gaps**: steps without a value between a series' first and last are counted per series
   and left missing, never filled; the quality gate then judges each scored hour as it
   judges Prometheus data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.metrics.series_csv import (
    EPOCH_MS,
    EPOCH_S,
    MISSING_TEXTS,
    NAIVE,
    OFFSET,
    SeriesCsvError,
    counted,
    read_text,
    time_of,
)

LONG_COLUMNS = ("timestamp", "service", "signal", "value")


@dataclass(frozen=True)
class LongReport:
    """What reading one long export found and did; every repair is a count here."""

    source: str
    rows: int
    series: int
    ignored_columns: tuple[str, ...]
    times: dict[str, int]  # how times were written: naive, offset, epoch_s, epoch_ms
    empty_values: int
    moved_to_step: int  # rows whose time was off the step grid, moved to the nearest step
    repeats_dropped: int  # rows repeating a (series, step) with the same value, or empty
    averaged_steps: int  # (series, step) cells with differing values, averaged
    averaged_rows: int  # the rows those averages were made from
    #: series -> (gaps, missing steps) between its first and last value
    gaps: dict[str, tuple[int, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A few lines for a person, in the style of `SeriesReport.lines`."""
        ignored = (
            f"; ignored: {', '.join(map(repr, self.ignored_columns))}"
            if (self.ignored_columns)
            else ""
        )
        what = {NAIVE: "without an offset, taken as UTC", OFFSET: "with an offset, in UTC",
                EPOCH_S: "in epoch seconds", EPOCH_MS: "in epoch milliseconds"}  # fmt: skip
        out = [
            f"{self.source}: {counted(self.rows, 'row')} read, {self.series:,} series{ignored}",
            "  times: " + "; ".join(f"{n:,} {what[k]}" for k, n in self.times.items() if n),
        ]
        if self.empty_values:
            out.append(f"  empty values: {self.empty_values:,}, treated as missing")
        if self.moved_to_step:
            out.append(f"  off-step times: {counted(self.moved_to_step, 'row')} moved to the "
                       "nearest step of the catalog's grid")  # fmt: skip
        if self.repeats_dropped or self.averaged_steps:
            out.append(
                f"  repeated steps: {counted(self.repeats_dropped, 'identical or empty repeat')}"
                f" dropped; {counted(self.averaged_steps, 'step')} with differing values "
                f"averaged over {counted(self.averaged_rows, 'row')}"
            )
        gapped = {k: v for k, v in self.gaps.items() if v[0]}
        total = sum(m for _, m in gapped.values())
        out.append(
            f"  gaps: {counted(total, 'missing step')} in {len(gapped):,} series, "
            "left out (not filled)"
        )
        worst = sorted(gapped.items(), key=lambda kv: (-kv[1][1], kv[0]))[:5]
        out.extend(f"    {k}: {counted(g, 'gap')}, {counted(m, 'missing step')}"
                   for k, (g, m) in worst)  # fmt: skip
        return out


@dataclass(frozen=True)
class LongSignals:
    """The wide frame (a UTC step-grid index, a column per `service:signal`) and its report."""

    frame: pd.DataFrame
    report: LongReport


def read_long_csv(path: Path, step: timedelta) -> LongSignals:
    """The long CSV at `path` on the `step` grid, repaired by the module's rules."""
    text = read_text(Path(path))
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                          skip_blank_lines=False)  # fmt: skip
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SeriesCsvError(f"{path}: cannot read as CSV: {exc}") from None
    return long_to_wide(raw, step, str(path))


def long_to_wide(raw: pd.DataFrame, step: timedelta, source: str = "<frame>") -> LongSignals:
    """A long table of text cells (row i is line i + 2 of its file) on the `step` grid."""
    by_name = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in LONG_COLUMNS if c not in by_name]
    if missing:
        raise SeriesCsvError(
            f"{source}: line 1: missing column(s) {missing}; expected {list(LONG_COLUMNS)}"
        )
    ignored = tuple(str(c) for c in raw.columns if str(c).strip().lower() not in LONG_COLUMNS)
    cells = pd.DataFrame({c: raw[by_name[c]].astype(str).str.strip() for c in LONG_COLUMNS})
    cells["line"] = np.arange(len(cells)) + 2
    cells = cells[(cells[list(LONG_COLUMNS)] != "").any(axis=1)]  # blank lines
    if cells.empty:
        raise SeriesCsvError(f"{source}: line 2: no data rows after the header")
    unnamed = (cells["service"] == "") | (cells["signal"] == "")
    if unnamed.any():
        line = int(cells.loc[unnamed, "line"].iloc[0])
        raise SeriesCsvError(f"{source}: line {line}: empty service or signal")
    ns, kinds = _times(cells, source)
    values, empty = _values(cells, source)
    step_ns = int(step.total_seconds() * 1e9)
    k = (ns + step_ns // 2) // step_ns
    rows = pd.DataFrame({"column": cells["service"].to_numpy() + ":" + cells["signal"].to_numpy(),
                         "k": k, "value": values})  # fmt: skip
    cell = rows.groupby(["column", "k"], sort=True)["value"]
    size, distinct = cell.size(), cell.nunique()
    averaged = distinct > 1
    long = cell.mean().rename("value").reset_index()
    wide = long.pivot(index="k", columns="column", values="value")
    wide.index = pd.to_datetime(wide.index.to_numpy() * step_ns, unit="ns", utc=True)
    wide.index.name, wide.columns.name = "timestamp", None
    report = LongReport(
        source=source,
        rows=len(cells),
        series=wide.shape[1],
        ignored_columns=ignored,
        times=kinds,
        empty_values=empty,
        moved_to_step=int(np.count_nonzero(k * step_ns != ns)),
        repeats_dropped=int((size - 1)[~averaged].sum()),
        averaged_steps=int(averaged.sum()),
        averaged_rows=int(size[averaged].sum()),
        gaps=_gaps(long.dropna(subset=["value"])),
    )
    return LongSignals(wide.sort_index(), report)


def _times(cells: pd.DataFrame, source: str) -> tuple[np.ndarray, dict[str, int]]:
    """UTC nanoseconds of each row and how many were written each way; each distinct text is
    parsed once (a long export repeats every timestamp once per series)."""
    texts = cells["timestamp"]
    parsed = {t: time_of(t) for t in texts.unique()}
    bad = texts.map(lambda t: parsed[t] is None).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise SeriesCsvError(
            f"{source}: line {int(cells['line'].iloc[i])}: unreadable timestamp {texts.iloc[i]!r}"
        )
    ns = texts.map(lambda t: parsed[t][0]).to_numpy(dtype=np.int64)
    kind = texts.map(lambda t: parsed[t][1])
    counts = kind.value_counts()
    return ns, {k: int(counts.get(k, 0)) for k in (NAIVE, OFFSET, EPOCH_S, EPOCH_MS)}


def _values(cells: pd.DataFrame, source: str) -> tuple[np.ndarray, int]:
    """Each row's value (NaN where missing) and how many were missing; text that is not a
    number, or an infinity, is an error naming the line."""
    texts = cells["value"]
    empty = texts.str.lower().isin(MISSING_TEXTS).to_numpy()
    values = pd.to_numeric(texts.where(~empty), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & ~np.isfinite(values)
    if bad.any():
        i = int(bad.argmax())
        raise SeriesCsvError(
            f"{source}: line {int(cells['line'].iloc[i])}: value {texts.iloc[i]!r} is not a "
            "finite number"
        )
    return values, int(empty.sum())


def _gaps(long: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per series, (runs of missing steps, missing steps) between its first and last value."""
    out = {}
    for column, ks in long.groupby("column", sort=True)["k"]:
        jumps = np.diff(ks.to_numpy())
        out[str(column)] = (int(np.count_nonzero(jumps > 1)), int((jumps - 1).clip(0).sum()))
    return out
