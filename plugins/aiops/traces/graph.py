"""A picture of the dependency map: who calls whom, how often, how fast, how often it fails.

`draw_dependency_graph(edges, path)` writes an SVG or a PNG, by the path's suffix, through
matplotlib's object API: no pyplot, so a caller's backend and figures are left alone, and the
rcParams it needs are set only inside a context. `graph_layout.layout(edges)` is the placement it draws:
services in layers from the callers on the left (a service's layer is its longest call path
from a service nobody calls) to the uninstrumented dependencies (databases, caches, third-party
APIs) in the last column. The same edges draw the same bytes, in any order: the SVG's ids are
salted with a constant and neither format records a date or a software version.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
from matplotlib.path import Path as CurvePath

from aiops.traces.graph_layout import arrange, sorted_edges
from aiops.traces.model import Edge

SUFFIXES = (".png", ".svg")
EMPTY_TEXT = "no dependencies observed"
_RC = {"svg.hashsalt": "aiops-graph", "svg.fonttype": "none", "font.family": "DejaVu Sans"}
_METADATA = {".svg": {"Date": None, "Creator": None}, ".png": {"Software": None}}
_COL_GAP, _ROW_GAP, _BOX_H, _MARGIN, _LOOP = 2.6, 0.95, 0.42, 0.45, 0.45  # inches: axes are 1:1
_SERVICE, _EXTERNAL = ("#dbe9f6", "#2f5d8a"), ("#e3e3e3", "#666666")  # fill, outline
_FLAG, _TEXT, _GREY = "#d62728", "#333333", "#8c8c8c"
_ERROR_LEVELS = (
    (0.01, _GREY, "errors < 1%"),
    (0.05, "#e69500", "errors 1-5%"),
    (math.inf, _FLAG, "errors >= 5%"),
)
_ARROW = "-|>,head_length=0.5,head_width=0.25"
_TEXT_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
_LABEL = {"fontsize": 6.5, "rotation_mode": "anchor", "ha": "center", "va": "center", "zorder": 3}
_NAME = {"fontsize": 8.5, "ha": "center", "va": "center", "color": "#111111", "zorder": 5}
_NOTE = {"fontsize": 7.5, "ha": "center", "va": "top", "weight": "bold", "zorder": 5}
_TITLE = {"ha": "center", "va": "top", "weight": "bold"}
_LEGEND = {
    "title": "edge colour: error rate · width: calls (log) · label: calls, p95, errors",
    "loc": "upper center",
    "ncol": 4,
    "frameon": False,
    "fontsize": 7.5,
    "title_fontsize": 7.5,
}
_XY = tuple[float, float]


def edge_label(edge: Edge) -> str:
    """'1.2k calls · p95 12.3 ms · err 0.4%'."""
    calls = "1 call" if edge.call_count == 1 else f"{_count(edge.call_count)} calls"
    return f"{calls} · p95 {_ms(edge.p95_ms)} · err {_percent(edge.error_rate)}"


def draw_dependency_graph(
    edges: Sequence[Edge],
    path: Path,
    *,
    title: str | None = None,
    highlight: Mapping[str, str] | None = None,
) -> Path:
    """Write the dependency graph to `path` (.svg or .png) and return the path.

    `highlight` maps a service to a short note ("N+1") drawn under it with a red outline;
    flagged services that are not in the graph are listed under the legend. No edges draw a
    small picture that says "no dependencies observed", so a quiet window still has a picture.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{path}: cannot draw a {path.suffix or 'suffix-less'} file; use one of {', '.join(SUFFIXES)}"
        )
    edges = sorted_edges(edges)
    path.parent.mkdir(parents=True, exist_ok=True)
    with style.context(["default", _RC]):
        fig = _graph_figure(edges, title, dict(highlight or {})) if edges else _empty_figure(title)
        FigureCanvasAgg(fig)
        fig.savefig(path, format=suffix[1:], dpi=100, metadata=_METADATA[suffix], facecolor="white")
    return path


