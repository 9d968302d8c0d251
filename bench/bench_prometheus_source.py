"""Benchmark: backfill a month of metrics into a real Prometheus, then read it back in chunks.

    .venv/bin/python bench/bench_prometheus_source.py [--series 12] [--days 30] [--repeats 5]

Generates an OpenMetrics file (``--series`` gauges at 60 s for ``--days`` days), backfills it
with promtool (seconds, samples/s), starts Prometheus on a free loopback port and measures
``PrometheusClient.query_range`` over the whole span at step 60 s with 11,000-point chunks
(Prometheus's limit) against one-day chunks (1,440 points). Runs are interleaved after a
warm-up, and the median of ``--repeats`` is reported. Everything lives in a temporary folder
that is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from aiops.dev.promserver import PrometheusServer, backfill, ensure_installed  # noqa: E402
from aiops.sources.prometheus import PrometheusClient, RangeResult  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=60)
METRIC = "aiops_bench_cpu_utilisation"


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        self.sent += 1
        return super().request(method, url, *args, **kwargs)


def write_openmetrics(path: Path, series: int, days: int, seed: int = 7) -> int:
    """Gauges with a daily cycle, a weekly dip and noise; returns the number of samples."""
    rng = np.random.default_rng(seed)
    points = days * 24 * 60
    stamps = [str(int(START.timestamp()) + 60 * i) for i in range(points)]
    hours = np.arange(points) / 60.0
    daily = 0.5 + 0.3 * np.sin(2 * np.pi * (hours - 9) / 24)
    weekly = np.where((hours // 24) % 7 >= 5, 0.7, 1.0)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(f"# HELP {METRIC} CPU utilisation of one pod, 0..1.\n# TYPE {METRIC} gauge\n")
        for s in range(series):
            labels = f'{{service="svc-{s // 3:02d}",pod="svc-{s // 3:02d}-{s % 3}"}}'
            values = np.clip(
                daily * weekly * rng.uniform(0.6, 1.4) + rng.normal(0, 0.03, points), 0, 1
            )
            prefix = f"{METRIC}{labels} "
            out.write(
                "".join(f"{prefix}{v:.4f} {t}\n" for v, t in zip(values, stamps, strict=True))
            )
        out.write("# EOF\n")
    return series * points


def read_all(url: str, max_points: int, days: int) -> tuple[float, int, int, RangeResult]:
    session = CountingSession()
    client = PrometheusClient(url, max_points=max_points, session=session, timeout=60)
    began = time.perf_counter()
    result = client.query_range(METRIC, START, START + timedelta(days=days), STEP)
    seconds = time.perf_counter() - began
    points = sum(len(s.values) for s in result.series)
    return seconds, points, session.sent, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=12)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    binaries = ensure_installed()
    print(f"prometheus: {binaries.prometheus}   promtool: {binaries.promtool}")
    with tempfile.TemporaryDirectory(prefix="aiops-bench-prom-") as tmp:
        root = Path(tmp)
        source = root / "metrics.om"
        began = time.perf_counter()
        samples = write_openmetrics(source, args.series, args.days)
        generated = time.perf_counter() - began
        size_mb = source.stat().st_size / 1e6
        print(
            f"generated {samples:,} samples ({args.series} series x {args.days} days at 60 s), "
            f"{size_mb:.1f} MB in {generated:.1f}s"
        )

        began = time.perf_counter()
        tsdb = backfill(source, root / "tsdb")
        took = time.perf_counter() - began
        print(f"backfill: {took:.2f}s, {samples / took:,.0f} samples/s")
        began = time.perf_counter()
        backfill(source, tsdb)
        print(f"backfill again (stamp matches, skipped): {time.perf_counter() - began:.3f}s")

        with PrometheusServer(tsdb) as server:
            print(f"server ready at {server.url}")
            sizes = (11_000, 1_440)
            reference = {
                size: read_all(server.url, size, args.days)[3] for size in sizes
            }  # warm-up
            a, b = (reference[size].series for size in sizes)
            assert [s.labels for s in a] == [s.labels for s in b]
            assert all(x.values.equals(y.values) for x, y in zip(a, b, strict=True))
            runs: dict[int, list[tuple[float, int, int]]] = {size: [] for size in sizes}
            for _ in range(args.repeats):
                for size in sizes:
                    seconds, points, sent, _result = read_all(server.url, size, args.days)
                    runs[size].append((seconds, points, sent))

        print()
        print(
            f"reading {args.series} series x {args.days} days at step 60s, median of {args.repeats}"
        )
        header = ("chunk (points)", "requests", "points", "median s", "points/s")
        print(" ".join(f"{h:>{w}}" for h, w in zip(header, (14, 9, 10, 9, 12), strict=True)))
        rates = {}
        for size in sizes:
            median = statistics.median(s for s, _, _ in runs[size])
            points, sent = runs[size][0][1], runs[size][0][2]
            rates[size] = points / median
            print(f"{size:>14,} {sent:>9} {points:>10,} {median:>9.3f} {rates[size]:>12,.0f}")
        print(f"ratio points/s 11,000 vs 1,440: {rates[11_000] / rates[1_440]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
