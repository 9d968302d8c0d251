"""`aiops incidents list|show|volume` as users run them, on a store the real pipeline filled.

Two hourly runs correlate a redis -> cart -> frontend cascade that crosses 14:00 (one
incident, its ID carried into the second hour) and a log error-ratio spike in search, a
service off the map (an incident of its own); the nightly step records the day's volume.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.catalog import IncidentSettings
from aiops.cli.main import main
from aiops.incidents.pipeline import correlate_window, latest_incidents, store_incidents
from aiops.incidents.report import alert_volume
from aiops.store import Store
from aiops.traces.model import Edge
from support.stores import store_as_hourly_runs

DAY = (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
HOUR = timedelta(hours=1)
T13 = datetime(2026, 10, 30, 13, tzinfo=UTC)
WHOLE_DAY = ["--since", "2026-10-30", "--until", "2026-10-31T00:00Z"]


def _metric(service: str, signal: str, minute: int, peak: float) -> dict:
    start = T13 + timedelta(minutes=minute)
    return {
        "service": service, "signal": signal, "kind": "anomaly", "start": start,
        "end": start + timedelta(minutes=20), "severity": "critical" if peak >= 6 else "warning",
        "confidence": 0.9, "direction": "above", "points": 20, "peak_score": peak,
        "observed": 1.0, "expected_low": 0.1, "expected_high": 0.3,
        "explanation": f"{service} {signal} {peak:.0f} sigma above its usual range",
        "detector": "robust_z", "model_version": "1", "context": None,
    }  # fmt: skip


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('incidents') / 'aiops.db'}"
    edges = [Edge("frontend", "cart", 900, 0, 20.0, 60.0, 90.0, ("GET /cart",)),
             Edge("cart", "redis", 2700, 0, 1.0, 3.0, 5.0, ("GET",))]  # fmt: skip
    previous_day = {"interval_start": DAY[0] - timedelta(days=1), "interval_end": DAY[0]}
    error_ratio = {
        "interval_start": T13 + HOUR, "interval_end": T13 + 2 * HOUR, "service": "search",
        "kind": "error_ratio", "template_id": "", "template": "", "level": "ERROR",
        "observed": 0.2, "expected": 0.01, "score": 9.0, "detail": {},
    }  # fmt: skip
    with Store.open(url) as store:
        store.upsert("dependency_edges", [{**previous_day, **e.to_json()} for e in edges])
        store_as_hourly_runs(store, _metric("redis", "latency_p95", 50, 5.0),
                             _metric("cart", "latency_p95", 52, 8.0),
                             _metric("frontend", "latency_p95", 54, 12.0))  # fmt: skip
        store.upsert("log_anomalies", [error_ratio])
        for start in (T13, T13 + HOUR):  # the hourly runs, in order
            correlation = correlate_window(store, start, start + HOUR, IncidentSettings())
            store_incidents(store, correlation, start, start + HOUR)
        store.upsert("alert_volume", [alert_volume(latest_incidents(store, *DAY), *DAY)])
    return url


@pytest.fixture(scope="module")
def ids(store_url: str) -> dict[str, str]:
    """Incident ID by root service."""
    with Store.open(store_url) as store:
        return {r["root_service"]: r["incident_id"] for r in latest_incidents(store, *DAY)}


def _run(capsys: pytest.CaptureFixture[str], store_url: str, *args: str) -> tuple[int, str, str]:
    code = main(["incidents", *args, "--store", store_url])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_gives_one_line_per_incident_with_its_newest_state(capsys, store_url, ids) -> None:
    assert set(ids) == {"redis", "search"}
    code, out, err = _run(capsys, store_url, "list", *WHOLE_DAY)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "start", "(UTC)"]
    cascade = next(line for line in lines if line.startswith(ids["redis"]))
    with Store.open(store_url) as store:
        (row,) = [r for r in latest_incidents(store, *DAY) if r["incident_id"] == ids["redis"]]
    assert cascade.split() == [ids["redis"], "2026-10-30", "13:50", "resolved", "critical", "3",
                               "redis", "latency", "p95", f"{row['confidence']:.2f}",
                               "random_walk"]  # fmt: skip
    search = next(line for line in lines if line.startswith(ids["search"]))
    assert "search log error ratio" in search and "single_service" in search
    assert lines.index(cascade) < lines.index(search)  # by start
    assert lines[-1] == "2 incidents between 2026-10-30 00:00 and 2026-10-31 00:00 UTC"


def test_list_shows_an_incident_as_the_runs_in_the_window_saw_it(capsys, store_url, ids) -> None:
    code, out, _ = _run(capsys, store_url, "list", "--since", "2026-10-30T13:00+00:00",
                        "--until", "2026-10-30T14:00Z")  # fmt: skip
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:-1]]
    assert [(r[0], r[3]) for r in rows] == [(ids["redis"], "open")]  # search began after 14:00


def test_an_empty_window_says_so_and_a_bad_time_is_an_error(capsys, store_url) -> None:
    code, out, err = _run(capsys, store_url, "list", "--since", "2026-10-29",
                          "--until", "2026-10-29T12:00Z")  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "no incidents between 2026-10-29 00:00 and 2026-10-29 12:00 UTC\n"
    code, out, err = _run(capsys, store_url, "list", "--since", "yesterday")
    assert code == 2 and out == "" and "--since" in err and "'yesterday'" in err
    code, _, err = _run(
        capsys, store_url, "volume", "--since", "2026-10-31", "--until", "2026-10-30"
    )
    assert code == 2 and "must be before --until" in err


def test_show_prints_the_ranking_the_spread_and_the_events(capsys, store_url, ids) -> None:
    code, out, err = _run(capsys, store_url, "show", ids["redis"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"incident {ids['redis']}: resolved, critical"
    assert lines[1].startswith("redis latency p95 likely caused anomalies in 2 more services")
    assert "  services  cart, frontend, redis" in lines
    assert "  events    3 (3 metric, 0 log, 0 predictive), 60 raw anomalous points" in lines
    assert "(seen by 2 hourly runs)" in out and "to 14:14 UTC (24m 00s)" in out
    table = lines[lines.index("Root-cause candidates") + 1 :]
    assert table[0].split()[:4] == ["#", "service", "score", "walk"]
    assert [row.split()[1] for row in table[1:4]] == ["redis", "cart", "frontend"]
    assert table[1].split()[-3:] == ["latency", "p95", "root"] and "13:50" in table[1]
    spread = lines[lines.index("How it spread") + 1 : lines.index("Events") - 1]
    assert spread == [
        "  redis latency p95 at 13:50",
        "  cart latency p95 at 13:52 (+2m 00s), through redis -> cart",
        "  frontend latency p95 at 13:54 (+4m 00s), through redis -> cart -> frontend",
    ]
    events = lines[lines.index("Events") + 2 :]
    assert len(events) == 3
    assert re.fullmatch(r"  metric\s+redis\s+latency p95\s+13:50-14:10\s+5\.0\s+redis "
                        r"latency_p95 5 sigma above its usual range", events[0])  # fmt: skip


def test_show_marks_an_event_whose_onset_is_unknown(capsys, store_url, ids) -> None:
    code, out, _ = _run(capsys, store_url, "show", ids["search"])
    assert code == 0
    assert "single_service, confidence 1.00" in out
    assert re.search(r"  log\s+search\s+log error ratio\s+~14:00-15:00\s+9\.0\s+log error ratio: "
                     r"0\.2 vs expected 0\.01", out)  # fmt: skip
    assert out.rstrip().endswith(
        "~ onset not known to the minute (an hourly log row or a forecast)"
    )


def test_show_an_unknown_id_is_an_error_naming_it(capsys, store_url) -> None:
    code, out, err = _run(capsys, store_url, "show", "0000deadbeef")
    assert code == 2 and out == ""
    assert "no incident '0000deadbeef'" in err and "aiops incidents list" in err


def test_volume_prints_points_events_incidents_and_the_reduction(capsys, store_url) -> None:
    code, out, err = _run(capsys, store_url, "volume", "--since", "2026-10-24",
                          "--until", "2026-10-31T00:00Z")  # fmt: skip
    assert code == 0 and err == ""
    header, row = out.splitlines()
    assert header.split()[:4] == ["day", "points", "events", "(metric/log/predictive)"]
    assert row.split() == ["2026-10-30", "61", "->", "4", "(3/1/0)", "->", "2", "(1)", "2.0x"]
    code, out, _ = _run(capsys, store_url, "volume", "--since", "2026-09-01",
                        "--until", "2026-09-08")  # fmt: skip
    assert code == 0 and out.startswith("no alert volume recorded between 2026-09-01 00:00 and")


def test_the_store_comes_from_the_environment_without_store(
    capsys, store_url, ids, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIOPS_STORE_URL", store_url)
    assert main(["incidents", "show", ids["search"]]) == 0
    assert capsys.readouterr().out.startswith(f"incident {ids['search']}: ")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(empty).close()  # an existing store with nothing in it
    assert main(["incidents", "list", "--store", empty, *WHOLE_DAY]) == 0
    assert capsys.readouterr().out.startswith("no incidents between 2026-10-30 00:00")


def test_the_console_script_lists_the_incidents_commands() -> None:
    aiops = Path(sys.executable).with_name("aiops")
    proc = subprocess.run([str(aiops), "incidents", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0
    assert all(f"    {action} " in proc.stdout for action in ("list", "show", "volume"))