def _count(n: float) -> str:
    value, unit = float(n), ""
    for bigger in ("k", "M", "G"):
        if round(value, 1) < 1000:
            break
        value, unit = value / 1000, bigger
    if not unit:
        return f"{value:.0f}"
    return (f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:.0f}") + unit


def _ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.{2 if ms < 1 else 1 if ms < 100 else 0}f} ms"


def _percent(rate: float) -> str:
    pct = 100 * rate
    return "0%" if pct == 0 else f"{pct:.{2 if pct < 0.1 else 1 if pct < 10 else 0}f}%"


def _width(calls: int) -> float:
    return min(6.0, 0.7 + 0.9 * math.log10(max(calls, 1)))


def _empty_figure(title: str | None) -> Figure:
    fig = Figure(figsize=(6, 2))
    fig.text(0.5, 0.45, EMPTY_TEXT, ha="center", va="center", fontsize=12, color="#666666")
    if title:
        fig.text(0.5, 0.92, title, fontsize=12, **_TITLE)
    return fig


def _graph_figure(edges: list[Edge], title: str | None, highlight: dict[str, str]) -> Figure:
    pos, routes, external = arrange(edges)
    names = sorted(n for n in pos if n[0] != "\0")
    box_w = {n: max(1.1, 0.07 * len(n) + 0.3) for n in names}
    widest, loops = max(box_w.values()), any(e.parent == e.child for e in edges)
    col, row = widest + _COL_GAP, _ROW_GAP + 0.45 * loops  # a loop and its label need room
    xs, ys = zip(*pos.values(), strict=True)
    graph_w = max(xs) * col + widest + 2 * _MARGIN
    graph_h = (max(ys) - min(ys)) * row + _BOX_H + 2 * _MARGIN + 0.6 * loops + 0.3
    missing = sorted(set(highlight) - set(names))
    width, legend_h = max(graph_w, 8.0), 1.0 + 0.2 * bool(missing)
    height = graph_h + legend_h + (0.55 if title else 0.1)
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, legend_h / height, 1, graph_h / height))
    ax.set_axis_off()
    left = -widest / 2 - _MARGIN - (width - graph_w) / 2
    bottom = min(ys) * row - _BOX_H / 2 - _MARGIN - 0.3
    ax.set(xlim=(left, left + width), ylim=(bottom, bottom + graph_h))
    at = {key: (x * col, y * row) for key, (x, y) in pos.items()}
    boxes = np.array([(*at[n], box_w[n] / 2 + 0.07, _BOX_H / 2 + 0.07) for n in names])
    _draw_edges(ax, edges, [[at[k] for k in route] for route in routes], box_w, boxes)
    for name in names:
        _draw_node(ax, name, at[name], box_w[name], name in external, highlight.get(name))
    if title:
        fig.text(0.5, 1 - 0.12 / height, title, fontsize=13, **_TITLE)
    handles = _legend_handles(flagged=bool(set(highlight) & set(names)))
    fig.legend(handles=handles, bbox_to_anchor=(0.5, legend_h / height), **_LEGEND)
    if missing:
        note = "flagged, not in this graph: " + "; ".join(f"{s} ({highlight[s]})" for s in missing)
        fig.text(0.01, 0.08 / height, note, fontsize=7.5, color=_FLAG)
    return fig


def _legend_handles(flagged: bool) -> list[Line2D | Patch]:
    line = functools.partial(Line2D, [], [], color=_GREY)
    handles = [line(color=colour, lw=2.5, label=text) for _, colour, text in _ERROR_LEVELS]
    handles += [line(lw=_width(n), label=f"{_count(n)} calls") for n in (10, 1000, 100_000)]
    handles.append(line(lw=1.5, ls="--", label="asynchronous (queue, fire-and-forget)"))
    handles.append(Patch(fc=_SERVICE[0], ec=_SERVICE[1], label="instrumented service"))
    handles.append(Patch(fc=_EXTERNAL[0], ec=_EXTERNAL[1], label="uninstrumented (db, cache, API)"))
    if flagged:
        handles.append(Patch(fc="white", ec=_FLAG, lw=2, label="flagged: finding below"))
    return handles


