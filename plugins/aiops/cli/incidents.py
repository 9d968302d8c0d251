"""`aiops incidents list|show|volume`: the correlated incidents in the results store.

`list` gives one line per incident (its newest hourly row) whose hourly runs ended in a
window, `show` one incident in full (candidates, how it spread, its events), `volume` the
nightly alert-volume figures: raw anomalous points -> events -> incidents. They read what the
hourly and nightly runs stored (aiops.incidents); nothing is recomputed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.cli.common import columns, open_store, parse_day_or_utc
from aiops.incidents.incident_event import SOURCES
from aiops.store.errors import StoreError
from aiops.units import signal_label

NUMERIC = {"#", "score", "walk", "onset", "strength", "peak", "points", "events", "incidents",
           "services", "confidence"}  # fmt: skip


def _cmd_list(args: argparse.Namespace) -> int:
    from aiops.incidents.pipeline import latest_incidents

    try:
        with open_store(args) as store:
            since, until = _window(args, timedelta(days=1), _newest(store, "incidents"))
            rows = latest_incidents(store, since, until)
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"no incidents between {_when(since)} and {_when(until)} UTC")
        return 0
    table = [
        [r["incident_id"], f"{r['start']:%Y-%m-%d %H:%M}", r["status"], r["severity"],
         str(len(r["services"])),
         f"{r['root_service']} {signal_label(r['root_signal'])}",
         f"{r['confidence']:.2f}", r["method"]]
        for r in rows
    ]  # fmt: skip
    header = ["id", "start (UTC)", "status", "severity", "services", "root cause",
              "confidence", "method"]  # fmt: skip
    print("\n".join(columns(header, table, numeric=NUMERIC)))
    n = len(rows)
    print(f"{n} incident{'s' if n != 1 else ''} between {_when(since)} and {_when(until)} UTC")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            rows = store.read("incidents", incident_id=args.id)
            where = store.name
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"error: no incident {args.id!r} in {where}; `aiops incidents list` shows "
              "the IDs", file=sys.stderr)  # fmt: skip
        return 2
    row = max(rows, key=lambda r: r["interval_end"])
    print("\n".join(show_lines(row, hours=len(rows))))
    if args.png:
        from aiops.incidents.picture import chain_picture
        from aiops.pictures.draw import save as save_picture

        picture = chain_picture(row["incident_id"], row["ranking"])
        if picture is None:
            print(f"error: incident {args.id!r} has no chain to draw", file=sys.stderr)
            return 2
        try:
            print(f"chain drawn to {save_picture(picture, args.png)}")
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def show_lines(row: dict[str, Any], hours: int = 1) -> list[str]:
    """One stored incident row as people read it: header, candidates, chain, events."""
    from aiops.units import format_duration

    ranking, start, end = row["ranking"], row["start"], row["end"]
    counts = ", ".join(f"{row[f'{s}_events']} {s}" for s in SOURCES)
    lasted = (
        "still open" if row["status"] == "open" else format_duration((end - start).total_seconds())
    )
    out = [
        f"incident {row['incident_id']}: {row['status']}, {row['severity']}",
        row["title"],
        row["summary"],
        "",
        f"  from      {start:%Y-%m-%d %H:%M} to {_time(end, start)} UTC ({lasted})",
        f"  services  {', '.join(row['services'])}",
        f"  events    {len(row['events'])} ({counts}), {row['points']:,} raw anomalous point{'s' if row['points'] != 1 else ''}",
        f"  ranking   {ranking['method']}, confidence {row['confidence']:.2f}: {ranking['note']}",
        f"  map       {row['graph_window'] or 'none (no trace window was recent enough)'}",
        f"  as of     the hourly run ending {row['interval_end']:%Y-%m-%d %H:%M} UTC"
        + (f" (seen by {hours} hourly runs)" if hours > 1 else ""),
        "",
        "Root-cause candidates",
    ]
    walk = ranking["method"] == "random_walk"
    candidates = [
        [str(n), c["service"], f"{c['score']:.2f}", f"{c['walk']:.2f}" if walk else "-",
         f"{c['onset']:.2f}", f"{c['strength']:.2f}",
         f"{c['peak']:.1f}" if c["role"] != "connector" else "-",
         _time(_parse(c["first_onset"]), start) if c["first_onset"] else "-",
         signal_label(c["signal"]) or "-", c["role"]]
        for n, c in enumerate(ranking["candidates"], 1)
    ]  # fmt: skip
    header = ["#", "service", "score", "walk", "onset", "strength", "peak", "first onset",
              "signal", "role"]  # fmt: skip
    out += columns(header, candidates, indent="  ", numeric=NUMERIC)
    out += ["", "How it spread"]
    for link in ranking["chain"]:
        onset = _parse(link["onset"])
        text = f"  {link['service']} {signal_label(link['signal'])}"
        text += f" at {_time(onset, start)}" if onset else " (onset unknown)"
        lag = link["lag_seconds"]
        if lag:
            text += (
                f" (+{format_duration(lag)})" if lag > 0 else f" ({format_duration(-lag)} before)"
            )
        if len(link["via"]) > 1:
            text += f", through {' -> '.join(link['via'])}"
        out.append(text)
    events = [
        [e["source"], e["service"], signal_label(e["signal"]),
         ("" if e["onset_known"] else "~") + _time(_parse(e["start"]), start) + "-"
         + _time(_parse(e["end"]), start), f"{e['strength']:.1f}", e["explanation"]]
        for e in row["events"]
    ]  # fmt: skip
    out += ["", "Events"]
    header = ["source", "service", "signal", "start-end", "strength", "explanation"]
    out += columns(header, events, indent="  ", numeric=NUMERIC)
    if any(not e["onset_known"] for e in row["events"]):
        out.append("  ~ onset not known to the minute (an hourly log row or a forecast)")
    return out


def _cmd_volume(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            since, until = _window(args, timedelta(days=7), _newest(store, "alert_volume"))
            rows = store.read(
                "alert_volume",
                at_least={"interval_end": since + timedelta(microseconds=1)},
                at_most={"interval_end": until},
            )
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"no alert volume recorded between {_when(since)} and {_when(until)} UTC "
              "(the nightly run records one a day)")  # fmt: skip
        return 0
    table = [volume_cells(_day(r["interval_start"], r["interval_end"]), r) for r in rows]
    if len(rows) > 1:
        keys = ("points", "events", "incidents", "multi_service_incidents",
                *(f"{s}_events" for s in SOURCES))  # fmt: skip
        table.append(volume_cells("total", {k: sum(r[k] for r in rows) for k in keys}))
    header = ["day", "points", "", "events", "(metric/log/predictive)", "", "incidents",
              "(multi-service)", "events/incident"]  # fmt: skip
    print("\n".join(columns(header, table, numeric=NUMERIC)))
    return 0


def volume_cells(day: str, r: dict[str, Any]) -> list[str]:
    """One alert_volume row as table cells; the ratio is events per incident."""
    split = "/".join(str(r[f"{s}_events"]) for s in SOURCES)
    ratio = f"{r['events'] / r['incidents']:.1f}x" if r["incidents"] else "-"
    return [day, f"{r['points']:,}", "->", f"{r['events']:,}", f"({split})", "->",
            f"{r['incidents']:,}", f"({r['multi_service_incidents']})", ratio]  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------


def _newest(store, table: str) -> datetime | None:
    """The newest interval end stored in `table`: what "recent" means for a store that
    may hold a backfill of last month (the demo world's October), not the wall clock."""
    rows = store.read(table)
    return max((r["interval_end"] for r in rows), default=None)


def _window(
    args: argparse.Namespace, default: timedelta, newest: datetime | None
) -> tuple[datetime, datetime]:
    """(--since, --until]: --until defaults to the newest stored interval's end (now when
    nothing is stored), --since to `default` before it."""
    until = parse_day_or_utc(args.until, "--until") if args.until else (newest or datetime.now(UTC))
    since = parse_day_or_utc(args.since, "--since") if args.since else until - default
    if since >= until:
        raise ValueError(f"--since ({_when(since)}) must be before --until ({_when(until)})")
    return since, until


def _when(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}"


def _time(t: datetime, ref: datetime) -> str:
    """HH:MM, with the date when it is not `ref`'s day."""
    t = t.astimezone(UTC)
    return f"{t:%H:%M}" if t.date() == ref.astimezone(UTC).date() else f"{t:%Y-%m-%d %H:%M}"


def _day(start: datetime, end: datetime) -> str:
    if end - start == timedelta(days=1) and start.time() == datetime.min.time():
        return f"{start:%Y-%m-%d}"
    return f"{_when(start)}-{_when(end)}"


def _parse(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("incidents", help="correlated incidents and alert volume from the store")
    isub = p.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")

    def common(c: argparse.ArgumentParser, window: str | None) -> None:
        c.add_argument("--store", default=None,
                       help="store URL (default $AIOPS_STORE_URL or out/aiops.db)")  # fmt: skip
        if window:
            c.add_argument("--since", default=None, metavar="ISO",
                           help=f"window start, exclusive (default {window} before --until)")  # fmt: skip
            c.add_argument("--until", default=None, metavar="ISO",
                           help="window end (default: the newest stored); ISO with a timezone, or a UTC date")  # fmt: skip

    c = isub.add_parser("list", help="one line per incident whose hourly runs ended in the window")
    common(c, "24 hours")
    c.set_defaults(func=_cmd_list)

    c = isub.add_parser("show", help="one incident: candidates, how it spread, its events")
    c.add_argument("id", metavar="ID", help="incident ID, as `list` prints it")
    c.add_argument("--png", default=None, metavar="FILE",
                   help="also draw its chain (root first, lag on each arrow) to FILE (.png or .svg)")  # fmt: skip
    common(c, None)
    c.set_defaults(func=_cmd_show)

    c = isub.add_parser("volume", help="raw points -> events -> incidents, per nightly day")
    common(c, "7 days")
    c.set_defaults(func=_cmd_volume)
