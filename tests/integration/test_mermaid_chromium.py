"""Every kind of Mermaid diagram an issue can carry parses and renders with the real Mermaid
library (the npm package in tests/browser) in headless Chromium, hostile names and oversized
pictures included, and no name turns into markup in the SVG the reader's browser gets.

Needs Chromium and ``npm ci --prefix tests/browser``; without them the module skips with the
reason, or fails when CI=true (a CI run must not pass by checking nothing). It needs none of
the Airflow fixtures of this folder: one Chromium run checks every diagram, in a few seconds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from aiops.dev.browser import (
    NPM_INSTALL,
    BrowserToolMissing,
    MermaidResult,
    check_mermaid,
    mermaid_script,
)
from aiops.pictures.mermaid import MAX_SOURCE_CHARS, mermaid_source
from aiops.pictures.model import (
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
)
from support.browser import require_browser

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
HOSTILE = [
    'pay"]-->x',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "```\n# heading",
    'a;b#c %%{init: {"securityLevel": "loose"}}%%',
    "line1\nflowchart TD\nA-->B",
    "click n0 call alert(3)",
    "end",
    "\u202eevil\u200b",
    "日本語 çà",
    "&lt;b&gt;<b>x</b>",
    "|x| :::root",
    "",
]
BROKEN = "flowchart LR\n  n0 --> --> n1"


def forecast(service: str, *, history: int = 144, ahead: int = 96, scale: float = 1.0,
             threshold: float | None = 420.0) -> ForecastPicture:  # fmt: skip
    observed = tuple(
        (NOW - timedelta(minutes=10 * (history - 1 - i)), scale * (200 + 40 * math.sin(i / 9)))
        for i in range(history)
    )
    band = tuple(
        BandPoint(NOW + timedelta(minutes=15 * (i + 1)), scale * (240 + i),
                  scale * (220 + i) if i % 5 else None, scale * (260 + 2 * i) if i % 5 else None)
        for i in range(ahead)
    )  # fmt: skip
    return ForecastPicture(service, "latency_p95", "ms", NOW, observed, band, threshold)


def chain(root: str, size: int = 5) -> ChainPicture:
    steps = [ChainStep(root, "latency_p95", None)]
    steps += [
        ChainStep(f"svc{i}", "error_rate", 37.5 * i if i % 4 else None,
                  (root, f"hop{i % 3}", f"svc{i}") if i % 2 else ())
        for i in range(1, size)
    ]  # fmt: skip
    return ChainPicture("inc-1", tuple(steps))


def neighbourhood(focus: str, callers: int = 4, callees: int = 3) -> NeighbourhoodPicture:
    edges = [MapEdge(f"caller{i}", focus, 1204 * (i + 1), 0.004 * (i % 3), 38.0 + i)
             for i in range(callers)]  # fmt: skip
    edges += [MapEdge(focus, f"db{i}", 100 + i, 0.0, 2.5 * i) for i in range(callees)]
    return NeighbourhoodPicture(focus, tuple(edges), marked=(focus, "db0"))


def pictures() -> dict[str, object]:
    """Every shape of diagram the module writes, by a readable name."""
    out: dict[str, object] = {
        "forecast": forecast("checkout"),
        "forecast, long history and horizon": forecast("checkout", history=2000, ahead=500),
        "forecast, history only": forecast("checkout", ahead=0),
        "forecast, forecast only, no threshold": forecast("checkout", history=0, threshold=None),
        "forecast, one point": forecast("checkout", history=1, ahead=0),
        "forecast, nothing": forecast("checkout", history=0, ahead=0),
        "forecast, negative": forecast("checkout", scale=-0.001),
        "forecast, huge": forecast("checkout", scale=3e12),
        "chain": chain("db"),
        "chain, root alone": chain("db", size=1),
        "chain, 200 steps": chain("db", size=200),
        "neighbourhood": neighbourhood("cart"),
        "neighbourhood, 500 edges": neighbourhood("cart", callers=300, callees=200),
        "neighbourhood, no edges": NeighbourhoodPicture("cart", ()),
    }
    for i, name in enumerate(HOSTILE):
        out[f"forecast, hostile {i}"] = forecast(name)
        out[f"chain, hostile {i}"] = chain(name)
        out[f"neighbourhood, hostile {i}"] = neighbourhood(name)
    long = "<" * 300 + '"' * 300
    out["chain, long hostile names"] = chain(long, size=60)
    out["neighbourhood, long hostile names"] = neighbourhood(long, callers=50)
    return out


@pytest.fixture(scope="module")
def checked() -> dict[str, MermaidResult]:
    """Each diagram (and the broken one, last) as the real Mermaid saw it, one browser run."""
    require_browser(mermaid=True)
    sources = {name: mermaid_source(picture) for name, picture in pictures().items()}
    sources["broken"] = BROKEN
    results = check_mermaid(list(sources.values()))
    return dict(zip(sources, results, strict=True))


def test_every_diagram_parses_and_renders(checked: dict[str, MermaidResult]) -> None:
    failed = {name: r.error for name, r in checked.items() if name != "broken" and not r.ok}
    assert not failed
    assert all(r.svg_chars > 1000 and r.svg.startswith("<svg") for n, r in checked.items()
               if n != "broken")  # fmt: skip


def test_a_broken_diagram_is_reported_with_mermaids_parse_error(
    checked: dict[str, MermaidResult],
) -> None:
    broken = checked["broken"]
    assert not broken.ok and broken.svg_chars == 0
    assert re.match(r"Parse error on line 2", broken.error or "")


class _Markup(HTMLParser):
    """The elements and event-handler attributes of an SVG (with HTML labels inside, which
    is not always XML: Mermaid may write <br> unclosed), and its text."""

    def __init__(self, svg: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: set[str] = set()
        self.text: list[str] = []
        self.feed(svg)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers.update(name for name, _ in attrs if name.startswith("on"))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_no_name_becomes_markup_in_the_rendered_svg(checked: dict[str, MermaidResult]) -> None:
    for name, result in checked.items():
        markup = _Markup(result.svg)
        assert not markup.tags & {"script", "img", "b", "iframe", "a"}, name
        assert not markup.handlers, name
    shown = " ".join(_Markup(checked["neighbourhood, hostile 1"].svg).text)
    assert "<script>alert(1)</script>" in shown  # the name, as text
    shown = " ".join(_Markup(checked["chain, hostile 2"].svg).text)
    assert "<img src=x onerror=alert(2)>" in shown


def test_the_diagrams_checked_were_the_big_ones_too() -> None:
    sizes = {name: len(mermaid_source(p)) for name, p in pictures().items()}
    assert max(sizes.values()) <= MAX_SOURCE_CHARS
    assert sizes["neighbourhood, 500 edges"] > 1000 and sizes["chain, 200 steps"] > 1000


def test_a_missing_mermaid_package_says_how_to_install_it(tmp_path) -> None:
    with pytest.raises(BrowserToolMissing, match=re.escape(NPM_INSTALL)):
        check_mermaid([BROKEN], mermaid_js=tmp_path / "mermaid.min.js")
    with pytest.raises(BrowserToolMissing, match=re.escape(NPM_INSTALL)):
        mermaid_script(tmp_path)
