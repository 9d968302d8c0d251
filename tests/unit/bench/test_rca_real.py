"""The real-fault RCA bench (bench/rca) on tiny hand-made data: the Nezha loaders, AC@k and
Avg@5, personalised PageRank, and one replay through the current scoring and ranking."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from aiops.incidents.graph import DependencyGraph  # noqa: E402
from aiops.incidents.incident_event import IncidentEvent  # noqa: E402
from bench.rca import nezha, peers, ranking_cv, scoring  # noqa: E402
from bench.rca.replay import (  # noqa: E402
    Replay,
    ReplayConfig,
    Replayer,
    build_catalog,
    ours,
    replay_fault,
    scored_hours,
    wide_frame,
)

DAY = "2022-08-22"
HEADER = (
    "Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),MemoryUsageRate(%),"
    "PodServerLatencyP90(s),PodServerLatencyP95(s),PodServerLatencyP99(s),PodWorkload(Ops),"
    "PodSuccessRate(%)"
)
PODS = {
    "frontend": "frontend-579b9bff58-t2dbm",
    "cartservice": "cartservice-579f59597d-wc2lz",
    "adservice": "adservice-5f6585d649-fnmft",
}
T = datetime(2022, 8, 22, 3, 51, 19, tzinfo=UTC)


def metric_row(pod: str, minute: int, *, cpu: str = "5.0", offset: int = 0) -> str:
    when = T + timedelta(minutes=minute)
    time_text = f"{when:%Y-%m-%d %H:%M:%S}.607158889 +0000 UTC m=+{60.0 * minute:.6f}"
    stamp = int(when.timestamp()) + offset
    return f"{time_text},{stamp},{pod},{cpu},25,100,80,0.2,0.3,0.4,9.5,0"


def write_day(root, *, bad_cell: bool = False, bad_fault: bool = False) -> None:
    metric = root / DAY / "metric"
    metric.mkdir(parents=True)
    for service, pod in PODS.items():
        # adservice's TimeStamp is 200,000,000 s off on this day, as upstream
        offset = 200_000_000 if service == "adservice" else 0
        rows = [metric_row(pod, m, offset=offset) for m in range(3)]
        if bad_cell and service == "cartservice":
            rows[1] = metric_row(pod, 1, cpu="lots")
        if service == "cartservice":
            rows[2] = rows[2].replace(",0.3,", ",,", 1)  # an empty p95 cell
        (metric / f"{pod}_metric.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    (metric / "dependency.csv").write_text(
        "Source,Target,Weight\n"
        "frontend,cartservice,1\n"
        "frontend,adservice,1\n"
        "frontend,frontend,1\n"
        "cartservice,33.33.33.80,1\n"
        "loadgenerator,33.33.33.79,1\n"
    )
    faults = {
        "03": [{"inject_time": "2022-08-22 03:53:54", "inject_timestamp": "1661140434",
                "inject_pod": PODS["frontend"], "inject_type": "cpu_contention"}],
        "04": [{"inject_time": "2022-08-22 04:02:07", "inject_timestamp": "1661140927",
                "inject_pod": PODS["cartservice"], "inject_type": "network_delay"}],
    }  # fmt: skip
    if bad_fault:
        del faults["04"][0]["inject_pod"]
    (root / DAY / f"{DAY}-fault_list.json").write_text(json.dumps(faults, indent=4))


def test_faults_carry_root_service_kind_and_utc_time(tmp_path):
    write_day(tmp_path)
    assert nezha.days(tmp_path) == [DAY]
    first, second = nezha.load_faults(tmp_path, DAY)
    assert first.inject_time == datetime(2022, 8, 22, 3, 53, 54, tzinfo=UTC)
    assert (first.service, first.kind) == ("frontend", "cpu_contention")
    assert (second.service, second.pod) == ("cartservice", PODS["cartservice"])


def test_a_fault_without_its_pod_is_an_error_naming_file_and_line(tmp_path):
    write_day(tmp_path, bad_fault=True)
    with pytest.raises(nezha.NezhaError, match=r"fault_list\.json:11: fault without"):
        nezha.load_faults(tmp_path, DAY)


def test_metrics_become_a_long_frame_of_utc_minutes(tmp_path):
    write_day(tmp_path)
    long = nezha.load_metrics(tmp_path, DAY)
    assert list(long.columns) == ["timestamp", "service", "signal", "value"]
    assert set(long["signal"]) == {s.signal for s in nezha.SIGNALS}
    assert "error_ratio" not in set(long["signal"])  # PodSuccessRate is 0 upstream
    minutes = pd.date_range("2022-08-22 03:51", periods=3, freq="min", tz="UTC")
    for service in PODS:  # adservice's off TimeStamp is not used: its Time column is
        got = long[(long["service"] == service) & (long["signal"] == "cpu")]
        assert list(got["timestamp"]) == list(minutes)
        assert got["value"].tolist() == pytest.approx([0.005] * 3)  # millicores -> cores
    memory = long[(long["service"] == "frontend") & (long["signal"] == "memory")]["value"]
    assert memory.iloc[0] == 100 * 2**20
    p95 = long[(long["service"] == "cartservice") & (long["signal"] == "latency_p95")]
    assert np.isnan(p95["value"].iloc[2]) and p95["value"].iloc[0] == 0.3


def test_a_malformed_metric_cell_is_an_error_naming_file_and_line(tmp_path):
    write_day(tmp_path, bad_cell=True)
    where = r"cartservice-579f59597d-wc2lz_metric\.csv:3: "
    with pytest.raises(nezha.NezhaError, match=where + r"CpuUsage\(m\) 'lots' is not a number"):
        nezha.load_metrics(tmp_path, DAY)


def test_the_call_graph_keeps_service_edges_only(tmp_path):
    write_day(tmp_path)
    loaded = nezha.load_graph(tmp_path, DAY, frozenset(PODS))
    assert loaded.graph.edges_among(PODS) == [
        ("frontend", "adservice", 1.0),
        ("frontend", "cartservice", 1.0),
    ]
    assert set(loaded.dropped) == {("cartservice", "33.33.33.80"), ("loadgenerator", "33.33.33.79")}


def test_service_of_pod_strips_two_hash_suffixes():
    assert nezha.service_of_pod("productcatalogservice-668d5f85fb-jhwx9") == "productcatalogservice"
    with pytest.raises(nezha.NezhaError, match="not a pod name"):
        nezha.service_of_pod("frontend")


# ---------------------------------------------------------------- scoring


def test_ac_at_k_and_avg_at_5_on_hand_cases():
    per_fault = [
        scoring.hits(["a", "b", "c"], "a"),  # first
        scoring.hits(["b", "c", "a"], "a"),  # third
        scoring.hits(["b", "c"], "a"),  # absent: a miss at every k
        scoring.hits([], "a"),  # no events at all
    ]
    assert scoring.ac_at(per_fault, 1) == 0.25
    assert scoring.ac_at(per_fault, 3) == 0.5
    assert scoring.avg_at_5(per_fault) == pytest.approx((0.25 + 0.25 + 0.5 + 0.5 + 0.5) / 5)
    assert scoring.ac_at([], 1) is None
    assert scoring.rank_of(["b", "c", "a"], "a") == 3 and scoring.rank_of(["b"], "a") is None


def test_random_expects_k_over_n():
    assert scoring.random_hits(10) == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert scoring.random_hits(2) == (0.5, 1.0, 1.0, 1.0, 1.0)
    assert scoring.avg_at_5([scoring.random_hits(10)]) == pytest.approx(0.3)


# ---------------------------------------------------------------- peers


def test_pagerank_on_a_three_node_chain():
    """a -> b -> c, restarting on a: x_b = d x_a, x_c = d x_b, and c, with no out-edge,
    hands its rank back to a, so x_a = 1 / (1 + d + d^2)."""
    d = 0.85
    rank = peers.personalised_pagerank([("a", "b"), ("b", "c")], {"a": 1.0})
    x_a = 1 / (1 + d + d * d)
    assert rank["a"] == pytest.approx(x_a)
    assert rank["b"] == pytest.approx(d * x_a)
    assert rank["c"] == pytest.approx(d * d * x_a)
    assert peers.personalised_pagerank([("a", "b")], {}) == {}


def event(service: str, minute: int, strength: float) -> IncidentEvent:
    start = datetime(2022, 8, 22, 12, minute, tzinfo=UTC)
    end = start + timedelta(minutes=3)
    return IncidentEvent(
        "metric",
        service,
        "latency_p95",
        "anomaly",
        start,
        end,
        strength,
        "warning",
        True,
        "",
        service,
    )


def test_peers_rank_the_same_events_their_own_way():
    graph = DependencyGraph.from_pairs([("front", "cart"), ("cart", "redis")])
    events = [event("front", 2, 9.0), event("cart", 1, 5.0), event("redis", 1, 6.0)]
    assert peers.largest_anomaly(events, graph) == ["front", "redis", "cart"]
    assert peers.earliest_onset(events, graph) == ["redis", "cart", "front"]
    assert peers.pagerank(events, graph)[0] == "redis"  # rank drains to the callee


# ---------------------------------------------------------------- replay


def synthetic_frame(start: datetime, hours: int, inject: datetime) -> pd.DataFrame:
    """front calls cart; cart's p95 latency jumps fivefold at the injection for 8 minutes,
    front's a little a minute later."""
    index = pd.date_range(start, periods=hours * 60, freq="min", tz="UTC")
    rng = np.random.default_rng(7)
    columns = {}
    for service, base in (("front", 0.3), ("cart", 0.02), ("ads", 0.05)):
        columns[f"{service}:latency_p95"] = base * (1 + 0.05 * rng.standard_normal(len(index)))
        columns[f"{service}:request_rate"] = 10 * (1 + 0.05 * rng.standard_normal(len(index)))
    frame = pd.DataFrame(columns, index=index)
    minute = pd.Timestamp(inject).floor("min")
    during = (index >= minute) & (index < minute + pd.Timedelta(minutes=8))
    frame.loc[during, "cart:latency_p95"] *= 5.0
    later = (index >= minute + pd.Timedelta(minutes=1)) & (index < minute + pd.Timedelta(minutes=8))
    frame.loc[later, "front:latency_p95"] *= 1.3
    return frame


