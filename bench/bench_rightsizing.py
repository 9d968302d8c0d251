"""Right-sizing bench: replay per-container usage, train on the first part, apply each
right-sizer's requests to the rest, side by side in one run.

    .venv/bin/python bench/bench_rightsizing.py [--quick]

Families:
 1. nezha: Nezha OnlineBoutique (real, public; ../shared/data/rca): train on 2022-08-22
    (~20 h), test on 2022-08-23 (12 h), pods matched by service name. CPU faults are real.
 2. synthetic: seeded fleet, 5 weeks at 5 min; daily + weekly cycle with a Monday 09-11 h
    peak, growth, memory leaks and steps, bursts; training windows of 5-28 days ending at
    day 28, test = days 28-35 (the same for every container).
 3. demo: the project's simulated world (aiops.dev.sim), `cpu` (cores) and `memory` (bytes)
    per service, 60 s; train on the first 21 days, test on the last 9.

Per right-sizer and family: requested core-hours and GiB-hours over the test period
(relative to ours and to the oracle "peak of the test period"), the share of minutes CPU
exceeds the request, containers whose busiest test hour (mean) exceeds the request, and
would-be OOMs (memory above the limit: share of containers and of minutes). Then the target
("fewer resources than KRR at no more risk, or less risk at no more resources") per family,
and leave-one-family-out cross-validation of our knobs over a grid of CPU variants x memory
variants (the fixed memory headroom, and the headroom sized by each container's daily peaks,
`memory_spread`), with every fold's figures on every family and every memory variant's.
A row beside ours shows the other memory rule.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.rightsizing import ContainerUsage, Recommender, Requests, RightsizingConfig  # noqa: E402
from aiops.rightsizing.peers import RIGHTSIZERS  # noqa: E402
from bench.rca.nezha import MetricSignal, load_metrics  # noqa: E402

log = logging.getLogger("bench_rightsizing")
DATA = ROOT.parent / "shared" / "data"
NEZHA = DATA / "rca" / "nezha-onlineboutique"
MIB, GIB = 2**20, 2**30
OURS = "aiops"


@dataclass(frozen=True)
class Case:
    train: ContainerUsage
    test: pd.DataFrame  # cpu (cores), memory (bytes)


# --- data families --------------------------------------------------------------------------


#: the pod columns read: usage, and the usage rates that give the pod's limits away
NEZHA_SIGNALS = (
    MetricSignal("CpuUsage(m)", "cpu", "saturation", "up", "cores", 1e-3),
    MetricSignal("CpuUsageRate(%)", "cpu_rate", "saturation", "up", "share", 1e-2),
    MetricSignal("MemoryUsage(Mi)", "memory", "saturation", "up", "bytes", float(MIB)),
    MetricSignal("MemoryUsageRate(%)", "memory_rate", "saturation", "up", "share", 1e-2),
)


def nezha_day(day: str) -> dict[str, pd.DataFrame]:
    """service -> its pod's minutes of `day` (bench.rca.nezha's reader, which names the file
    and line of any bad cell): cpu (cores), memory (bytes) and the limits the rates imply,
    cpu_den (cores) and mem_den (bytes); NaN where a rate is 0."""
    wide = load_metrics(NEZHA, day, NEZHA_SIGNALS).pivot_table(
        index=["service", "timestamp"], columns="signal", values="value", dropna=False
    )
    out = {}
    for service, frame in wide.groupby(level="service"):
        frame = frame.droplevel("service")
        with np.errstate(divide="ignore", invalid="ignore"):
            cpu_den = frame["cpu"] / frame["cpu_rate"]
            mem_den = frame["memory"] / frame["memory_rate"]
        out[str(service)] = pd.DataFrame(
            {
                "cpu": frame["cpu"],
                "memory": frame["memory"],
                "cpu_den": cpu_den.where(np.isfinite(cpu_den)),
                "mem_den": mem_den.where(np.isfinite(mem_den)),
            }
        )
    return out


def nezha_cases() -> tuple[list[Case], list[str]]:
    notes = []
    by_day = {day: nezha_day(day) for day in ("2022-08-22", "2022-08-23")}
    cases = []
    for service, train in by_day["2022-08-22"].items():
        test = by_day["2022-08-23"].get(service)
        if test is None:
            notes.append(f"{service}: no pod on 2022-08-23, skipped")
            continue
        cpu_lim = float(np.nanmedian(train["cpu_den"]))
        mem_lim = float(np.nanmedian(train["mem_den"]))
        spread = float(
            np.nanquantile(train["cpu_den"], 0.9) / np.nanquantile(train["cpu_den"], 0.1)
        )
        notes.append(
            f"{service}: CpuUsage/CpuUsageRate median {cpu_lim * 1000:.1f} m (p90/p10 "
            f"{spread:.2f}), MemoryUsage/MemoryUsageRate {mem_lim / MIB:.0f} Mi"
        )
        usage = ContainerUsage(
            f"{service}/server",
            train[["cpu", "memory"]],
            cpu_request=cpu_lim,
            cpu_limit=cpu_lim,
            memory_limit=mem_lim,
        )
        cases.append(Case(usage, test[["cpu", "memory"]]))
    return cases, notes


def synthetic_cases(n: int, seed: int = 20261005) -> list[Case]:
    """n containers, 35 days at 5 min from a Monday; kinds: steady, growth, leak, step, bursty."""
    rng = np.random.default_rng(seed)
    step = 300
    per_day = 86_400 // step
    index = pd.date_range("2026-10-05", periods=35 * per_day, freq=f"{step}s", tz="UTC")
    hours = (np.arange(len(index)) % per_day) * step / 3600.0
    weekday = index.day_of_week.to_numpy()
    t_days = np.arange(len(index)) / per_day
    kinds = ("steady", "growth", "leak", "step", "bursty")
    windows = (5, 10, 14, 21, 28)
    cases = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        window = windows[(i // len(kinds)) % len(windows)]
        level = rng.lognormal(np.log(0.2), 1.0)
        daily = 1.0 + rng.uniform(0.2, 0.7) * np.sin(2 * np.pi * (hours - 8.0) / 24.0)
        weekly = np.where(weekday >= 5, 1.0 - rng.uniform(0.1, 0.4), 1.0)
        peak = np.where((weekday == 0) & (hours >= 9) & (hours < 11), rng.uniform(2.0, 3.0), 1.0)
        growth = 1.0 + (rng.uniform(0.2, 0.4) * t_days / 35.0 if kind == "growth" else 0.0)
        noise = np.exp(rng.normal(0.0, rng.uniform(0.05, 0.2), len(index)))
        cpu = level * daily * weekly * peak * growth * noise
        if kind == "bursty":
            for start in rng.choice(len(index) - 6, size=60, replace=False):
                cpu[start : start + rng.integers(2, 6)] *= rng.uniform(3.0, 6.0)
        mem_base = rng.lognormal(np.log(300 * MIB), 0.8)
        mem = mem_base * (1.0 + 0.05 * (daily - 1.0)) * np.exp(rng.normal(0, 0.01, len(index)))
        if kind == "leak":
            mem = mem * (1.0 + rng.uniform(0.3, 0.8) * t_days / 35.0)
        if kind == "step":
            mem = mem * np.where(t_days >= rng.uniform(8, 30), rng.uniform(1.2, 1.5), 1.0)
        frame = pd.DataFrame({"cpu": cpu, "memory": mem}, index=index)
        split = 28 * per_day
        train = frame.iloc[split - window * per_day : split]
        usage = ContainerUsage(
            f"{kind}{i:03d}/app",
            train,
            cpu_request=round(float(np.quantile(train["cpu"], 0.99)) * rng.uniform(1.5, 4.0), 3),
            memory_limit=float(train["memory"].max()) * rng.uniform(1.3, 3.0),
        )
        cases.append(Case(usage, frame.iloc[split:]))
    return cases


def demo_cases() -> tuple[list[Case], str]:
    from aiops.dev.sim.topology import services_by_name
    from bench.forecast.data import demo_signals

    signals, source = demo_signals(ROOT)
    specs = services_by_name()
    split = signals.index[0] + pd.Timedelta(days=21)
    cases = []
    for name in sorted({c.split(":")[0] for c in signals.columns}):
        frame = pd.DataFrame(
            {"cpu": signals[f"{name}:cpu"], "memory": signals[f"{name}:memory"]},
            index=signals.index,
        )
        spec = specs.get(name)
        usage = ContainerUsage(
            f"{name}/app",
            frame[frame.index < split],
            memory_limit=None if spec is None else float(spec.memory_limit_bytes),
        )
        cases.append(Case(usage, frame[frame.index >= split]))
    return cases, source


# --- scoring --------------------------------------------------------------------------------


def score(reqs: dict[str, Requests], cases: list[Case]) -> dict[str, float]:
    """Test-period figures of one right-sizer on one family (NaN where it has no numbers)."""
    core_h = gib_h = oracle_core_h = oracle_gib_h = 0.0
    cpu_over = cpu_n = mem_over = mem_n = 0
    peak_miss = oom_containers = n_cpu = n_mem = 0
    for case in cases:
        r = reqs[case.train.key]
        t = case.test
        step_h = (t.index[1] - t.index[0]).total_seconds() / 3600.0
        hours = len(t) * step_h
        cpu, mem = t["cpu"].to_numpy(), t["memory"].to_numpy()
        if r.cpu_cores is not None:
            n_cpu += 1
            core_h += r.cpu_cores * hours
            oracle_core_h += np.nanmax(cpu) * hours
            cpu_over += int((cpu > r.cpu_cores).sum())
            cpu_n += int((~np.isnan(cpu)).sum())
            hourly = t["cpu"].resample("1h").mean()
            peak_miss += int(hourly.max() > r.cpu_cores)
        if r.memory_bytes is not None:
            n_mem += 1
            gib_h += r.memory_bytes / GIB * hours
            oracle_gib_h += np.nanmax(mem) / GIB * hours
            over = int((mem > r.memory_bytes).sum())
            mem_over += over
            mem_n += int((~np.isnan(mem)).sum())
            oom_containers += int(over > 0)
    nan = float("nan")
    return {
        "core_h": core_h if n_cpu else nan,
        "core_h_oracle": core_h / oracle_core_h if n_cpu else nan,
        "cpu_risk": cpu_over / cpu_n if cpu_n else nan,
        "peak_miss": peak_miss / n_cpu if n_cpu else nan,
        "gib_h": gib_h if n_mem else nan,
        "gib_h_oracle": gib_h / oracle_gib_h if n_mem else nan,
        "oom_containers": oom_containers / n_mem if n_mem else nan,
        "oom_minutes": mem_over / mem_n if mem_n else nan,
    }


def fit_requests(name: str, cases: list[Case], config: RightsizingConfig | None = None):
    cls = RIGHTSIZERS[name]
    model = Recommender(config) if cls is Recommender else cls()
    return model.fit([c.train for c in cases]).requests()


def dominates(ours: dict[str, float], krr: dict[str, float]) -> tuple[bool, bool]:
    """(cpu, memory): fewer resources at no more risk, or less risk at no more resources."""

    def ok(res: str, risk: str) -> bool:
        a, b, ra, rb = ours[res], krr[res], ours[risk], krr[risk]
        return (a < b and ra <= rb) or (ra < rb and a <= b) or (a == b and ra == rb)

    return ok("core_h", "cpu_risk"), ok("gib_h", "oom_minutes")


# --- cross-validation -----------------------------------------------------------------------

#: CPU knobs; with a risk budget the seasonal peak's quantile is not used, so only its
#: default is listed
CPU_GRID = {
    "cpu_quantile": (0.8, 0.9, 0.95, 0.99),
    "growth_horizon_days": (0.0, 7.0),
    "risk_budget": (None, 0.02, 0.03, 0.05),  # None: per-container seasonal peak
}
#: memory knobs: the fixed headroom, or the headroom sized by each container's daily peaks
#: (memory_spread = k; then memory_headroom is only the fallback for windows of fewer than
#: memory_spread_min_days daily peaks, kept at its default: no family but Nezha has such a
#: window, so a fold holding Nezha out could not choose it)
MEMORY_GRID = {
    "memory_headroom": (0.05, 0.15, 0.3),  # fixed-headroom rule
    "memory_spread": (1.0, 2.0, 3.0),
    "memory_min_headroom": (0.03, 0.05, 0.1),
    "memory_horizon_days": (0.0, 7.0),
    "memory_floor_bytes": (16 * MIB, 100e6),  # ours, and KRR's/ the tools' 100 MB
}
GRID = {**CPU_GRID, **MEMORY_GRID}
CPU_FIELDS = ("cpu_quantile", "risk_budget", "growth_horizon_days")
MEMORY_FIELDS = (
    "memory_headroom",
    "memory_spread",
    "memory_min_headroom",
    "memory_horizon_days",
    "memory_spread_min_days",
    "memory_floor_bytes",
    "growth_horizon_days",  # the fixed rule's memory growth
)


def cpu_variants() -> list[dict[str, object]]:
    default_q = RightsizingConfig().cpu_quantile
    return [
        {"risk_budget": budget, "cpu_quantile": q, "growth_horizon_days": g}
        for budget in CPU_GRID["risk_budget"]
        for q in (CPU_GRID["cpu_quantile"] if budget is None else (default_q,))
        for g in CPU_GRID["growth_horizon_days"]
    ]


def memory_variants() -> list[dict[str, object]]:
    g = MEMORY_GRID
    fixed = [
        {"memory_spread": None, "memory_headroom": h, "memory_floor_bytes": f}
        for h in g["memory_headroom"]
        for f in g["memory_floor_bytes"]
    ]
    spread = [
        {
            "memory_spread": k,
            "memory_min_headroom": m,
            "memory_horizon_days": d,
            "memory_floor_bytes": f,
        }
        for k in g["memory_spread"]
        for m in g["memory_min_headroom"]
        for d in g["memory_horizon_days"]
        for f in g["memory_floor_bytes"]
    ]
    return fixed + spread


def grid_configs() -> list[RightsizingConfig]:
    """Every CPU variant with every memory variant, the other knobs at their defaults."""
    base = RightsizingConfig()
    return [replace(base, **c, **m) for c in cpu_variants() for m in memory_variants()]


CPU_SCORES = ("core_h", "core_h_oracle", "cpu_risk", "peak_miss")


def grid_scores(configs: list[RightsizingConfig], cases: list[Case]) -> list[dict[str, float]]:
    """`score` of every configuration, fitting once per distinct CPU knobs and once per
    distinct memory knobs: the recommender's CPU requests do not read the memory knobs and
    its memory requests do not read the CPU ones (a memory-only fit skips the allocation)."""
    cpu_cache: dict[tuple, dict[str, float]] = {}
    mem_cache: dict[tuple, dict[str, float]] = {}
    out = []
    for cfg in configs:
        ck = tuple(getattr(cfg, f) for f in CPU_FIELDS)
        mk = tuple(getattr(cfg, f) for f in MEMORY_FIELDS)
        if ck not in cpu_cache:
            cpu_cache[ck] = score(fit_requests(OURS, cases, cfg), cases)
        if mk not in mem_cache:
            mem_cache[mk] = score(fit_requests(OURS, cases, replace(cfg, risk_budget=None)), cases)
        cpu, mem = cpu_cache[ck], mem_cache[mk]
        out.append({k: (cpu[k] if k in CPU_SCORES else mem[k]) for k in cpu})
    return out


def objective(rows: list[tuple[dict[str, float], dict[str, float]]]) -> tuple[int, int, float]:
    """A sort key, smaller is better: targets met (cpu and memory per family; more is
    better), then the number of (family, cpu/memory) where our risk exceeds KRR's (fewer is
    better), then the mean resources relative to KRR (less is better)."""
    met = sum(sum(dominates(o, k)) for o, k in rows)
    riskier = sum(
        int(o["cpu_risk"] > k["cpu_risk"]) + int(o["oom_minutes"] > k["oom_minutes"])
        for o, k in rows
    )
    rel = np.mean([o["core_h"] / k["core_h"] + o["gib_h"] / k["gib_h"] for o, k in rows])
    return -met, riskier, float(rel)


def memory_knobs(cfg: RightsizingConfig) -> str:
    floor = f"floor={cfg.memory_floor_bytes / MIB:.0f}Mi"
    if cfg.memory_spread is None:
        return f"headroom={cfg.memory_headroom:g} {floor}"
    return (
        f"spread k={cfg.memory_spread:g} min={cfg.memory_min_headroom:g} "
        f"ahead={cfg.memory_horizon_days:g}d {floor}"
    )


def knobs(cfg: RightsizingConfig) -> str:
    cpu = f"q={cfg.cpu_quantile:g}" if cfg.risk_budget is None else f"budget={cfg.risk_budget:g}"
    return f"{cpu} horizon={cfg.growth_horizon_days:g}d memory {memory_knobs(cfg)}"


# --- main -----------------------------------------------------------------------------------


def fmt(x: float, spec: str) -> str:
    return "n/a" if x != x else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller synthetic fleet")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()

    families: dict[str, list[Case]] = {}
    if NEZHA.exists():
        families["nezha"], notes = nezha_cases()
        print("nezha: current CPU/memory derived per pod (train day):")
        for note in notes:
            print("  " + note)
    else:
        print(f"nezha: skipped, {NEZHA.relative_to(ROOT.parent)} is absent")
    families["synthetic"] = synthetic_cases(25 if args.quick else 100)
    families["demo"], source = demo_cases()
    print(f"demo: {source}")
    for fam, cases in families.items():
        train_days = [len(c.train.usage) for c in cases]
        print(f"{fam}: {len(cases)} containers, train samples {min(train_days)}-{max(train_days)}")

    default = RightsizingConfig()
    names = list(RIGHTSIZERS)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for fam, cases in families.items():
        results[fam] = {n: score(fit_requests(n, cases, default), cases) for n in names}
    krr = {fam: by_name["krr-simple"] for fam, by_name in results.items()}

    # leave-one-family-out: choose on the others, score on the held-out family
    configs = grid_configs()
    scores = {fam: grid_scores(configs, cases) for fam, cases in families.items()}
    i_default = configs.index(default) if default in configs else None
    if i_default is not None:  # the factorised grid scores what a whole fit scores
        for fam in families:
            assert scores[fam][i_default] == results[fam][OURS], fam

    def best_on(fams: list[str]) -> int:
        return min(
            range(len(configs)),
            key=lambda i: objective([(scores[f][i], krr[f]) for f in fams]),
        )

    best_all = best_on(list(families))
    # the other memory rule, beside ours: the fixed headroom if the default sizes it per
    # container, else the per-container rule the grid chooses on all families
    other = (
        replace(default, memory_spread=None)
        if default.memory_spread is not None
        else replace(default, **{f: getattr(configs[best_all], f) for f in MEMORY_FIELDS[:-1]})
    )
    other_name = OURS + (" fixed-mem" if other.memory_spread is None else " spread-mem")
    for fam, cases in families.items():
        results[fam] = {
            OURS: results[fam][OURS],
            other_name: score(fit_requests(OURS, cases, other), cases),
            **{n: r for n, r in results[fam].items() if n != OURS},
        }

    print(f"\nside by side, default knobs ({knobs(default)}):")
    print(f"  ({other_name}: the default with memory {memory_knobs(other)})")
    head = (
        f"{'family':<10} {'rightsizer':<17} {'core-h':>9} {'/ours':>6} {'/oracle':>7} "
        f"{'cpu>req':>8} {'peak-h miss':>11} {'GiB-h':>9} {'/ours':>6} {'/oracle':>7} "
        f"{'OOM ctrs':>8} {'OOM min':>8}"
    )
    print(head)
    for fam, by_name in results.items():
        ours = by_name[OURS]
        for n, r in by_name.items():
            print(
                f"{fam:<10} {n:<17} {fmt(r['core_h'], '9.1f')} "
                f"{fmt(r['core_h'] / ours['core_h'], '6.2f')} {fmt(r['core_h_oracle'], '7.2f')} "
                f"{fmt(r['cpu_risk'], '8.2%')} {fmt(r['peak_miss'], '11.0%')} "
                f"{fmt(r['gib_h'], '9.1f')} {fmt(r['gib_h'] / ours['gib_h'], '6.2f')} "
                f"{fmt(r['gib_h_oracle'], '7.2f')} {fmt(r['oom_containers'], '8.0%')} "
                f"{fmt(r['oom_minutes'], '8.3%')}"
            )

    print('\ntarget: "fewer requested resources than KRR at no more risk, or less risk at no')
    print(
        'more resources, on every data family" (cpu: core-h vs cpu>req; memory: GiB-h vs OOM min)'
    )
    all_met = True
    for fam, by_name in results.items():
        cpu_ok, mem_ok = dominates(by_name[OURS], by_name["krr-simple"])
        all_met &= cpu_ok and mem_ok
        print(
            f"  {fam:<10} cpu {'MET' if cpu_ok else 'NOT MET':<8} memory "
            f"{'MET' if mem_ok else 'NOT MET'}"
        )
    print(f"  overall: {'MET' if all_met else 'NOT MET'}")

    def figures(s: dict[str, float], fam: str) -> str:
        k = krr[fam]
        cpu_ok, mem_ok = dominates(s, k)
        return (
            f"core-h/KRR {s['core_h'] / k['core_h']:.2f} cpu>req {s['cpu_risk']:.2%} "
            f"(KRR {k['cpu_risk']:.2%}), GiB-h/KRR {s['gib_h'] / k['gib_h']:.3f} OOM min "
            f"{s['oom_minutes']:.3%} (KRR {k['oom_minutes']:.3%}); "
            f"cpu {'MET' if cpu_ok else 'NOT MET'}, memory {'MET' if mem_ok else 'NOT MET'}"
        )

    n_cpu, n_mem = len(cpu_variants()), len(memory_variants())
    print(
        f"\nleave-one-family-out over {len(configs)} configurations ({n_cpu} CPU x {n_mem} "
        f"memory variants; {GRID}):"
    )
    print(
        "  (chosen on the other families: most targets met, then fewest risks above KRR, then least resources)"
    )
    for held in families:
        best = best_on([f for f in families if f != held])
        print(f"  held out {held:<10} chose {knobs(configs[best])}:")
        for fam in families:
            tag = "held out" if fam == held else "chosen on"
            print(f"    {fam:<10} ({tag:<9}) {figures(scores[fam][best], fam)}")
    print(
        f"  chosen on all families: {knobs(configs[best_all])} (frozen default: {knobs(default)})"
    )

    print("\nspread over the grid (every configuration's figures on each family):")
    for fam in families:
        ch = [s["core_h"] / krr[fam]["core_h"] for s in scores[fam]]
        rk = [s["cpu_risk"] for s in scores[fam]]
        gh = [s["gib_h"] / krr[fam]["gib_h"] for s in scores[fam]]
        om = [s["oom_minutes"] for s in scores[fam]]
        print(
            f"  {fam:<10} core-h/KRR {min(ch):.2f}-{max(ch):.2f}, cpu>req {min(rk):.2%}-"
            f"{max(rk):.2%}, GiB-h/KRR {min(gh):.2f}-{max(gh):.2f}, OOM min "
            f"{min(om):.3%}-{max(om):.3%}"
        )

    # every memory variant at the default CPU knobs (memory does not read them)
    cpu_default = {f: getattr(default, f) for f in CPU_FIELDS}
    print("\nmemory variants (GiB-h/KRR, OOM min ours/KRR; * = memory target met):")
    print(f"  {'variant':<44} " + " ".join(f"{fam:<25}" for fam in families) + " met")
    for i, cfg in enumerate(configs):
        if {f: getattr(cfg, f) for f in CPU_FIELDS} != cpu_default:
            continue
        cells, met = [], 0
        for fam in families:
            s, k = scores[fam][i], krr[fam]
            ok = dominates(s, k)[1]
            met += ok
            cells.append(
                f"{s['gib_h'] / k['gib_h']:.3f} {s['oom_minutes']:.3%}/{k['oom_minutes']:.3%}"
                + ("*" if ok else " ")
            )
        print(f"  {memory_knobs(cfg):<44} " + " ".join(f"{c:<25}" for c in cells) + f" {met}")
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
