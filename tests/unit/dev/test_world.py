"""The demo world as a whole: same config, same bytes; a manifest that tells the truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from aiops.dev.digest import file_sha256
from aiops.dev.sim.world import WorldConfig, build_world

SMALL = WorldConfig(days=14, trace_hours=3, traces_per_hour=10, log_hours=3)
KINDS = {
    "latency_regression",
    "error_spike",
    "memory_leak",
    "n_plus_one",
    "sequential_calls",
    "traffic_ramp",
    "cascading_failure",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small-world")
    return out, build_world(SMALL, out)


def test_same_config_gives_the_same_bytes_in_every_file(built, tmp_path: Path) -> None:
    _, first = built
    second = build_world(SMALL, tmp_path / "again")
    assert second["sha256"] == first["sha256"]
    assert {"metrics.om", "signals.csv.gz"} <= set(first["sha256"])
    assert any(p.startswith("traces/") for p in first["sha256"])
    assert any(p.startswith("logs/") for p in first["sha256"])


def test_manifest_records_every_planted_incident_inside_the_window(built) -> None:
    _, manifest = built
    assert {i["kind"] for i in manifest["incidents"]} == KINDS
    start = datetime.fromisoformat(manifest["config"]["start"])
    end = datetime.fromisoformat(manifest["config"]["end"])
    for incident in manifest["incidents"]:
        assert start <= datetime.fromisoformat(incident["start"]) < end, incident["kind"]
    leak = next(i for i in manifest["incidents"] if i["kind"] == "memory_leak")
    assert leak["details"]["leak_bytes_per_second"] > 0
    assert datetime.fromisoformat(leak["details"]["expected_breach_at"]) > end
    cascade = next(i for i in manifest["incidents"] if i["kind"] == "cascading_failure")
    assert cascade["details"]["root_cause"] == "redis"


def test_manifest_hashes_match_the_files_on_disk(built) -> None:
    out, manifest = built
    for rel, digest in manifest["sha256"].items():
        assert file_sha256(out / rel) == digest, rel


def test_an_intact_world_is_reused_and_a_damaged_one_rebuilt(built) -> None:
    out, manifest = built
    metrics = out / "metrics.om"
    before = metrics.stat().st_mtime_ns
    assert build_world(SMALL, out) == manifest
    assert metrics.stat().st_mtime_ns == before  # nothing rewritten

    with metrics.open("a") as f:
        f.write("# tampered\n")
    rebuilt = build_world(SMALL, out)
    assert rebuilt["sha256"] == manifest["sha256"]
    assert file_sha256(metrics) == manifest["sha256"]["metrics.om"]
