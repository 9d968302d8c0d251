"""Speed of the trace-derived edge signals on one real Nezha day, against pandas.read_csv alone.

    .venv/bin/python bench/rca/edge_speed.py [--day 2022-08-22] [--rounds 3] [--step 60]
                                             [--data ../shared/data/rca/nezha-onlineboutique]

Two sides, on the same files (every ``trace/*_trace.csv.gz`` of the day), from the page cache
(the files are read once first):

- read_csv: ``pandas.read_csv`` of each file, nothing else: the floor any reader pays;
- edge signals: `read_nezha_spans` (checked read, dedup across the overlapping minute files,
  Trace objects) then `edge_signals` (the per-span walk and the per-bucket aggregation), with
  the time of each phase printed.

The sides are interleaved, alternating which goes first, for --rounds rounds; the median, the
fastest and the slowest round of each are printed, and the ratio of the medians. The garbage
of a round is collected outside the timing. No target is asserted: the figures are printed,
with the process's peak RSS (Linux: ru_maxrss in KiB).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from aiops.traces.edge_signals import calls_frame, signals_from_calls  # noqa: E402
from bench.rca.nezha_spans import read_nezha_spans, trace_files  # noqa: E402

NEZHA = ROOT.parent / "shared" / "data" / "rca" / "nezha-onlineboutique"


@dataclass
class Side:
    name: str
    seconds: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)

    def add_phase(self, phase: str, seconds: float) -> None:
        self.phases.setdefault(phase, []).append(seconds)

    def summary(self, values: list[float] | None = None) -> str:
        values = self.seconds if values is None else values
        return (
            f"median {statistics.median(values):6.2f} s  "
            f"(fastest {min(values):.2f}, slowest {max(values):.2f})"
        )


def read_csv_only(files: list[Path], side: Side) -> int:
    t0 = time.perf_counter()
    rows = sum(len(pd.read_csv(path)) for path in files)
    side.seconds.append(time.perf_counter() - t0)
    return rows


def edge_signals_side(files: list[Path], side: Side, step: int) -> dict[str, float]:
    t0 = time.perf_counter()
    read = read_nezha_spans(files)
    t1 = time.perf_counter()
    calls = calls_frame(read.traces)
    t2 = time.perf_counter()
    signals = signals_from_calls(calls, step)
    t3 = time.perf_counter()
    side.seconds.append(t3 - t0)
    side.add_phase("read_nezha_spans", t1 - t0)
    side.add_phase("calls walk", t2 - t1)
    side.add_phase("aggregation", t3 - t2)
    return {
        "files": read.files,
        "rows": read.rows,
        "spans": read.spans,
        "duplicate rows": read.duplicate_rows,
        "conflicting spans": read.conflicting_spans,
        "orphans": read.orphans,
        "traces": len(read.traces),
        "calls": len(calls),
        "client-side calls": int(calls["client_side"].sum()),
        "signal rows": len(signals),
        "buckets": signals["timestamp"].nunique(),
    }


def run_round(order: list[Callable[[], object]]) -> None:
    for run in order:
        run()
        gc.collect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=NEZHA, help="the Nezha OnlineBoutique folder")
    parser.add_argument("--day", default="2022-08-22")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step", type=int, default=60, help="bucket, seconds")
    args = parser.parse_args(argv)
    files = trace_files(args.data / args.day)
    if not files:
        print(f"skipped: no trace/*_trace.csv* under {args.data / args.day}")
        return 0
    size = sum(p.stat().st_size for p in files) / 2**20
    print(f"{len(files)} span files of {args.day}, {size:.1f} MiB gzipped")
    for path in files:  # warm the page cache
        path.read_bytes()
    plain, ours = Side("pandas.read_csv"), Side("read_nezha_spans + edge_signals")
    counts: dict[str, float] = {}

    def plain_run() -> None:
        read_csv_only(files, plain)

    def our_run() -> None:
        counts.update(edge_signals_side(files, ours, args.step))

    for r in range(args.rounds):
        run_round([plain_run, our_run] if r % 2 == 0 else [our_run, plain_run])
    print("  ".join(f"{k}: {v:,}" for k, v in counts.items()))
    for side in (plain, ours):
        print(f"{side.name:34s} {side.summary()}")
        for phase, values in side.phases.items():
            print(f"  {phase:32s} {side.summary(values)}")
    ratio = statistics.median(ours.seconds) / statistics.median(plain.seconds)
    per_round = [o / p for o, p in zip(ours.seconds, plain.seconds, strict=True)]
    print(
        f"ratio of medians: {ratio:.2f}x read_csv alone "
        f"(per round {min(per_round):.2f}x to {max(per_round):.2f}x)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (both sides): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