def _draw_edges(
    ax, edges: list[Edge], routes: list[list[_XY]], box_w: dict, boxes: np.ndarray
) -> None:
    """Each edge, and its label where it covers the fewest labels, services and other edges."""
    pairs = {(e.parent, e.child) for e in edges}
    paths = [
        _edge_path(e, r, box_w, (e.child, e.parent) in pairs)
        for e, r in zip(edges, routes, strict=True)
    ]
    lines = [
        np.concatenate([seg(np.linspace(0, 1, 16)) for seg, _ in p.iter_bezier()]) for p in paths
    ]
    placed = np.empty((0, 2))
    for i, (edge, path) in enumerate(zip(edges, paths, strict=True)):
        text, width = edge_label(edge), _width(edge.call_count)
        colour = next(colour for limit, colour, _ in _ERROR_LEVELS if edge.error_rate < limit)
        reach = 0.025 * len(text) + 0.3  # as far as a label on this edge can reach
        lo, hi = lines[i].min(axis=0) - reach, lines[i].max(axis=0) + reach
        crossed = np.concatenate([*lines[:i], *lines[i + 1 :], placed])
        labels, crossed = (p[((p >= lo) & (p <= hi)).all(axis=1)] for p in (placed, crossed))
        spots = [
            (s, _footprint(s, text))
            for s in _label_spots(path, lines[i], edge.parent == edge.child)
        ]
        (x, y, angle), footprint = min(spots, key=lambda s: _overlaps(s[1], labels, crossed, boxes))
        placed = np.concatenate([placed, footprint])
        arrow = FancyArrowPatch(
            path=path, arrowstyle=_ARROW, mutation_scale=12 + 2 * width, zorder=1
        )
        ax.add_patch(arrow).set(
            lw=width, ls="--" if edge.asynchronous else "-", color=colour, alpha=0.9
        )
        ink = _TEXT if colour == _GREY else colour
        ax.text(x, y, text, rotation=angle, color=ink, bbox=_TEXT_BOX, **_LABEL)


def _clip(centre: _XY, toward: _XY, half_w: float) -> _XY:
    """Where the line from a service's centre toward a point leaves its box (plus a gap)."""
    dx, dy = toward[0] - centre[0], toward[1] - centre[1]
    t = min(
        1.0,
        (half_w + 0.05) / abs(dx) if dx else math.inf,
        (_BOX_H / 2 + 0.05) / abs(dy) if dy else math.inf,
    )
    return centre[0] + t * dx, centre[1] + t * dy


def _edge_path(edge: Edge, pts: list[_XY], box_w: dict[str, float], two_way: bool) -> CurvePath:
    """A loop over the top of the box for a self-call; a bow to its own left for each of
    A -> B and B -> A; otherwise straight, or smoothed through the bend points of a long edge."""
    C, half_a, half_b = CurvePath, box_w[edge.parent] / 2, box_w[edge.child] / 2
    if edge.parent == edge.child:
        x, top = pts[0][0], pts[0][1] + _BOX_H / 2
        verts = [
            (x + f * half_a, top + lift)
            for f, lift in ((0.4, 0), (0.6, _LOOP), (-0.6, _LOOP), (-0.4, 0))
        ]
        return C(verts, [C.MOVETO, C.CURVE4, C.CURVE4, C.CURVE4])
    if len(pts) == 2 and two_way:
        (x0, y0), (x1, y1) = pts
        bow = 0.6 / math.hypot(x1 - x0, y1 - y0)
        c = ((x0 + x1) / 2 - bow * (y1 - y0), (y0 + y1) / 2 + bow * (x1 - x0))
        return C(
            [_clip(pts[0], c, half_a), c, _clip(pts[1], c, half_b)], [C.MOVETO, C.CURVE3, C.CURVE3]
        )
    pts = [_clip(pts[0], pts[1], half_a), *pts[1:-1], _clip(pts[-1], pts[-2], half_b)]
    verts, codes = [pts[0]], [C.MOVETO]
    for (x0, y0), (x1, y1), (x2, y2) in zip(pts, pts[1:-1], pts[2:], strict=False):
        verts += [((x0 + x1) / 2, (y0 + y1) / 2), (x1, y1), ((x1 + x2) / 2, (y1 + y2) / 2)]
        codes += [C.LINETO, C.CURVE3, C.CURVE3]
    return C([*verts, pts[-1]], [*codes, C.LINETO])


