"""Benchmark: the scaler's GetMetrics against a gRPC server that returns a constant.

    .venv/bin/python bench/bench_scaler.py [--clients 50] [--procs 2] [--seconds 3]
                                           [--rounds 5] [--rate 1000]
                                           [--workers 16] [--max-streams 100]

Both servers run in this process, built the same way (grpc's thread-pool server, same pool
size): ours is the real ``start_scaler`` over a SQLite store holding a realistic snapshot
(12 services x 5 metrics x 72 target times, one hourly run); the comparison's handler returns
a prebuilt response, so the difference is our handler: metadata validation, snapshot lookup
and interpolation, staleness bookkeeping and Prometheus metrics. Requests cycle over every
scalable (service, metric) pair.

Clients are ``--procs`` separate processes (spawned, so the servers' process only serves)
running ``--clients`` grpc.aio callers in total, one channel per process, as KEDA shares one
connection per scaler address. Two measurements, servers interleaved (alternating which goes
first), median of ``--rounds``:
1. throughput: closed loop, each caller sends its next request when the last one answers;
2. latency: open loop at a fixed offered load (``--rate`` req/s spread over the callers),
   timed from each request's scheduled send time so queueing is not hidden.
Closed-loop latency is mostly queueing (Little's law: callers / throughput), so the latency
target is judged on the open-loop run. With 2 cores the Python clients compete with the
servers and can be what limits throughput; the server CPU time per request (this process's
CPU time over the requests answered) is printed as the cleaner measure of the handler's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

import grpc  # noqa: E402

from aiops.catalog import KNOWN_SIGNALS, load_catalog  # noqa: E402
from aiops.scaler import ScalerConfig, start_scaler  # noqa: E402
from aiops.scaler.proto import load_stubs  # noqa: E402
from aiops.store import Store  # noqa: E402

GENERATED_AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
NOW = GENERATED_AT + timedelta(minutes=7)  # between grid points: every answer interpolates


def write_predictions(url: str) -> int:
    """12 services x 5 metrics x 72 five-minute target times from one hourly run."""
    catalog = load_catalog()
    rows = []
    for s, service in enumerate(catalog.services):
        for m, metric in enumerate(KNOWN_SIGNALS):
            for k in range(72):
                value = 10.0 * (s + 1) + m + 0.5 * k
                rows.append(
                    {
                        "service": service,
                        "metric": metric,
                        "target_time": GENERATED_AT + timedelta(minutes=5 * k),
                        "generated_at": GENERATED_AT,
                        "value": value,
                        "lower": value * 0.9,
                        "upper": value * 1.2,
                        "scaling_value": value,
                        "observed": value,
                        "observed_at": GENERATED_AT - timedelta(minutes=1),
                        "model": "bench",
                        "model_version": "v1",
                    }
                )
    with Store.open(url) as store:
        return store.upsert("predictions", rows, newer="generated_at")


def request_metadata() -> list[dict[str, str]]:
    """One trigger's metadata per scalable (service, metric) pair."""
    catalog = load_catalog()
    out = []
    for name, service in catalog.services.items():
        if service.scaling is None:
            continue
        for metric in KNOWN_SIGNALS:
            md = {"scalerAddress": "aiops-scaler:9090", "service": name, "metric": metric}
            if metric != service.scaling.metric:
                md["targetValue"] = "1"
            out.append(md)
    return out


