"""Benchmark: root-cause ranking on real fault injection (Nezha OnlineBoutique dev set).

    .venv/bin/python bench/bench_rca_real.py [--days 2022-08-22 ...] [--window 10]
        [--history 50] [--limit N] [--faults] [--cv]

For each labelled fault (bench/rca/nezha.py), `aiops rca`'s code (aiops.incidents.postmortem,
through bench/rca/replay.py): the hourly scoring on the per-pod metrics as on a new install
(no nightly models: the short tier fitted on as little as 20 minutes before each scored
hour), then the events active within [inject_time - 2 min, inject_time + window), cut at
the next fault's injection, ranked as one incident by the ranking (aiops.incidents.ranking),
and by the peers on the same events (bench/rca/peers.py): largest anomaly first, earliest
onset first, personalised PageRank on the call graph, and random (expected AC@k = k/n).
Printed side by side: AC@1, AC@3 and Avg@5 overall, per fault kind and per day, with the
share of faults whose root had any event (a root without one is a miss for every ranking
but PageRank and random). `--faults` adds the per-fault table; `--cv` chooses the
ranking's weights on one day and scores them on the other (bench/rca/ranking_cv.py).

Metrics of every day in the data set are loaded, so a fault's history is what a running
install would hold whichever `--days` are scored. Nothing is tuned here.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.traces.edge_signals import edge_frame  # noqa: E402
from bench.rca import nezha, peers, ranking_cv, scoring  # noqa: E402
from bench.rca.nezha_spans import read_nezha_spans, trace_files  # noqa: E402
from bench.rca.replay import (  # noqa: E402
    DEFAULT_HISTORY,
    RankFn,
    Replay,
    ReplayConfig,
    Replayer,
    build_catalog,
    ours,
    wide_frame,
)

NEZHA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rca" / "nezha-onlineboutique"
RANDOM = "random"
#: The rankings measured, ours first; swap `ours` for a new ranking to measure it.
RANKINGS: dict[str, RankFn] = {
    "ours": ours,
    "largest anomaly": peers.largest_anomaly,
    "earliest onset": peers.earliest_onset,
    "PageRank": peers.pagerank,
}
CELL = 17


def fmt(value: float | None) -> str:
    return " n/a" if value is None else f"{value:.2f}"


def triple(per_fault: Sequence[Sequence[float]]) -> str:
    a1, a3 = scoring.ac_at(per_fault, 1), scoring.ac_at(per_fault, 3)
    return f"{fmt(a1)} {fmt(a3)} {fmt(scoring.avg_at_5(per_fault))}"


def print_table(
    replays: Sequence[Replay], per_method: Mapping[str, Sequence[Sequence[float]]]
) -> None:
    """One row per group (all, each kind, each day), the methods side by side."""
    groups: list[tuple[str, Callable[[Replay], bool]]] = [("all faults", lambda r: True)]
    for kind in sorted({r.fault.kind for r in replays}):
        groups.append((f"kind {kind}", lambda r, k=kind: r.fault.kind == k))
    for day in sorted({r.fault.day for r in replays}):
        groups.append((f"day {day}", lambda r, d=day: r.fault.day == d))
    head = f"{'':<26}{'':>4}{'root ev':>12}  " + "".join(f"{m:>{CELL}}" for m in per_method)
    sub = f"{'group':<26}{'n':>4}{'':>12}  " + "".join(
        f"{'AC@1 AC@3 Avg@5':>{CELL}}" for _ in per_method
    )
    print(head)
    print(sub)
    print("-" * len(sub))
    for name, keep in groups:
        idx = [i for i, r in enumerate(replays) if keep(r)]
        had = sum(replays[i].root_has_event for i in idx)
        share = f"{had}/{len(idx)} {100 * had / len(idx):3.0f}%"
        cells = "".join(f"{triple([hits[i] for i in idx]):>{CELL}}" for hits in per_method.values())
        print(f"{name:<26}{len(idx):>4}{share:>12}  {cells}")
    print("root ev: faults whose root had an event in the window (else a miss but for PageRank)")


def print_faults(
    replays: Sequence[Replay], rankings: Mapping[str, Sequence[Sequence[str]]]
) -> None:
    """Per fault: the root's place in each ranking ('-' when absent) and ours' top three."""
    names = list(rankings)
    print(
        f"{'injected (UTC)':<17}{'root':<22}{'kind':<15}{'events':>7}{'svcs':>5}{'root ev':>8}"
        + "".join(f"{n[:10]:>11}" for n in names)
        + "  ours' top 3"
    )
    for i, r in enumerate(replays):
        places = [scoring.rank_of(rankings[n][i], r.fault.service) for n in names]
        print(
            f"{r.fault.inject_time:%Y-%m-%d %H:%M}{'':<1}{r.fault.service:<22}{r.fault.kind:<15}"
            f"{len(r.events):>7}{len(r.services):>5}{'yes' if r.root_has_event else 'no':>8}"
            + "".join(f"{'-' if p is None else p:>11}" for p in places)
            + "  "
            + ", ".join(rankings["ours"][i][:3])
        )


@dataclass(frozen=True)
class Setup:
    services: list[str]
    chosen: list[str]  # the days scored
    graphs: dict[str, nezha.CallGraph]
    faults: list[nezha.Fault]
    replayer: Replayer


@dataclass
class Run:
    replays: list[Replay] = field(default_factory=list)
    rankings: dict[str, list[list[str]]] = field(default_factory=dict)  # method -> per fault
    seconds: dict[str, float] = field(default_factory=dict)  # method -> ranking time
    scoring_seconds: float = 0.0


def load(args: argparse.Namespace, chosen: list[str]) -> Setup:
    """Metrics of every day (a fault's history is what a running install would hold), the
    call graphs and faults of the days scored."""
    long = pd.concat(
        [nezha.load_metrics(args.data, d) for d in nezha.days(args.data)], ignore_index=True
    )
    services = sorted(set(long["service"]))
    graphs = {d: nezha.load_graph(args.data, d, frozenset(services)) for d in chosen}
    faults = [f for d in chosen for f in nezha.load_faults(args.data, d)]
    if args.limit is not None:
        faults = faults[: args.limit]
    config = ReplayConfig(
        window=timedelta(minutes=args.window), history=timedelta(hours=args.history)
    )
    edges = None
    if args.traces:
        started = time.perf_counter()
        edges = pd.concat([day_edge_signals(args.data, d, services) for d in chosen])
        print(f"  edge signals of {', '.join(chosen)}: {len(edges)} rows "
              f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)  # fmt: skip
    replayer = Replayer(wide_frame(long), build_catalog(services), config, edges)
    return Setup(services, chosen, graphs, faults, replayer)


def day_edge_signals(data: Path, day: str, services: Sequence[str]) -> pd.DataFrame:
    """The callers' view of each service, per minute, from the day's span files."""
    spans = read_nezha_spans(trace_files(data / day), services)
    return edge_frame(spans.traces)


def next_injection(fault: nezha.Fault, faults: Sequence[nezha.Fault]) -> datetime | None:
    """The next fault's injection on the same day: where this fault's window ends."""
    later = [
        f.inject_time for f in faults if f.day == fault.day and f.inject_time > fault.inject_time
    ]
    return min(later, default=None)


def run(setup: Setup) -> Run:
    """Each fault's events, ranked by ours and by each peer; a progress line per fault."""
    out = Run(rankings={n: [] for n in RANKINGS}, seconds=dict.fromkeys(RANKINGS, 0.0))
    for i, fault in enumerate(setup.faults, 1):
        started = time.perf_counter()
        until = next_injection(fault, setup.faults)
        events = setup.replayer.events(fault, until)  # the scoring, cached for the replay
        out.scoring_seconds += time.perf_counter() - started
        graph = setup.graphs[fault.day].graph
        for name, rank in RANKINGS.items():
            t = time.perf_counter()
            if name == "ours":
                replay = setup.replayer.replay(fault, graph, rank, until)
                out.replays.append(replay)
                out.rankings[name].append(list(replay.ranking))
            else:
                out.rankings[name].append(list(rank(events, graph)) if events else [])
            out.seconds[name] += time.perf_counter() - t
        top = (out.rankings["ours"][-1] or ["-"])[0]
        print(
            f"  [{i}/{len(setup.faults)}] {fault.label}: {len(events)} events, ours {top} "
            f"({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
    return out


def print_header(setup: Setup, args: argparse.Namespace, result: Run) -> None:
    lead = setup.replayer.config.lead.seconds // 60
    print(
        f"Nezha OnlineBoutique, {len(setup.faults)} faults on {', '.join(setup.chosen)}; "
        f"{len(setup.services)} services; events active in [inject - {lead} min, "
        f"inject + {args.window:g} min) and before the next injection, scored as on a new "
        f"install (short tier from {setup.replayer.config.short_history.seconds // 60} min "
        f"of history, {args.history:g} h at most)"
    )
    for d in setup.chosen:
        g = setup.graphs[d]
        others = sorted({b if a in setup.services else a for a, b in g.dropped})
        edges = sum(len(v) for v in g.graph.callees.values())
        print(
            f"call graph {d}: {edges} edges, {len(g.dropped)} left out "
            f"(not services: {', '.join(others)})"
        )
    silent = [r for r in result.replays if not r.events]
    print(
        f"faults without any event in their window: {len(silent)} "
        f"(a miss for every ranking but random and PageRank, which rank every service)"
    )


def print_cv(result: Run, setup: Setup) -> None:
    """The ranking's weights chosen by cross-validation across the days (ranking_cv)."""
    graphs = {d: g.graph for d, g in setup.graphs.items()}
    folds, overall = ranking_cv.cross_validate(result.replays, graphs)
    print(f"== ranking weights by cross-validation across days ({len(ranking_cv.grid())} configs)")
    print(f"{'held out':<12} {'chosen on the other day':<66} {'Avg@5 there':>11} "
          f"{'AC@1':>5} {'AC@3':>5} {'Avg@5':>6}")  # fmt: skip
    for f in folds:
        print(f"{f.held_out:<12} {ranking_cv.describe(f.config):<66} {f.chosen_on[0]:>11.2f} "
              f"{f.held[0]:>5.2f} {f.held[1]:>5.2f} {f.held[2]:>6.2f}")  # fmt: skip
    print(f"chosen on both days (in-sample): {ranking_cv.describe(overall)}"
          + (" (the default)" if overall == ranking_cv.DEFAULT else ""))  # fmt: skip
    table = ranking_cv.per_day(result.replays, graphs)
    days = sorted(setup.chosen)
    shown = sorted(table, key=lambda c: -sum(table[c][d][1] for d in days))[:10]
    shown = [ranking_cv.DEFAULT, *[c for c in shown if c != ranking_cv.DEFAULT]]
    print(f"the default and the 10 best of {len(table)} by mean Avg@5 (in-sample, for context)")
    print(f"{'config':<66} " + " ".join(f"{d + ' AC@1/Avg@5':>24}" for d in days))
    for config in shown:
        row = table[config]
        print(f"{ranking_cv.describe(config):<66} "
              + " ".join(f"{row[d][0]:>17.2f} {row[d][1]:>5.2f}" for d in days))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NEZHA, help="nezha-onlineboutique folder")
    parser.add_argument("--days", nargs="+", help="days to score (default: all)")
    parser.add_argument("--window", type=float, default=10.0, help="minutes after injection")
    parser.add_argument(
        "--history", type=float, default=DEFAULT_HISTORY / timedelta(hours=1),
        help="hours of data before the first scored hour",
    )  # fmt: skip
    parser.add_argument(
        "--no-traces", dest="traces", action="store_false",
        help="metrics only: no events from the callers' view in the spans",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N faults (a quick run)")
    parser.add_argument("--faults", action="store_true", help="print the per-fault table")
    parser.add_argument(
        "--cv", action="store_true",
        help="choose the ranking's weights on one day, score them on the other",
    )  # fmt: skip
    args = parser.parse_args(argv)
    # the hourly scoring warns per series (quality gate, "not scored"); faults left without
    # any event are counted in the header instead
    logging.getLogger("aiops").setLevel(logging.ERROR)
    if not args.data.is_dir():
        print(f"skipped: Nezha data not found at {args.data} (expected shared/data/rca)")
        return 0

    wall = time.perf_counter()
    all_days = nezha.days(args.data)
    chosen = args.days or all_days
    unknown = sorted(set(chosen) - set(all_days))
    if unknown:
        parser.error(f"--days: {unknown} not in the data set ({all_days})")
    setup = load(args, chosen)
    load_seconds = time.perf_counter() - wall
    result = run(setup)

    per_method = {
        name: [scoring.hits(rk, r.fault.service) for rk, r in zip(rks, result.replays, strict=True)]
        for name, rks in result.rankings.items()
    }
    per_method[f"{RANDOM} (k/n)"] = [
        scoring.random_hits(len(setup.services)) for _ in result.replays
    ]
    print_header(setup, args, result)
    print()
    print_table(result.replays, per_method)
    if args.faults:
        print()
        print_faults(result.replays, result.rankings)
    if args.cv:
        print()
        print_cv(result, setup)
    print()
    print(
        f"load {load_seconds:.1f} s, scoring + events {result.scoring_seconds:.1f} s, ranking "
        + ", ".join(f"{n} {s:.2f} s" for n, s in result.seconds.items())
    )
    print(f"total wall time {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
