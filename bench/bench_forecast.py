"""Benchmark: forecast accuracy of the per-series choice against each candidate, and its cost.

    .venv/bin/python bench/bench_forecast.py [--series 1000] [--prophet-sample 12] [--no-nab]

(a) Accuracy, out of sample, the way production uses the forecaster: for each of the last
2 days, a ForecastSet (default config plus keep_all=True, so every candidate can also be
asked for by name) is fitted on the 21 days before it, its per-series choice made on its
own backtest inside those days; then it forecasts 6 hours from origins every 6 hours
through the held-out day without refitting (as the hourly runs do with last night's
model), with each candidate alone and with the per-series choice. MASE is scaled by the
training data's season-lag (1 day) naive MAE on the forecast grid; per series it is the
mean over the 8 origins, and the tables show the median over series (sMAPE likewise).
Data: the demo world's 60 signals (12 services x 5, 60 s) and NAB realTraffic +
realKnownCause (14 files, each on its median step, at most 21 days of training).
Target: the choice's median hold-out MASE < 1.0 and no worse than Prophet alone.

(b) Nightly training cost: the demo's 60 series with the default config (measured), the
cheap candidates (seasonal naive + baseline) on --series synthetic series of 21 days at
60 s (measured), and Prophet's share (backtest refits + final fit per series, in the
default pool) measured on --prophet-sample series and extrapolated linearly, as labelled.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.baselines import SeasonalBaselineConfig  # noqa: E402
from aiops.forecast import CANDIDATES, ForecastConfig, ForecastSet  # noqa: E402
from aiops.forecast.config import BaselineForecastConfig  # noqa: E402
from aiops.forecast.prophet_model import ProphetConfig  # noqa: E402
from bench.forecast.data import demo_signals, nab_series, synthetic_fleet  # noqa: E402
from bench.forecast.holdout import (  # noqa: E402
    CHOICE,
    Holdout,
    backtest_mase,
    common_keys,
    rolling_holdout,
)

NAB = ROOT.parent / "shared" / "data" / "nab"
TRAIN = timedelta(days=21)
HOLDOUT_DAYS = 2
EVERY = timedelta(hours=6)
MODELS = (*CANDIDATES, CHOICE)


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - t0, value


def _median(values) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def accuracy_table(title: str, holdouts: list[Holdout]) -> dict[str, float]:
    """Print backtest and hold-out medians per model; returns the hold-out median MASE."""
    rows = []  # (holdout, key) pairs scored by every model
    for h in holdouts:
        rows += [(h, k) for k in common_keys(h, CANDIDATES)]
    print(f"\n{title}: {len(rows)} series scored by every model")
    print(
        f"{'model':<18}{'backtest MASE':>15}{'hold-out MASE':>15}"
        f"{'hold-out sMAPE %':>18}{'MASE < 1':>10}{'80% interval covers':>21}"
    )
    out = {}
    for m in MODELS:
        bt = _median(backtest_mase(h.fits, k, m) for h, k in rows)
        ho = [h.mase[m][k] for h, k in rows]
        sm = _median(h.smape[m][k] for h, k in rows)
        label = "per-series choice" if m == CHOICE else m
        inside = sum(h.inside.get(m, [0, 0])[0] for h in holdouts)
        total = sum(h.inside.get(m, [0, 0])[1] for h in holdouts)
        cover = inside / total if total else float("nan")
        print(
            f"{label:<18}{bt:>15.3f}{_median(ho):>15.3f}{sm:>18.2f}"
            f"{np.mean(np.array(ho) < 1):>10.0%}{cover:>21.1%}"
        )
        out[m] = _median(ho)
    return out


def verdict(name: str, medians: dict[str, float]) -> bool:
    ok = medians[CHOICE] < 1.0 and medians[CHOICE] <= medians["prophet"]
    print(
        f"target on {name}: choice median MASE {medians[CHOICE]:.3f} < 1.0 and <= Prophet's "
        f"{medians['prophet']:.3f}: {'MET' if ok else 'NOT MET'}"
    )
    return ok


def _report_fit(fs: ForecastSet, seconds: float) -> None:
    counts = pd.Series([c["model"] for c in fs.choices_.values()]).value_counts().to_dict()
    print(f"  fit (keep_all) on data to {fs.train_end_}: {seconds:.1f} s; chosen {counts}")


def demo_accuracy(frame: pd.DataFrame, source: str) -> bool:
    end = frame.index[-1] + (frame.index[-1] - frame.index[-2])
    print(
        f"demo world: {frame.shape[1]} series from {source}, 60 s, ending {end}; "
        f"hold out the last {HOLDOUT_DAYS} days, refitting nightly on 21 days"
    )
    t0 = time.perf_counter()
    holdout = rolling_holdout(
        frame,
        ForecastConfig(keep_all=True),
        end,
        HOLDOUT_DAYS,
        TRAIN,
        EVERY,
        CANDIDATES,
        _report_fit,
    )
    print(
        f"  {holdout.origins} origins x {len(MODELS)} models, {time.perf_counter() - t0:.0f} s in all"
    )
    medians = accuracy_table("demo world (5-minute forecast grid)", [holdout])
    by_signal: dict[str, list[str]] = {}
    for key in common_keys(holdout, CANDIDATES):
        by_signal.setdefault(key.split(":")[1], []).append(key)
    print("  hold-out median MASE by signal" + "".join(f"{m:>16}" for m in MODELS))
    for signal, keys in sorted(by_signal.items()):
        cells = "".join(f"{_median(holdout.mase[m][k] for k in keys):>16.3f}" for m in MODELS)
        print(f"  {signal:<30}{cells}")
    return verdict("the demo world", medians)


def nab_config(
    step: timedelta, train_days: float, prophet: ProphetConfig | None = None
) -> ForecastConfig:
    """Defaults, on the file's step; NAB files have gaps and some are short, so the
    baseline accepts 20% coverage and uses an hour-of-day profile under 16 days."""
    if train_days >= 16:
        seasonal = SeasonalBaselineConfig(min_coverage=0.2)
    else:
        seasonal = SeasonalBaselineConfig(bucket="hour_of_day", min_days=3, min_coverage=0.2)
    baseline = BaselineForecastConfig(seasonal=seasonal)
    return ForecastConfig(
        step=step, keep_all=True, baseline=baseline, prophet=prophet or ProphetConfig()
    )


def nab_holdout(
    name: str, s: pd.Series, prophet: ProphetConfig | None = None
) -> tuple[Holdout, timedelta, float]:
    """One NAB file held out (its last HOLDOUT_DAYS days); with its step and training days."""
    step = pd.Timedelta(s.index[1] - s.index[0]).to_pytimedelta()
    end = s.index[-1] + step
    days = (end - timedelta(days=HOLDOUT_DAYS) - max(s.index[0], end - TRAIN)).total_seconds()
    config = nab_config(step, days / 86400, prophet)
    holdout = rolling_holdout(s.to_frame(name), config, end, HOLDOUT_DAYS, TRAIN, EVERY, CANDIDATES)
    return holdout, step, days / 86400


def nab_accuracy(nab: Path) -> bool:
    series = nab_series(nab)
    holdouts = []
    print(
        f"\nNAB: {len(series)} files, each on its median step; last {HOLDOUT_DAYS} days held "
        "out, refitting nightly on up to 21 days"
    )
    print(f"{'file':<52}{'step':>6}{'days':>6}{'chosen':>30}" + "".join(f"{m:>16}" for m in MODELS))
    started = time.perf_counter()
    for name, s in series.items():
        holdout, step, days = nab_holdout(name, s)
        holdouts.append(holdout)
        chosen = "/".join(
            fs.choices_[name]["model"] if name in fs.choices_ else "-" for fs in holdout.fits
        )
        cells = "".join(f"{holdout.mase[m].get(name, float('nan')):>16.3f}" for m in MODELS)
        print(f"{name:<52}{int(step.total_seconds() // 60):>5}m{days:>6.1f}{chosen:>30}{cells}")
    print(
        f"(hold-out MASE per file; chosen: first/second night; {time.perf_counter() - started:.0f} s)"
    )
    medians = accuracy_table("NAB realTraffic + realKnownCause", holdouts)
    return verdict("NAB", medians)


def training_cost(n_series: int, prophet_sample: int, demo: pd.DataFrame | None) -> None:
    workers = ForecastConfig().workers
    print(
        f"\nnightly training cost on this machine ({os.cpu_count()} cores; Prophet pool of {workers} processes)"
    )
    if demo is not None:
        end = demo.index[-1] + (demo.index[-1] - demo.index[-2])
        train = demo[demo.index >= end - TRAIN]
        seconds, fs = _timed(ForecastSet(ForecastConfig()).fit, train)
        counts = pd.Series([c["model"] for c in fs.choices_.values()]).value_counts().to_dict()
        print(
            f"demo world, {train.shape[1]} series x 21 days at 60 s, default config: {seconds:.1f} s MEASURED (chosen {counts})"
        )
    t_gen, fleet = _timed(synthetic_fleet, n_series, 21)
    cheap = replace(ForecastConfig(), candidates=("seasonal_naive", "baseline"))
    seconds, fs = _timed(ForecastSet(cheap).fit, fleet)
    print(
        f"seasonal naive + baseline, {n_series} synthetic series x 21 days at 60 s "
        f"({fleet.size:,} values, generated in {t_gen:.1f} s): {seconds:.1f} s MEASURED "
        f"(28 backtest origins, 7 nightly refits + the final fit)"
    )
    only = replace(ForecastConfig(), candidates=("prophet",))
    sample = fleet.iloc[:, :prophet_sample]
    p_seconds, _ = _timed(ForecastSet(only).fit, sample)
    per = p_seconds / prophet_sample
    print(
        f"Prophet, {prophet_sample} series MEASURED: {p_seconds:.1f} s incl. pool start-up "
        f"({per:.2f} s/series wall; 7 backtest fits + the final fit each, {workers} workers)"
    )
    print(
        f"Prophet, EXTRAPOLATED linearly to {n_series} series (not measured): {per * n_series:.0f} s "
        f"(upper bound: only series that choose Prophet get the final fit)"
    )
    print(
        f"total per {n_series} series: ~{seconds + per * n_series:.0f} s ({seconds:.0f} s measured + {per * n_series:.0f} s extrapolated)"
    )


def sparing_cost(demo: pd.DataFrame, nights: int) -> bool:
    """(c) Prophet only where it pays: `nights` consecutive nights on the demo's 60 series,
    each fitted on the 21 days before it and scored on the day after it (the choice's
    hold-out MASE, 6-hour origins every 6 hours), three ways in this process: every
    candidate every night (Prophet backtested on every series), the nightly's chain (each
    night given the one before: Prophet backtested only where it is the choice, on a
    series' first night and on its weekly re-check day), and without Prophet. Target: the
    chain's steady nights (all but the first) cost at most 1.5x the nights without Prophet,
    and its hold-out MASE is no worse than every candidate every night's."""
    end = demo.index[-1].normalize()
    cfg = ForecastConfig()
    cheap = replace(cfg, candidates=("seasonal_naive", "baseline"))
    runs = {}
    for label, config, chain in (("every night", cfg, False), ("chained (spared)", cfg, True),
                                 ("without Prophet", cheap, False)):  # fmt: skip
        runs[label] = rolling_holdout(demo, config, end, nights, TRAIN, EVERY, (), chain=chain)
    print(f"\n(c) Prophet only where it pays: {nights} nights x {demo.shape[1]} demo series, "
          "fit on 21 days, scored on the next day")  # fmt: skip
    print(f"{'':<20} {'fit s/night (all)':>18} {'steady nights':>14} {'hold-out MASE':>14} "
          f"{'Prophet chosen':>15}")  # fmt: skip
    for label, h in runs.items():
        steady = h.fit_seconds[1:] or h.fit_seconds
        keys = sorted(h.mase[CHOICE])
        med = float(np.median([h.mase[CHOICE][k] for k in keys]))
        chosen = np.mean([sum(c["model"] == "prophet" for c in fs.choices_.values())
                          for fs in h.fits])  # fmt: skip
        print(f"{label:<20} {np.mean(h.fit_seconds):>18.1f} {np.mean(steady):>14.1f} "
              f"{med:>14.3f} {chosen:>15.1f}")  # fmt: skip
    chained, cheap_run, full = (
        runs["chained (spared)"],
        runs["without Prophet"],
        runs["every night"],
    )
    ratio = np.mean(chained.fit_seconds[1:]) / np.mean(cheap_run.fit_seconds[1:])
    full_ratio = np.mean(full.fit_seconds[1:]) / np.mean(cheap_run.fit_seconds[1:])
    common = sorted(set(chained.mase[CHOICE]) & set(full.mase[CHOICE]))
    worse = float(np.median([chained.mase[CHOICE][k] for k in common])) - float(
        np.median([full.mase[CHOICE][k] for k in common])
    )
    ok = ratio <= 1.5 and worse <= 0.0
    print(f"steady nights: chained {ratio:.2f}x the nights without Prophet (every candidate "
          f"every night: {full_ratio:.2f}x); hold-out median MASE chained minus every night: "
          f"{worse:+.4f}; target <= 1.5x and not worse: {'MET' if ok else 'NOT MET'}")  # fmt: skip
    return ok


