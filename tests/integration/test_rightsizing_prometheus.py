"""Right-sizing through a real Prometheus: the demo world's cAdvisor and kube-state-metrics
series, read with the catalog's PromQL, give the planted containers the right findings, the
patch is Kubernetes YAML, and filing a night twice files nothing new."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops.catalog import load_catalog
from aiops.cli.main import main
from aiops.rightsizing.findings import REMOVE
from aiops.rightsizing.pipeline import RightsizingRun, recommend_window, rightsize_interval
from aiops.rightsizing.quantities import bytes_from_quantity, cores_from_quantity
from aiops.rightsizing.source import ContainerKey
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.pipeline import file_interval
from aiops.sources.prometheus import PrometheusClient

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def run(prometheus_url: str, world_config) -> RightsizingRun:
    settings = load_catalog().rightsizing
    return recommend_window(PrometheusClient(prometheus_url), settings, world_config.end)


def planted(manifest: dict[str, Any], problem: str) -> ContainerKey:
    (item,) = [p for p in manifest["rightsizing"] if p["problem"] == problem]
    return ContainerKey(item["namespace"], item["workload"], item["container"])


def finding_of(run: RightsizingRun, key: ContainerKey):
    found = [f for f in run.findings if f.evidence.numbers["container"] == str(key)]
    assert len(found) == 1, f"{key}: {len(found)} findings"
    return found[0]


def test_every_container_of_the_world_is_read_and_sized(run, world_config) -> None:
    assert len(run.read.containers) == len(world_config.services)
    assert run.quarantined == [] and run.read.missing_inputs == ()
    assert len(run.recommendations) == len(world_config.services)
    for key, usage in run.read.containers.items():
        # kube-state-metrics' requests read back: every container of the world has them
        assert usage.cpu_request is not None and usage.memory_limit is not None, key


def test_the_over_provisioned_container_is_cut_with_its_saving(run, demo_world) -> None:
    _, manifest = demo_world
    key = planted(manifest, "over_provisioned")
    rec = run.recommendations[key]
    assert rec.cpu_request_cores < 0.5 * rec.current_cpu_request_cores
    assert rec.memory_limit_bytes < 0.5 * rec.current_memory_request_bytes
    assert rec.saving_cores > 0 and rec.saving_gib > 0 and rec.saving_per_month > 0
    finding = finding_of(run, key)
    assert finding.kind == "rightsizing" and finding.safety.name == "REQUIRES_APPROVAL"
    assert finding.service == key.workload and finding.operation == key.container


def test_the_throttled_container_is_told_to_remove_its_cpu_limit(run, demo_world) -> None:
    _, manifest = demo_world
    key = planted(manifest, "throttled")
    advice = run.recommendations[key].cpu_limit_advice
    assert advice is not None and advice.action == "remove"
    assert advice.throttled_share > 0.01
    finding = finding_of(run, key)
    assert finding.evidence.numbers["cpu_limit_recommended"] == REMOVE
    # capped at the limit, its usage is a floor of its demand: the request is at least that
    request = cores_from_quantity(finding.evidence.numbers["cpu_request_recommended"])
    assert request >= advice.current_limit_cores
    assert "throttled at its limit" in finding.suggestion


def test_the_oom_killed_container_gets_more_memory_than_its_limit(run, demo_world) -> None:
    _, manifest = demo_world
    key = planted(manifest, "oom_killed")
    (item,) = [p for p in manifest["rightsizing"] if p["problem"] == "oom_killed"]
    rec = run.recommendations[key]
    assert rec.evidence.oom_kills == len(item["oom_kills"])
    assert rec.memory_limit_bytes > run.read.containers[key].memory_limit
    numbers = finding_of(run, key).evidence.numbers
    assert bytes_from_quantity(numbers["memory_recommended"]) > bytes_from_quantity(
        numbers["memory_now"]
    )


def test_no_other_container_is_told_of_throttling_or_oom_kills(run, demo_world) -> None:
    _, manifest = demo_world
    plantings = {planted(manifest, p) for p in ("throttled", "oom_killed")}
    for key, rec in run.recommendations.items():
        if key not in plantings:
            assert rec.cpu_limit_advice is None and rec.evidence.oom_kills == 0, key


def test_the_patch_is_a_kubernetes_resources_block(run, demo_world) -> None:
    _, manifest = demo_world
    for problem in ("over_provisioned", "throttled", "oom_killed"):
        key = planted(manifest, problem)
        numbers = finding_of(run, key).evidence.numbers
        patch = yaml.safe_load(numbers["kubernetes_patch"])
        (container,) = patch["spec"]["template"]["spec"]["containers"]
        assert container["name"] == key.container
        resources = container["resources"]
        cores_from_quantity(resources["requests"]["cpu"])
        assert resources["limits"]["memory"] == resources["requests"]["memory"]
        assert bytes_from_quantity(resources["limits"]["memory"]) > 0
        values = yaml.safe_load(numbers["helm_values"])
        assert values[key.container]["resources"] == resources


def test_a_night_is_filed_once_and_a_rerun_files_nothing_new(
    prometheus_url: str, world_config, store, tmp_path: Path
) -> None:
    catalog, client = load_catalog(), PrometheusClient(prometheus_url)
    end = world_config.end
    start = end - timedelta(days=1)
    sink = DryRunSink(tmp_path / "issues")
    run = rightsize_interval(store, client, catalog.rightsizing, start, end)
    first = file_interval(store, catalog, sink, start, end, tmp_path)
    assert first.counts().get("created") == len(run.findings) > 0
    written = sorted(p.read_text() for p in (tmp_path / "issues").rglob("*.md"))

    rightsize_interval(store, client, catalog.rightsizing, start, end)
    again = file_interval(store, catalog, sink, start, end, tmp_path)
    assert again.writes == 0 and set(again.counts()) == {"already_filed"}
    assert sorted(p.read_text() for p in (tmp_path / "issues").rglob("*.md")) == written


def test_the_next_night_comments_only_where_the_numbers_moved(
    prometheus_url: str, world_config, store, tmp_path: Path
) -> None:
    """A day later the same history, one day shifted: the recommendations barely move, so
    the open issues hear nothing (a daily comment on a right-sizing issue is noise)."""
    catalog, client = load_catalog(), PrometheusClient(prometheus_url)
    sink = DryRunSink(tmp_path / "issues")
    nights = [world_config.end - timedelta(days=1), world_config.end]
    for end in nights:
        rightsize_interval(store, client, catalog.rightsizing, end - timedelta(days=1), end)
        report = file_interval(store, catalog, sink, end - timedelta(days=1), end, tmp_path)
    counts = report.counts()
    assert "created" not in counts and counts.get("unchanged", 0) >= 1, counts
    assert report.writes == counts.get("commented", 0), counts


def test_the_cli_prints_a_table_and_json(prometheus_url: str, world_config, demo_world, capsys):
    _, manifest = demo_world
    at = world_config.end.isoformat()
    assert main(["rightsize", "--prometheus", prometheus_url, "--at", at]) == 0
    table = capsys.readouterr().out
    over = planted(manifest, "over_provisioned")
    (line,) = [ln for ln in table.splitlines() if f" {over.workload} " in ln]
    assert "->" in line and line.rstrip().endswith("*")
    assert main(["rightsize", "--prometheus", prometheus_url, "--at", at, "--json",
                 "--service", over.workload]) == 0  # fmt: skip
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["workload"] == over.workload and doc["filed"] is True
    assert doc["cpu_request_cores"] < doc["current_cpu_request_cores"]
