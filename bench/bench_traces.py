"""Benchmark: trace analysis end to end on a million spans of Jaeger JSON, against json.loads.

    .venv/bin/python bench/bench_traces.py [--shapes demo,small-spans,deep,many-services]
                                           [--spans 1000000] [--rounds 3] [--quick]
                                           [--no-memory] [--profile [SHAPE]]

Workloads, one per trace shape (--shapes picks some), about a million spans each:

- ``demo``: the demo simulator's Jaeger query-API files (one per hour, ~20 spans per trace,
  tags, logs, FOLLOWS_FROM, the planted N+1 and sequential calls), --traces-per-hour over
  --hours (bench/traces/generate.py);
- ``small-spans``, ``deep``, ``many-services``: many small spans per trace, deep call chains,
  400 services (bench/traces/shapes.py), --spans spans each.

Files are cached under out/bench/; the generation time is printed when they are made.

Timing, in this one process, per shape: json.loads alone (every file, nothing else) against
the whole analysis: the file reader `iter_trace_documents` streaming file by file into
`analyze_traces` (decode, parse, dependency map, critical paths, every detector, findings,
and the per-call rows the callers' edge signals are computed from, `TraceAnalysis.calls`).
json.loads reads each file through a binary handle, the reader reads its bytes; both from
the page cache (warmed first), so disk I/O is in both and equal. A third side, json.loads
with the cyclic garbage collector off, is timed for context only (a good part of json.loads'
own time is the collector walking the half-built documents and the rest of the process'
objects; the reader and the analysis run with it paused). The sides are interleaved,
rotating which goes first, for --rounds rounds; medians are reported.

Memory: before the timing, each shape's analysis runs in a child process (this script,
--child), which reports its own peak RSS (VmHWM).

--quick: ~80,000 spans per shape, no memory children, no GC-off side: under a minute once
the files exist, for a quick look (the ratio is noisier at that size). --profile runs one
more analysis of a shape under cProfile and prints its top 15 functions (--profile-sort);
--rounds 0 --no-memory --profile SHAPE prints only that.

Targets (from the issue): the analysis within 2x of json.loads alone on every shape; peak
memory < 2 GB. No assert on time: the verdict is printed, and the exit status is 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.sources.jaeger_files import iter_trace_documents  # noqa: E402
from aiops.traces.analyze import TraceAnalysis, analyze_traces  # noqa: E402
from bench.traces.generate import MANIFEST, TraceFiles, trace_files  # noqa: E402
from bench.traces.shapes import SHAPES, shape_files  # noqa: E402

CACHE = ROOT / "out" / "bench"
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 2048.0
QUICK_TRACES_PER_HOUR = 60  # the demo shape's --quick: ~87,000 spans
QUICK_SPANS = 80_000
DEMO = "demo"
ALL_SHAPES = (DEMO, *SHAPES)


def json_alone(files: list[Path]) -> int:
    """json.load every file, and nothing else; returns the traces seen."""
    traces = 0
    for path in files:
        with path.open("rb") as handle:
            doc = json.load(handle)
        traces += len(doc["data"])
        del doc
    return traces


def analysis(files: list[Path]) -> TraceAnalysis:
    return analyze_traces(iter_trace_documents(files))


def json_alone_no_gc(files: list[Path]) -> int:
    """json_alone with the cyclic collector off: the floor of parsing, for context only."""
    gc.disable()
    try:
        return json_alone(files)
    finally:
        gc.enable()


SIDES: dict[str, Callable[[list[Path]], object]] = {
    "json": json_alone,
    "analysis": analysis,
    "json_no_gc": json_alone_no_gc,
}


@dataclass
class ShapeResult:
    shape: str
    work: TraceFiles
    json_s: float
    analysis_s: float
    json_no_gc_s: float | None
    peak_mb: float | None
    result: TraceAnalysis

    @property
    def ratio(self) -> float:
        return self.analysis_s / self.json_s


def timing(
    work: TraceFiles, rounds: int, sides: list[str]
) -> tuple[dict[str, float], TraceAnalysis]:
    """Interleaved rounds, rotating which side goes first; medians by side and the last
    analysis' result."""
    times: dict[str, list[float]] = {k: [] for k in sides}
    result = None
    for r in range(rounds):
        for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
            gc.collect()  # the previous step's garbage is not this step's cost
            t0 = time.perf_counter()
            value = SIDES[side](work.files)
            times[side].append(time.perf_counter() - t0)
            if side == "analysis":
                assert isinstance(value, TraceAnalysis)
                result = value
            elif value != work.traces:
                raise RuntimeError(f"json.loads saw {value} traces, the manifest {work.traces}")
        print(
            f"    round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
            flush=True,
        )
    assert result is not None
    return {k: statistics.median(v) for k, v in times.items()}, result


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's current resident set (``VmHWM``: its peak), from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(folder: Path) -> int:
    """Analyse the folder's files and print the figures as JSON (for the parent)."""
    files = sorted(p for p in folder.glob("*.json") if p.name != MANIFEST)
    after_imports = _rss_mb()
    t0 = time.perf_counter()
    result = analysis(files)
    seconds = time.perf_counter() - t0
    # VmHWM is this program's own peak; getrusage's ru_maxrss would also count the parent's
    # resident set at the fork, which Linux carries across exec
    peak = _rss_mb("VmHWM")
    if peak != peak:  # no /proc
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "after_imports_mb": after_imports,
                "peak_mb": peak,
                "spans": result.spans,
            }
        )
    )
    return 0