def prophet_resolution(demo: pd.DataFrame, nab: Path | None) -> bool:
    """(d) The width of the bins Prophet is fitted on, chosen by cross-validation across
    families: each width's hold-out median MASE (Prophet alone and the per-series choice)
    and fit seconds on the demo world and on NAB, then, per family held out, the width the
    other family's choice MASE picks (the cheaper within 1%), scored on the held-out one.
    The frozen default (ProphetConfig().resolution_floor) must be the pick of every fold."""
    widths = (timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1))
    families: dict[str, dict[timedelta, tuple[float, float, float]]] = {"demo": {}}
    series = nab_series(nab) if nab is not None and (nab / "data").exists() else {}
    if series:
        families["nab"] = {}
    end = demo.index[-1] + (demo.index[-1] - demo.index[-2])
    for width in widths:
        prophet = ProphetConfig(resolution_floor=width)
        cfg = ForecastConfig(keep_all=True, prophet=prophet)
        t0 = time.perf_counter()
        h = rolling_holdout(demo, cfg, end, HOLDOUT_DAYS, TRAIN, EVERY, CANDIDATES)
        families["demo"][width] = (*_medians(accuracy_rows([h])), time.perf_counter() - t0)
        if series:
            t0 = time.perf_counter()
            holdouts = [nab_holdout(name, s, prophet)[0] for name, s in series.items()]
            families["nab"][width] = (*_medians(accuracy_rows(holdouts)), time.perf_counter() - t0)
    print("\n(d) Prophet's bin width (the smallest multiple of the step at least this wide); "
          f"hold-out median MASE over the last {HOLDOUT_DAYS} days, refitting nightly")  # fmt: skip
    print(f"{'family':<8}{'width':>8}{'Prophet MASE':>14}{'choice MASE':>13}{'seconds':>9}")
    for family, rows in families.items():
        for width, (prophet_mase, choice_mase, seconds) in rows.items():
            print(f"{family:<8}{_minutes(width):>8}{prophet_mase:>14.3f}{choice_mase:>13.3f}"
                  f"{seconds:>9.0f}")  # fmt: skip
    default = ProphetConfig().resolution_floor
    ok = True
    for held, rows in families.items():
        others = [f for f in families if f != held] or [held]
        score = {w: np.mean([families[f][w][1] for f in others]) for w in widths}
        best = min(score.values())
        pick = max(w for w in widths if score[w] <= best * 1.01)  # the cheapest within 1%
        ok &= pick == default
        print(f"held out {held}: chosen on {'+'.join(others)}: {_minutes(pick)}; on {held}: "
              f"choice MASE {rows[pick][1]:.3f} (15 min: {rows[widths[0]][1]:.3f}), fit "
              f"{rows[pick][2]:.0f} s (15 min: {rows[widths[0]][2]:.0f} s)")  # fmt: skip
    print(f"default {_minutes(default)}: {'the pick of every fold' if ok else 'NOT every pick'}")
    return ok


