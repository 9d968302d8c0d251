"""`aiops`: the command line. Each subcommand is a thin shell over one module."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aiops.settings import aiops_home


def _cmd_demo(args: argparse.Namespace) -> int:
    from aiops.dev.demo.run import run_demo

    return run_demo(args.out)


def _cmd_world(args: argparse.Namespace) -> int:
    from aiops.dev.sim.world import WorldConfig, build_world

    end = datetime.fromisoformat(args.end) if args.end else WorldConfig.end
    manifest = build_world(WorldConfig(seed=args.seed, days=args.days, end=end), args.out)
    print(
        f"{args.out}: {manifest['samples']:,} samples, {len(manifest['trace_files'])} trace files, "
        f"{len(manifest['log_files'])} log files"
    )
    for incident in manifest["incidents"]:
        print(f"  planted {incident['kind']:<20} {incident['service']:<15} {incident['start']}")
    return 0


def _cmd_catalog_check(args: argparse.Namespace) -> int:
    from aiops.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(args.path)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"ok: {len(catalog.services)} services, signals {', '.join(catalog.defaults.signals)}")
    return 0


def _cmd_prometheus_up(args: argparse.Namespace) -> int:
    from aiops.dev import promserver

    try:
        promserver.ensure_installed()
    except promserver.PrometheusNotInstalled as exc:
        print(exc, file=sys.stderr)
        return 2
    tsdb = args.tsdb or args.world / "tsdb"
    promserver.backfill(args.world / "metrics.om", tsdb)
    server = promserver.PrometheusServer(tsdb, port=args.port).start()
    print(server.url)
    print(f"stop it with: aiops prometheus down --tsdb {tsdb}", file=sys.stderr)
    return 0


def _cmd_prometheus_down(args: argparse.Namespace) -> int:
    from aiops.dev import promserver

    tsdb = args.tsdb or args.world / "tsdb"
    stopped = promserver.stop_from_pidfile(promserver.pidfile_for(tsdb))
    print("stopped" if stopped else "no running Prometheus for " + str(tsdb))
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from aiops.metrics.detect_csv import DetectInputError, detect_csv

    try:
        summary = detect_csv(args.input, args.output)
    except (DetectInputError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary)
    return 0


def _cmd_airflow_env(args: argparse.Namespace) -> int:
    from aiops.dev.local_airflow import airflow_env, shell_exports

    print(shell_exports(airflow_env()))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    """Summaries already in the store, as JSON lines (for scripts and eyeballs alike)."""
    from aiops.store import Store

    filters = {"service": args.service} if args.service else {}
    with Store.open(args.store) as store:
        for row in store.read("series_summary", **filters):
            print(json.dumps(row, default=str, sort_keys=True))
    return 0


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
        clock = wall_clock if args.now is None else clock_from(_utc(args.now, "--now"))
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


def _utc(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{flag}: expected an ISO 8601 time such as 2026-11-01T12:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{flag}: give a timezone (Z or +00:00), got {text!r}")
    return value


def _service_count(item: str) -> tuple[str, int]:
    service, sep, count = item.partition("=")
    if not sep or not count.strip().isdigit():
        raise ValueError(f"--safe-replicas: expected SERVICE=N, got {item!r}")
    return service.strip(), int(count)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiops", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run the main job end to end on the demo world")
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default $AIOPS_HOME or out/)"
    )
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("world", help="build the deterministic demo world (metrics, traces, logs)")
    p.add_argument("--out", type=Path, default=aiops_home() / "world")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--days", type=int, default=30)
    p.add_argument(
        "--end", default=None, help="UTC end of the window, ISO 8601 (default 2026-11-01)"
    )
    p.set_defaults(func=_cmd_world)

    p = sub.add_parser("catalog", help="service catalog tools")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    c = csub.add_parser(
        "check", help="validate a catalog file; problems are printed with line numbers"
    )
    c.add_argument("path", nargs="?", type=Path, default=None)
    c.set_defaults(func=_cmd_catalog_check)

    p = sub.add_parser("prometheus", help="a local Prometheus serving a backfilled world")
    psub = p.add_subparsers(dest="prometheus_command", required=True, metavar="ACTION")
    for name, func, helptext in (
        ("up", _cmd_prometheus_up, "backfill and start; prints the URL"),
        ("down", _cmd_prometheus_down, "stop the server started by `up`"),
    ):
        c = psub.add_parser(name, help=helptext)
        c.add_argument("--world", type=Path, default=aiops_home() / "world")
        c.add_argument("--tsdb", type=Path, default=None)
        if name == "up":
            c.add_argument("--port", type=int, default=None)
        c.set_defaults(func=func)

    p = sub.add_parser("summary", help="print stored per-series data summaries as JSON lines")
    p.add_argument(
        "--store", default=None, help="store URL (default $AIOPS_STORE_URL or out/aiops.db)"
    )
    p.add_argument("--service", default=None)
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser(
        "detect", help="score a timestamp,value CSV causally with the default detector"
    )
    p.add_argument("--input", type=Path, required=True, help="CSV with columns timestamp,value")
    p.add_argument(
        "--output", type=Path, required=True, help="CSV: timestamp,value,anomaly_score,is_anomaly"
    )
    p.set_defaults(func=_cmd_detect)

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

    from aiops.cli import incidents, issues, llm, logs, traces

    traces.add_parser(sub)
    issues.add_parser(sub)
    logs.add_parser(sub)
    incidents.add_parser(sub)
    llm.add_parser(sub)

    p = sub.add_parser("airflow-env", help="print the exports that point `airflow` at this project")
    p.set_defaults(func=_cmd_airflow_env)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
