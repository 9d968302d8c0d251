"""Benchmark: predictive scaling decisions replayed on real load, against reactive scaling,
PredictKube's rule, the 80% upper bound and perfect foresight, side by side in one process.

    .venv/bin/python bench/bench_scaling.py [--quantiles 0.5,0.6,...] [--days N] [--quick]

Load series, three families:

- `nab`: NAB's `realKnownCause/nyc_taxi` (taxi passengers every 30 minutes, 7 months);
- `nezha`: the per-minute request workload of each service of ../shared/data/rca's Nezha
  days (10 services, two ~20-hour days, 5-minute means);
- `demo`: the demo world's request rates (12 services, 14 days, 5-minute means).

Each series is the load of one scaled service: capacity per replica is the series' median
divided by 3 (typical load needs a few replicas), 1 to 50 replicas, a 10-minute lead (a
replica asked for at t is ready at t + 10 min). Bins are labelled by their end, as the
forecasts are; a bin running over [t - step, t) gets the replicas decided at
d = t - step - lead from data up to d only:

- forecasts as production makes them: a ForecastSet (the cheap candidates, seasonal naive
  and the seasonal baseline; request load modelled as log1p) refitted every day at midnight
  on the days before it, predicting every hour from the hour's data; a series with less
  than a season (a day) of data has no forecaster yet, and gets its first as soon as it has
  one (tried every hour; Nezha's ~20-hour days reach a season on the second morning);
  bins before a series has a forecaster are not scored for anyone;
- `ours` (aiops.predictive.scaling.scaling_values on the newest hourly forecast, with the
  load observed at d as the floor, as the refresh task serves it), at each quantile of
  --quantiles;
- `point`: the point forecast for the bin alone (what was served before the decision rule);
- `reactive`: the load of the last bin observed by d (an HPA on the current metric);
- `predictkube`: max(the forecast for the bin, the last observed load), PredictKube's rule;
- `upper80`: the forecast interval's upper end for the bin;
- `perfect`: the bin's load itself.

For each: the share of bins whose replicas x capacity is short of the load, and the
replica-hours relative to perfect foresight's. Target (issue): short at most 60% as often as
reactive, at no more than 1.3x perfect's replica-hours, on every family, with one frozen
`target_quantile`, chosen by leave-one-family-out: for each family, the quantile that meets
both on the other two at the lowest cost (else the lowest shortfall), scored on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.catalog import TARGET_QUANTILE, Scaling  # noqa: E402
from aiops.forecast import ForecastConfig, ForecastError, ForecastSet  # noqa: E402
from aiops.predictive.replay import PEERS, Tally, replay_scaling  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
LEAD = timedelta(minutes=10)
REPLICAS = (1, 50)
QUANTILES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
SHORT_RATIO, COST_CAP = 0.6, 1.3
KEY = "svc:load"


@dataclass
class Series:
    family: str
    name: str
    load: pd.Series  # regular grid, UTC, bin means labelled by bin END (the forecast's way)
    evaluate_from: pd.Timestamp  # bins after this are scored (the days before train)


@dataclass
class Result:
    series: Series
    tallies: dict[str, Tally] = field(default_factory=dict)


# --- data ---------------------------------------------------------------------------------


def _end_labelled(load: pd.Series) -> pd.Series:
    """Bins labelled by their start (a resample's way) relabelled by their end."""
    step = pd.Timedelta(load.index.freq)
    out = load.copy()
    out.index = out.index + step
    return out.asfreq(step)


def nab_taxi(days: int | None) -> Iterator[Series]:
    raw = pd.read_csv(DATA / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv")
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp"])).tz_localize("UTC")
    load = pd.Series(raw["value"].to_numpy(float), index=index).sort_index()
    load = _end_labelled(load[~load.index.duplicated()].asfreq("30min"))
    start = load.index[-1].normalize() - pd.Timedelta(days=days or 60)
    yield Series("nab", "nyc_taxi", load, start)


def nezha_workloads() -> Iterator[Series]:
    root = DATA / "rca" / "nezha-onlineboutique"
    per_service: dict[str, list[pd.Series]] = {}
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted((day / "metric").glob("*_metric.csv")):
            frame = pd.read_csv(path, usecols=["Time", "PodWorkload(Ops)"])
            at = pd.to_datetime(frame["Time"].str.slice(0, 19), utc=True)
            series = pd.Series(frame["PodWorkload(Ops)"].to_numpy(float), index=at)
            service = path.name.split("-")[0]
            per_service.setdefault(service, []).append(series)
    for service, parts in sorted(per_service.items()):
        load = pd.concat(parts).sort_index()
        load = _end_labelled(load[~load.index.duplicated()].resample("5min").mean())
        if load.dropna().median() <= 0:
            continue
        second_day = parts[-1].index.min().normalize()
        yield Series("nezha", service, load, second_day)


def demo_request_rates(days: int) -> Iterator[Series]:
    from bench.forecast.data import demo_signals

    frame, _ = demo_signals(ROOT)
    for column in sorted(c for c in frame.columns if c.endswith(":request_rate")):
        load = _end_labelled(frame[column].resample("5min").mean())
        start = load.index[-1].normalize() - pd.Timedelta(days=days)
        yield Series("demo", column.split(":")[0], load, start)


# --- replay -------------------------------------------------------------------------------


class FitSchedule:
    """The forecaster a decision at an hour uses: refitted every midnight on the data before
    it; while there is none yet, tried every hour (a series newer than a season of data gets
    its first as soon as it has one)."""

    def __init__(self, series: Series, cfg: ForecastConfig) -> None:
        self.series, self.cfg = series, cfg
        self.frame = series.load.to_frame(KEY)
        self.model: ForecastSet | None = None
        self.fitted_at: pd.Timestamp | None = None

    def __call__(self, hour: pd.Timestamp) -> ForecastSet | None:
        due = self.model is None or (hour.hour == 0 and hour != self.fitted_at)
        if due:
            train = self.frame[self.frame.index <= hour]
            if train[KEY].notna().sum() >= 12:
                try:
                    self.model, self.fitted_at = ForecastSet(self.cfg).fit(train), hour
                except ForecastError as exc:  # too little history yet
                    logging.info("%s/%s %s: no fit: %s", self.series.family, self.series.name,
                                 hour, exc)  # fmt: skip
        return self.model


def replay(series: Series, quantiles: tuple[float, ...]) -> Result:
    load = series.load
    step = pd.Timedelta(load.index.freq)
    capacity = float(load.dropna().median()) / 3
    cfg = ForecastConfig(step=step.to_pytimedelta(), log_signals=("load",),
                         candidates=("seasonal_naive", "baseline"))  # fmt: skip
    policies = {f"q{q}": Scaling(capacity_per_replica=capacity, min_replicas=REPLICAS[0],
                                 max_replicas=REPLICAS[1], lead_time=LEAD.total_seconds(),
                                 target_quantile=q, refresh=step.total_seconds())
                for q in quantiles}  # fmt: skip
    done = replay_scaling(load, KEY, FitSchedule(series, cfg), policies, series.evaluate_from)
    return Result(series, done.tallies)


# --- report -------------------------------------------------------------------------------


def family_tallies(results: list[Result]) -> dict[str, dict[str, Tally]]:
    out: dict[str, dict[str, Tally]] = {}
    for r in results:
        fam = out.setdefault(r.series.family, {})
        for name, tally in r.tallies.items():
            fam.setdefault(name, Tally()).add(tally)
    return out


def meets(t: dict[str, Tally], q: float) -> bool:
    ours, reactive = t[f"q{q}"], t["reactive"]
    return ours.short_share <= SHORT_RATIO * reactive.short_share and ours.cost <= COST_CAP


def choose(families: dict[str, dict[str, Tally]], names: list[str], quantiles) -> float:
    """The quantile meeting the target on every family in `names` at the lowest mean cost;
    none meeting it: the one with the lowest mean shortfall ratio to reactive."""
    ok = [q for q in quantiles if all(meets(families[f], q) for f in names)]
    if ok:
        return min(ok, key=lambda q: statistics.mean(families[f][f"q{q}"].cost for f in names))
    return min(quantiles, key=lambda q: statistics.mean(
        families[f][f"q{q}"].short_share / max(families[f]["reactive"].short_share, 1e-9)
        for f in names))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantiles", default=",".join(map(str, QUANTILES)))
    parser.add_argument("--days", type=int, default=None, help="nyc_taxi days evaluated (60)")
    parser.add_argument("--demo-days", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="14 taxi days, 3 demo days")
    parser.add_argument("--json", type=Path, default=None, help="also write the tallies here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    quantiles = tuple(float(q) for q in args.quantiles.split(","))
    days = 14 if args.quick else args.days
    demo_days = 3 if args.quick else args.demo_days
    started = time.perf_counter()
    series = [*nab_taxi(days), *nezha_workloads(), *demo_request_rates(demo_days)]
    results = []
    for s in series:
        t0 = time.perf_counter()
        results.append(replay(s, quantiles))
        print(f"  replayed {s.family}/{s.name} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)  # fmt: skip
    families = family_tallies(results)
    counts = ", ".join(f"{f}: {sum(r.series.family == f for r in results)}" for f in families)
    print(f"{len(series)} series ({counts}); lead {LEAD}, replicas {REPLICAS[0]}-{REPLICAS[1]}, "
          f"capacity = median load / 3; {time.perf_counter() - started:.0f} s")  # fmt: skip
    names = [*[f"q{q}" for q in quantiles], *PEERS]
    print("\nshort of the load (share of bins) / replica-hours vs perfect foresight")
    print("strategy".ljust(12) + "".join(f"{f:>22}" for f in families))
    for name in names:
        cells = "".join(f"{families[f][name].short_share:>12.1%} {families[f][name].cost:>8.2f}x"
                        for f in families)  # fmt: skip
        print(f"{name:<12}{cells}")
    print(f"\ntarget: short <= {SHORT_RATIO:.0%} of reactive's share, cost <= {COST_CAP}x perfect")
    fams = list(families)
    for f in fams:
        q = choose(families, [g for g in fams if g != f], quantiles)
        t = families[f]
        ratio = t[f"q{q}"].short_share / max(t["reactive"].short_share, 1e-9)
        print(f"  held out {f:<6} chosen on the others q={q}: short {t[f'q{q}'].short_share:.1%} "
              f"(reactive {t['reactive'].short_share:.1%}, ratio {ratio:.2f}), cost "
              f"{t[f'q{q}'].cost:.2f}x: {'MET' if meets(t, q) else 'NOT MET'}")  # fmt: skip
    frozen = TARGET_QUANTILE if TARGET_QUANTILE in quantiles else choose(families, fams, quantiles)
    verdicts = ", ".join(f"{f} {'MET' if meets(families[f], frozen) else 'NOT MET'}" for f in fams)
    print(f"frozen default target_quantile {frozen}: {verdicts}")
    print(f"the rule on all families picks q={choose(families, fams, quantiles)}")
    if args.json:
        doc = {f: {n: vars(t) for n, t in fam.items()} for f, fam in families.items()}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