def _label_spots(path: CurvePath, pts: np.ndarray, loop: bool) -> list[tuple[float, float, float]]:
    """Where an edge's label may go, best first: (x, y, angle along the edge, kept upright),
    on the line from its middle outward, then beside it."""
    if loop:
        (x0, y0), (x3, _) = path.vertices[0], path.vertices[3]
        return [((x0 + x3) / 2, y0 + 0.75 * _LOOP + 0.1, 0.0)]
    run = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    spots = []
    for side, share in itertools.product((0.0, 0.1, -0.1), (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)):
        i = int(np.clip(np.searchsorted(run, share * run[-1]), 1, len(pts) - 2))
        angle = math.atan2(*(pts[i + 1] - pts[i - 1])[::-1])
        x, y = pts[i][0] - side * math.sin(angle), pts[i][1] + side * math.cos(angle)
        deg = math.degrees(angle)
        spots.append(
            (float(x), float(y), deg - 180 if deg > 90 else deg + 180 if deg <= -90 else deg)
        )
    return spots


def _footprint(spot: tuple[float, float, float], text: str) -> np.ndarray:
    """Points along a label's middle line, 0.075 in short of its ends (6.5 pt: ~0.05 in a letter)."""
    x, y, angle = spot
    t, a = np.linspace(-1, 1, 21) * max(0.0, 0.025 * len(text) - 0.07), math.radians(angle)
    return np.column_stack([x + t * math.cos(a), y + t * math.sin(a)])


def _overlaps(
    footprint: np.ndarray, labels: np.ndarray, lines: np.ndarray, boxes: np.ndarray
) -> int:
    """How badly a label would sit here: points on another label or a service count 4 each,
    points across another edge 1."""

    def near(points: np.ndarray, distance: float) -> int:
        gaps = np.linalg.norm(footprint[:, None] - points[None], axis=2)
        return int((gaps < distance).any(axis=1).sum())

    dx, dy = (abs(footprint[:, None, i] - boxes[:, i]) for i in (0, 1))
    on_boxes = int(((dx < boxes[:, 2]) & (dy < boxes[:, 3])).sum())
    return 4 * (near(labels, 0.15) + on_boxes) + near(lines, 0.1)


def _draw_node(ax, name: str, at: _XY, w: float, external: bool, note: str | None) -> None:
    (x, y), h, r = at, _BOX_H, 0.07
    fill, outline = _EXTERNAL if external else _SERVICE
    ec, lw = (_FLAG, 2.2) if note else (outline, 1.1)
    if external:  # a cylinder: bottom ellipse, body, sides, top ellipse
        lo, hi = y - h / 2 + r, y + h / 2 - r
        ax.add_patch(Ellipse((x, lo), w, 2 * r, fc=fill, ec=ec, lw=lw, zorder=4))
        ax.add_patch(Rectangle((x - w / 2, lo), w, hi - lo, fc=fill, lw=0, zorder=4.1))
        sides = [x - w / 2] * 2 + [np.nan] + [x + w / 2] * 2
        ax.plot(sides, [lo, hi, np.nan, lo, hi], color=ec, lw=lw, zorder=4.2)
        ax.add_patch(Ellipse((x, hi), w, 2 * r, fc="#f4f4f4", ec=ec, lw=lw, zorder=4.3))
    else:
        box = FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, "round,pad=0,rounding_size=0.08", zorder=4
        )
        ax.add_patch(box).set(fc=fill, ec=ec, lw=lw)
    ax.text(x, y - r / 2 * external, name, **_NAME)
    if note:
        ax.text(x, y - h / 2 - 0.06, note, color=_FLAG, bbox={**_TEXT_BOX, "alpha": 0.9}, **_NOTE)