def run_child(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--dir", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile(files: list[Path], sort: str) -> None:
    profiler = cProfile.Profile()
    gc.collect()
    t0 = time.perf_counter()
    profiler.runcall(analysis, files)
    seconds = time.perf_counter() - t0
    print(f"\nprofile of one analysis under cProfile: {seconds:.1f} s (inflated by the profiler)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(sort).print_stats(15)


def workload(shape: str, args: argparse.Namespace) -> TraceFiles:
    if shape == DEMO:
        per_hour = QUICK_TRACES_PER_HOUR if args.quick else args.traces_per_hour
        return trace_files(args.cache, traces_per_hour=per_hour, hours=args.hours, seed=args.seed)
    spans = QUICK_SPANS if args.quick else args.spans
    return shape_files(args.cache, SHAPES[shape], spans=spans, seed=args.seed)


def about(shape: str, args: argparse.Namespace) -> str:
    if shape == DEMO:
        per_hour = QUICK_TRACES_PER_HOUR if args.quick else args.traces_per_hour
        return f"the demo simulator's traces, {per_hour} traces/hour over {args.hours} h"
    return SHAPES[shape].about


def run_shape(shape: str, args: argparse.Namespace, sides: list[str]) -> ShapeResult | None:
    work = workload(shape, args)
    made = f"generated in {work.generated_s:.1f} s" if work.generated_s is not None else "cached"
    print(
        f"\n[{shape}] {about(shape, args)}: {work.spans:,} spans in {work.traces:,} traces "
        f"({work.spans / work.traces:.0f} per trace), {len(work.files)} files, "
        f"{work.megabytes:,.1f} MB; {made}: {work.folder}",
        flush=True,
    )
    peak = None
    if not args.no_memory:
        mem = run_child(work.folder)
        peak = mem["peak_mb"]
        print(
            f"    peak RSS of the analysis in a child process: {peak:,.0f} MB "
            f"({mem['after_imports_mb']:.0f} MB after imports; {mem['seconds']:.1f} s)",
            flush=True,
        )
    for path in work.files:  # warm the page cache
        path.read_bytes()
    if args.rounds <= 0:
        return None
    med, result = timing(work, args.rounds, sides)
    if result.spans != work.spans:
        print(f"    note: the analysis counted {result.spans:,} spans of {work.spans:,}")
    kinds = Counter(f.kind for f in result.findings)
    print(
        f"    analysis output: {result.traces:,} traces, {len(result.edges)} edges, "
        f"{len(result.calls):,} calls, {len(result.findings)} findings "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    return ShapeResult(
        shape, work, med["json"], med["analysis"], med.get("json_no_gc"), peak, result
    )


def report(results: list[ShapeResult], rounds: int) -> bool:
    """The table of every shape and the verdicts; True when every target is met."""
    print(
        f"\nmedians of {rounds} interleaved rounds, seconds (json.loads: every file's json.load "
        "and nothing else; analysis: read + decode + parse + map + paths + detectors + calls)"
    )
    head = (
        f"{'shape':<15}{'spans':>11}{'spans/trace':>13}{'MB':>8}{'json.loads':>12}"
        f"{'GC off':>8}{'analysis':>10}{'ratio':>8}{'peak MB':>9}  verdict"
    )
    print(head)
    ok_all = True
    for r in results:
        ok = r.ratio <= RATIO_TARGET
        ok_all &= ok
        no_gc = f"{r.json_no_gc_s:>8.2f}" if r.json_no_gc_s is not None else f"{'-':>8}"
        peak = f"{r.peak_mb:>9,.0f}" if r.peak_mb is not None else f"{'-':>9}"
        print(
            f"{r.shape:<15}{r.work.spans:>11,}{r.work.spans / r.work.traces:>13.0f}"
            f"{r.work.megabytes:>8.1f}{r.json_s:>12.2f}{no_gc}{r.analysis_s:>10.2f}"
            f"{r.ratio:>7.2f}x{peak}  {_verdict(ok)}"
        )
    worst = max(results, key=lambda r: r.ratio)
    print(
        f"target analysis <= {RATIO_TARGET:.0f}x json.loads alone on every shape: "
        f"{_verdict(ok_all)} (worst {worst.shape}, {worst.ratio:.2f}x)"
    )
    peaks = [r.peak_mb for r in results if r.peak_mb is not None]
    if peaks:
        ok_mem = max(peaks) < MEMORY_TARGET_MB
        ok_all &= ok_mem
        print(
            f"target peak < {MEMORY_TARGET_MB:,.0f} MB: {_verdict(ok_mem)} "
            f"(largest {max(peaks):,.0f} MB)"
        )
    return ok_all


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def _shapes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_SHAPES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown shape(s) {', '.join(unknown) or '(none)'}; known: {', '.join(ALL_SHAPES)}"
        )
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes",
        type=_shapes,
        default=list(ALL_SHAPES),
        help=f"comma-separated, of {', '.join(ALL_SHAPES)} (default: all)",
    )
    parser.add_argument("--spans", type=int, default=1_000_000, help="per generated shape")
    parser.add_argument("--traces-per-hour", type=int, default=750, help="the demo shape's")
    parser.add_argument("--hours", type=int, default=72, help="the demo shape's")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help=f"~{QUICK_SPANS:,} spans per shape, no memory"
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where generated files live")
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="",
        metavar="SHAPE",
        help="cProfile one analysis of SHAPE (default: the first), top 15",
    )
    parser.add_argument("--profile-sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.dir)
    if args.quick:
        args.no_memory = True
    if args.profile and args.profile not in ALL_SHAPES:
        parser.error(f"--profile: unknown shape {args.profile!r}; known: {', '.join(ALL_SHAPES)}")

    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"parent RSS after imports {_rss_mb():.0f} MB"
    )
    sides = ["json", "analysis"] if args.quick else ["json", "analysis", "json_no_gc"]
    results = []
    if args.rounds > 0 or not args.no_memory:
        results = [r for s in args.shapes if (r := run_shape(s, args, sides)) is not None]
    ok = report(results, args.rounds) if results else True

    if args.profile is not None:
        shape = args.profile or args.shapes[0]
        print(f"\n[{shape}] profile")
        profile(workload(shape, args).files, args.profile_sort)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
