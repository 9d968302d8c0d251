"""`score_frame` and `aiops score`: the hourly scoring on data in hand gives the events the
hourly runs store, across hours, from a wide frame or a long CSV."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from aiops.baselines.ladder import SHORT_TIER
from aiops.catalog import parse_catalog
from aiops.cli.main import main
from aiops.metrics import score_frame
from aiops.metrics.pipeline import score_services
from aiops.model_registry import ModelRegistry
from aiops.sources.frame_source import wide_from_long
from aiops.sources.signals import SourceError
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
    assert event["start"] <= start + timedelta(minutes=42) and event["end"] > start + H


def test_aiops_score_reads_a_long_csv_and_writes_events_as_json_lines(tmp_path, capsys):
    series, start = spiked_web()
    long = pd.concat(
        [
            pd.DataFrame({"timestamp": v.index, "service": svc, "signal": sig, "value": v.values})
            for (svc, sig), v in series.items()
        ]  # fmt: skip
    )
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


def test_a_long_export_with_two_values_at_one_time_names_the_line():
    long = pd.DataFrame(
        {
            "timestamp": ["2026-11-02T00:00Z", "2026-11-02T00:01Z", "2026-11-02T00:01Z"],
            "service": ["web"] * 3,
            "signal": ["cpu_pct"] * 3,
            "value": [1.0, 2.0, 3.0],
        }
    )
    with pytest.raises(SourceError, match=r"export.csv: line 4: web/cpu_pct has a second value"):
        wide_from_long(long, "export.csv")


def test_score_frame_scores_whole_hours_only():
    catalog = parse_catalog(CATALOG, "catalog.yaml")
    series, start = spiked_web()
    with pytest.raises(ValueError, match="must be whole hours"):
        score_frame(as_wide(series), catalog, start + timedelta(minutes=5), start + H)
