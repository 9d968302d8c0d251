"""The demo's plan: the DAG runs `make demo` makes, in the order Airflow would make them."""

from __future__ import annotations

from datetime import timedelta

from aiops.dev.demo.run import ALERTS_ONLY, MAP_ONLY, demo_plan
from aiops.dev.sim.incidents import planted_incidents
from aiops.dev.sim.world import WorldConfig


def _plan():
    config = WorldConfig()
    manifest = {"incidents": [i.to_json() for i in planted_incidents(config.start, config.end)]}
    return demo_plan(manifest)


def test_runs_are_in_time_order_and_each_hour_is_ingested_before_it_is_scored() -> None:
    plan = _plan()
    ends = [run.interval.end for run in plan]
    assert ends == sorted(ends)
    hours = [r.interval for r in plan if r.dag_id == "aiops_hourly"]
    assert len(hours) == 3
    for hour in hours:
        same = [r.dag_id for r in plan if r.interval == hour]
        assert same == ["aiops_ingest", "aiops_hourly"]


def test_every_hour_follows_the_night_that_maps_the_day_before_it() -> None:
    plan = _plan()
    nights = {r.interval.end: r for r in plan if r.dag_id == "aiops_nightly"}
    for position, run in enumerate(plan):
        if run.dag_id != "aiops_hourly":
            continue
        midnight = run.interval.start.replace(hour=0)
        night = nights[midnight]  # its day's night exists ...
        assert plan.index(night) < position  # ... and ran before it
        assert night.interval.end - night.interval.start == timedelta(days=1)
    # the first and last incident nights train; the ones between only map (training, filing
    # skipped); the night after the last hour only summarises and files its predicted breaches
    ordered = [nights[end] for end in sorted(nights)]
    assert [n.skip for n in ordered] == ["", *[MAP_ONLY] * (len(ordered) - 3), "", ALERTS_ONLY]
    assert all(n.note == "" for n in (ordered[0], ordered[-2]))
    last_hour = max((r.interval for r in plan if r.dag_id == "aiops_hourly"), key=lambda i: i.end)
    assert ordered[-1].interval.start <= last_hour.start < ordered[-1].interval.end
    assert plan[-1] is ordered[-1]  # after the hour whose alerts it files
