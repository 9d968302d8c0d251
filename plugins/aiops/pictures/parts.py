"""What both drawings of a picture show: the same nodes and arrows of a chain, the same edges
of a neighbourhood with the same labels, the same "+3 more callers" notes, the same numbers.

A picture is drawn twice: as Mermaid text for the GitHub issue (aiops.pictures.mermaid) and
as PNG or SVG for the dry-run folder, the CLI and the Airflow page (aiops.pictures.draw).
Deciding here what is kept and how it reads, once, is what makes a reader who opens the PNG
beside the issue see the same thing. How it is written (Mermaid's entity codes, matplotlib's
mathtext escapes, boxes, colours) is each writer's business, not this module's.

Everything here is deterministic: orders depend only on the data (ties by name), never on a
set's iteration, so the same picture gives the same drawing.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, replace

from aiops.pictures.model import (
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
)
from aiops.units import signal_label

MAX_CHAIN_NODES = 30
MAX_MAP_EDGES = 12  # as many as aiops.traces.picture keeps


# --- text -----------------------------------------------------------------------------------


def plain_text(name: str) -> str:
    """``name`` with line breaks and other whitespace as spaces and the remaining control and
    format characters (bidi overrides, zero-width joiners) as U+FFFD: safe to print on one
    line, in a chart or in a diagram."""
    out = []
    for ch in str(name):
        kind = unicodedata.category(ch)
        if ch.isspace() or kind in ("Zl", "Zp"):
            out.append(" ")
        elif kind.startswith("C"):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def lag_text(seconds: float | None) -> str | None:
    """How long after the root a service moved: "+2m 30s", "+0s", "+1h 5m", "+0.4s"; "3m
    before" for a service that moved before the root (its onset is known to be earlier, yet
    the ranking puts the root first); None when the lag is unknown."""
    if seconds is None or not math.isfinite(seconds):
        return None
    sign = "-" if seconds <= -0.05 else "+"
    left = abs(float(seconds))
    if 0.05 <= left < 0.95:
        return f"{left:.1f}s before" if sign == "-" else f"+{left:.1f}s"
    left = round(left)
    sign = sign if left else "+"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left}s")
    text = " ".join(parts[:2])  # the two largest units: "+1d 2h", not "+1d 2h 3m 4s"
    return f"{text} before" if sign == "-" else f"+{text}"


def edge_text(edge: MapEdge) -> str:
    """'1,204 calls · p95 38 ms', with '· err 0.4%' when the edge had errors."""
    calls = "1 call" if edge.calls == 1 else f"{int(edge.calls):,} calls"
    parts = [calls, f"p95 {_ms(edge.p95_ms)}"]
    if math.isfinite(edge.error_rate) and edge.error_rate > 0:
        parts.append(f"err {_percent(edge.error_rate)}")
    return " · ".join(parts)


def more_text(count: int, word: str) -> str:
    """'+3 more callers', '+1 more caller'."""
    return f"+{count} more {word}{'' if count == 1 else 's'}"


def number_text(value: float, decimals: int) -> str:
    """``value`` with at most ``decimals`` decimals, trailing zeros dropped, never "-0" nor
    an exponent: "0.3", "1250", "-4.25"."""
    text = f"{round(float(value), decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def significant_text(value: float) -> str:
    """A value for a sentence ("threshold 420", "0.0125"): four significant digits, no
    exponent, no float noise."""
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return number_text(value, min(9, max(0, 3 - magnitude)))


# --- a chain: which services and arrows -------------------------------------------------------


@dataclass(frozen=True)
class ChainDrawing:
    """What a chain picture draws: services root first (by first appearance along the steps'
    call paths), each with the signals it moved on (none for a service only passed through),
    the arrows (caller, callee, lag label or None) without repeats, and how many of the
    chain's services were left out to stay within the node cap."""

    nodes: tuple[tuple[str, tuple[str, ...]], ...]
    arrows: tuple[tuple[str, str, str | None], ...]
    omitted: int


def chain_drawing(picture: ChainPicture, max_nodes: int = MAX_CHAIN_NODES) -> ChainDrawing:
    """The nodes and arrows of ``picture``: each step along its ``via`` path (the root is
    put in front and the step's service at the end when the path lacks them), straight from
    the root when the path has fewer than two services; the last arrow into a step's service
    carries its lag. Steps whose path would take the drawing past ``max_nodes`` services are
    left out and counted."""
    if max_nodes < 1:
        raise ValueError(f"chain_drawing: max_nodes must be >= 1, got {max_nodes}")
    root = picture.root.service
    signals: dict[str, list[str]] = {root: [signal_label(picture.root.signal)]}
    arrows: dict[tuple[str, str], str | None] = {}
    left_out: dict[str, None] = {}
    for step in picture.steps[1:]:
        path = step_path(root, step)
        new = [name for name in dict.fromkeys(path) if name not in signals]
        if len(signals) + len(new) > max_nodes:
            left_out[step.service] = None
            continue
        for name in new:
            signals[name] = []
        if signal_label(step.signal) not in signals[step.service]:
            signals[step.service].append(signal_label(step.signal))
        hops = [(a, b) for a, b in zip(path, path[1:], strict=False) if a != b]
        for i, hop in enumerate(hops):
            label = lag_text(step.lag_seconds) if i == len(hops) - 1 else None
            if arrows.get(hop) is None:
                arrows[hop] = label
    omitted = sum(1 for name in left_out if name not in signals)
    return ChainDrawing(
        nodes=tuple((name, tuple(found)) for name, found in signals.items()),
        arrows=tuple((a, b, label) for (a, b), label in arrows.items()),
        omitted=omitted,
    )


