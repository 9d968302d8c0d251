"""`aiops demo`, `world`, `prometheus up|down`, `page` and `airflow-env`: the demo and the
local tooling (aiops.dev), which only the command line imports."""

from __future__ import annotations

import argparse
import sys
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


def _cmd_airflow_env(args: argparse.Namespace) -> int:
    from aiops.dev.local_airflow import airflow_env, shell_exports

    print(shell_exports(airflow_env(home=args.home)))
    return 0


def _cmd_page(args: argparse.Namespace) -> int:
    import time

    from aiops.dev.api_server import ApiServer, ApiServerError
    from aiops.dev.local_airflow import airflow_env
    from aiops.settings import resolve_store_url

    env = {**airflow_env(), "AIOPS_STORE_URL": resolve_store_url()}
    try:
        with ApiServer(env, aiops_home() / "logs" / "api-server.log", port=args.port) as server:
            print(f"Airflow on {server.url}/ with the AIOps page at {server.url}/aiops/ "
                  f"(log in: {server.login_url('/aiops/')}); Ctrl-C stops it", flush=True)  # fmt: skip
            while True:
                time.sleep(3600)
    except ApiServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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

    p = sub.add_parser("page", help="serve the local Airflow's UI with the AIOps page, on loopback")
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.set_defaults(func=_cmd_page)

    p = sub.add_parser("airflow-env", help="print the exports that point `airflow` at this project")
    p.add_argument("--home", type=Path, default=None, metavar="DIR",
                   help="AIRFLOW_HOME (its metadata DB, logs, config) for a second, separate "
                        "Airflow on the same DAGs (default: .airflow in the repository)")  # fmt: skip
    p.set_defaults(func=_cmd_airflow_env)
