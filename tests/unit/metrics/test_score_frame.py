"""`score_frame` and `aiops score`: the hourly scoring on data in hand gives the events the
hourly runs store, across hours, from a wide frame or a long CSV."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.baselines.ladder import SHORT_TIER
from aiops.catalog import parse_catalog
from aiops.cli.main import main
from aiops.metrics import score_frame
from aiops.metrics.long_csv import read_long_csv
from aiops.metrics.pipeline import score_services
from aiops.metrics.series_csv import SeriesCsvError
from aiops.model_registry import ModelRegistry
from aiops.sources.frame_source import FrameSource
from aiops.store import Store
from support.memory_source import CATALOG, T0, MemorySource, web_series

H = timedelta(hours=1)


def spiked_web(hours: float = 9):
    begin = T0 + timedelta(hours=10)
    series = web_series(begin, hours)
    start = begin + timedelta(hours=6)
    latency = series[("web", "latency_p95")]
    # a regression that starts in one hour and carries on into the next
    latency[(latency.index >= start + timedelta(minutes=40))
            & (latency.index < start + timedelta(minutes=80))] = 2.0  # fmt: skip
    return series, start


def as_wide(series) -> pd.DataFrame:
    return pd.DataFrame({f"{svc}:{sig}": v for (svc, sig), v in series.items()})


def test_score_frame_gives_the_events_the_hourly_runs_store(tmp_path):
    catalog = parse_catalog(CATALOG, "catalog.yaml")
    series, start = spiked_web()
    offline = score_frame(as_wide(series), catalog, start, start + 2 * H)

    with Store.open(f"sqlite:///{tmp_path / 'hourly.db'}") as store:
        for hour in (start, start + H):
            score_services(store, MemorySource(series), catalog, ["web"], hour, hour + H,
                           ModelRegistry(tmp_path / "models"))  # fmt: skip
        hourly = [{k: v for k, v in e.items() if k not in ("as_of", "context")}
                  for e in store.read("anomaly_events")]  # fmt: skip
    assert offline == hourly
    # one event that the second hour continued, scored by the short tier (no models here)
    (event,) = [e for e in offline if e["signal"] == "latency_p95"]
    assert event["detector"] == SHORT_TIER
    assert event["signal_kind"] == "latency"  # the catalog's kind, for root-cause ranking
    assert event["start"] <= start + timedelta(minutes=42) and event["end"] > start + H


def test_aiops_score_reads_a_long_csv_and_writes_events_as_json_lines(tmp_path, capsys):
    series, start = spiked_web()
    long = long_rows(series)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    long.to_csv(tmp_path / "export.csv", index=False)
    code = main(["score", "--input", str(tmp_path / "export.csv"),
                 "--catalog", str(tmp_path / "catalog.yaml"),
                 "--start", start.isoformat(), "--end", (start + 2 * H).isoformat()])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    events = [json.loads(line) for line in out.out.splitlines()]
    assert [(e["service"], e["signal"], e["kind"]) for e in events] == [
        ("web", "latency_p95", "anomaly")
    ]
    assert "1 event(s)" in out.err


def long_rows(series) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame({"timestamp": v.index, "service": svc, "signal": sig, "value": v.values})
            for (svc, sig), v in series.items()
        ]  # fmt: skip
    ).reset_index(drop=True)


def test_a_messy_long_export_scores_end_to_end_like_the_clean_one(tmp_path, capsys):
    """What real exports hold: an hour repeated (a daylight-saving fold exported as naive
    local time), jittered scrape times, epoch seconds, empty cells, a gap, rows out of
    order. Each is repaired, reported, and the regression is still the one event."""
    series, start = spiked_web()
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    clean = long_rows(series)
    clean.to_csv(tmp_path / "clean.csv", index=False)
    messy = clean.astype({"value": object})
    messy["timestamp"] = messy["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")  # naive, as UTC
    first_hour = clean["timestamp"] < clean["timestamp"].min() + H
    repeated = messy[first_hour].assign(value=clean["value"][first_hour] * 1.001)  # the fold
    cpu = (messy["signal"] == "cpu_pct").to_numpy()
    stamps = clean["timestamp"][cpu]
    jitter = pd.to_timedelta(np.where(np.arange(cpu.sum()) % 2, 2, -3), unit="s")
    messy.loc[cpu, "timestamp"] = [str(int(t.timestamp())) for t in stamps + jitter]
    rate = (messy["signal"] == "request_rate").to_numpy()
    messy.loc[np.flatnonzero(rate)[100:103], "value"] = ""  # empty cells
    gap = (messy["signal"] == "error_ratio").to_numpy()
    messy = messy.drop(messy.index[np.flatnonzero(gap)[200:230]])  # 30 missing minutes
    messy = pd.concat([repeated, messy]).sample(frac=1.0, random_state=3)  # out of order
    messy.to_csv(tmp_path / "messy.csv", index=False)

    def run(name: str) -> tuple[list[dict], str]:
        code = main(["score", "--input", str(tmp_path / name),
                     "--catalog", str(tmp_path / "catalog.yaml"),
                     "--start", start.isoformat(), "--end", (start + 2 * H).isoformat()])  # fmt: skip
        out = capsys.readouterr()
        assert code == 0, out.err
        return [json.loads(line) for line in out.out.splitlines()], out.err

    clean_events, _ = run("clean.csv")
    messy_events, report = run("messy.csv")
    assert [(e["signal"], e["start"]) for e in messy_events] == [
        (e["signal"], e["start"]) for e in clean_events
    ] and [e["signal"] for e in clean_events] == ["latency_p95"]
    assert f"{int(first_hour.sum()):,} steps with differing values averaged" in report
    assert f"{int(cpu.sum()):,} rows moved to the nearest step" in report
    assert f"{int(cpu.sum()):,} in epoch seconds" in report
    assert "empty values: 3, treated as missing" in report
    assert "web:error_ratio: 1 gap, 30 missing steps" in report


@pytest.mark.parametrize(
    ("cell", "value", "message"),
    [
        ("timestamp", "yesterday", r"line 3: unreadable timestamp 'yesterday'"),
        ("value", "12ms", r"line 3: value '12ms' is not a finite number"),
        ("value", "inf", r"line 3: value 'inf' is not a finite number"),
    ],
)
def test_a_long_export_cell_that_cannot_be_repaired_names_the_line(tmp_path, cell, value, message):
    rows = long_rows({("web", "cpu_pct"): web_series(T0, 1)[("web", "cpu_pct")]})
    rows["timestamp"] = rows["timestamp"].astype(str)
    rows["value"] = rows["value"].astype(str)
    rows.iloc[1, rows.columns.get_loc(cell)] = value
    rows.to_csv(tmp_path / "export.csv", index=False)
    with pytest.raises(SeriesCsvError, match=rf"export.csv: {message}"):
        read_long_csv(tmp_path / "export.csv", timedelta(minutes=1))


def test_score_frame_scores_whole_hours_only():
    catalog = parse_catalog(CATALOG, "catalog.yaml")
    series, start = spiked_web()
    with pytest.raises(ValueError, match="must be whole hours"):
        score_frame(as_wide(series), catalog, start + timedelta(minutes=5), start + H)


def test_a_frame_point_off_the_step_grid_is_said_not_dropped_silently():
    index = pd.date_range(T0, periods=5, freq="1min").append(
        pd.DatetimeIndex([T0 + timedelta(minutes=5, seconds=20)])
    )
    source = FrameSource(pd.DataFrame({"web:cpu_pct": np.arange(6.0)}, index=index))
    got = source.fetch("web", "cpu_pct", "q", T0, T0 + timedelta(minutes=10), timedelta(minutes=1))
    assert list(got.values) == [0.0, 1.0, 2.0, 3.0, 4.0]
    (warning,) = got.warnings
    assert "1 point(s) of web:cpu_pct off the 0:01:00 step grid left out" in warning
