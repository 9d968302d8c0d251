"""`aiops detect`: score a timestamp,value CSV with the default causal detector.

Input rows are validated, not repaired: an unparsable timestamp or value, a timestamp that
does not increase, or a non-finite value is an error naming the file and the line. The file
is UTF-8 text; a byte-order mark (Excel's "CSV UTF-8", or its UTF-16 "Unicode text") picks
the encoding, and anything else that does not decode is an error naming the byte and line.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from aiops.baselines.causal import SCORE_COLUMNS, CausalDetectorConfig, detect_frame


class DetectInputError(ValueError):
    """The input CSV cannot be scored as it is; the message names the file and line."""


@dataclass(frozen=True)
class DetectSummary:
    input_path: Path
    output_path: Path
    rows: int
    anomalies: int
    first_anomaly: str | None  # timestamp, as written in the input

    def __str__(self) -> str:
        first = f", first at {self.first_anomaly}" if self.first_anomaly else ""
        return f"{self.output_path}: {self.rows:,} rows scored, {self.anomalies} anomalies{first}"


def read_series(path: Path) -> pd.DataFrame:
    """timestamp,value rows of `path`, checked line by line (the header is line 1)."""
    path = Path(path)
    timestamps: list[pd.Timestamp] = []
    raw_timestamps: list[str] = []
    values: list[float] = []
    value_texts: list[str] = []
    with io.StringIO(read_text(path), newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise DetectInputError(f"{path}: line {reader.line_num}: {exc}") from None
        if header is None:
            raise DetectInputError(f"{path}: empty file, expected a timestamp,value header")
        names = [h.strip().lower() for h in header]
        if "timestamp" not in names or "value" not in names:
            raise DetectInputError(
                f"{path}: line 1: header must name timestamp and value columns, got {header}"
            )
        ti, vi = names.index("timestamp"), names.index("value")
        for row in _rows(reader, path):
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) <= max(ti, vi):
                raise DetectInputError(
                    f"{path}: line {line}: expected {len(header)} columns, got {len(row)}: {row}"
                )
            text_ts, text_value = row[ti].strip(), row[vi].strip()
            try:
                ts = pd.Timestamp(text_ts)
            except (ValueError, TypeError):
                raise DetectInputError(
                    f"{path}: line {line}: unparsable timestamp {text_ts!r}"
                ) from None
            if ts is pd.NaT:
                raise DetectInputError(f"{path}: line {line}: unparsable timestamp {text_ts!r}")
            try:
                value = float(text_value)
            except ValueError:
                raise DetectInputError(
                    f"{path}: line {line}: unparsable value {text_value!r}"
                ) from None
            if not math.isfinite(value):
                raise DetectInputError(
                    f"{path}: line {line}: value must be finite, got {text_value!r}"
                )
            if timestamps:
                try:
                    increasing = ts > timestamps[-1]
                except TypeError:
                    raise DetectInputError(
                        f"{path}: line {line}: timestamp {text_ts!r} mixes time zones with the rows before it"
                    ) from None
                if not increasing:
                    kind = "duplicate" if ts == timestamps[-1] else "non-increasing"
                    raise DetectInputError(
                        f"{path}: line {line}: {kind} timestamp {text_ts!r} (previous row: {raw_timestamps[-1]!r})"
                    )
            timestamps.append(ts)
            raw_timestamps.append(text_ts)
            values.append(value)
            value_texts.append(text_value)
    return pd.DataFrame(
        {
            "timestamp": raw_timestamps,
            "value": values,
            "parsed": pd.to_datetime(
                timestamps, utc=bool(timestamps) and timestamps[0].tzinfo is not None
            ),
            "value_text": value_texts,
        }
    )


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
    :class:`DetectInputError` naming the offending byte's offset and line."""
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
        raise DetectInputError(
            f"{path}: not {name} text (0x{data[offset]:02x} at {where}); export it as CSV UTF-8"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise DetectInputError(
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
            raise DetectInputError(f"{path}: line {reader.line_num}: {exc}") from None
        yield row


def detect_csv(
    input_path: Path, output_path: Path, config: CausalDetectorConfig | None = None
) -> DetectSummary:
    """Score `input_path` causally and write timestamp,value,anomaly_score,is_anomaly."""
    input_path, output_path = Path(input_path), Path(output_path)
    series = read_series(input_path)
    scored = detect_frame(
        pd.DataFrame({"timestamp": series["parsed"], "value": series["value"]}), config
    )
    # timestamp and value are written back exactly as read
    scored["timestamp"] = series["timestamp"].to_numpy()
    scored["value"] = series["value_text"].to_numpy()
    scored["anomaly_score"] = scored["anomaly_score"].round(6)
    scored["is_anomaly"] = scored["is_anomaly"].astype(int)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scored[SCORE_COLUMNS].to_csv(output_path, index=False)
    flagged = scored.loc[scored["is_anomaly"] == 1, "timestamp"]
    return DetectSummary(
        input_path=input_path,
        output_path=output_path,
        rows=len(scored),
        anomalies=len(flagged),
        first_anomaly=str(flagged.iloc[0]) if len(flagged) else None,
    )
