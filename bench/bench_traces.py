"""Benchmark: trace analysis end to end on a million spans of Jaeger JSON, against json.loads.

    .venv/bin/python bench/bench_traces.py [--traces-per-hour 750] [--hours 72] [--rounds 3]
                                           [--quick] [--profile] [--no-memory]

Workload: the demo simulator's Jaeger query-API files (one per hour, ~19 spans per trace, tags,
logs, FOLLOWS_FROM, the planted N+1 and sequential calls), --traces-per-hour over --hours:
about 1,000,000 spans by default, --quick about 80,000. The files are cached under
out/bench/ (see bench/traces/generate.py); the generation time is printed when they are made.

Timing, in this one process: json.loads alone (every file, nothing else) against the whole
analysis (the file reader `iter_trace_documents` streaming file by file into
`analyze_traces`: parse, dependency map, critical paths, every detector, findings). Both sides
read the files the same way, `json.load` on a binary handle, from the page cache (warmed
first; the read alone is printed for scale), so disk I/O is in both and equal. A third side,
json.loads with the cyclic garbage collector off, is timed for context only (about half of
json.loads' own time here is the collector walking the half-built documents). The sides are
interleaved, rotating which goes first, for --rounds rounds; medians are reported, with the
seconds each spent in the collector (gc.callbacks).

Memory: before the timing, the analysis runs in a child process (this script, --child) and
its peak RSS is read with getrusage(RUSAGE_CHILDREN); a second child that only json.loads the
same files shows how much of that peak the largest file's document is.

--profile runs one more analysis under cProfile and prints its top 15 functions
(--profile-sort tottime or cumulative); --rounds 0 --no-memory --profile prints only that.

Targets (from the issue): the analysis within 3x of json.loads alone; peak memory < 2 GB.
No assert on time: the verdict is printed, and the exit status is 1 when a target is missed.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.sources.jaeger_files import iter_trace_documents  # noqa: E402
from aiops.traces.analyze import TraceAnalysis, analyze_traces  # noqa: E402
from bench.traces.generate import MANIFEST, TraceFiles, trace_files  # noqa: E402

CACHE = ROOT / "out" / "bench"
RATIO_TARGET = 3.0
MEMORY_TARGET_MB = 2048.0
QUICK_TRACES_PER_HOUR = 60


class GcTimer:
    """Seconds spent in the cyclic garbage collector while active (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def json_alone(files: list[Path]) -> int:
    """json.load every file as the reader does, and nothing else; returns the traces seen."""
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


SIDES = {
    "json": ("json.loads alone", json_alone),
    "analysis": ("analysis: read + parse + map + paths + detect", analysis),
    "json_no_gc": ("(context) json.loads alone, GC off", json_alone_no_gc),
}


def timing(files: list[Path], work: TraceFiles, rounds: int, t_read: float) -> bool:
    """Interleaved rounds, rotating which side goes first; prints the table, returns the
    verdict on the ratio target."""
    times: dict[str, list[float]] = {k: [] for k in SIDES}
    gcs: dict[str, list[float]] = {k: [] for k in SIDES}
    result = None
    names = list(SIDES)
    for r in range(rounds):
        for side in names[r % 3 :] + names[: r % 3]:
            seconds, in_gc, value = _timed(SIDES[side][1], files)
            if side == "analysis":
                result = value
            elif value != work.traces:
                raise RuntimeError(f"json.loads saw {value} traces, the manifest {work.traces}")
            times[side].append(seconds)
            gcs[side].append(in_gc)
        print(
            f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    med_gc = {k: statistics.median(v) for k, v in gcs.items()}
    print(
        f"\nmedian of {rounds} interleaved rounds; every side json.loads each file from the "
        f"page cache through a binary handle (reading the bytes alone: {t_read:.2f} s)"
    )
    print(f"{'step':<48}{'median s':>9}{'in GC s':>9}{'spans/s':>11}{'MB/s':>7}{'vs json':>9}")
    rows = [(SIDES[k][0], med[k], med_gc[k]) for k in ("json", "analysis")]
    rows.append(("  analysis beyond json.loads (difference)", med["analysis"] - med["json"], None))
    rows.append((SIDES["json_no_gc"][0], med["json_no_gc"], med_gc["json_no_gc"]))
    for name, seconds, in_gc in rows:
        gc_cell = f"{in_gc:>9.2f}" if in_gc is not None else f"{'-':>9}"
        print(
            f"{name:<48}{seconds:>9.2f}{gc_cell}{work.spans / seconds:>11,.0f}"
            f"{work.megabytes / seconds:>7.1f}{seconds / med['json']:>8.2f}x"
        )
    ratio = med["analysis"] / med["json"]
    ok = ratio <= RATIO_TARGET
    print(f"target analysis <= {RATIO_TARGET:.0f}x json.loads alone: {ratio:.2f}x, {_verdict(ok)}")
    assert result is not None
    if result.spans != work.spans:
        print(f"note: the analysis counted {result.spans:,} spans of {work.spans:,}")
    kinds = Counter(f.kind for f in result.findings)
    print(
        f"analysis output: {result.traces:,} traces, {len(result.edges)} edges, "
        f"{len(result.findings)} findings ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    return ok


def _timed(fn, *args):
    gc.collect()  # the previous step's garbage is not this step's cost
    with GcTimer() as gc_time:
        t0 = time.perf_counter()
        value = fn(*args)
        seconds = time.perf_counter() - t0
    return seconds, gc_time.seconds, value


def _rss_mb() -> float:
    """This process's current resident set, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, folder: Path) -> int:
    """Run one side over the folder's files and print its figures as JSON (for the parent)."""
    files = sorted(p for p in folder.glob("*.json") if p.name != MANIFEST)
    after_imports = _rss_mb()
    t0 = time.perf_counter()
    if mode == "analysis":
        result = analysis(files)
        spans = result.spans
    else:
        json_alone(files)
        spans = None
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "after_imports_mb": after_imports, "peak_mb": peak,
                      "spans": spans}))  # fmt: skip
    return 0


