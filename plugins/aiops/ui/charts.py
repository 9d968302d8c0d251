"""Charts of the AIOps page: pictures (aiops.pictures) and the dependency map drawn on the
server as SVG and inlined, or a box that says why a chart is missing.

Inlined rather than linked, so the page is one response that needs nothing fetched (the
deployment may have no internet and the API server no static route for us). Several drawings
on one page would share their element ids (matplotlib names clip paths by a fixed salt), and
a later drawing's ``url(#id)`` would then point into an earlier one: each drawing's ids get
a prefix of their own. A chart that cannot be drawn says so in its slot and the page stays.
"""

from __future__ import annotations

import html
import logging
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiops.pictures.draw import svg_text
from aiops.pictures.model import Picture
from aiops.traces.model import Edge

log = logging.getLogger(__name__)

# anything in a drawing that could act: scripts, event handlers, links out, foreign HTML
_ACTIVE = re.compile(
    r"<\s*(script|foreignObject|iframe|object|embed)\b|\son[a-z]+\s*=|javascript:"
    r"|(?:href|src)\s*=\s*[\"'](?!#)",
    re.IGNORECASE,
)
_ID = re.compile(r'\bid="([^"]+)"')
# matplotlib's rcParams are one per process and a drawing swaps them in and out
# (style.context): two requests drawing at once would draw with each other's settings
_DRAWING = threading.Lock()


def picture_svg(picture: Picture, slot: str) -> str:
    """``picture`` as inline SVG (ids prefixed with ``slot``), or the unavailable box."""
    try:
        with _DRAWING:
            text = svg_text(picture)
    except Exception as exc:  # noqa: BLE001 - one bad picture must not take the page down
        log.warning("AIOps page: chart %s not drawn", slot, exc_info=True)
        return unavailable(f"{type(exc).__name__}: {exc}")
    return inline_svg(text, slot)


def dependency_map_svg(edges: Sequence[Edge], highlight: Mapping[str, str], slot: str) -> str:
    """The whole dependency map (aiops.traces.graph), services in ``highlight`` marked with
    their note, as inline SVG; or the unavailable box."""
    try:
        from aiops.traces.graph import draw_dependency_graph

        with _DRAWING, tempfile.TemporaryDirectory(prefix="aiops-ui-") as tmp:
            path = draw_dependency_graph(edges, Path(tmp) / "map.svg", highlight=highlight)
            text = path.read_text(encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - the tables below it still tell the map
        log.warning("AIOps page: dependency map %s not drawn", slot, exc_info=True)
        return unavailable(f"{type(exc).__name__}: {exc}")
    return inline_svg(text, slot)


def inline_svg(text: str, slot: str) -> str:
    """An SVG document as an element to inline: no XML prolog or doctype, ids prefixed with
    ``slot``; the unavailable box for text that is not SVG or holds active content."""
    start = text.find("<svg")
    if start < 0:
        return unavailable("the drawing is not SVG")
    svg = text[start:]
    if _ACTIVE.search(svg):
        return unavailable("the drawing holds active content and is not shown")
    ids = set(_ID.findall(svg))
    if ids:
        prefix = re.sub(r"[^A-Za-z0-9_-]", "-", slot) + "-"
        names = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        svg = re.sub(rf'(\bid="|#)({names})(?=["\)])', lambda m: m[1] + prefix + m[2], svg)
    return f'<div class="chart">{svg}</div>'


def unavailable(reason: str) -> str:
    """The box a chart's slot shows when the chart cannot be drawn, saying why."""
    return f'<div class="chart unavailable">chart unavailable: {html.escape(reason)}</div>'
