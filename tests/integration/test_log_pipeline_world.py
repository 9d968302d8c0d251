"""The log pipeline as the DAGs run it over the demo world: mining chained over
template-state versions, the stored counts and log anomalies of the world's incidents, the
nightly's lasting-error findings, and the log context of anomaly events.

The demo world's logs cover [2026-10-29, 2026-11-01). The DAG runs are made once per module
(`pipeline`), in the order a scheduler with backfills could make them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiops.catalog import LogSettings, load_catalog
from aiops.logs.context import with_log_context
from aiops.logs.miner import TemplateMiner
from aiops.logs.window import (
    STATE_FILE,
    STATE_NAME,
    load_state,
    mine_window,
    save_state,
)
from aiops.model_registry import ModelRegistry, version_for
from aiops.sources.log_files import LogFileSource
from aiops.store import Store
from support.log_runs import mine_files

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
LOG_TABLES = ("log_anomalies", "log_template_counts", "log_volume")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


FIRST_NIGHT = (utc(2026, 10, 28), utc(2026, 10, 29))  # before the logs: an empty state
QUIET_HOUR = (utc(2026, 10, 29, 8), utc(2026, 10, 29, 9))
ROLLOUT_HOUR = (utc(2026, 10, 29, 10), utc(2026, 10, 29, 11))  # catalog 2.0.0 at 10:30
CASCADE_NIGHT = (utc(2026, 10, 30), utc(2026, 10, 31))  # redis cascade 14:00-14:35
SPIKE_HOUR = (utc(2026, 10, 31, 15), utc(2026, 10, 31, 16))  # payment errors 15:10-15:50
LAST_NIGHT = (utc(2026, 10, 31), utc(2026, 11, 1))
NIGHTS = (FIRST_NIGHT, CASCADE_NIGHT, LAST_NIGHT)
RUNS = (FIRST_NIGHT, QUIET_HOUR, ROLLOUT_HOUR, CASCADE_NIGHT, SPIKE_HOUR, LAST_NIGHT)


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as a sorted list of JSON texts: equal lists, equal row sets."""
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)


def of_kind(rows: list[dict[str, Any]], kind: str, service: str | None = None) -> list[dict]:
    return [r for r in rows if r["kind"] == kind and service in (None, r["service"])]


@pytest.fixture(scope="module")
def world_logs(demo_world: tuple[Path, dict[str, Any]]) -> Path:
    return demo_world[0] / "logs"


@dataclass
class Pipeline:
    """The hourly/nightly log step (`mine_interval`) against one results store and one model
    registry, reading the log files as AIOPS_LOGS_DIR would."""

    logs: Path
    url: str
    models: Path
    anomalies: dict[tuple[datetime, datetime], list[dict]] = field(default_factory=dict)
    findings: dict[tuple[datetime, datetime], list[dict]] = field(default_factory=dict)

    def run(self, start: datetime, end: datetime, findings: bool = False) -> dict[str, Any]:
        return mine_files(self.logs, self.url, self.models, start, end, findings=findings)

    def read(self, table: str, **equals: Any) -> list[dict[str, Any]]:
        with Store.open(self.url) as store:
            return store.read(table, **equals)

    def interval_rows(self, table: str, start: datetime, end: datetime) -> list[dict]:
        return self.read(table, interval_start=start, interval_end=end)

    def tables(self) -> dict[str, list[str]]:
        return {table: canonical(self.read(table)) for table in LOG_TABLES}

    def state_file(self, end: datetime) -> Path:
        return self.models / STATE_NAME / version_for(end) / STATE_FILE

    def state(self, end: datetime) -> TemplateMiner:
        return TemplateMiner.load(self.state_file(end))


