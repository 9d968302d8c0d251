"""Benchmark: what a picture and a page view cost, beside Airflow's own requests.

    .venv/bin/python bench/bench_page.py [--repeat 20]

Part 1, pictures: each kind of picture (a forecast with a day of 10-minute history and 96
forecast steps, a chain of 8 services, a neighbourhood of 12 edges) drawn as Mermaid text,
PNG and SVG, in this process; the median of --repeat draws. The nightly draws one per filed
issue (Mermaid always, PNG in the dry run), the page one SVG per chart it shows.

Part 2, the page in a real `airflow api-server` (a throwaway Airflow home, migrated here) on
the AIOps page's fixture store (tests/support/page_store.py: 4 services, 24 hourly runs, an
open incident) with the demo's catalog (12 services): each view fetched --repeat times with a
logged-in cookie, beside Airflow's own `GET /api/v2/dags` (what its DAG list shows) on the
same server, one after the other in this process; the median and p95 of each, and the ratio
to Airflow's request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from aiops.dev.api_server import ApiServer  # noqa: E402
from aiops.dev.local_airflow import airflow_env, run_airflow  # noqa: E402
from aiops.pictures.draw import png_bytes, svg_text  # noqa: E402
from aiops.pictures.mermaid import mermaid_source  # noqa: E402
from aiops.pictures.model import (  # noqa: E402
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
)
from aiops.store import Store  # noqa: E402
from support.page_store import INCIDENT, fill  # noqa: E402

NOW = datetime(2026, 10, 30, 12, tzinfo=UTC)


def pictures() -> dict[str, object]:
    history = tuple((NOW - timedelta(minutes=10 * k), 40.0 + k % 7) for k in range(143, -1, -1))
    ahead = tuple(BandPoint(NOW + timedelta(minutes=5 * k), 45.0 + k / 10, 40.0, 50.0 + k / 5)
                  for k in range(1, 97))  # fmt: skip
    services = ["redis", "cart", "checkout", "gateway", "web", "search", "auth", "mail"]
    chain = ChainPicture("7f3a9c2e1b04", tuple(
        ChainStep(s, "latency_p95", None if i == 0 else 60.0 * i, tuple(services[: i + 1]))
        for i, s in enumerate(services)))  # fmt: skip
    edges = tuple(MapEdge(f"caller-{i}", "cart", 1000 - i, 0.01, 30.0) for i in range(6)) + tuple(
        MapEdge("cart", f"callee-{i}", 900 - i, 0.0, 12.0) for i in range(6)
    )
    return {
        "forecast": ForecastPicture("cart", "request_rate", "req/s", NOW, history, ahead, 60.0),
        "chain": chain,
        "neighbourhood": NeighbourhoodPicture("cart", edges, ("cart",), omitted_callers=40),
    }


def median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def bench_pictures(repeat: int) -> None:
    print("\n## pictures: median ms per draw (this process)\n")
    print("| picture | Mermaid text | PNG | SVG | Mermaid chars | PNG bytes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, picture in pictures().items():
        png_bytes(picture)  # warm: fonts, caches
        mer, _ = median_ms(lambda p=picture: mermaid_source(p), repeat)
        png, _ = median_ms(lambda p=picture: png_bytes(p), repeat)
        svg, _ = median_ms(lambda p=picture: svg_text(p), repeat)
        print(f"| {name} | {mer:.2f} | {png:.0f} | {svg:.0f} | {len(mermaid_source(picture)):,} "
              f"| {len(png_bytes(picture)):,} |")  # fmt: skip


def bench_page(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-page-") as tmp:
        root = Path(tmp)
        env = {**airflow_env(home=root / "airflow"), "AIOPS_STORE_URL": f"sqlite:///{root / 'aiops.db'}",
               "AIOPS_PAGE_NOW": "2026-10-30T12:20:00+00:00"}  # fmt: skip
        with Store.open(env["AIOPS_STORE_URL"]) as store:
            fill(store)
        t0 = time.perf_counter()
        proc = run_airflow(["db", "migrate"], env, root / "migrate.log")
        if proc.returncode != 0:
            sys.exit(f"airflow db migrate failed: {(root / 'migrate.log').read_text()[-2000:]}")
        # the project's DAGs in the metadata DB, so Airflow's DAG list has rows to answer with
        proc = run_airflow(["dags", "reserialize"], env, root / "reserialize.log")
        if proc.returncode != 0:
            sys.exit(
                f"airflow dags reserialize failed: {(root / 'reserialize.log').read_text()[-2000:]}"
            )
        print(f"\n(airflow db migrate and dags reserialize: {time.perf_counter() - t0:.0f} s)")
        with ApiServer(env, root / "api-server.log", users={"sre": "pw"}) as server:
            token = server.login("sre", "pw")
            session = requests.Session()
            session.cookies.set("_token", token)
            session.headers["Authorization"] = f"Bearer {token}"
            dags = session.get(server.url + "/api/v2/dags?limit=50", timeout=60).json()
            print(f"(Airflow's DAG list: {dags['total_entries']} DAGs)")
            views = {
                "Airflow: GET /api/v2/dags": "/api/v2/dags?limit=50",
                "AIOps overview /aiops/": "/aiops/",
                "AIOps service /aiops/services/payment (2 charts)": "/aiops/services/payment",
                f"AIOps incident /aiops/incidents/{INCIDENT}": f"/aiops/incidents/{INCIDENT}",
                "AIOps map /aiops/graph": "/aiops/graph",
            }
            for path in views.values():  # warm: imports, the store's first open
                session.get(server.url + path, timeout=60).raise_for_status()
            results = {}
            for name, path in views.items():
                results[name] = median_ms(
                    lambda p=path: session.get(server.url + p, timeout=60).raise_for_status(),
                    repeat,
                )
    base = results["Airflow: GET /api/v2/dags"][0]
    print(f"\n## the page in a real airflow api-server: ms per request ({repeat} each)\n")
    print("| request | median | p95 | median / Airflow's |")
    print("| --- | --- | --- | --- |")
    for name, (med, p95) in results.items():
        print(f"| {name} | {med:.0f} | {p95:.0f} | {med / base:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    t0 = time.perf_counter()
    bench_pictures(args.repeat)
    bench_page(args.repeat)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