def test_a_planted_latency_jump_at_a_callee_is_an_event_of_the_replay():
    begin = datetime(2022, 8, 22, 0, 0, tzinfo=UTC)
    inject = datetime(2022, 8, 22, 4, 20, 30, tzinfo=UTC)
    fault = nezha.Fault(DAY, inject, "cart-abc-def", "cart", "network_delay")
    frame = synthetic_frame(begin, 6, inject)
    signals = [s for s in nezha.SIGNALS if s.signal in ("latency_p95", "request_rate")]
    catalog = build_catalog(["front", "cart", "ads"], signals)
    graph = DependencyGraph.from_pairs([("front", "cart"), ("front", "ads")])
    replay = replay_fault(fault, frame, catalog, graph, config=ReplayConfig(), rank=ours)

    assert replay.hours == (
        datetime(2022, 8, 22, 4, tzinfo=UTC),
        datetime(2022, 8, 22, 5, tzinfo=UTC),
    )
    assert replay.root_has_event
    cart = [e for e in replay.events if e.service == "cart"]
    assert [e.signal for e in cart] == ["latency_p95"]
    assert inject - timedelta(minutes=2) <= cart[0].start < inject + timedelta(minutes=10)
    assert replay.ranking[0] == "cart"

    # the ranking is a parameter: a swapped-in one sees the same events
    def backwards_by_name(events, g):
        return sorted({e.service for e in events})[::-1]

    backwards = replay_fault(
        fault, frame, catalog, graph, config=ReplayConfig(), rank=backwards_by_name
    )
    assert backwards.events == replay.events
    assert backwards.ranking == tuple(sorted(replay.services)[::-1])


