"""Log anomalies from stored counts: the seasonal baseline knows a template's day, the flat one
stands in for short histories, and only mined buckets count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.catalog import LogSettings
from aiops.logs.anomalies import service_log_anomalies
from aiops.logs.templates import Cluster, MinerConfig, ServiceTemplates
from aiops.store import Store

DAY0 = datetime(2026, 10, 20, tzinfo=UTC)
BUCKET = timedelta(minutes=5)
DAYTIME = Cluster(id="Eday", tokens=["order", "<*>", "shipped"], seq=0, levels={"INFO": 1})
STEADY = Cluster(id="Esteady", tokens=["heartbeat", "ok"], seq=1, levels={"DEBUG": 1})


def _templates(aliases: dict[str, str] | None = None) -> ServiceTemplates:
    """The shop's two templates, as its mined state holds them."""
    state = {"clusters": [DAYTIME.to_json(), STEADY.to_json()], "aliases": aliases or {},
             "next_seq": 2, "evicted": 0, "merges": len(aliases or {})}  # fmt: skip
    return ServiceTemplates.from_json("shop", MinerConfig(), state)


def _per_bucket(template: str, at: datetime) -> int:
    """Daytime (08:00-20:00) 10 lines per 5 minutes, none at night; the heartbeat 2, always."""
    if template == "Eday":
        return 10 if 8 <= at.hour < 20 else 0
    return 2


def _store(
    tmp_path: Path,
    days: int,
    now_hour: datetime,
    now: dict[str, int],
    renamed_until: datetime | None = None,
) -> Store:
    """`days` of normal history before `now_hour`, then that hour with per-bucket `now`;
    before `renamed_until` the daytime template's lines are stored as "Eold" (the ID of a
    template that later merged into it)."""
    store = Store.open(f"sqlite:///{tmp_path / 'logs.db'}")
    volume, counts = [], []
    at = now_hour - timedelta(days=days)
    while at < now_hour + timedelta(hours=1):
        lines = 0
        for tid in ("Eday", "Esteady"):
            n = now[tid] if at >= now_hour else _per_bucket(tid, at)
            lines += n
            if n:
                stored = "Eold" if tid == "Eday" and renamed_until and at < renamed_until else tid
                counts.append(
                    {"service": "shop", "template_id": stored, "bucket_start": at, "count": n}
                )
        volume.append({"service": "shop", "bucket_start": at, "lines": lines, "errors": 0,
                       "warnings": 0, "unmatched": 0, "quarantined": 0})  # fmt: skip
        at += BUCKET
    store.upsert("log_volume", volume)
    store.upsert("log_template_counts", counts)
    return store


def _score(store: Store, hour: datetime) -> dict[tuple[str, str], dict]:
    rows = service_log_anomalies(
        store, "shop", hour, hour + timedelta(hours=1), [], _templates(), LogSettings(),
    )  # fmt: skip
    return {(r["kind"], r["template_id"]): r for r in rows}


@pytest.mark.parametrize(
    ("hour", "now", "expected"),
    [
        # 03:00, the daytime template quiet as every night: nothing to say
        (DAY0.replace(hour=3), {"Eday": 0, "Esteady": 2}, set()),
        # 14:00 and it stopped: the seasonal baseline expects ~120 lines, so it is silence
        (DAY0.replace(hour=14), {"Eday": 0, "Esteady": 2}, {("silence", "Eday")}),
        # 14:00 at four times its usual rate
        (DAY0.replace(hour=14), {"Eday": 40, "Esteady": 2}, {("spike", "Eday")}),
        # 03:00 and it logs like at noon: a spike only a seasonal baseline can see
        (DAY0.replace(hour=3), {"Eday": 10, "Esteady": 2}, {("spike", "Eday")}),
    ],
)
def test_the_seasonal_baseline_knows_a_templates_day(tmp_path, hour, now, expected) -> None:
    with _store(tmp_path, days=5, now_hour=hour, now=now) as store:
        found = _score(store, hour)
    assert set(found) == expected
    for row in found.values():
        assert row["detail"]["baseline"] == "seasonal"


def test_short_histories_use_the_median_hour(tmp_path) -> None:
    hour = DAY0.replace(hour=14)
    with _store(tmp_path, days=1, now_hour=hour, now={"Eday": 10, "Esteady": 12}) as store:
        found = _score(store, hour)
    assert set(found) == {("spike", "Esteady")}
    assert found[("spike", "Esteady")]["detail"]["baseline"] == "flat"
    assert found[("spike", "Esteady")]["expected"] == pytest.approx(24.0)


def test_hours_never_mined_are_not_silence(tmp_path) -> None:
    """Without log_volume rows for the interval, no count is compared (it was never read)."""
    hour = DAY0.replace(hour=14)
    with _store(tmp_path, days=5, now_hour=hour, now={"Eday": 0, "Esteady": 0}) as store:
        later = hour + timedelta(hours=5)  # nothing stored for this hour
        assert service_log_anomalies(store, "shop", later, later + timedelta(hours=1), [],
                             _templates(), LogSettings()) == []  # fmt: skip


def test_counts_of_a_template_merged_since_are_its_keepers(tmp_path) -> None:
    """Five days of the daytime template's lines were counted under an ID that has since
    merged into it: they are its history, so its silence at 14:00 is seen, and the old ID
    is not reported as a template of its own."""
    hour = DAY0.replace(hour=14)
    with _store(tmp_path, days=5, now_hour=hour, now={"Eday": 0, "Esteady": 2},
                renamed_until=hour - timedelta(hours=6)) as store:  # fmt: skip
        rows = service_log_anomalies(store, "shop", hour, hour + timedelta(hours=1), [],
                                     _templates({"Eold": "Eday"}), LogSettings())  # fmt: skip
    found = {(r["kind"], r["template_id"]): r for r in rows}
    assert set(found) == {("silence", "Eday")}
    assert found[("silence", "Eday")]["detail"]["baseline"] == "seasonal"