def step_path(root: str, step: ChainStep) -> tuple[str, ...]:
    """The services ``step`` is drawn along, root to its service."""
    path = tuple(step.via) if len(step.via) >= 2 else (root, step.service)
    if path[0] != root:
        path = (root, *path)
    if path[-1] != step.service:
        path = (*path, step.service)
    return path


# --- a neighbourhood: which edges, and what was left out -------------------------------------


@dataclass(frozen=True)
class NeighbourhoodDrawing:
    """What a neighbourhood picture draws: the busiest edges (one per caller-callee pair) and
    how many were left out, by side of the focus: those the drawing dropped to stay small
    plus those the picture says were left out before it was made."""

    edges: tuple[MapEdge, ...]
    omitted_callers: int
    omitted_callees: int
    omitted_other: int

    def omitted(self) -> dict[str, str]:
        """What was left out, by side, for each side with any: {"callers": "+3 more
        callers", "callees": "+1 more callee", "edges": "+2 more edges"}."""
        counts = (
            ("callers", self.omitted_callers, "caller"),
            ("callees", self.omitted_callees, "callee"),
            ("edges", self.omitted_other, "edge"),
        )
        return {side: more_text(n, word) for side, n, word in counts if n}


def neighbourhood_drawing(
    picture: NeighbourhoodPicture, max_edges: int = MAX_MAP_EDGES
) -> NeighbourhoodDrawing:
    """The busiest ``max_edges`` edges of ``picture`` (by calls, ties by caller then callee
    name), busiest first; a repeated caller-callee pair counts once, its busiest edge. The
    callers and callees left out are those dropped here and those the picture's maker left
    out (``picture.omitted_callers``, ``picture.omitted_callees``)."""
    if max_edges < 1:
        raise ValueError(f"neighbourhood_drawing: max_edges must be >= 1, got {max_edges}")
    ranked = sorted(
        picture.edges,
        key=lambda e: (-e.calls, e.parent, e.child, -_finite(e.p95_ms), -_finite(e.error_rate)),
    )
    unique: dict[tuple[str, str], MapEdge] = {}
    for e in ranked:
        unique.setdefault((e.parent, e.child), e)  # the busiest of a repeated pair
    kept, dropped = list(unique.values())[:max_edges], list(unique.values())[max_edges:]
    focus = picture.focus
    callers = sum(1 for e in dropped if e.child == focus and e.parent != focus)
    callees = sum(1 for e in dropped if e.parent == focus and e.child != focus)
    return NeighbourhoodDrawing(
        edges=tuple(kept),
        omitted_callers=callers + picture.omitted_callers,
        omitted_callees=callees + picture.omitted_callees,
        omitted_other=len(dropped) - callers - callees,
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _ms(ms: float) -> str:
    if not math.isfinite(ms):
        return "n/a"
    if ms >= 10_000:
        return f"{number_text(ms / 1000, 1)} s"
    return f"{number_text(ms, 1 if ms < 10 else 0)} ms"


def _percent(rate: float) -> str:
    pct = 100 * rate
    return f"{number_text(pct, 2 if pct < 0.1 else 1 if pct < 10 else 0)}%"


# --- a forecast in the unit people read it in ---------------------------------------------------

#: Stored units drawn in another: bytes as MiB (GiB from 10 GiB), seconds as ms (below 10 s),
#: a ratio as a percentage. A chart of memory reads "890 MiB", not "933232640" or "x 1e6".
_GIB = 2**30


def readable(picture: ForecastPicture) -> ForecastPicture:
    """``picture`` with its values and threshold in the unit people read the signal in (the
    same picture when its unit is already one)."""
    values = [v for _, v in picture.observed] + [v for _, v in picture.marks]
    values += [v for p in picture.forecast for v in (p.mean, p.lower, p.upper) if v is not None]
    values += [] if picture.threshold is None else [picture.threshold]
    biggest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    unit = picture.unit.strip().lower()
    if unit in ("bytes", "byte", "b"):
        factor, shown = (1 / _GIB, "GiB") if biggest >= 10 * _GIB else (1 / 2**20, "MiB")
    elif unit in ("s", "seconds") and biggest < 10:
        factor, shown = 1000.0, "ms"
    elif unit == "ratio":
        factor, shown = 100.0, "%"
    else:
        return picture

    def scaled(value: float | None) -> float | None:
        return None if value is None else value * factor

    return replace(
        picture,
        unit=shown,
        observed=tuple((t, v * factor) for t, v in picture.observed),
        forecast=tuple(
            BandPoint(p.time, p.mean * factor, scaled(p.lower), scaled(p.upper))
            for p in picture.forecast
        ),
        threshold=scaled(picture.threshold),
        marks=tuple((t, v * factor) for t, v in picture.marks),
    )