def accuracy_rows(holdouts: list[Holdout]) -> tuple[list[float], list[float]]:
    """Hold-out MASE of Prophet and of the choice, over the series every model scored."""
    rows = [(h, k) for h in holdouts for k in common_keys(h, CANDIDATES)]
    return [h.mase["prophet"][k] for h, k in rows], [h.mase[CHOICE][k] for h, k in rows]


def _medians(columns: tuple[list[float], ...]) -> tuple[float, ...]:
    return tuple(_median(c) for c in columns)


def _minutes(width: timedelta) -> str:
    return f"{int(width.total_seconds() // 60)} min"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=NAB)
    parser.add_argument("--no-nab", action="store_true")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--prophet-sample", type=int, default=12)
    parser.add_argument("--sparing-nights", type=int, default=5, help="(c)'s nights; 0 skips")
    parser.add_argument("--only-sparing", action="store_true", help="run (c) alone")
    parser.add_argument("--only-resolution", action="store_true", help="run (d) alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    demo, source = demo_signals(ROOT)
    if args.only_sparing or args.only_resolution:
        if args.only_sparing:
            ok = sparing_cost(demo, args.sparing_nights)
        else:
            ok = prophet_resolution(demo, None if args.no_nab else args.nab)
        print(f"\nbench total {time.perf_counter() - started:.0f} s")
        return 0 if ok else 1
    ok = True
    ok &= demo_accuracy(demo, source)
    if not args.no_nab:
        if (args.nab / "data").exists():
            ok &= nab_accuracy(args.nab)
        else:
            print(f"\nNAB skipped: no data at {args.nab}")
    training_cost(args.series, args.prophet_sample, demo)
    if args.sparing_nights:
        ok &= sparing_cost(demo, args.sparing_nights)
    print(
        f"\nbench total {time.perf_counter() - started:.0f} s; targets {'MET' if ok else 'NOT MET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
