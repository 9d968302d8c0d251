"""`aiops rca` as a person runs it after an outage: a metrics export, a trace export, a time.

The fixture is built here: three services, front -> cart -> redis, three and a half hours of
minute-step latency and request rate (and a queue depth, a signal no catalog default knows)
with seeded noise. At 03:55 redis's latency triples; cart's rises less and two minutes
later, front's less again and two minutes after that: a callee's slowdown reaching its
callers. The traces are a handful of front -> cart -> redis requests.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from aiops.cli.main import main
from aiops.incidents.postmortem import PostmortemConfig, default_catalog, root_cause, score_hours
from aiops.metrics.long_csv import read_long_csv
from support.trace_builder import TraceBuilder, envelope

START = datetime(2022, 8, 22, 1, 0, tzinfo=UTC)
AT = datetime(2022, 8, 22, 3, 54, tzinfo=UTC)
MINUTES = 210  # 01:00 to 04:30 UTC: the window [03:52, 04:04) and two hours before 03:00
#: service -> (usual latency p95 in s, minutes after AT its latency starts rising, how much)
LATENCY = {"redis": (0.002, 1, 2.0), "cart": (0.030, 3, 0.6), "front": (0.120, 5, 0.3)}
AT_FLAG = ["--at", "2022-08-22T03:54Z"]


def _write_metrics(path: Path) -> None:
    rng = np.random.default_rng(20220822)
    lines = ["timestamp,service,signal,value"]
    for m in range(MINUTES):
        t = START + timedelta(minutes=m)
        stamp = f"{t:%Y-%m-%dT%H:%M:%SZ}"
        for service, (usual, after, rise) in LATENCY.items():
            value = usual * (1 + 0.05 * rng.standard_normal())
            began = AT + timedelta(minutes=after)
            if t >= began:  # ramps to its full rise over three minutes
                value += usual * rise * min(1.0, ((t - began) / timedelta(minutes=1) + 1) / 3)
            rate = 40 * (1 + 0.05 * rng.standard_normal())
            lines += [f"{stamp},{service},latency_p95,{value:.6f}",
                      f"{stamp},{service},request_rate,{rate:.3f}"]  # fmt: skip
        lines.append(f"{stamp},cart,queue_depth,{round(20 + 2 * rng.standard_normal())}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_traces(path: Path) -> None:
    traces = []
    for n in range(4):
        start_us = round((AT - timedelta(minutes=30 - n)).timestamp() * 1e6)
        trace = TraceBuilder(f"{n + 1:032x}", start_us=start_us)
        root = trace.span("front", "GET /cart", 0, 80, kind="server")
        cart = trace.call(root, "front", "cart", "GET /cart", 5, 50)
        trace.call(cart, "cart", "redis", "HGETALL", 10, 4)
        traces.append(trace.to_json())
    path.write_text(json.dumps(envelope(traces)), encoding="utf-8")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rca")
    paths = {"metrics": root / "metrics.csv", "traces": root / "traces.json"}
    _write_metrics(paths["metrics"])
    _write_traces(paths["traces"])
    return paths


def _rca(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["rca", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def with_map(exports: dict[str, Path]) -> tuple[int, str, str]:
    return _rca("--metrics", str(exports["metrics"]), "--traces", str(exports["traces"]),
                *AT_FLAG)  # fmt: skip


def _ranked(text: str) -> list[str]:
    """The services of the candidates table, in rank order."""
    lines = text.splitlines()
    table = lines[lines.index("Root-cause candidates") + 2 :]
    return [line.split()[1] for line in table[: table.index("")]]


def test_redis_is_the_root_and_its_callers_follow_on_the_map(with_map) -> None:
    code, out, err = with_map
    assert code == 0, err
    assert _ranked(out) == ["redis", "cart", "front"]
    assert "redis latency p95 likely caused anomalies in 2 more services" in out
    assert "random_walk" in out and "traces in traces.json" in out
    assert "2 call edge(s) from 4 trace(s)" in out
    spread = out.split("How it spread\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in spread] == ["redis", "cart", "front"]
    assert "through redis -> cart -> front" in spread[2]
    assert "events    active in [03:52, 04:04) UTC" in out
    # the catalog was made from the metrics, and says what it could not know
    assert "none given: a default one" in out and "queue_depth are unknown" in out
    assert "metrics.csv: 1,470 rows read, 7 series" in err  # the reader's report, on stderr


def test_json_holds_the_same_ranking_as_the_text(exports, with_map) -> None:
    code, out, _ = _rca("--metrics", str(exports["metrics"]), "--traces",
                        str(exports["traces"]), *AT_FLAG, "--json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    candidates = [c["service"] for c in doc["ranking"]["candidates"]]
    assert candidates == _ranked(with_map[1]) == ["redis", "cart", "front"]
    assert doc["ranking"]["method"] == "random_walk"
    assert [link["service"] for link in doc["ranking"]["chain"]] == ["redis", "cart", "front"]
    assert doc["span"] == ["2022-08-22T03:52:00+00:00", "2022-08-22T04:04:00+00:00"]
    assert doc["scored_hours"] == ["2022-08-22T03:00:00+00:00", "2022-08-22T05:00:00+00:00"]
    assert doc["catalog"] == {"default": True, "unknown_signals": ["queue_depth"]}
    assert doc["traces"]["edges"] == 2
    assert {e["service"] for e in doc["events"]} == {"redis", "cart", "front"}
    root = doc["ranking"]["candidates"][0]
    assert root["first_onset"] == "2022-08-22T03:55:00+00:00" and root["signal"] == "latency_p95"


def test_without_traces_it_ranks_by_onset_and_says_so(exports) -> None:
    code, out, err = _rca("--metrics", str(exports["metrics"]), *AT_FLAG)
    assert code == 0, err
    assert _ranked(out) == ["redis", "cart", "front"]
    assert "none (--traces not given): the ranking falls back to onset order" in out
    assert "onset_order" in out and "no dependency map was available" in out


def test_a_window_the_metrics_do_not_cover_is_an_error_naming_the_file(exports) -> None:
    metrics = str(exports["metrics"])
    code, out, err = _rca("--metrics", metrics, "--at", "2022-08-22T07:54Z")
    assert (code, out) == (2, "")
    assert f"error: {metrics}: no values in [2022-08-22 07:52, 2022-08-22 08:04) UTC" in err
    assert "it holds 2022-08-22 01:00 to 2022-08-22 04:29 UTC" in err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--at", "yesterday"], "--at"),
        (["--at", "2022-08-22T03:54"], "--at"),  # no timezone: never guessed
        (["--at", "2022-08-22T03:54Z", "--window", "soon"], "--window"),
    ],
)
def test_a_bad_flag_is_an_error_naming_it(exports, args: list[str], named: str) -> None:
    code, out, err = _rca("--metrics", str(exports["metrics"]), *args)
    assert (code, out) == (2, "") and err.startswith("error: ") and named in err


def test_unreadable_files_are_errors_naming_them(exports, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = _rca("--metrics", str(missing), *AT_FLAG)
    assert code == 2 and str(missing) in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, _, err = _rca("--metrics", str(exports["metrics"]), "--traces", str(broken), *AT_FLAG)
    assert code == 2 and str(broken) in err and "not valid JSON" in err


def test_the_core_scores_the_hours_around_at_and_keeps_the_events_near_it(exports) -> None:
    """The domain call the CLI makes, without the CLI: bench/rca replays faults with it."""
    frame = read_long_csv(exports["metrics"], timedelta(minutes=1)).frame
    catalog = default_catalog(frame.columns).catalog
    config = PostmortemConfig()
    postmortem = root_cause(frame, catalog, AT, None, config)
    assert postmortem.hours == config.hours(AT) == (AT.replace(minute=0), AT.replace(minute=0)
                                                    + timedelta(hours=2))  # fmt: skip
    low, high = config.span(AT)
    assert all(e.end > low and e.start < high for e in postmortem.events)
    assert postmortem.ranking is not None and postmortem.ranking.root.service == "redis"
    # cut at a later fault's time: only what began before it is kept
    # hours scored once serve several moments (a bench replays many faults of one frame)
    rows = score_hours(frame, catalog, config.hours(AT), config)
    again = root_cause(frame, catalog, AT, None, config, rows=rows)
    assert again.events == postmortem.events and again.ranking == postmortem.ranking
    cut = root_cause(frame, catalog, AT, None, config, until=AT + timedelta(minutes=5), rows=rows)
    assert {e.service for e in cut.events} == {"redis", "cart"}
