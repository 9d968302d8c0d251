"""`aiops forecast show SERVICE SIGNAL [--png FILE]`: one signal's forecast as the store holds
it, with the band and the threshold, in words and as a picture.

It reads what the hourly runs stored (the newest forecast made at or before --at, the last
day the store saw, anomaly marks); nothing is recomputed, and "now" is the newest run's end
found in the store, never the wall clock, so the same store draws the same picture.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from aiops.catalog import CatalogError
from aiops.cli.common import open_store, parse_day_or_utc
from aiops.cli.readouts import newest
from aiops.pictures.model import ForecastPicture
from aiops.store import StoreError
from aiops.units import format_value

HISTORY_HOURS = 24.0


def _cmd_show(args: argparse.Namespace) -> int:
    from aiops.catalog import load_catalog
    from aiops.predictive.pictures import forecast_picture

    try:
        catalog = load_catalog(args.catalog)
        unit = catalog.signal(args.service, args.signal).unit or ""
        with open_store(args) as store:
            at = parse_day_or_utc(args.at, "--at") if args.at else newest(
                store, "predictions", "generated_at")  # fmt: skip
            picture = None if at is None else forecast_picture(
                store, args.service, args.signal, at, unit=unit,
                history=timedelta(hours=args.hours), catalog=catalog)  # fmt: skip
            where = store.name
    except (StoreError, CatalogError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if picture is None:
        print(f"error: no forecast of {args.service} {args.signal} made by "
              f"{'the newest run' if at is None else f'{at:%Y-%m-%d %H:%M} UTC'} in {where}; "
              "the hourly run stores them (`aiops predictions` lists what there is)",
              file=sys.stderr)  # fmt: skip
        return 2
    for line in describe(picture):
        print(line)
    if args.png:
        from aiops.pictures.draw import save

        try:
            print(f"drawn to {save(picture, args.png)}")
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def describe(picture: ForecastPicture) -> list[str]:
    """The picture in a few lines: when the forecast was made, its last point and band, the
    threshold and the first step the mean or the band's upper end reaches it."""

    def value(v: float | None) -> str:
        return "n/a" if v is None else format_value(picture.signal, v, picture.unit)

    lines = [
        f"{picture.service} {picture.signal}: forecast made at {picture.now:%Y-%m-%d %H:%M} UTC"
    ]
    if picture.observed:
        t, v = picture.observed[-1]
        lines.append(f"  last observed  {value(v)} at {t:%Y-%m-%d %H:%M} UTC "
                     f"({len(picture.observed)} point{'s' if len(picture.observed) != 1 else ''} of history)")  # fmt: skip
    if picture.forecast:
        end = picture.forecast[-1]
        lines.append(f"  forecast to    {end.time:%Y-%m-%d %H:%M} UTC: {value(end.mean)} "
                     f"[{value(end.lower)}, {value(end.upper)}]")  # fmt: skip
    if picture.threshold is not None:
        over = [p for p in picture.forecast if p.mean >= picture.threshold]
        maybe = [p for p in picture.forecast if (p.upper or p.mean) >= picture.threshold]
        crossing = (
            f"mean crosses at {over[0].time:%H:%M} UTC" if over
            else f"band's upper end crosses at {maybe[0].time:%H:%M} UTC" if maybe
            else "not crossed within the forecast"
        )  # fmt: skip
        lines.append(f"  threshold      {value(picture.threshold)}: {crossing}")
    if picture.marks:
        lines.append(f"  anomalies      {len(picture.marks)} marked in the history")
    return lines


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="one signal's stored forecast, in words and as a picture")
    fsub = p.add_subparsers(dest="forecast_command", required=True, metavar="ACTION")
    c = fsub.add_parser("show", help="the forecast with its band and threshold; --png draws it")
    c.add_argument("service", metavar="SERVICE")
    c.add_argument("signal", metavar="SIGNAL", help="a catalog signal, e.g. request_rate")
    c.add_argument("--png", default=None, metavar="FILE", help="draw it to FILE (.png or .svg)")
    c.add_argument("--at", default=None, metavar="TIME",
                   help="the newest forecast made at or before TIME (default: the newest run's "
                        "end); ISO with a timezone, or a UTC date")  # fmt: skip
    c.add_argument("--hours", type=float, default=HISTORY_HOURS,
                   help="hours of history before it (default 24)")  # fmt: skip
    c.add_argument("--store", default=None,
                   help="store URL (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip
    c.add_argument("--catalog", default=None, help="catalog file (default include/catalog.yaml)")
    c.set_defaults(func=_cmd_show)
