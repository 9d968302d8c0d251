"""A picture as Mermaid text, for the GitHub issue a finding is filed as.

GitHub draws a fenced ``mermaid`` block in an issue body as a diagram, with the Mermaid
library, in the reader's browser. The text is written by a bot from data it does not control
(service names, signal names and units come from whatever the fleet reports), so every name
is treated as hostile:

* Nodes get generated ids (``n0``, ``n1``... by first appearance); a name is only ever a
  quoted label, never part of the syntax.
* In a label, anything but letters, digits and a few plain punctuation marks is written as a
  Mermaid entity code (``#quot;``, ``#lt;``, ``#35;``...), which Mermaid turns into an HTML
  entity after parsing: a quote cannot end the label, ``-->`` cannot become an arrow,
  ``<script>`` is shown as text, ``%%{init}%%`` is not a directive, a backtick cannot end the
  fence. Control and format characters (newlines, bidi overrides, zero-width joiners) become
  a space or U+FFFD, so a label cannot break a line or disguise itself.
* Names are cut to `NAME_CHARS` characters (before escaping, so no entity is cut in half).

Each diagram is kept under `MAX_SOURCE_CHARS` characters: GitHub caps an issue body at 65,536
characters and Mermaid refuses text over its ``maxTextSize`` (50,000 by default), and a
picture is read at a glance. When a picture holds more, the diagram drops the least
important part deterministically (the quietest edges, the end of a chain, every k-th point of
a series, then shorter names) and says in the diagram what it left out ("+3 more callers",
counting those the picture's maker had already left out too).
The same picture always gives the same bytes: nothing iterates a set, orders depend only on
the data.

What is drawn (which edges of a neighbourhood, which nodes and arrows of a chain, the label
on an arrow, the "+N more" notes) is decided by aiops.pictures.parts, which
aiops.pictures.draw uses as well, so the PNG in the dry-run folder and the diagram in the
issue show the same thing; this module decides only how Mermaid text holds it.

One function per kind of picture, found through `_SOURCES` by the picture's class.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from aiops.pictures.model import ChainPicture, ForecastPicture, NeighbourhoodPicture, Picture
from aiops.pictures.parts import (
    MAX_CHAIN_NODES,
    MAX_MAP_EDGES,
    chain_drawing,
    edge_text,
    more_text,
    neighbourhood_drawing,
    number_text,
    plain_text,
    readable,
    significant_text,
)
from aiops.units import signal_label

#: The most characters one diagram's text may have (GitHub: 65,536 per issue body; Mermaid's
#: default maxTextSize: 50,000), with room for several pictures and the rest of the issue.
MAX_SOURCE_CHARS = 5000
MAX_CATEGORIES = 48  # x positions of a forecast chart: history and forecast, 24 each at most
NAME_CHARS = 40  # a name longer than this is cut, with "…"

# characters written as themselves in a label; everything else that is not a letter or a
# digit becomes an entity code
_PLAIN = frozenset(" -_.,:/()+@'·…")
_NAMED = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "#": "#35;", ";": "#59;"}
_UNNAMED = "(unnamed)"
_ROOT_STYLE = "fill:#fde0dc,stroke:#d62728,stroke-width:3px,color:#111111"
_VIA_STYLE = "fill:#f4f4f4,stroke:#8c8c8c,stroke-dasharray:4 3,color:#333333"
_FOCUS_STYLE = "fill:#fff3bf,stroke:#e69500,stroke-width:3px,color:#111111"
_MARKED_STYLE = "stroke:#d62728,stroke-width:3px"
_NOTE_STYLE = "fill:#ffffff,stroke:#8c8c8c,stroke-dasharray:4 3,color:#555555"
_COLOURS = {"upper": "#9ecae1", "lower": "#9ecae1", "threshold": "#d62728", "main": "#1f77b4"}
_FENCE_RUN = re.compile(r"`+")


# --- names and points: how Mermaid text holds them --------------------------------------------


def label_text(name: str, limit: int = NAME_CHARS) -> str:
    """``name`` as text inside a quoted Mermaid label: control characters replaced, cut to
    ``limit`` characters with "…", then every character that could mean something to Mermaid,
    Markdown or HTML written as a Mermaid entity code."""
    text = " ".join(plain_text(name).split()) or _UNNAMED
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return "".join(_entity(ch) for ch in text)


def evenly(count: int, most: int, keep: Sequence[int] = ()) -> list[int]:
    """At most ``most`` indices of ``count`` items, spread evenly, always with the first, the
    last and those in ``keep``; all of them when there are few enough. Integer arithmetic:
    the same arguments give the same indices everywhere."""
    if count <= most:
        return list(range(count))
    must = sorted({0, count - 1, *(k for k in keep if 0 <= k < count)})
    if most < len(must):
        raise ValueError(f"evenly: cannot keep {len(must)} required indices in {most}")
    taken = set(must)
    slots = most - len(must)
    for j in range(1, slots + 1):
        want = j * (count - 1) // (slots + 1)
        for step in range(count):
            found = next((i for i in (want + step, want - step) if 0 <= i < count
                          and i not in taken), None)  # fmt: skip
            if found is not None:
                taken.add(found)
                break
    return sorted(taken)


# --- the diagrams ---------------------------------------------------------------------------


def mermaid_source(picture: Picture) -> str:
    """The Mermaid text of ``picture`` (no fence), at most `MAX_SOURCE_CHARS` characters.
    `TypeError` naming the class for a picture no function draws."""
    draw = _SOURCES.get(type(picture))
    if draw is None:
        known = ", ".join(sorted(cls.__name__ for cls in _SOURCES))
        raise TypeError(f"no Mermaid drawing for {type(picture).__name__} (known: {known})")
    source = draw(picture)
    assert len(source) <= MAX_SOURCE_CHARS, (
        f"{type(picture).__name__}: Mermaid text of {len(source)} characters, over "
        f"MAX_SOURCE_CHARS ({MAX_SOURCE_CHARS})"
    )
    return source


def mermaid_block(picture: Picture) -> str:
    """``picture`` as a fenced ```` ```mermaid ```` block for Markdown, its fence longer than
    any run of backticks in the text."""
    source = mermaid_source(picture)
    longest = max((len(run) for run in _FENCE_RUN.findall(source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}mermaid\n{source}\n{fence}"


def _fitted(build: Callable[[int, int], str], tries: Sequence[tuple[int, int]]) -> str:
    """The first of ``build(items, name_chars)`` over ``tries`` (most detail first) that fits
    in `MAX_SOURCE_CHARS`; the last try is small enough for any picture."""
    source = ""
    for items, name_chars in tries:
        source = build(items, name_chars)
        if len(source) <= MAX_SOURCE_CHARS:
            break
    return source


# forecast: an xychart with one x position per kept time; lines must have a value at every
# position, so the band and the mean start from the observed history (the band is closed
# where the values are known) and open at "now"; the observed-then-mean line is drawn last,
# on top


def _forecast_source(picture: ForecastPicture) -> str:
    tries = ((MAX_CATEGORIES, NAME_CHARS), (32, 24), (16, 12), (8, 8))
    return _fitted(lambda points, chars: _forecast_chart(picture, points, chars), tries)


def _forecast_chart(picture: ForecastPicture, points: int, name_chars: int) -> str:
    picture = readable(picture)
    history = [(t, v) for t, v in picture.observed if math.isfinite(v)]
    forecast = [p for p in picture.forecast if math.isfinite(p.mean)]
    skipped = len(picture.observed) - len(history) + len(picture.forecast) - len(forecast)
    now = picture.now.astimezone(UTC)
    signal = label_text(signal_label(picture.signal), name_chars)
    name = f"{label_text(picture.service, name_chars)} {signal}"
    unit = label_text(picture.unit, name_chars) if picture.unit.strip() else ""
    title = f"{name} ({unit})" if unit else name
    if not history and not forecast:
        return (
            f'flowchart LR\n  n0["{title} · no observations and no forecast to draw"]:::note\n'
            f"  classDef note {_NOTE_STYLE}"
        )
    # history and forecast share the x positions: half each, the unused share to the other
    h_most = min(len(history), points // 2 if forecast else points)
    f_most = min(len(forecast), points - h_most)
    h_most = min(len(history), points - f_most)
    now_at = min(range(len(history)), key=lambda i: (abs(history[i][0] - now), i), default=0)
    h_idx = evenly(len(history), h_most, keep=[now_at]) if history else []
    f_idx = evenly(len(forecast), f_most) if forecast else []
    times = [history[i][0] for i in h_idx] + [forecast[i].time for i in f_idx]
    observed = [history[i][1] for i in h_idx]
    means = [forecast[i].mean for i in f_idx]
    lowers = [_or(forecast[i].lower, forecast[i].mean) for i in f_idx]
    uppers = [_or(forecast[i].upper, forecast[i].mean) for i in f_idx]
    banded = any(forecast[i].lower is not None or forecast[i].upper is not None for i in f_idx)
    threshold = picture.threshold
    if threshold is not None and not math.isfinite(threshold):
        threshold = None
    lines: list[tuple[str, str, list[float]]] = []  # (colour key, title, values)
    if banded:
        lines.append(("upper", "forecast upper", observed + uppers))
        lines.append(("lower", "forecast lower", observed + lowers))
    if threshold is not None:
        lines.append(("threshold", "threshold", [threshold] * len(times)))
    main = {(True, True): "observed, then forecast", (True, False): "observed",
            (False, True): "forecast"}[(bool(history), bool(forecast))]  # fmt: skip
    lines.append(("main", main, observed + means))
    axis = _YAxis.around([v for _, _, line in lines for v in line])
    labels = _time_labels(times)
    notes = ["time (UTC)"]
    if history:
        k = h_idx.index(now_at)
        labels[k] = f"now {labels[k]}"
    else:
        notes.append(f"now {now:%H:%M}")
    if len(h_idx) < len(history) or len(f_idx) < len(forecast):
        notes.append(f"{len(times)} of {len(history) + len(forecast)} points shown")
    if threshold is not None:
        notes.append(f"threshold {significant_text(threshold)} {picture.unit}".rstrip())
    if picture.marks:
        notes.append(f"{len(picture.marks)} anomalous point{'s' * (len(picture.marks) != 1)}")
    if skipped:
        notes.append(f"{skipped} without a value left out")
    y_title = " ".join(part for part in (unit, axis.scale_text) if part) or "value"
    palette = ", ".join(_COLOURS[key] for key, _, _ in lines)
    body = [
        "---",
        "config:",
        "  xyChart:",
        "    width: 900",
        "    height: 360",
        "    showLegend: true",
        "    xAxis:",
        "      labelFontSize: 11",
        "      labelRotation: -90",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{palette}"',
        "---",
        "xychart-beta",
        f'  title "{title}"',
        f'  x-axis "{label_text(" · ".join(notes), 200)}" [{", ".join(_quoted(labels))}]',
        f'  y-axis "{y_title}" {axis.bound_text(axis.low)} --> {axis.bound_text(axis.high)}',
    ]
    for _, line_title, line in lines:
        body.append(f'  line "{line_title}" [{", ".join(axis.text(v) for v in line)}]')
    return "\n".join(body)


@dataclass(frozen=True)
class _YAxis:
    """A y axis around some values: its bounds, the power of ten (a multiple of 3) the
    numbers are written in (so no number needs an exponent or a dozen digits), and the
    decimals that show four significant digits of its span."""

    low: float
    high: float
    exponent: int
    decimals: int

    @classmethod
    def around(cls, values: list[float]) -> _YAxis:
        lo, hi = min(values), max(values)
        biggest = max(abs(lo), abs(hi))
        exponent = 0
        if biggest >= 1e6 or 0 < biggest < 1e-3:
            exponent = 3 * math.floor(math.log10(biggest) / 3)
        lo, hi = lo / 10.0**exponent, hi / 10.0**exponent
        pad = 0.05 * (hi - lo or max(abs(hi), 1.0))
        low = max(0.0, lo - pad) if lo >= 0 else lo - pad  # a count's axis starts at 0 at most
        high = hi + pad
        decimals = min(9, max(0, 3 - math.floor(math.log10(high - low))))
        return cls(
            low=math.floor(low * 10**decimals) / 10**decimals,
            high=math.ceil(high * 10**decimals) / 10**decimals,
            exponent=exponent,
            decimals=decimals,
        )

    @property
    def scale_text(self) -> str:
        return f"(x 1e{self.exponent})" if self.exponent else ""

    def text(self, value: float) -> str:
        """A data value, written in the axis's power of ten."""
        return number_text(value / 10.0**self.exponent, self.decimals)

    def bound_text(self, bound: float) -> str:
        """One of the axis's own bounds (already in its power of ten)."""
        return number_text(bound, self.decimals)


def _time_labels(times: list[datetime]) -> list[str]:
    """HH:MM in UTC, with the day on the first label and on the first of each new day;
    labels that are still alike (a band category must be unique) get the day, then the
    seconds, then a counter."""
    utc = [t.astimezone(UTC) for t in times]
    labels = [
        f"{t:%H:%M}" if i and t.date() == utc[i - 1].date() else f"{t:%d %b %H:%M}"
        for i, t in enumerate(utc)
    ]
    for fmt in ("%d %b %H:%M", "%d %b %H:%M:%S"):
        alike = {label for label in labels if labels.count(label) > 1}
        labels = [
            f"{t:{fmt}}" if label in alike else label for t, label in zip(utc, labels, strict=True)
        ]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


# chain: root on the left as a stadium, services along the call paths, lags on the arrows


def _chain_source(picture: ChainPicture) -> str:
    tries = ((MAX_CHAIN_NODES, NAME_CHARS), (MAX_CHAIN_NODES, 24), (20, 20), (12, 16),
             (6, 12), (1, 12))  # fmt: skip
    return _fitted(lambda nodes, chars: _chain_chart(picture, nodes, chars), tries)


def _chain_chart(picture: ChainPicture, max_nodes: int, name_chars: int) -> str:
    drawing = chain_drawing(picture, max_nodes)
    ids = {name: f"n{i}" for i, (name, _) in enumerate(drawing.nodes)}
    lines = ["flowchart LR"]
    for i, (name, signals) in enumerate(drawing.nodes):
        label = " · ".join([label_text(name, name_chars),
                             *(label_text(s, name_chars) for s in signals)])  # fmt: skip
        if i == 0:
            lines.append(f'  {ids[name]}(["{label}"]):::root')
        else:
            lines.append(f'  {ids[name]}["{label}"]' + ("" if signals else ":::via"))
    for a, b, lag in drawing.arrows:
        arrow = f'-->|"{lag}"|' if lag else "-->"
        lines.append(f"  {ids[a]} {arrow} {ids[b]}")
    if drawing.omitted:
        text = more_text(drawing.omitted, "service") + " in the chain"
        lines.append(f'  omitted["{text}"]:::note')
    lines.append(f"  classDef root {_ROOT_STYLE}")
    lines.append(f"  classDef via {_VIA_STYLE}")
    lines.append(f"  classDef note {_NOTE_STYLE}")
    return "\n".join(lines)


# neighbourhood: the focus highlighted, callers and callees around it, the busiest edges
# labelled with calls and p95, what was left out as notes on either side


def _neighbourhood_source(picture: NeighbourhoodPicture) -> str:
    tries = ((MAX_MAP_EDGES, NAME_CHARS), (MAX_MAP_EDGES, 24), (8, 16), (4, 12), (1, 12))
    return _fitted(lambda edges, chars: _neighbourhood_chart(picture, edges, chars), tries)


def _neighbourhood_chart(picture: NeighbourhoodPicture, max_edges: int, name_chars: int) -> str:
    drawing = neighbourhood_drawing(picture, max_edges)
    names = [picture.focus, *(n for e in drawing.edges for n in (e.parent, e.child))]
    ids = {name: f"n{i}" for i, name in enumerate(dict.fromkeys(names))}
    marked = set(picture.marked)
    lines = ["flowchart LR"]
    for name, node in ids.items():
        label = label_text(name, name_chars) + (" · has a finding" if name in marked else "")
        lines.append(f'  {node}["{label}"]')
    for e in drawing.edges:
        # no-break spaces inside "p95 38 ms": a long label wraps only between its parts
        parts = (label_text(part, 40).replace(" ", "#160;") for part in edge_text(e).split(" · "))
        lines.append(f'  {ids[e.parent]} -->|"{" · ".join(parts)}"| {ids[e.child]}')
    focus, omitted = ids[picture.focus], drawing.omitted()
    if "callers" in omitted:
        lines.append(f'  more_callers["{omitted["callers"]}"]:::note -.-> {focus}')
    if "callees" in omitted:
        lines.append(f'  {focus} -.-> more_callees["{omitted["callees"]}"]:::note')
    if "edges" in omitted:
        lines.append(f'  more_edges["{omitted["edges"]}"]:::note')
    lines.append(f"  class {focus} focus")
    for name, node in ids.items():
        if name in marked:
            lines.append(f"  class {node} marked")
    lines.append(f"  classDef focus {_FOCUS_STYLE}")
    lines.append(f"  classDef marked {_MARKED_STYLE}")
    lines.append(f"  classDef note {_NOTE_STYLE}")
    return "\n".join(lines)


_SOURCES: MappingProxyType[type, Callable[[Any], str]] = MappingProxyType(
    {
        ForecastPicture: _forecast_source,
        ChainPicture: _chain_source,
        NeighbourhoodPicture: _neighbourhood_source,
    }
)


def _entity(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if ch in _PLAIN or (ch.isalnum() and ch.isprintable()):
        return ch
    return f"#{ord(ch)};"


def _quoted(labels: list[str]) -> list[str]:
    return [f'"{label_text(label, 40)}"' for label in labels]


def _or(value: float | None, default: float) -> float:
    return default if value is None or not math.isfinite(value) else value
