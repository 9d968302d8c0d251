"""The dependency graph picture: what a reader of the nightly report sees, drawn for real."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import matplotlib.image
import pytest

from aiops.traces.graph import EMPTY_TEXT, draw_dependency_graph, edge_label
from aiops.traces.graph_layout import layout
from aiops.traces.model import Edge
from support.paths import REPO_ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def edge(
    parent: str, child: str, calls: int = 100, errors: int = 0, p95: float = 20.0, **kw
) -> Edge:
    return Edge(parent, child, calls, errors, p95 / 2, p95, p95 * 1.5, ("GET /",), **kw)


SMALL = [
    edge("gateway", "auth", calls=1234, errors=5, p95=12.34),
    edge("gateway", "catalog", calls=800, p95=45.0),
    edge("gateway", "checkout", calls=120, errors=9, p95=310.0),
    edge("catalog", "postgres", calls=5600, p95=3.2, instrumented=False),
    edge("checkout", "order-worker", calls=118, asynchronous=True),
    edge("order-worker", "inventory", calls=240, errors=2),
    edge("inventory", "order-worker", calls=60, p95=8.0),  # a two-service cycle
    edge("catalog", "catalog", calls=30, p95=1.5),  # a self-call
]

# A realistic shop: 12 services, three of them uninstrumented (postgres, redis, stripe-api),
# a queue (checkout -> order-worker), a cycle (order-worker <-> inventory), a flaky payment API.
SHOP = [
    edge("api-gateway", "auth", calls=48_100, errors=12, p95=9.4),
    edge("api-gateway", "catalog", calls=31_400, errors=20, p95=64.0),
    edge("api-gateway", "cart", calls=9_870, errors=40, p95=38.0),
    edge("api-gateway", "checkout", calls=1_240, errors=31, p95=640.0),
    edge("api-gateway", "recommendation", calls=22_300, errors=150, p95=120.0),
    edge("catalog", "postgres", calls=94_000, p95=4.1, instrumented=False),
    edge("catalog", "redis", calls=180_000, p95=0.8, instrumented=False),
    edge("recommendation", "catalog", calls=22_100, errors=80, p95=58.0),
    edge("cart", "redis", calls=29_000, p95=0.6, instrumented=False),
    edge("checkout", "cart", calls=1_240, errors=2, p95=35.0),
    edge("checkout", "payment", calls=1_230, errors=62, p95=410.0),
    edge("payment", "stripe-api", calls=1_225, errors=61, p95=380.0, instrumented=False),
    edge("checkout", "order-worker", calls=1_180, p95=95.0, asynchronous=True),
    edge("order-worker", "postgres", calls=3_500, errors=1, p95=6.3, instrumented=False),
    edge("order-worker", "inventory", calls=2_360, errors=4, p95=22.0),
    edge("inventory", "order-worker", calls=300, p95=15.0),
]
SHOP_FINDINGS = {"catalog": "N+1 on postgres", "checkout": "sequential calls"}


def svg_text(path: Path) -> str:
    """Every piece of text in the SVG (it keeps text as text, not glyph outlines)."""
    root = ET.parse(path).getroot()
    return "\n".join(t for el in root.iter() for t in (el.text, el.tail) if t and t.strip())


def test_svg_names_every_service_and_labels_every_edge(tmp_path: Path) -> None:
    out = draw_dependency_graph(SMALL, tmp_path / "deps.svg", title="shop, last 24h")
    assert out == tmp_path / "deps.svg"
    text = svg_text(out)
    for service in {e.parent for e in SMALL} | {e.child for e in SMALL}:
        assert service in text
    assert "1.2k calls · p95 12.3 ms · err 0.4%" in text
    assert "shop, last 24h" in text
    assert all(edge_label(e) in text for e in SMALL)


def test_edge_label_formats_counts_latency_and_errors_for_reading() -> None:
    assert (
        edge_label(edge("a", "b", calls=1234, errors=5, p95=12.34))
        == "1.2k calls · p95 12.3 ms · err 0.4%"
    )
    assert edge_label(edge("a", "b", calls=1, p95=0.42)) == "1 call · p95 0.42 ms · err 0%"
    assert (
        edge_label(edge("a", "b", calls=2_500_000, errors=250_000, p95=15_300))
        == "2.5M calls · p95 15.3 s · err 10%"
    )
    assert (
        edge_label(edge("a", "b", calls=123_456, errors=12, p95=640))
        == "123k calls · p95 640 ms · err 0.01%"
    )


def test_png_is_a_png_of_sensible_size(tmp_path: Path) -> None:
    out = draw_dependency_graph(SMALL, tmp_path / "deps.png")
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    height, width = matplotlib.image.imread(out).shape[:2]
    assert 600 <= width <= 4000 and 300 <= height <= 3000


def test_the_picture_grows_with_the_layers_and_their_width(tmp_path: Path) -> None:
    def size(edges: list[Edge], name: str) -> tuple[int, int]:
        height, width = matplotlib.image.imread(
            draw_dependency_graph(edges, tmp_path / name)
        ).shape[:2]
        return width, height

    chain = [edge(f"svc-{i}", f"svc-{i + 1}") for i in range(8)]
    fan = [edge("gateway", f"svc-{i:02d}") for i in range(16)]
    assert size(chain, "long.png")[0] > size(chain[:2], "short.png")[0]
    assert size(fan, "wide.png")[1] > size(fan[:4], "narrow.png")[1]
    assert len(layout(SHOP)) == 12
    width, height = size(SHOP, "shop.png")
    assert width >= 1200 and height >= 500  # 12 services at 100 dpi, labels at 6.5 pt


def test_same_edges_draw_the_same_bytes_in_any_order(tmp_path: Path) -> None:
    for suffix in (".svg", ".png"):
        first = draw_dependency_graph(SHOP, tmp_path / f"a{suffix}", highlight=SHOP_FINDINGS)
        second = draw_dependency_graph(SHOP[::-1], tmp_path / f"b{suffix}", highlight=SHOP_FINDINGS)
        assert first.read_bytes() == second.read_bytes(), suffix


def test_findings_are_noted_under_their_service(tmp_path: Path) -> None:
    notes = {**SHOP_FINDINGS, "billing": "error hotspot"}  # billing made no calls in the window
    text = svg_text(draw_dependency_graph(SHOP, tmp_path / "deps.svg", highlight=notes))
    assert "N+1 on postgres" in text and "sequential calls" in text
    assert "flagged, not in this graph: billing (error hotspot)" in text


def test_layout_puts_callers_left_of_callees_and_stores_last() -> None:
    pos = layout(SMALL)
    assert set(pos) == {e.parent for e in SMALL} | {e.child for e in SMALL}
    assert pos["gateway"][0] == 0
    assert pos["gateway"][0] < pos["auth"][0] and pos["gateway"][0] < pos["catalog"][0]
    assert pos["catalog"][0] < pos["postgres"][0] == max(x for x, _ in pos.values())
    assert pos["checkout"][0] < pos["order-worker"][0]


def test_layout_places_every_service_of_a_cycle() -> None:
    ring = [edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "c")]  # nobody is a root
    pos = layout(ring)
    assert set(pos) == {"a", "b", "c"}
    assert all(type(v) is float and math.isfinite(v) for xy in pos.values() for v in xy)
    assert len(set(pos.values())) == 3
    assert pos["a"][0] < pos["b"][0] < pos["c"][0]  # the search starts at "a", by name
    small = layout(SMALL)
    assert small["order-worker"][0] != small["inventory"][0]


def test_layout_orders_a_layer_to_avoid_crossings() -> None:
    # By name alone, layer 2 would be [y-db, z-db] under [a, b] and the two edges would cross.
    pos = layout([edge("gw", "a"), edge("gw", "b"), edge("a", "z-db"), edge("b", "y-db")])
    assert (pos["a"][1] > pos["b"][1]) == (pos["z-db"][1] > pos["y-db"][1])


def test_layout_is_the_same_for_any_edge_order() -> None:
    assert layout(SHOP) == layout(SHOP[::-1]) == layout(sorted(SHOP, key=lambda e: e.call_count))


def test_no_edges_draw_a_picture_that_says_so(tmp_path: Path) -> None:
    assert layout([]) == {}
    assert EMPTY_TEXT in svg_text(draw_dependency_graph([], tmp_path / "none.svg", title="quiet"))
    assert draw_dependency_graph([], tmp_path / "none.png").read_bytes()[:8] == PNG_SIGNATURE


def test_an_unknown_suffix_is_refused_with_the_path_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"deps\.pdf.*\.png, \.svg"):
        draw_dependency_graph(SMALL, tmp_path / "deps.pdf")
    assert not (tmp_path / "deps.pdf").exists()


def test_a_duplicate_edge_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate edge gateway -> auth"):
        draw_dependency_graph([*SMALL, edge("gateway", "auth")], tmp_path / "deps.svg")


def test_drawing_leaves_the_callers_matplotlib_settings_alone(tmp_path: Path) -> None:
    before = (matplotlib.get_backend(), dict(matplotlib.rcParams))
    draw_dependency_graph(SMALL, tmp_path / "deps.svg")
    draw_dependency_graph(SMALL, tmp_path / "deps.png")
    assert (matplotlib.get_backend(), dict(matplotlib.rcParams)) == before


def test_another_process_draws_the_same_bytes(tmp_path: Path) -> None:
    """Set order and the SVG's ids must not depend on the interpreter's hash seed."""
    here = draw_dependency_graph(SHOP, tmp_path / "here.svg", highlight=SHOP_FINDINGS)
    (tmp_path / "edges.json").write_text(json.dumps([e.to_json() for e in SHOP]))
    script = (
        "import json, sys; from pathlib import Path; from aiops.traces.model import Edge; "
        "from aiops.traces.graph import draw_dependency_graph as draw; "
        "edges = [Edge.from_json(d) for d in json.loads(Path(sys.argv[1]).read_text())]; "
        "draw(edges, Path(sys.argv[2]), highlight=json.loads(sys.argv[3]))"
    )
    there = tmp_path / "there.svg"
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": str(REPO_ROOT / "plugins"),
    }
    argv = [
        sys.executable,
        "-c",
        script,
        str(tmp_path / "edges.json"),
        str(there),
        json.dumps(SHOP_FINDINGS),
    ]
    subprocess.run(argv, env=env, check=True, timeout=120)
    assert here.read_bytes() == there.read_bytes()
