"""`aiops detect` on exports as they come: daylight-saving repeats, double exports, unsorted
rows, mixed offsets, epoch times, gaps, empty values and other column names are repaired by
one documented rule each and reported; only a file with nothing to score is refused, naming
the file and the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.cli.main import main
from aiops.metrics.detect_csv import DetectInputError, detect_csv
from aiops.metrics.series_csv import read_regular_series
from support.paths import SHARED_DATA

NAB = SHARED_DATA / "nab" / "data" / "realKnownCause"
START = pd.Timestamp("2014-03-08 00:00:00")
STEP = pd.Timedelta("5min")


def series(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """n 5-minute points from START with a daily cycle and noise; values with 3 decimals."""
    rng = np.random.default_rng(seed)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    return pd.DataFrame({"timestamp": START + STEP * np.arange(n), "value": np.round(values, 3)})


def naive_rows(frame: pd.DataFrame) -> list[str]:
    return [
        f"{t:%Y-%m-%d %H:%M:%S},{v}"
        for t, v in zip(frame["timestamp"], frame["value"], strict=True)
    ]


def write(path: Path, rows: list[str], header: str = "timestamp,value") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def detect(capsys, src: Path, out: Path) -> tuple[int, str, str]:
    code = main(["detect", "--input", str(src), "--output", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scored(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"timestamp": str, "value": str})


def test_a_daylight_saving_repeat_is_combined_and_scored_end_to_end(tmp_path: Path, capsys) -> None:
    # CloudWatch's naive local-time export at the spring change: the hour 02:00-02:55 does
    # not exist on the clock, and its twelve rows all come out stamped 03:00:00.
    frame = series()
    stamps = [f"{t:%Y-%m-%d %H:%M:%S}" for t in frame["timestamp"]]
    dst_hour = [i for i, s in enumerate(stamps) if s.startswith("2014-03-09 02:")]
    assert len(dst_hour) == 12
    for i in dst_hour:
        stamps[i] = "2014-03-09 03:00:00"
    rows = [f"{s},{v}" for s, v in zip(stamps, frame["value"], strict=True)]
    src = write(tmp_path / "cloudwatch.csv", rows)

    code, out, err = detect(capsys, src, tmp_path / "scores.csv")

    assert code == 0, err
    assert "repeated timestamps: 12 rows combined" in out  # 13 rows at 03:00 became one
    assert "1 timestamp with differing values averaged over 13 rows" in out
    assert "gaps: 1 gap, 12 missing steps left out" in out  # the skipped hour, not filled
    result = scored(tmp_path / "scores.csv")
    assert len(result) == len(frame) - 12
    assert "400 rows read" in out and f"{len(result)} rows scored" in out
    at_three = result[result["timestamp"] == "2014-03-09 03:00:00"]
    expected = frame["value"].iloc[dst_hour[0] : dst_hour[-1] + 2].mean()  # 02:00..03:00
    assert len(at_three) == 1 and float(at_three["value"].iloc[0]) == pytest.approx(expected)
    assert not result["timestamp"].str.startswith("2014-03-09 02:").any()
    assert result["anomaly_score"].between(0, 1).all()


def test_a_double_export_drops_the_identical_repeats(tmp_path: Path, capsys) -> None:
    rows = naive_rows(series())
    once = write(tmp_path / "once.csv", rows)
    # the second export overlaps the first by 100 rows and repeats its header line
    twice = write(tmp_path / "twice.csv", rows[:300] + ["timestamp,value"] + rows[200:])
    assert detect(capsys, once, tmp_path / "once.out.csv")[0] == 0
    code, out, err = detect(capsys, twice, tmp_path / "twice.out.csv")
    assert code == 0, err
    assert "1 repeated header line skipped" in out
    assert "100 rows combined into the row they repeat (100 identical or empty" in out
    assert "order: 1 row out of order" in out  # where the second export goes back in time
    assert (tmp_path / "twice.out.csv").read_text() == (tmp_path / "once.out.csv").read_text()


def test_unsorted_rows_are_sorted_and_counted(tmp_path: Path) -> None:
    rows = naive_rows(series())
    shuffled = rows.copy()
    shuffled[10], shuffled[11] = shuffled[11], shuffled[10]  # one row earlier than before
    shuffled[200:210] = reversed(shuffled[200:210])  # nine more
    ordered = detect_csv(write(tmp_path / "a.csv", rows), tmp_path / "a.out.csv")
    unsorted = detect_csv(write(tmp_path / "b.csv", shuffled), tmp_path / "b.out.csv")
    assert unsorted.report.out_of_order == 10
    assert "  order: 10 rows out of order; rows sorted by time" in unsorted.report.lines()
    assert ordered.report.out_of_order == 0
    assert (tmp_path / "b.out.csv").read_text() == (tmp_path / "a.out.csv").read_text()


def test_mixed_offsets_are_normalised_to_utc(tmp_path: Path) -> None:
    frame = series()
    offsets = ["Z", "+01:00", "-05:00", "+05:30"]
    rows = []
    for i, (t, v) in enumerate(zip(frame["timestamp"], frame["value"], strict=True)):
        offset = offsets[i % len(offsets)]
        local = t.tz_localize("UTC").tz_convert(None if offset == "Z" else f"UTC{offset}")
        text = f"{t:%Y-%m-%dT%H:%M:%S}Z" if offset == "Z" else f"{local:%Y-%m-%dT%H:%M:%S}{offset}"
        rows.append(f"{text},{v}")
    src = write(tmp_path / "offsets.csv", rows)
    summary = detect_csv(src, tmp_path / "out.csv")
    plain = detect_csv(write(tmp_path / "utc.csv", naive_rows(frame)), tmp_path / "utc.out.csv")

    assert summary.report.offset_times == len(frame) and summary.report.naive_times == 0
    assert f"  times: {len(frame)} with an offset, converted to UTC" in summary.report.lines()
    out, reference = scored(tmp_path / "out.csv"), scored(tmp_path / "utc.out.csv")
    assert out["timestamp"].iloc[0] == "2014-03-08 00:00:00+00:00"
    assert (out["timestamp"].str.removesuffix("+00:00") == reference["timestamp"]).all()
    assert out.drop(columns="timestamp").equals(reference.drop(columns="timestamp"))
    assert plain.report.naive_times == len(frame)
    assert f"  times: {len(frame)} without an offset, taken as UTC" in plain.report.lines()


@pytest.mark.parametrize(("unit", "per_second"), [("seconds", 1), ("milliseconds", 1000)])
def test_epoch_times_are_told_apart_by_magnitude(tmp_path: Path, unit: str, per_second: int):
    frame = series()
    epoch = (frame["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s") * per_second
    rows = [f"{e},{v}" for e, v in zip(epoch, frame["value"], strict=True)]
    summary = detect_csv(write(tmp_path / "epoch.csv", rows), tmp_path / "out.csv")
    detect_csv(write(tmp_path / "iso.csv", naive_rows(frame)), tmp_path / "iso.out.csv")

    assert f"  times: {len(frame)} in epoch {unit}" in summary.report.lines()
    out, reference = scored(tmp_path / "out.csv"), scored(tmp_path / "iso.out.csv")
    assert out["timestamp"].tolist() == [str(e) for e in epoch]  # written back in its unit
    assert out.drop(columns="timestamp").equals(reference.drop(columns="timestamp"))


def test_a_gap_is_reported_and_not_filled(tmp_path: Path, capsys) -> None:
    frame = series().drop(index=range(250, 256)).drop(index=range(300, 301))
    src = write(tmp_path / "gappy.csv", naive_rows(frame))
    code, out, err = detect(capsys, src, tmp_path / "out.csv")
    assert code == 0, err
    assert "step: 5min (the median spacing); 400 steps, 393 with a value" in out
    assert "gaps: 2 gaps, 7 missing steps left out (not filled)" in out
    result = scored(tmp_path / "out.csv")
    # one row per step that has a value: the input's rows, nothing invented in the gaps
    assert result["timestamp"].tolist() == [f"{t:%Y-%m-%d %H:%M:%S}" for t in frame["timestamp"]]
    assert result["value"].astype(float).tolist() == frame["value"].tolist()


def test_irregular_times_are_moved_to_the_median_step(tmp_path: Path) -> None:
    frame = series()
    seconds = np.random.default_rng(1).integers(-40, 41, len(frame))
    seconds[0] = 0  # the grid starts at the first row
    jitter = pd.to_timedelta(seconds, unit="s")
    frame["timestamp"] = frame["timestamp"] + jitter
    regular = read_regular_series(write(tmp_path / "jitter.csv", naive_rows(frame)))
    assert regular.report.step == STEP  # the median of these spacings is 301 s: it drifts
    assert "  step: 5min (median spacing 301s, refined by a fit); 400 steps, 400 with a value" in (
        regular.report.lines()
    )
    assert regular.report.moved_to_step == int((jitter != pd.Timedelta(0)).sum())
    assert regular.report.gaps == 0 and len(regular.frame) == len(frame)
    assert (regular.frame["timestamp"].diff().dropna() == STEP).all()


def test_empty_values_are_counted_and_treated_as_missing(tmp_path: Path, capsys) -> None:
    rows = naive_rows(series())
    for i, missing in [(50, ""), (51, "NaN"), (120, "null"), (399, "  ")]:
        rows[i] = rows[i].split(",")[0] + "," + missing
    src = write(tmp_path / "empty.csv", rows)
    code, out, err = detect(capsys, src, tmp_path / "out.csv")
    assert code == 0, err
    assert "empty values: 4, treated as missing" in out
    assert "gaps: 2 gaps, 3 missing steps left out" in out  # the last one ends the series
    result = scored(tmp_path / "out.csv")
    assert len(result) == 396
    assert not result["timestamp"].isin([rows[i].split(",")[0] for i in (50, 51, 120)]).any()


def test_other_column_names_and_extra_columns_are_named(tmp_path: Path) -> None:
    frame = series()
    two = write(tmp_path / "two.csv", naive_rows(frame), header="Time,Average")
    extra = write(
        tmp_path / "extra.csv",
        [f"web-1,{r.split(',')[1]},{r.split(',')[0]},Percent" for r in naive_rows(frame)],
        header="host,Value,Timestamp,unit",
    )
    named = detect_csv(two, tmp_path / "two.out.csv").report.lines()[0]
    assert named == f"{two}: 400 rows read (time: column 'Time', value: column 'Average')"
    picked = detect_csv(extra, tmp_path / "extra.out.csv").report.lines()[0]
    assert "(time: column 'Timestamp', value: column 'Value'; ignored: 'host', 'unit')" in picked
    assert (tmp_path / "two.out.csv").read_text() == (tmp_path / "extra.out.csv").read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,what\nyesterday,1\nnow,2\n", "line 2: unparsable timestamp 'yesterday'"),
        ("timestamp,value\n2024-01-01 00:00,1\nnot-a-time,2\n", "line 3: unparsable timestamp"),
        ("timestamp,value\n2024-01-01 00:00,\n2024-01-01 00:05,NaN\n", "line 2: no numeric values"),
        ("timestamp,value\n2024-01-01 00:00,1\n", "line 2: a single row with a value"),
        ("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:00,2\n", "line 2: a single row"),
        ("timestamp,value\n", "line 2: no data rows after the header"),
        ("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:05,abc\n", "line 3: unparsable value"),
        ("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:05,inf\n", "line 3: value must be"),
        ("time,min,max\n2024-01-01 00:00,1,2\n2024-01-01 00:05,1,2\n", "line 1: header must"),
        ("2024-01-01 00:00,1\n2024-01-01 00:05,2\n", "line 1: header must name timestamp"),
        ("timestamp,value\n1,5\n2,6\n", "line 2: unparsable timestamp '1'"),  # an index
    ],
)
def test_an_unusable_file_is_refused_naming_the_file_and_line(
    tmp_path: Path, capsys, text: str, message: str
) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(text, encoding="utf-8")
    code, out, err = detect(capsys, src, tmp_path / "o.csv")
    assert code == 2 and out == ""
    assert err.startswith(f"{src}: ") and message in err
    assert not (tmp_path / "o.csv").exists()
    with pytest.raises(DetectInputError, match=message.split(":")[0]):
        read_regular_series(src)


def test_a_nab_file_scores_end_to_end_with_its_rows_unchanged(tmp_path: Path, capsys) -> None:
    src = NAB / "ambient_temperature_system_failure.csv"
    if not src.exists():
        pytest.skip(f"NAB data not present at {NAB} (read-only shared data)")
    code, out, err = detect(capsys, src, tmp_path / "scores.csv")
    assert code == 0, err
    given = pd.read_csv(src, dtype=str)
    result = scored(tmp_path / "scores.csv")
    assert len(result) == len(given) and f"{len(given):,} rows scored" in out
    assert result["timestamp"].tolist() == given["timestamp"].tolist()
    assert result["value"].tolist() == given["value"].tolist()
    assert "step: 1h (the median spacing)" in out
    assert "gaps: 10 gaps" in out  # this hourly series has holes; they stay holes
