"""A picture as PNG or SVG, for the dry-run folder, the CLI and the Airflow page.

Drawn with matplotlib's object API (a `Figure` on the Agg canvas, never pyplot), so a
caller's backend and open figures are left alone, and the rcParams a drawing needs are set
only inside a context. The same picture draws the same bytes: the SVG's ids are salted with
a constant, neither format records a date or the software that wrote it, and every order
comes from the data.

What is drawn matches the Mermaid diagram of the same picture in the issue
(aiops.pictures.parts decides it for both): the same edges of a neighbourhood with the same
labels and "+N more" notes, the same nodes and lags of a chain. The PNG has room the diagram
has not, so a forecast is drawn with every point and its anomaly marks.

* Forecast: the observed history, the forecast mean dashed, its band shaded where the model
  gave one, the threshold as a labelled horizontal line, "now" as a vertical line, anomalous
  points as red dots, on a UTC time axis.
* Chain: the root on the left, each service in the column of its depth along the call path
  (aiops.traces.graph_layout.layout places them), the lag on the arrow into it.
* Neighbourhood: the focus in the middle, its callers on the left, its callees on the right.

One function per kind of picture, found through `_FIGURES` by the picture's class.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from matplotlib import dates as mdates
from matplotlib import style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from aiops.pictures.model import ChainPicture, ForecastPicture, NeighbourhoodPicture, Picture
from aiops.pictures.parts import (
    chain_drawing,
    edge_text,
    more_text,
    neighbourhood_drawing,
    plain_text,
    readable,
    significant_text,
)
from aiops.traces.graph_layout import layout
from aiops.traces.model import Edge
from aiops.units import signal_label

SUFFIXES = (".png", ".svg")
DPI = 100
TITLE_CHARS = 60  # a name in a title longer than this is cut, with "…"
BOX_CHARS = 32  # in a box
_RC = {"svg.hashsalt": "aiops-pictures", "svg.fonttype": "none", "font.family": "DejaVu Sans"}
_PNG_METADATA = {"Software": None}
_SVG_METADATA = {"Date": None, "Creator": None}
_OBSERVED, _FORECAST, _BAND, _FLAG, _GREY = "#1f77b4", "#ff7f0e", "#ffbb78", "#d62728", "#8c8c8c"
_BOX = {"fc": "#dbe9f6", "ec": "#2f5d8a", "lw": 1.1}
_ROOT = {"fc": "#fde0dc", "ec": _FLAG, "lw": 2.4}
_VIA = {"fc": "#f4f4f4", "ec": _GREY, "lw": 1.0, "ls": "--"}
_FOCUS = {"fc": "#fff3bf", "ec": "#e69500", "lw": 2.6}
_NOTE = {"fontsize": 8, "color": "#555555", "style": "italic", "ha": "center", "va": "center"}
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9}
_COL_GAP, _ROW_GAP, _BOX_H, _CHAR_W = 1.6, 0.85, 0.5, 0.075  # inches (axes are 1:1)


def png_bytes(picture: Picture) -> bytes:
    """``picture`` as a PNG (100 dpi; a forecast is 900 x 360 pixels)."""
    buffer = io.BytesIO()
    _render(picture, buffer, "png")
    return buffer.getvalue()


def svg_text(picture: Picture) -> str:
    """``picture`` as an SVG document, its text as text (searchable, scales with the page)."""
    buffer = io.BytesIO()
    _render(picture, buffer, "svg")
    return buffer.getvalue().decode("utf-8")


def save(picture: Picture, path: Path | str) -> Path:
    """Write ``picture`` to ``path`` as PNG or SVG, by its suffix, and return the path;
    `ValueError` naming the path for any other suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{path}: cannot draw a {path.suffix or 'suffix-less'} file; use one of "
            f"{', '.join(SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(picture) if suffix == ".png" else svg_text(picture).encode())
    return path