@pytest.fixture(scope="module")
def pipeline(world_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The DAG runs of RUNS in order, the log anomalies and findings of each as they were."""
    root = tmp_path_factory.mktemp("log_pipeline")
    p = Pipeline(world_logs, f"sqlite:///{root / 'results.db'}", root / "models")
    for start, end in RUNS:
        nightly = (start, end) in NIGHTS
        p.run(start, end, findings=nightly)
        p.anomalies[(start, end)] = p.interval_rows("log_anomalies", start, end)
        if nightly:
            p.findings[(start, end)] = p.interval_rows("findings", start, end)
    return p


# -- the chain: state(a -> c) = state(a -> b -> c) ---------------------------------------------


def test_mining_in_two_runs_through_the_registry_equals_one_run(
    world_logs: Path, tmp_path: Path
) -> None:
    settings = LogSettings()
    services = load_catalog().service_names
    source = LogFileSource(world_logs, settings.format)
    start, split, end = utc(2026, 10, 29), utc(2026, 10, 30, 5), utc(2026, 10, 31)

    miner, since, version = load_state(ModelRegistry(tmp_path / "one"), start, settings)
    whole = mine_window(source, miner, since, start, end, services, settings, version)

    registry = ModelRegistry(tmp_path / "two")
    miner, since, version = load_state(registry, start, settings)
    first = mine_window(source, miner, since, start, split, services, settings, version)
    saved = save_state(registry, first, split, split)
    miner, since, version = load_state(registry, split, settings)
    assert (since, version) == (split, saved)  # the second run starts where the first ended
    second = mine_window(source, miner, since, split, end, services, settings, version)

    assert whole.lines > 100_000 and whole.lines == first.lines + second.lines
    assert second.miner.to_json() == whole.miner.to_json()
    assert canonical(first.volume + second.volume) == canonical(whole.volume)
    assert canonical(first.counts + second.counts) == canonical(whole.counts)
    new = {(s, c.id) for s, c in whole.new}
    assert new == {(s, c.id) for s, c in first.new + second.new}
    assert any(c.template.startswith("warm-up aborted") for _, c in whole.new)


# -- reruns and backfills ------------------------------------------------------------------------


def test_rerunning_an_hour_writes_the_same_rows_and_the_same_state(pipeline: Pipeline) -> None:
    before, state = pipeline.tables(), pipeline.state_file(SPIKE_HOUR[1]).read_bytes()

    pipeline.run(*SPIKE_HOUR)

    assert pipeline.tables() == before
    assert pipeline.state_file(SPIKE_HOUR[1]).read_bytes() == state
    assert canonical(pipeline.interval_rows("log_anomalies", *SPIKE_HOUR)) == canonical(
        pipeline.anomalies[SPIKE_HOUR]
    )


def test_rerunning_an_earlier_hour_after_later_ones_gives_its_original_rows(
    pipeline: Pipeline,
) -> None:
    before, state = pipeline.tables(), pipeline.state_file(QUIET_HOUR[1]).read_bytes()
    assert pipeline.anomalies[QUIET_HOUR]  # something to compare

    totals = pipeline.run(*QUIET_HOUR)  # days of later runs are stored by now

    assert totals["mined_from"] == FIRST_NIGHT[1].isoformat()  # the state before its start
    rows = pipeline.interval_rows("log_anomalies", *QUIET_HOUR)
    assert canonical(rows) == canonical(pipeline.anomalies[QUIET_HOUR])
    assert pipeline.tables() == before
    assert pipeline.state_file(QUIET_HOUR[1]).read_bytes() == state


# -- what the logs say about the planted incidents -----------------------------------------------


def test_the_payment_error_spike_hour_reports_the_new_charge_failure(pipeline: Pipeline) -> None:
    rows = pipeline.anomalies[SPIKE_HOUR]

    new = of_kind(rows, "new_template")
    assert [(r["service"], r["level"]) for r in new] == [("payment", "ERROR")]
    (row,) = new
    assert row["template"].startswith("charge failed for order <*>: upstream psp-gateway returned")
    assert utc(2026, 10, 31, 15, 10) <= datetime.fromisoformat(row["detail"]["first_seen"])
    assert row["detail"]["first_seen"] < "2026-10-31T15:50"
    samples = row["detail"]["samples"]
    assert samples and all(s.startswith("charge failed for order ") for s in samples)
    assert not [s for s in samples if EMAIL.search(s)]

    (ratio,) = of_kind(rows, "error_ratio", "payment")
    assert ratio["level"] == "ERROR" and ratio["observed"] > 2 * ratio["expected"]


def test_templates_logged_the_day_before_are_not_new(pipeline: Pipeline) -> None:
    day_before = {
        (r["service"], r["template_id"])
        for r in pipeline.read(
            "log_template_counts",
            at_least={"bucket_start": CASCADE_NIGHT[0]},
            at_most={"bucket_start": CASCADE_NIGHT[1] - timedelta(microseconds=1)},
        )
    }
    (charge_ok,) = [
        c
        for c in pipeline.state(SPIKE_HOUR[1]).clusters("payment")
        if c.template.startswith("charge ok for order")
    ]
    assert ("payment", charge_ok.id) in day_before

    new = {
        (r["service"], r["template_id"])
        for r in of_kind(pipeline.anomalies[SPIKE_HOUR], "new_template")
    }
    assert new and not new & day_before


def test_template_samples_keep_no_email_addresses(pipeline: Pipeline) -> None:
    miner = pipeline.state(LAST_NIGHT[1])
    (login,) = [c for c in miner.clusters("auth") if c.template.startswith("login ok for")]
    assert login.samples and all("<email>" in s for s in login.samples)
    everywhere = [s for c in miner.clusters() for s in c.samples]
    everywhere += [
        s
        for rows in pipeline.anomalies.values()
        for r in rows
        for s in r["detail"].get("samples", [])
    ]
    assert not [s for s in everywhere if EMAIL.search(s)]


def test_catalog_warming_goes_silent_at_the_rollout(pipeline: Pipeline) -> None:
    def silences(rows: list[dict]) -> list[dict]:
        return [
            r
            for r in of_kind(rows, "silence", "catalog")
            if r["template"] == "warmed <*> entries in <*>"
        ]

    (row,) = silences(pipeline.anomalies[ROLLOUT_HOUR])
    silent_since = datetime.fromisoformat(row["detail"]["silent_since"])
    # the last line before 10:30 falls in some 5-minute bucket shortly before it
    assert utc(2026, 10, 29, 10, 15) <= silent_since <= utc(2026, 10, 29, 10, 30)
    assert row["level"] == "DEBUG" and row["expected"] > row["observed"]

    assert silences(pipeline.anomalies[QUIET_HOUR]) == []  # it logs all through 08:00-09:00


# -- findings ------------------------------------------------------------------------------------


def test_the_nightly_finds_only_the_lasting_catalog_error(pipeline: Pipeline) -> None:
    (finding,) = pipeline.findings[CASCADE_NIGHT]
    assert (finding["source"], finding["kind"], finding["service"]) == (
        "logs",
        "new_error_template",
        "catalog",
    )
    assert "warm-up aborted" in finding["title"]
    assert "since 2026-10-29 10:" in finding["title"]  # after the 10:30 rollout
    # the start-up line that names the version is what points at the change
    appeared_with = finding["finding"]["evidence"]["numbers"]["appeared_with"]
    assert appeared_with.startswith("starting catalog version 2.0.0"), appeared_with
    assert "starting catalog version 2.0.0" in finding["finding"]["suggestion"]

    pipeline.run(*CASCADE_NIGHT, findings=True)
    again = pipeline.interval_rows("findings", *CASCADE_NIGHT)
    assert [r["fingerprint"] for r in again] == [finding["fingerprint"]]
    assert canonical(again) == canonical(pipeline.findings[CASCADE_NIGHT])

    # a night later the redis timeouts (35 minutes, 34 hours ago) and the payment spike (40
    # minutes) have not lasted; the catalog error has, under the same fingerprint
    later = pipeline.findings[LAST_NIGHT]
    assert [(r["service"], r["fingerprint"]) for r in later] == [
        ("catalog", finding["fingerprint"])
    ]
    assert pipeline.findings[FIRST_NIGHT] == []


# -- log context of anomaly events ---------------------------------------------------------------


def test_anomaly_events_get_the_log_anomalies_of_their_service(pipeline: Pipeline) -> None:
    window = {"start": utc(2026, 10, 31, 15, 12), "end": utc(2026, 10, 31, 15, 48)}
    spike = {"service": "payment", "signal": "error_ratio", "kind": "anomaly", **window,
             "context": {}}  # fmt: skip
    no_data = {**spike, "kind": "no_data"}
    quiet = {**spike, "service": "inventory"}

    with Store.open(pipeline.url) as store:
        out = with_log_context(store, [spike, no_data, quiet], until=utc(2026, 10, 31, 16))
        # no look-ahead: before the hour's row ended (and the day's nightly row), nothing
        early = with_log_context(store, [spike], until=utc(2026, 10, 31, 15, 30))
    assert "logs" not in early[0]["context"]

    logs = out[0]["context"]["logs"]
    assert logs[0]["kind"] == "new_template" and logs[0]["level"] == "ERROR"
    assert logs[0]["template"].startswith("charge failed for order <*>")
    assert logs[0]["samples"] and logs[0]["samples"][0].startswith("charge failed for order")
    assert "error_ratio" in {item["kind"] for item in logs}
    assert {k: v for k, v in out[0].items() if k != "context"} == {
        k: v for k, v in spike.items() if k != "context"
    }
    assert out[1:] == [no_data, quiet]