def test_scored_hours_cover_the_lead_and_the_window():
    fault = nezha.Fault(DAY, datetime(2022, 8, 22, 4, 1, tzinfo=UTC), "a-b-c", "a", "return")
    assert scored_hours(fault, ReplayConfig()) == (
        datetime(2022, 8, 22, 3, tzinfo=UTC),
        datetime(2022, 8, 22, 5, tzinfo=UTC),
    )
    late = nezha.Fault(DAY, datetime(2022, 8, 22, 4, 50, tzinfo=UTC), "a-b-c", "a", "return")
    assert scored_hours(late, ReplayConfig()) == (
        datetime(2022, 8, 22, 4, tzinfo=UTC),
        datetime(2022, 8, 22, 5, tzinfo=UTC),
    )


def test_wide_frame_has_a_column_per_service_signal():
    ts = pd.Timestamp("2022-08-22 03:51", tz="UTC")
    long = pd.DataFrame({"timestamp": [ts, ts], "service": ["a", "b"], "signal": ["cpu", "cpu"],
                         "value": [1.0, 2.0]})  # fmt: skip
    wide = wide_frame(long)
    assert list(wide.columns) == ["a:cpu", "b:cpu"] and str(wide.index.tz) == "UTC"


def test_an_event_going_on_before_the_window_keeps_no_onset_and_the_next_fault_cuts_it():
    begin = datetime(2022, 8, 22, 0, 0, tzinfo=UTC)
    inject = datetime(2022, 8, 22, 4, 20, 30, tzinfo=UTC)
    frame = synthetic_frame(begin, 6, inject)
    signals = [s for s in nezha.SIGNALS if s.signal in ("latency_p95", "request_rate")]
    replayer = Replayer(frame, build_catalog(["front", "cart", "ads"], signals))
    # a later fault, injected while cart's regression still goes on
    later = nezha.Fault(DAY, inject + timedelta(minutes=8), "ads-x-y", "ads", "return")
    (carried,) = [e for e in replayer.events(later) if e.service == "cart"]
    assert carried.start == later.inject_time - ReplayConfig().lead
    assert not carried.onset_known
    # the first fault's window ends where the next fault begins: nothing after it counts
    first = nezha.Fault(DAY, inject, "cart-abc-def", "cart", "network_delay")
    cut = replayer.events(first, until=inject - timedelta(minutes=5))
    assert cut == []