def _render(picture: Picture, out: io.BytesIO, fmt: str) -> None:
    figure = _FIGURES.get(type(picture))
    if figure is None:
        known = ", ".join(sorted(cls.__name__ for cls in _FIGURES))
        raise TypeError(f"no drawing for {type(picture).__name__} (known: {known})")
    metadata = _PNG_METADATA if fmt == "png" else _SVG_METADATA
    with style.context(["default", _RC]):  # an rc_context: restored on the way out
        fig = figure(picture)
        FigureCanvasAgg(fig)
        fig.savefig(out, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")


def _text(name: str, limit: int) -> str:
    """A name as matplotlib text: on one line, cut to ``limit`` characters, ``$`` escaped so
    a name cannot switch to mathtext."""
    text = " ".join(plain_text(name).split()) or "(unnamed)"
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("$", r"\$")


# forecast ------------------------------------------------------------------------------------


def _forecast_figure(picture: ForecastPicture) -> Figure:
    picture = readable(picture)
    unit = f" ({_text(picture.unit, 20)})" if picture.unit.strip() else ""
    signal = _text(signal_label(picture.signal), TITLE_CHARS)
    name = f"{_text(picture.service, TITLE_CHARS)} · {signal}{unit}"
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(f"{name}: observed and forecast", fontsize=11, loc="left")
    if not picture.observed and not picture.forecast:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no observations and no forecast", ha="center", va="center",
                color="#666666", fontsize=12, transform=ax.transAxes)  # fmt: skip
        return fig
    if picture.forecast:
        times = [p.time for p in picture.forecast]
        lower = np.array([math.nan if p.lower is None else p.lower for p in picture.forecast])
        upper = np.array([math.nan if p.upper is None else p.upper for p in picture.forecast])
        banded = np.isfinite(lower) & np.isfinite(upper)
        if banded.any():
            ax.fill_between(times, lower, upper, where=banded, color=_BAND, alpha=0.45, lw=0,
                            label="forecast band", interpolate=True)  # fmt: skip
        means = [p.mean for p in picture.forecast]
        ax.plot(times, means, color=_FORECAST, ls="--", lw=1.6, label="forecast")
    if picture.observed:
        times, values = zip(*picture.observed, strict=True)
        ax.plot(times, values, color=_OBSERVED, lw=1.6, label="observed")
    if picture.marks:
        times, values = zip(*picture.marks, strict=True)
        ax.scatter(times, values, s=22, color=_FLAG, zorder=5, label="anomalous")
    if picture.threshold is not None and math.isfinite(picture.threshold):
        ax.axhline(picture.threshold, color=_FLAG, lw=1.2, ls=":")
        limit = f"threshold {significant_text(picture.threshold)} {picture.unit}".rstrip()
        ax.annotate(limit, (1, picture.threshold),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8,
                    color=_FLAG, bbox=_LABEL_BOX)  # fmt: skip
    ax.axvline(picture.now, color="#444444", lw=1, ls="-", alpha=0.7)
    ax.annotate("now", (picture.now, 0), xycoords=("data", "axes fraction"), xytext=(3, 3),
                textcoords="offset points", ha="left", va="bottom", fontsize=8,
                color="#444444")  # fmt: skip
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)", fontsize=9)
    ax.set_ylabel(_text(picture.unit, 20) if picture.unit.strip() else "value", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=4)
    return fig


# chain and neighbourhood: boxes in columns, arrows between them --------------------------------


def _chain_figure(picture: ChainPicture) -> Figure:
    drawing = chain_drawing(picture)
    names = [name for name, _ in drawing.nodes]
    signals = dict(drawing.nodes)
    # graph_layout places services in columns by their longest call path from the root
    edges = [Edge(a, b, 1, 0, 0.0, 0.0, 0.0, ()) for a, b, _ in drawing.arrows]
    pos = layout(edges) if edges else {names[0]: (0.0, 0.0)}
    labels = {
        name: "\n".join([_text(name, BOX_CHARS), *(_text(s, BOX_CHARS) for s in signals[name])])
        for name in names
    }
    styles = {name: _ROOT if i == 0 else _BOX if signals[name] else _VIA
              for i, name in enumerate(names)}  # fmt: skip
    arrows = [(a, b, lag) for a, b, lag in drawing.arrows]
    notes = {}
    if drawing.omitted:
        notes["right"] = more_text(drawing.omitted, "service") + " in the chain not drawn"
    title = f"Incident {_text(picture.incident_id, TITLE_CHARS)}: how it spread from the root"
    return _boxes_figure(title, pos, labels, styles, arrows, notes)