def start_constant_server(workers: int) -> tuple[grpc.Server, int]:
    """The comparison: same server construction, a handler that returns a prebuilt answer."""
    pb2, pb2_grpc = load_stubs()
    response = pb2.GetMetricsResponse(
        metricValues=[pb2.MetricValue(metricName="constant", metricValue=42, metricValueFloat=42.0)]
    )

    class Constant(pb2_grpc.ExternalScalerServicer):
        def GetMetrics(self, request: Any, context: Any) -> Any:  # noqa: N802
            return response

    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)]
    )
    pb2_grpc.add_ExternalScalerServicer_to_server(Constant(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def client_process(
    target: str, callers: int, seconds: float, rate: float | None, out: Any, start_at: float
) -> None:
    """Run ``callers`` grpc.aio callers for ``seconds``; put (answered, latencies) on ``out``."""
    pb2, pb2_grpc = load_stubs()
    requests = [
        pb2.GetMetricsRequest(
            scaledObjectRef=pb2.ScaledObjectRef(name="bench", namespace="b", scalerMetadata=md),
            metricName="m",
        )
        for md in request_metadata()
    ]

    async def main() -> list[float]:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb2_grpc.ExternalScalerStub(channel)
            for request in requests[:5]:  # connect and warm up
                await stub.GetMetrics(request)
            while time.time() < start_at:
                await asyncio.sleep(0.005)
            latencies: list[float] = []
            end = time.perf_counter() + seconds

            async def closed(i: int) -> None:
                n = i
                while time.perf_counter() < end:
                    t0 = time.perf_counter()
                    await stub.GetMetrics(requests[n % len(requests)])
                    latencies.append(time.perf_counter() - t0)
                    n += callers

            async def opened(i: int) -> None:
                interval = callers / rate  # this caller's share of the offered load
                scheduled = time.perf_counter() + interval * i / callers
                n = i
                while scheduled < end:
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await stub.GetMetrics(requests[n % len(requests)])
                    latencies.append(time.perf_counter() - scheduled)
                    scheduled += interval
                    n += callers

            worker = closed if rate is None else opened
            await asyncio.gather(*(worker(i) for i in range(callers)))
            return latencies

    out.put(asyncio.run(main()))


def measure(
    target: str, clients: int, procs: int, seconds: float, rate: float | None
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0  # let every process import and connect first
    per_proc = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    proc_rate = [None if rate is None else rate * n / clients for n in per_proc]
    workers = [
        ctx.Process(target=client_process, args=(target, n, seconds, r, out, start_at))
        for n, r in zip(per_proc, proc_rate, strict=True)
    ]
    cpu = time.process_time()  # this process runs only the servers: their CPU time
    for w in workers:
        w.start()
    latencies: list[float] = []
    for _ in workers:
        latencies.extend(out.get(timeout=seconds + 120))
    cpu = time.process_time() - cpu
    for w in workers:
        w.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "cpu_us": 1e6 * cpu / len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop offered load")
    parser.add_argument("--workers", type=int, default=ScalerConfig.workers)
    parser.add_argument("--max-streams", type=int, default=ScalerConfig.max_streams)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-scaler-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'aiops.db'}"
        rows = write_predictions(url)
        config = ScalerConfig(
            store_url=url,
            http_port=None,
            now=lambda: NOW,
            workers=args.workers,
            max_streams=args.max_streams,
        )
        scaler = start_scaler(config)
        constant, port = start_constant_server(config.workers + config.max_streams)
        targets = {"constant": f"127.0.0.1:{port}", "aiops scaler": scaler.grpc_target}
        print(
            f"snapshot: {rows:,} prediction rows ({scaler.core.refresher.snapshot.rows:,} held), "
            f"{len(request_metadata())} (service, metric) triggers cycled"
        )
        print(
            f"method: {args.clients} grpc.aio callers in {args.procs} spawned client processes, "
            f"one channel each; servers in this process, interleaved, median of {args.rounds} "
            f"x {args.seconds:g}s"
        )
        try:
            closed: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            opened: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for rate, results in ((None, closed), (args.rate, opened)):
                for round_ in range(args.rounds):
                    # alternate which server goes first, so a drift in machine load
                    # (other processes on a shared machine) does not favour one of them
                    order = list(targets.items())[:: 1 if round_ % 2 == 0 else -1]
                    for name, target in order:
                        results[name].append(
                            measure(target, args.clients, args.procs, args.seconds, rate)
                        )
        finally:
            scaler.stop(grace=0)
            constant.stop(None)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    def table(title: str, results: dict[str, list[dict[str, float]]]) -> None:
        print(f"\n{title}")
        print(f"{'server':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU us/req':>19}")
        for name, runs in results.items():
            print(
                f"{name:<14}{med(runs, 'rps'):>9,.0f}{med(runs, 'p50_ms'):>9.2f}"
                f"{med(runs, 'p99_ms'):>9.2f}{med(runs, 'cpu_us'):>19.0f}"
            )

    table("closed loop: throughput (latency here is mostly queueing)", closed)
    table(f"open loop at {args.rate:,.0f} req/s offered (latency from scheduled send)", opened)
    ratio = med(closed["aiops scaler"], "rps") / med(closed["constant"], "rps")
    p99 = med(opened["aiops scaler"], "p99_ms")
    cost = med(closed["aiops scaler"], "cpu_us") / med(closed["constant"], "cpu_us")
    print(
        f"\nserver CPU per request aiops/constant (closed loop): {cost:.2f}x. The client "
        "processes share the cores with the servers, so when throughput is client-bound this "
        "is the cleaner measure of what our handler adds."
    )
    print(
        f"throughput aiops/constant: {ratio:.2f}x (target >= 0.70: "
        f"{'ok' if ratio >= 0.70 else 'MISSED'})"
    )
    print(
        f"aiops p99 at {args.rate:,.0f} req/s: {p99:.2f} ms (target < 10 ms: "
        f"{'ok' if p99 < 10 else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