def test_ranking_weights_are_chosen_on_one_day_and_scored_on_the_other():
    """A day where the strongest service is the root each time: the weights that lean on
    strength are chosen on one day and carry over to the other."""
    graph = DependencyGraph.from_pairs([("front", "cart"), ("cart", "redis")])
    replays = []
    for day in ("2022-08-22", "2022-08-23"):
        for i, root in enumerate(("front", "cart", "front", "cart")):
            others = [s for s in ("front", "cart", "redis") if s != root]
            events = (event(root, 3, 12.0), event(others[0], 1, 4.0), event(others[1], 2, 4.5))
            fault = nezha.Fault(day, datetime(2022, 8, 22, 12, i, tzinfo=UTC), "p", root, "return")
            replays.append(Replay(fault, (), events, True, (fault.inject_time,) * 2))
    folds, overall = ranking_cv.cross_validate(replays, {d: graph for d in ("2022-08-22",
                                                                           "2022-08-23")})  # fmt: skip
    assert ranking_cv.grid()[0] == ranking_cv.DEFAULT
    assert [f.held_out for f in folds] == ["2022-08-22", "2022-08-23"]
    assert all(f.held[0] == 1.0 for f in folds)  # AC@1 on the held-out day
    assert overall.ranking.strength_weight > ranking_cv.DEFAULT.ranking.strength_weight