def _neighbourhood_figure(picture: NeighbourhoodPicture) -> Figure:
    drawing = neighbourhood_drawing(picture)
    focus = picture.focus
    order = list(dict.fromkeys([focus, *(n for e in drawing.edges for n in (e.parent, e.child))]))
    callers = [n for n in order if n != focus and any(
        e.parent == n and e.child == focus for e in drawing.edges)]  # fmt: skip
    callees = [n for n in order if n != focus and n not in callers]
    pos = {focus: (1.0, 0.0)}
    for column, names in ((0.0, callers), (2.0, callees)):
        for row, name in enumerate(names):
            pos[name] = (column, (len(names) - 1) / 2 - row)
    marked = set(picture.marked)
    labels = {n: _text(n, BOX_CHARS) + ("\nhas a finding" if n in marked else "") for n in order}
    styles = {n: _FOCUS if n == focus else _BOX for n in order}
    for name in order:
        if name in marked:
            styles[name] = {**styles[name], "ec": _FLAG, "lw": 2.6}
    arrows = [(e.parent, e.child, edge_text(e)) for e in drawing.edges]
    omitted = drawing.omitted()
    notes = {"left": omitted.get("callers"), "right": omitted.get("callees"),
             "bottom": omitted.get("edges")}  # fmt: skip
    title = f"Calls to and from {_text(focus, TITLE_CHARS)}: the busiest {len(arrows)}"
    return _boxes_figure(title, pos, labels, styles, arrows, notes)


def _boxes_figure(
    title: str,
    pos: dict[str, tuple[float, float]],
    labels: dict[str, str],
    styles: dict[str, dict[str, Any]],
    arrows: list[tuple[str, str, str | None]],
    notes: dict[str, str | None],
) -> Figure:
    """Boxes at ``pos`` (column, row upward), arrows between them labelled part way along
    (nearer the outer column, where arrows into one box have not yet converged), notes of
    what was left out beside the columns, at least 900 x 360 pixels."""
    widths = {n: max(1.0, _CHAR_W * max(map(len, labels[n].split("\n"))) + 0.3) for n in pos}
    heights = {n: _BOX_H + 0.16 * labels[n].count("\n") for n in pos}
    longest = max((len(text) for _, _, text in arrows if text), default=0)
    col = max(widths.values()) + max(_COL_GAP, 0.062 * longest + 0.6)
    at = {n: (x * col, y * _ROW_GAP * (1 + 0.25 * (max(heights.values()) > _BOX_H)))
          for n, (x, y) in pos.items()}  # fmt: skip
    xs = [x for x, _ in at.values()]
    ys = [y for _, y in at.values()]
    left = min(xs) - max(widths.values()) / 2 - 0.4
    right = max(xs) + max(widths.values()) / 2 + 0.4
    bottom, top = min(ys) - 0.9, max(ys) + 0.7
    width, height = max(9.0, right - left), max(3.6, top - bottom + 0.5)
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, (height - 0.5) / height))
    ax.set_axis_off()
    middle = (left + right) / 2
    ax.set(xlim=(middle - width / 2, middle + width / 2), ylim=(bottom, top), aspect="equal")
    boxes = {}
    for name, (x, y) in at.items():
        w, h = widths[name], heights[name]
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, "round,pad=0,rounding_size=0.08",
                             zorder=3, **styles[name])  # fmt: skip
        boxes[name] = ax.add_patch(box)
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=9, zorder=4,
                linespacing=1.25)  # fmt: skip
    for a, b, text in arrows:
        (xa, ya), (xb, yb) = at[a], at[b]
        bend = 0.25 if xa == xb or (xb < xa) else 0.0  # same column or backwards: bow
        arrow = FancyArrowPatch(at[a], at[b], patchA=boxes[a], patchB=boxes[b],
                                arrowstyle="-|>,head_length=0.5,head_width=0.25",
                                connectionstyle=f"arc3,rad={bend}", mutation_scale=12,
                                color="#555555", lw=1.1, zorder=2)  # fmt: skip
        ax.add_patch(arrow)
        if text:
            share = 0.4 if abs(xa - min(xs)) < 1e-9 else 0.62
            x, y = xa + share * (xb - xa), ya + share * (yb - ya)
            ax.text(x, y, text, fontsize=7.5, ha="center", va="center", color="#333333",
                    bbox=_LABEL_BOX, zorder=5)  # fmt: skip
    for side, note in notes.items():
        if note:
            x = {"left": min(xs), "right": max(xs), "bottom": middle}[side]
            ax.text(x, min(ys) - 0.6, note, **_NOTE)
    fig.text(0.5, 1 - 0.3 / height, title, ha="center", va="center", fontsize=11,
             weight="bold")  # fmt: skip
    return fig


_FIGURES: MappingProxyType[type, Callable[[Any], Figure]] = MappingProxyType(
    {
        ForecastPicture: _forecast_figure,
        ChainPicture: _chain_figure,
        NeighbourhoodPicture: _neighbourhood_figure,
    }
)
