"""Benchmark: detection quality on NAB realKnownCause + realTraffic, standard profile.

    .venv/bin/python bench/bench_nab.py [--prophet-refit 500] [--no-prophet]

Three detectors on the same 14 files, scored by bench/nab/scoring.py (a port of NAB's
sweeper): ours (aiops.baselines.causal, default config, its own is_anomaly), NAB's windowed
Gaussian, and a Prophet-interval detector (prometheus-anomaly-detector's rule: a point
outside yhat_lower/yhat_upper is an anomaly; refitted on the last 2000 rows every
--prophet-refit rows). Every detector uses one threshold for the whole corpus, never one
per file: ours its built-in is_anomaly; the comparators both at their natural threshold and
at the corpus-wide best one (what NAB's optimiser gives every scoreboard entry).
Numenta HTM's 66.9 on these two folders is printed for reference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from aiops.baselines.causal import CausalDetector, CausalDetectorConfig  # noqa: E402
from bench.nab import scoring  # noqa: E402
from bench.nab.detectors import (  # noqa: E402
    ProphetIntervalConfig,
    prophet_interval_scores,
    windowed_gaussian_scores,
)

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
FOLDERS = ("realKnownCause", "realTraffic")
HTM_REFERENCE = 66.9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=NAB, help="NAB folder (data/, labels/)")
    parser.add_argument("--prophet-refit", type=int, default=ProphetIntervalConfig.refit_every)
    parser.add_argument("--no-prophet", action="store_true", help="skip the Prophet comparator")
    args = parser.parse_args(argv)
    labels = args.nab / "labels" / "combined_windows.json"
    if not labels.exists():
        print(
            f"skipped: NAB data not found at {args.nab} (expected shared/data/nab beside the checkout)"
        )
        return 0

    windows = scoring.load_windows(labels)
    files = sorted(k for k in windows if k.split("/")[0] in FOLDERS)
    frames = {k: pd.read_csv(args.nab / "data" / k) for k in files}
    prepared = {k: scoring.prepare_file(k, frames[k]["timestamp"], windows[k]) for k in files}

    # name -> (scores per file, natural threshold, seconds)
    runs: dict[str, tuple[dict[str, np.ndarray], float | None, float]] = {}

    config = CausalDetectorConfig()
    started = time.perf_counter()
    ours = {}
    for k in files:
        detector = CausalDetector(config)
        ours[k] = detector.detect(
            detector.score(frames[k]["timestamp"], frames[k]["value"].to_numpy())
        ).astype(float)
    runs["ours (causal)"] = (ours, 1.0, time.perf_counter() - started)

    started = time.perf_counter()
    gauss = {k: windowed_gaussian_scores(frames[k]["value"].to_numpy()) for k in files}
    runs["windowed Gaussian"] = (gauss, None, time.perf_counter() - started)

    if not args.no_prophet:
        started = time.perf_counter()
        pcfg = ProphetIntervalConfig(refit_every=args.prophet_refit)
        prophet = {}
        for k in files:
            prophet[k] = prophet_interval_scores(
                frames[k]["timestamp"], frames[k]["value"].to_numpy(), pcfg
            )
            print(f"  prophet: {k} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        runs["Prophet interval"] = (prophet, 0.5, time.perf_counter() - started)

    results = {}
    for name, (scores, natural, seconds) in runs.items():
        row = {"seconds": seconds}
        if natural is not None:
            row["natural"] = (natural, *scoring.score_corpus(prepared, scores, natural))
        if name != "ours (causal)":
            best_t, _ = scoring.best_threshold(prepared, scores)
            row["best"] = (best_t, *scoring.score_corpus(prepared, scores, best_t))
        results[name] = row

    names = list(results)
    print(
        f"\nNAB standard profile, {len(files)} files ({' + '.join(FOLDERS)}), {sum(p.n_windows for p in prepared.values())} windows"
    )
    print(
        "per-file raw score (windows detected/labelled, false positives); comparators at their corpus-best threshold"
    )
    header = f"{'file':<52}" + "".join(f"{n:>26}" for n in names)
    print(header)
    print("-" * len(header))
    for i, k in enumerate(files):
        cells = []
        for n in names:
            key = "best" if "best" in results[n] else "natural"
            f = results[n][key][2][i]
            cells.append(f"{f.raw:8.3f} ({f.tp}/{f.tp + f.fn}, {f.fp:>3} fp)")
        print(f"{k:<52}" + "".join(f"{c:>26}" for c in cells))
    print()
    print(f"{'detector':<22}{'threshold (one per corpus)':>28}{'NAB score':>12}{'seconds':>10}")
    for n in names:
        r = results[n]
        lines = []
        if "natural" in r:
            t, total, _ = r["natural"]
            label = "is_anomaly (default)" if n.startswith("ours") else f"outside interval ({t:g})"
            lines.append((label, total))
        if "best" in r:
            bt, btotal, _ = r["best"]
            lines.append(("corpus-best " + format(bt, ".12g"), btotal))
        for j, (label, total) in enumerate(lines):
            seconds = f"{r['seconds']:.1f}" if j == 0 else ""
            print(f"{n if j == 0 else '':<22}{label:>28}{total:>12.1f}{seconds:>10}".rstrip())
    print(f"{'Numenta HTM (ref.)':<22}{'published':>28}{HTM_REFERENCE:>12.1f}")
    print(f"{'null / perfect':<22}{'':>28}{'0.0 / 100.0':>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
