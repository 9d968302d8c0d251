"""A/B timing of the seasonal baseline across two checkouts: a change's cost, not guessed.

    git worktree add /tmp/before <commit>
    for root in /tmp/before . /tmp/before . /tmp/before .; do
        OMP_NUM_THREADS=1 .venv/bin/python bench/baselines_ab.py "$root"; done

Times, in the checkout at ROOT, `SeasonalBaseline.fit` on bench_baselines' 1,000-series
fleet (median of 5) and one hour's scoring (median of 20; with `calibrate` when that
checkout has it). Alternating the checkouts, as above, keeps the machine's drift (fits vary
from 0.8 to 1.1 s run to run here) out of the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path


def main(root: str) -> None:
    base = Path(root).resolve()
    sys.path[:0] = [str(base / "plugins"), str(base)]
    from aiops.baselines.seasonal import SeasonalBaseline
    from bench.bench_baselines import synthetic_fleet

    fleet = synthetic_fleet(1000, 14)
    train, hour = fleet.iloc[:-12], fleet.iloc[-12:]
    fits, scores = [], []
    for _ in range(5):
        started = time.perf_counter()
        model = SeasonalBaseline().fit(train)
        fits.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(20):
            z = model.score(hour)
            if hasattr(model, "calibrate"):
                model.calibrate(z)
        scores.append((time.perf_counter() - started) / 20)
    print(f"{root}: fit {statistics.median(fits):.3f} s, hourly score"
          f"{' + calibrate' if hasattr(model, 'calibrate') else ''} "
          f"{1000 * statistics.median(scores):.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
