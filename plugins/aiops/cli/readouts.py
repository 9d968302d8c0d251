"""`aiops predictions`, `aiops alerts`, `aiops runs`: what the hourly and nightly runs stored,
read back as tables.

`predictions` shows, per service and signal, the forecast the KEDA scaler would serve at a
time (default: the newest run's end): the next target's mean and 80% interval, how far the
forecast reaches, when it was made and by which model version (named by the end of the data
it was trained on). `alerts` shows the predicted SLO breaches and their time to breach.
`runs` shows the pipeline's own summaries (one line per DAG run, as the task logs print them)
and the frames the data-quality gate quarantined, with its reasons. Nothing is recomputed;
every "now" is a time found in the store, never the wall clock.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from aiops.cli.common import columns, open_store, parse_day_or_utc
from aiops.store import Store, StoreError
from aiops.units import format_duration, format_range, format_value, signal_label

#: How far past --at the predictions read-out looks for a forecast's last target: longer
#: than any horizon the forecasters are configured with (6 hours by default).
LOOKAHEAD = timedelta(days=1)
#: How far before the newest run the alerts read-out looks for alerts by default.
ALERT_WINDOW = timedelta(hours=24)
NUMERIC = {"replicas", "runs", "points"}


def _cmd_predictions(args: argparse.Namespace) -> int:
    from aiops.scaler.snapshot import read_prediction_rows

    try:
        with open_store(args) as store:
            at = _at(args, newest(store, "predictions", "generated_at"))
            rows = [] if at is None else read_prediction_rows(store, at, at + LOOKAHEAD, at)
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.service:
        rows = [r for r in rows if r["service"] == args.service]
    if not rows:
        where = f" for {args.service}" if args.service else ""
        when = f" for {_when(at)} UTC or later" if at else ""
        print(f"no forecasts{where}{when} (the hourly run stores them)")
        return 0
    table = [prediction_cells(series) for series in _by_series(rows, "metric").values()]
    header = ["service", "signal", "next target", "mean", "80% interval", "replicas",
              "forecast to", "made (UTC)", "model (trained to)"]  # fmt: skip
    print("\n".join(columns(header, table, numeric=NUMERIC)))
    n = len(table)
    print(f"{n} forecast{'s' if n != 1 else ''} as the scaler serves them at {_when(at)} UTC "
          "(made at or before it)")  # fmt: skip
    return 0


def prediction_cells(series: Sequence[dict[str, Any]]) -> list[str]:
    """One (service, metric)'s stored targets (ordered by target time) as table cells: the
    first target's values, the last target and the run that made the first one."""
    first, last = series[0], series[-1]
    signal, made = first["metric"], first["generated_at"]
    interval = (
        format_range(signal, first["lower"], first["upper"])
        if first["lower"] is not None and first["upper"] is not None
        else "-"
    )
    replicas = first["desired_replicas"]
    return [first["service"], signal_label(signal), _time(first["target_time"], made),
            format_value(signal, first["value"]), interval,
            "-" if replicas is None else str(replicas),
            f"{_time(last['target_time'], made)} "
            f"(+{format_duration((last['target_time'] - made).total_seconds())})",
            _when(made), f"{first['model']} ({first['model_version']})"]  # fmt: skip


def _cmd_alerts(args: argparse.Namespace) -> int:
    if not args.hours > 0:
        print(f"error: --hours: must be more than 0, got {args.hours:g}", file=sys.stderr)
        return 2
    try:
        with open_store(args) as store:
            newest_run = max(
                (t for t in (newest(store, "predictions", "generated_at"),
                             newest(store, "predictive_alerts", "generated_at")) if t),
                default=None,
            )  # fmt: skip
            at = _at(args, newest_run)
            since = at - timedelta(hours=args.hours) if at else None
            rows = (
                []
                if at is None
                else store.read(
                    "predictive_alerts",
                    at_least={"generated_at": since + timedelta(microseconds=1)},
                    at_most={"generated_at": at},
                    **({"service": args.service} if args.service else {}),
                )
            )
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        where = f" for {args.service}" if args.service else ""
        window = f" between {_when(since)} and {_when(at)} UTC" if at else ""
        print(f"no predicted breaches{where}{window}")
        return 0
    table = []
    for alerts in _by_series(rows, "signal", order="generated_at").values():
        table.append(alert_cells(alerts[-1], runs=len(alerts), at=at))
    header = ["service", "signal", "severity", "threshold", "now", "breach in", "breach at",
              "80% interval", "made (UTC)", "runs"]  # fmt: skip
    print("\n".join(columns(header, table, numeric=NUMERIC)))
    print(f"newest alert per service and signal made between {_when(since)} and {_when(at)} "
          f"UTC; runs = hourly runs in that window that predicted it")  # fmt: skip
    return 0


