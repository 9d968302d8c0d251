"""The demo world's Jaeger traces: wire format, a consistent span tree, and the planted shapes."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aiops.dev.sim import WorldConfig, simulate_metrics
from aiops.dev.sim.incidents import Incident, planted_incidents
from aiops.dev.sim.traces import write_traces

CONFIG = WorldConfig(days=14, trace_hours=3, traces_per_hour=20, log_hours=3)
TAG_TYPES = {"string": str, "bool": bool, "int64": int, "float64": float}


@pytest.fixture(scope="module")
def world() -> tuple[Any, list[Incident], dict[str, Incident]]:
    incidents = planted_incidents(CONFIG.start, CONFIG.end)
    return simulate_metrics(CONFIG), incidents, {i.kind: i for i in incidents}


def _traces(paths: list[Path]) -> list[dict[str, Any]]:
    return [t for p in paths for t in json.loads(p.read_text())["data"]]


@pytest.fixture(scope="module")
def recent(world, tmp_path_factory) -> list[Path]:
    fleet, incidents, _ = world
    start = CONFIG.end - timedelta(hours=CONFIG.trace_hours)
    return write_traces(CONFIG, incidents, fleet, start, tmp_path_factory.mktemp("recent"))


@pytest.fixture(scope="module")
def cascade(world, tmp_path_factory) -> tuple[list[dict[str, Any]], Incident]:
    """Traces from half an hour before the redis cascade to half an hour after it; the window's
    end is moved with the config, the metrics and incidents stay those of the full world."""
    fleet, incidents, by_kind = world
    inc = by_kind["cascading_failure"]
    config = replace(CONFIG, end=inc.end + timedelta(minutes=30), traces_per_hour=60)
    start = inc.start - timedelta(minutes=30, seconds=17)  # not on an hour, on purpose
    paths = write_traces(config, incidents, fleet, start, tmp_path_factory.mktemp("cascade"))
    traces = _traces(paths)
    starts = [min(s["startTime"] for s in t["spans"]) for t in traces]
    assert min(starts) >= start.timestamp() * 1e6
    assert max(starts) < config.end.timestamp() * 1e6
    return traces, inc


@pytest.fixture(scope="module")
def all_traces(recent, cascade) -> list[dict[str, Any]]:
    return _traces(recent) + cascade[0]


def _service(trace: dict[str, Any], span: dict[str, Any]) -> str:
    return trace["processes"][span["processID"]]["serviceName"]


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span["tags"]}


def _parent(span: dict[str, Any]) -> str | None:
    return span["references"][0]["spanID"] if span["references"] else None


def _end(span: dict[str, Any]) -> int:
    return span["startTime"] + span["duration"]


def test_same_config_writes_the_same_bytes_hour_by_hour(world, recent, tmp_path):
    fleet, incidents, _ = world
    again = write_traces(CONFIG, incidents, fleet, CONFIG.end - timedelta(hours=3), tmp_path)
    assert [p.name for p in again] == [
        "2026-10-31T21.json",
        "2026-10-31T22.json",
        "2026-10-31T23.json",
    ]
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in recent]
    assert len(_traces(recent)) == 3 * CONFIG.traces_per_hour


def test_wire_format_is_the_jaeger_query_api(recent):
    doc = json.loads(recent[0].read_text())
    assert list(doc) == ["data", "total", "limit", "offset", "errors"]
    for trace in doc["data"]:
        assert list(trace) == ["traceID", "spans", "processes", "warnings"]
        assert re.fullmatch(r"[0-9a-f]{32}", trace["traceID"])
        for span in trace["spans"]:
            assert list(span) == [
                "traceID",
                "spanID",
                "flags",
                "operationName",
                "references",
                "startTime",
                "duration",
                "tags",
                "logs",
                "processID",
                "warnings",
            ]
            assert re.fullmatch(r"[0-9a-f]{16}", span["spanID"]) and span["flags"] == 1
            assert isinstance(span["startTime"], int) and span["duration"] > 0
            for tag in span["tags"] + [f for log in span["logs"] for f in log["fields"]]:
                assert isinstance(tag["value"], TAG_TYPES[tag["type"]]), tag


def test_every_trace_is_one_tree_with_resolving_references(all_traces):
    for trace in all_traces:
        ids = {s["spanID"] for s in trace["spans"]}
        assert len(ids) == len(trace["spans"])
        roots = [s for s in trace["spans"] if not s["references"]]
        assert len(roots) == 1 and _service(trace, roots[0]) == "gateway"
        for span in trace["spans"]:
            assert span["processID"] in trace["processes"]
            for ref in span["references"]:
                assert ref["traceID"] == trace["traceID"] and ref["spanID"] in ids


def test_children_start_inside_their_parent_and_async_work_follows(all_traces):
    follows = 0
    for trace in all_traces:
        by_id = {s["spanID"]: s for s in trace["spans"]}
        for span in trace["spans"]:
            for ref in span["references"]:
                parent = by_id[ref["spanID"]]
                if ref["refType"] == "CHILD_OF":
                    assert parent["startTime"] <= span["startTime"] and _end(span) <= _end(parent)
                else:
                    follows += 1
                    assert _service(trace, span) == "order-worker"
                    assert span["startTime"] > parent["startTime"]
    assert follows > 0


def test_db_spans_are_client_spans_of_their_callers(all_traces):
    for trace in all_traces:
        for span in trace["spans"]:
            tags = _tags(span)
            assert _service(trace, span) not in ("postgres", "redis")
            if tags.get("peer.service") in ("postgres", "redis"):
                assert tags["span.kind"] == "client" and tags["db.statement"]
                assert tags["db.system"] in ("postgresql", "redis")


def test_catalog_product_listing_issues_one_query_per_product(recent, world):
    detail = world[2]["n_plus_one"].details
    loops = []
    for trace in _traces(recent):
        for span in trace["spans"]:
            if _service(trace, span) == "catalog" and span["operationName"] == "GET /products":
                same = sorted(
                    (
                        s
                        for s in trace["spans"]
                        if _parent(s) == span["spanID"]
                        and _tags(s).get("db.statement") == detail["statement"]
                    ),
                    key=lambda s: s["startTime"],
                )
                assert all(_end(a) <= b["startTime"] for a, b in zip(same, same[1:], strict=False))
                loops.append(len(same))
    assert loops and min(loops) >= detail["repeats_min"] and max(loops) <= detail["repeats_max"]


def test_checkout_calls_its_independent_backends_one_after_another(all_traces):
    seen = 0
    for trace in all_traces:
        for span in trace["spans"]:
            if _service(trace, span) != "checkout" or _tags(span)["span.kind"] != "server":
                continue
            calls = sorted(
                (
                    s
                    for s in trace["spans"]
                    if _parent(s) == span["spanID"]
                    and _tags(s).get("peer.service") in ("cart", "inventory", "recommendation")
                ),
                key=lambda s: s["startTime"],
            )
            assert [_tags(s)["peer.service"] for s in calls] == [
                "cart",
                "inventory",
                "recommendation",
            ]
            assert all(_end(a) <= b["startTime"] for a, b in zip(calls, calls[1:], strict=False))
            seen += 1
    assert seen >= 3


def test_gateway_fans_out_in_parallel(all_traces):
    overlapping = 0
    for trace in all_traces:
        root = next(s for s in trace["spans"] if not s["references"])
        calls = [
            s
            for s in trace["spans"]
            if _parent(s) == root["spanID"]
            and _tags(s).get("peer.service") in ("catalog", "recommendation")
        ]
        if len(calls) == 2:
            a, b = sorted(calls, key=lambda s: s["startTime"])
            overlapping += b["startTime"] < _end(a)
    assert overlapping >= 5


def test_redis_is_slow_and_failing_during_the_cascade(cascade):
    traces, inc = cascade
    lo, hi = (inc.start + timedelta(minutes=5)).timestamp() * 1e6, inc.end.timestamp() * 1e6
    inside, outside, failed_inside = [], [], 0
    for trace in traces:
        for span in trace["spans"]:
            if _tags(span).get("peer.service") == "redis":
                during = lo <= span["startTime"] < hi
                (inside if during else outside).append(span["duration"])
                failed_inside += during and _tags(span).get("error", False)
    assert len(inside) > 20 and len(outside) > 20
    assert statistics.median(inside) > 5 * statistics.median(outside)
    assert failed_inside / len(inside) > 0.03
    errors = [s for t in traces for s in t["spans"] if _tags(s).get("error")]
    assert all(s["logs"] and s["logs"][0]["fields"][0]["value"] == "error" for s in errors)