def run_child(mode: str, folder: Path) -> tuple[dict, float]:
    """The child's own report and the parent's RUSAGE_CHILDREN peak after it (MB)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--dir", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def profile(files: list[Path], sort: str) -> None:
    profiler = cProfile.Profile()
    gc.collect()
    with GcTimer() as gc_time:
        t0 = time.perf_counter()
        profiler.runcall(analysis, files)
        seconds = time.perf_counter() - t0
    print(
        f"\nprofile of one analysis under cProfile: {seconds:.1f} s "
        f"(inflated by the profiler; cyclic GC {gc_time.seconds:.1f} s, not listed below)"
    )
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(sort).print_stats(15)


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-per-hour", type=int, default=750)
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TRACES_PER_HOUR} traces per hour (~80k spans)"
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where generated files live")
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes")
    parser.add_argument("--profile", action="store_true", help="cProfile one analysis, top 15")
    parser.add_argument("--profile-sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--child", choices=("analysis", "json"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.dir)

    parent_rss = _rss_mb()
    per_hour = QUICK_TRACES_PER_HOUR if args.quick else args.traces_per_hour
    work: TraceFiles = trace_files(
        args.cache, traces_per_hour=per_hour, hours=args.hours, seed=args.seed
    )
    files = work.files
    made = (
        f"generated in {work.generated_s:.1f} s (metrics for 14 days + traces + counting)"
        if work.generated_s is not None
        else "reused from the cache"
    )
    print(
        f"workload: {work.spans:,} spans in {work.traces:,} traces, {len(files)} files, "
        f"{work.megabytes:,.1f} MB of Jaeger JSON ({per_hour} traces/hour over {args.hours} h, "
        f"seed {args.seed}); {made}: {work.folder}"
    )
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"parent RSS after imports {parent_rss:.0f} MB"
    )

    ok = True
    if not args.no_memory:
        # first, so the parent's RUSAGE_CHILDREN peak is this child's; also warms the page cache
        mem, children_peak = run_child("analysis", work.folder)
        mem_json, _ = run_child("json", work.folder)
        ok_mem = children_peak < MEMORY_TARGET_MB
        ok &= ok_mem
        print(
            f"peak RSS of the analysis in a child process: {children_peak:,.0f} MB "
            f"(RUSAGE_CHILDREN; {mem['after_imports_mb']:.0f} MB after imports, "
            f"{mem['seconds']:.1f} s); json.loads alone in a child: {mem_json['peak_mb']:,.0f} MB"
        )
        print(f"target peak < {MEMORY_TARGET_MB:,.0f} MB: {_verdict(ok_mem)}")

    t_read = time.perf_counter()
    for path in files:  # warm the page cache, and show what reading alone costs
        path.read_bytes()
    t_read = time.perf_counter() - t_read

    if args.rounds > 0:
        ok &= timing(files, work, args.rounds, t_read)

    if args.profile:
        profile(files, args.profile_sort)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