def alert_cells(row: dict[str, Any], runs: int, at: datetime) -> list[str]:
    """One `predictive_alerts` row as table cells; "breach in" counts from the run that made
    it (the data's end), "made" says how long before --at that was."""
    made, signal = row["generated_at"], row["signal"]
    if row["severity"] == "critical":
        breach_in, breach_at = "now", "-"
    elif row["breach_at"] is not None:
        breach_in = format_duration((row["breach_at"] - made).total_seconds())
        breach_at = _time(row["breach_at"], made)
    else:  # only the interval's upper end crosses
        breach_in = f">{format_duration((row['breach_earliest'] - made).total_seconds())}"
        breach_at = "-"
    late = (
        _time(row["breach_latest"], made)
        if row["breach_latest"] is not None
        else f"beyond +{format_duration(row['horizon_seconds'])}"
    )
    observed = "-" if row["observed"] is None else format_value(signal, row["observed"])
    age = "" if made == at else f" ({format_duration((at - made).total_seconds())} before)"
    return [row["service"], signal_label(signal), row["severity"],
            format_value(signal, row["threshold"]), observed, breach_in, breach_at,
            f"{_time(row['breach_earliest'], made)} to {late}", _when(made) + age,
            str(runs)]  # fmt: skip


def _cmd_runs(args: argparse.Namespace) -> int:
    from aiops.pipeline_runs.summary import TABLE, summary_line

    if args.limit < 1:
        print(f"error: --limit: must be at least 1, got {args.limit}", file=sys.stderr)
        return 2
    try:
        with open_store(args) as store:
            runs = store.read(TABLE, **({"dag_id": args.dag} if args.dag else {}))
            runs = sorted(runs, key=lambda r: (r["interval_end"], r["dag_id"]))[-args.limit :]
            quarantined = (
                store.read(
                    "quarantine",
                    at_least={"interval_end": min(r["interval_end"] for r in runs)},
                    at_most={"interval_end": max(r["interval_end"] for r in runs)},
                )
                if runs
                else []
            )
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not runs:
        print("no run summaries" + (f" of {args.dag}" if args.dag else "")
              + " (every DAG run's record_run task stores one)")  # fmt: skip
        return 0
    for row in runs:
        print(summary_line(row))
    first, last = runs[0]["interval_end"], runs[-1]["interval_end"]
    if not quarantined:
        print(f"\nno frames quarantined in the runs ending {_when(first)} to {_when(last)} UTC")
        return 0
    quarantined.sort(key=lambda r: (r["interval_end"], r["service"], r["signal"], r["stage"]))
    table = [
        [_when(q["interval_end"]), q["stage"], f"{q['service']}/{q['signal']}",
         str(q["points"]), "; ".join(q["reason"].splitlines())]
        for q in quarantined
    ]  # fmt: skip
    print(f"\nQuarantined frames (runs ending {_when(first)} to {_when(last)} UTC)")
    print("\n".join(columns(["run end (UTC)", "stage", "series", "points", "reason"], table,
                            indent="  ", numeric=NUMERIC)))  # fmt: skip
    return 0


# -- helpers ---------------------------------------------------------------------------------


def newest(store: Store, table_name: str, column: str) -> datetime | None:
    """The largest value of ``column`` in ``table_name`` (None when empty), by one aggregate
    query: what "now" means for a store that may hold a backfill of last month."""
    table = store.table(table_name)
    try:
        with store.engine.connect() as conn:
            value = conn.execute(select(func.max(table.c[column]))).scalar()
    except SQLAlchemyError as exc:
        raise StoreError(f"store {store.name}: read from {table_name} failed: {exc}") from exc
    if value is None:
        return None
    # an aggregate comes back without the column's type on SQLite: a naive UTC time or text
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _at(args: argparse.Namespace, default: datetime | None) -> datetime | None:
    return parse_day_or_utc(args.at, "--at") if args.at else default


def _by_series(
    rows: Sequence[dict[str, Any]], signal_key: str, order: str = "target_time"
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows grouped by (service, signal), each group ordered by ``order``, groups by key."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["service"], row[signal_key]), []).append(row)
    return {key: sorted(groups[key], key=lambda r: r[order]) for key in sorted(groups)}


def _when(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}"


def _time(t: datetime, ref: datetime) -> str:
    """HH:MM, with the date when it is not ``ref``'s day."""
    t = t.astimezone(UTC)
    return f"{t:%H:%M}" if t.date() == ref.astimezone(UTC).date() else f"{t:%Y-%m-%d %H:%M}"


def add_parser(sub: argparse._SubParsersAction) -> None:
    store_help = "store URL (default $AIOPS_STORE_URL or out/aiops.db)"

    p = sub.add_parser("predictions", help="stored forecasts per service and signal, as served")
    p.add_argument("--service", default=None)
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--at", default=None, metavar="TIME",
                   help="show what the scaler serves at TIME: the first target at or after it, "
                        "made at or before it (default: the newest run's end); ISO with a "
                        "timezone, or a UTC date")  # fmt: skip
    p.set_defaults(func=_cmd_predictions)

    p = sub.add_parser("alerts", help="predicted SLO breaches and their time to breach")
    p.add_argument("--service", default=None)
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--at", default=None, metavar="TIME",
                   help="window end (default: the newest run's end)")  # fmt: skip
    p.add_argument("--hours", type=float, default=ALERT_WINDOW / timedelta(hours=1),
                   help="window length before --at (default 24)")  # fmt: skip
    p.set_defaults(func=_cmd_alerts)

    p = sub.add_parser("runs", help="pipeline run summaries and quarantined frames")
    p.add_argument("--dag", default=None, metavar="DAG_ID", help="only this DAG's runs")
    p.add_argument("--limit", type=int, default=20, help="the newest N runs (default 20)")
    p.add_argument("--store", default=None, help=store_help)
    p.set_defaults(func=_cmd_runs)
