"""The frame every AIOps page shares: the document with its one inline stylesheet, the header
and its navigation, and the small pieces pages are built of (status pills, tables, times).

Every piece of text that came from the store goes through `esc` (or `link`, which quotes
the path part and escapes the label), so a service called ``<script>`` is shown, never run.
Links are absolute under the prefix the app is mounted at (`Links`), so they resolve from
any page and under any mount path (``/aiops`` in Airflow's API server).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiops.units import format_duration

#: The whole stylesheet: calm greys, one accent, a colour per state.
STYLE = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff;
  --accent:#1f5f99; --ok:#2f855a; --ok-bg:#e3f4ea; --warn:#975a16; --warn-bg:#fdf2d8;
  --bad:#b42318; --bad-bg:#fde8e6; --stale:#5f4b8b; --stale-bg:#eeeaf7; --info:#1f5f99;
  --info-bg:#e6f0fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",
  sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; align-items:center; gap:24px; padding:10px 24px;
  background:#1b2733; color:#e4e7eb; }
header.top a { color:#e4e7eb; text-decoration:none; }
header.top a:hover { color:#fff; text-decoration:underline; }
header.top .brand { font-weight:600; font-size:16px; letter-spacing:.02em; }
header.top nav { display:flex; gap:18px; }
header.top .clock { margin-left:auto; color:#9aa5b1; font-size:12px; }
main { max-width:1280px; margin:0 auto; padding:20px 24px 48px; }
h1 { font-size:22px; margin:4px 0 4px; font-weight:600; }
h2 { font-size:16px; margin:0 0 10px; font-weight:600; }
.crumbs { color:var(--muted); font-size:12px; }
.crumbs a { color:var(--muted); }
.lede { color:var(--muted); margin:2px 0 16px; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:6px;
  padding:14px 16px; margin:0 0 16px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { font-size:12px; font-weight:600; color:var(--muted); text-transform:uppercase;
  letter-spacing:.03em; }
tr:last-child td { border-bottom:none; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.wrap { max-width:520px; }
a { color:var(--accent); }
.muted { color:var(--muted); }
.empty { color:var(--muted); font-style:italic; margin:4px 0; }
.pill { display:inline-block; padding:1px 9px; border-radius:10px; font-size:12px;
  font-weight:600; line-height:18px; white-space:nowrap; margin-right:4px; }
.pill.ok { color:var(--ok); background:var(--ok-bg); }
.pill.anomalous, .pill.warning { color:var(--warn); background:var(--warn-bg); }
.pill.incident, .pill.critical, .pill.open { color:var(--bad); background:var(--bad-bg); }
.pill.stale { color:var(--stale); background:var(--stale-bg); }
.pill.info, .pill.resolved, .pill.ended { color:var(--info); background:var(--info-bg); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(560px,1fr)); gap:16px; }
figure { margin:0; }
figcaption { color:var(--muted); font-size:12px; margin-top:4px; }
.chart svg { max-width:100%; height:auto; display:block; }
.chart.unavailable { padding:28px 16px; border:1px dashed #cbd2d9; border-radius:4px;
  color:var(--muted); background:#fafbfc; text-align:center; }
.banner { padding:12px 16px; border-radius:6px; margin:0 0 16px; border:1px solid; }
.banner.bad { color:var(--bad); background:var(--bad-bg); border-color:#f4c7c3; }
.banner.note { color:var(--stale); background:var(--stale-bg); border-color:#d9d0ef; }
meter { width:80px; vertical-align:middle; }
code { font-size:12px; background:#f0f2f5; padding:1px 4px; border-radius:3px; }
"""


@dataclass(frozen=True)
class Links:
    """The page's links under the prefix the app is mounted at (``""`` at the root)."""

    base: str = ""

    def home(self) -> str:
        return f"{self.base}/"

    def service(self, name: str) -> str:
        return f"{self.base}/services/{quote(name, safe='')}"

    def incident(self, incident_id: str) -> str:
        return f"{self.base}/incidents/{quote(incident_id, safe='')}"

    def graph(self) -> str:
        return f"{self.base}/graph"


def esc(value: object) -> str:
    """Text for HTML: escaped, quotes included; None as an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def link(href: str, label: object) -> str:
    """An anchor to ``href`` (built by `Links`, its parts already quoted) with an escaped label."""
    return f'<a href="{esc(href)}">{esc(label)}</a>'


def pill(label: object, kind: str) -> str:
    """A status pill; ``kind`` picks its colour (ok, anomalous, incident, stale, info, ...)."""
    return f'<span class="pill {esc(kind)}">{esc(label)}</span>'


def when(t: datetime | None) -> str:
    """``2026-10-30 14:05 UTC``; a dash for no time."""
    return "-" if t is None else f"{t.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def clock(t: datetime | None, ref: datetime | None) -> str:
    """``14:05`` on ``ref``'s day, with the date otherwise."""
    if t is None:
        return "-"
    t = t.astimezone(UTC)
    if ref is not None and t.date() == ref.astimezone(UTC).date():
        return f"{t:%H:%M}"
    return f"{t:%Y-%m-%d %H:%M}"


def age(delta: timedelta | None) -> str:
    """How long ago, as people read it: ``3h 05m``."""
    if delta is None:
        return "never"
    return format_duration(max(delta.total_seconds(), 0.0))


def table(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = ()
) -> str:
    """A table of cells that are already HTML (escape them first); ``numeric`` column
    indexes are right-aligned."""
    right = set(numeric)
    head = "".join(
        f"<th{' class=num' if i in right else ''}>{esc(h)}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in right else ''}>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, body: str, *, note: str = "") -> str:
    """A card with a heading (``title`` is escaped; ``body`` is HTML)."""
    extra = f' <span class="muted">{esc(note)}</span>' if note else ""
    return f'<section class="card"><h2>{esc(title)}{extra}</h2>{body}</section>'


def empty(text: str) -> str:
    """A muted line saying a section has nothing to show (``text`` is escaped)."""
    return f'<p class="empty">{esc(text)}</p>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, HTML value): labels are escaped, values must be already."""
    return (
        '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"
    )


def page(
    title: str, body: str, links: Links, *, now: datetime | None = None, store: str = ""
) -> str:
    """The whole document: head with the stylesheet, the header with navigation and the
    clock, then ``body`` (HTML)."""
    where = f" · {esc(store)}" if store else ""
    stamp = f"now {esc(when(now))}{where}" if now is not None else esc(store)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · AIOps</title><style>{STYLE}</style></head><body>"
        '<header class="top">'
        f'<a class="brand" href="{esc(links.home())}">AIOps</a>'
        f'<nav><a href="{esc(links.home())}">Services</a>'
        f'<a href="{esc(links.graph())}">Dependency map</a></nav>'
        f'<span class="clock">{stamp}</span></header>'
        f"<main>{body}</main></body></html>"
    )
