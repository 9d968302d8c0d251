"""`aiops scaler serve`: the KEDA external scaler serving the stored forecasts until stopped."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiops.cli.common import parse_utc


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
