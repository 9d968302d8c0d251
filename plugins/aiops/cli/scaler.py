"""`aiops scaler serve`: the KEDA external scaler serving the stored forecasts until stopped;
`aiops scaler plan SERVICE`: what predictive scaling asked for over the last days, how often
it was short of the load and what it cost, beside reactive scaling."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiops.cli.common import columns, parse_utc, signal_source


def _cmd_scaler_serve(args: argparse.Namespace) -> int:
    """Run the KEDA external scaler until SIGINT/SIGTERM."""
    import signal
    import threading

    from aiops.catalog import CatalogError, load_catalog
    from aiops.scaler import (
        ScalerConfig,
        ScalerConfigError,
        ScalerError,
        clock_from,
        start_scaler,
        wall_clock,
    )

    try:
        safe = dict(_service_count(item) for item in args.safe_replicas)
        clock = wall_clock if args.now is None else clock_from(parse_utc(args.now, "--now"))
        config = ScalerConfig(
            store_url=args.store_url,
            catalog=load_catalog(args.catalog),
            host=args.host,
            port=args.port,
            http_port=None if args.http_port < 0 else args.http_port,
            max_age=args.max_age,
            refresh=args.refresh,
            stream_interval=args.stream_interval,
            max_streams=args.max_streams,
            safe_replicas=safe,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_client_ca=args.tls_client_ca,
            now=clock,
        )
        scaler = start_scaler(config)
    except (CatalogError, ScalerConfigError, ScalerError, ValueError) as exc:
        print(f"aiops scaler serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("aiops.scaler").info("scaler: running; stop with Ctrl-C or SIGTERM")
    while not stop.wait(1.0):
        pass
    scaler.stop()
    return 0


def _cmd_scaler_plan(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from aiops.catalog import CatalogError, load_catalog
    from aiops.model_registry import ModelRegistry
    from aiops.predictive.plan import PlanError, plan_scaling
    from aiops.settings import models_root
    from aiops.sources.prometheus import PrometheusError

    try:
        catalog = load_catalog(args.catalog)
        at = parse_utc(args.at, "--at") if args.at else datetime.now(UTC).replace(second=0)
        at = at.replace(second=0, microsecond=0)
        registry = ModelRegistry(args.models or models_root())
        plan = plan_scaling(signal_source(args.prometheus), catalog, registry, args.service,
                            at, args.days)  # fmt: skip
    except (CatalogError, PlanError, PrometheusError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan.to_json(), indent=1))
        return 0
    s = plan.scaling
    print(f"{plan.service}: {plan.metric}, {s.capacity_per_replica:g} per replica, "
          f"{s.min_replicas}-{s.max_replicas} replicas, lead {s.lead_time:g} s, quantile "
          f"{s.target_quantile:g}; {plan.span[0]:%Y-%m-%d %H:%M} to {plan.span[1]:%Y-%m-%d %H:%M} "
          f"UTC, forecasters {', '.join(plan.models)}")  # fmt: skip
    header = ["day", "bins", "load mean", "load peak", "replicas (ours)", "short ours",
              "short reactive", "replica-h ours", "reactive", "perfect"]  # fmt: skip
    rows = [[d["day"], d["bins"], f"{d['load_mean']:.1f}", f"{d['load_peak']:.1f}",
             f"{d['ours_replicas_mean']:.1f}", f"{d['ours_short']:.1%}",
             f"{d['reactive_short']:.1%}", f"{d['ours_replica_hours']:.0f}",
             f"{d['reactive_replica_hours']:.0f}", f"{d['perfect_replica_hours']:.0f}"]
            for d in plan.days()]  # fmt: skip
    print("\n".join(columns(header, rows, numeric=tuple(header[1:]))))
    t = plan.totals()
    print(f"all: short {t['ours']['short']:.1%} of the time against {t['reactive']['short']:.1%} "
          f"reactive; {t['ours']['cost_vs_perfect']:.2f}x the replica-hours of perfect "
          f"foresight (reactive {t['reactive']['cost_vs_perfect']:.2f}x)")  # fmt: skip
    return 0


def _service_count(item: str) -> tuple[str, int]:
    service, sep, count = item.partition("=")
    if not sep or not count.strip().isdigit():
        raise ValueError(f"--safe-replicas: expected SERVICE=N, got {item!r}")
    return service.strip(), int(count)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scaler", help="the KEDA external scaler serving the stored forecasts")
    ssub = p.add_subparsers(dest="scaler_command", required=True, metavar="ACTION")
    c = ssub.add_parser(
        "serve", help="serve gRPC (KEDA external/external-push) and HTTP (metrics-api, /metrics)"
    )
    c.add_argument(
        "--store-url", default=None, help="store URL (default $AIOPS_STORE_URL or out/aiops.db)"
    )
    c.add_argument("--catalog", type=Path, default=None, help="catalog (default $AIOPS_CATALOG)")
    c.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=9090, help="gRPC port; 0 picks a free one")
    c.add_argument(
        "--http-port", type=int, default=9091, help="HTTP port; 0 picks a free one, -1 disables"
    )
    c.add_argument("--max-age", default="2h", help="forecasts older than this are stale")
    c.add_argument("--refresh", default="15s", help="how often to re-read the store")
    c.add_argument("--stream-interval", default="5s", help="StreamIsActive re-check interval")
    c.add_argument(
        "--max-streams", type=int, default=100, help="open streams allowed (external-push)"
    )
    c.add_argument(
        "--safe-replicas",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="replicas to serve with no data at all (default: the catalog's max_replicas)",
    )
    c.add_argument(
        "--now",
        default=None,
        metavar="ISO_TIME",
        help="start the clock at this UTC time and let it run (serve a backfilled past)",
    )
    c.add_argument("--tls-cert", type=Path, default=None, help="server certificate (PEM)")
    c.add_argument("--tls-key", type=Path, default=None, help="server private key (PEM)")
    c.add_argument(
        "--tls-client-ca", type=Path, default=None, help="require client certs signed by this CA"
    )
    c.set_defaults(func=_cmd_scaler_serve)

    c = ssub.add_parser(
        "plan", help="replicas asked over the last days, how often short, the cost, vs reactive"
    )
    c.add_argument("service", help="a catalog service with a scaling section")
    c.add_argument("--days", type=float, default=3.0, help="days replayed (default 3)")
    c.add_argument("--at", default=None, metavar="ISO_TIME", help="end of the replay (now)")
    c.add_argument("--catalog", type=Path, default=None, help="catalog (default $AIOPS_CATALOG)")
    c.add_argument("--prometheus", default=None, help="Prometheus base URL")
    c.add_argument("--models", default=None, help="model registry (default $AIOPS_MODELS)")
    c.add_argument("--json", action="store_true", help="the plan as JSON")
    c.set_defaults(func=_cmd_scaler_plan)
